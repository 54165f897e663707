package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/a-h/templ"

	"sentryhub/connectors"
	"sentryhub/connectors/manifest"
	"sentryhub/store"
)

// ConnectorManifests is what the UI needs for declarative connectors
// (manifest.Service implements it).
type ConnectorManifests interface {
	Manifest(name string) (*manifest.Manifest, bool)
	WebhookStreams(name string) []*manifest.Stream
	OAuthStatus(ctx context.Context, name string, warehouseID int64) manifest.OAuthStatus
	BeginOAuth(ctx context.Context, name string, warehouseID, sessionID int64, redirectURL string) (string, error)
	CompleteOAuth(ctx context.Context, sessionID int64, state, code, providerErr, redirectURL string) (string, int64, error)
}

// connectorManifestUI serves the Connect button and the OAuth callback, and
// renders the setup panel of a manifest connector's page.
type connectorManifestUI struct {
	s       *Server
	svc     ConnectorManifests
	baseURL string
}

// oauthCallbackPath is where providers send the admin back after consent.
const oauthCallbackPath = "/connectors/oauth/callback"

// SetConnectorManifests registers the Connect and callback routes, and the
// setup panel on connector pages. baseURL is the hub's public URL: the
// webhook URLs and the OAuth redirect URL shown to providers are built on
// it. Call it after SetConnectors, before the server starts.
func (s *Server) SetConnectorManifests(svc ConnectorManifests, baseURL string) {
	u := &connectorManifestUI{s: s, svc: svc, baseURL: strings.TrimRight(baseURL, "/")}
	s.manifests = u
	s.mux.Handle("POST /connectors/{name}/oauth/connect", s.page(u.connect))
	s.mux.Handle("GET "+oauthCallbackPath, s.page(u.callback))
}

// resetSync is the audited way out of a sync stuck in running (the seed's
// SQL breaks this schema's run-id rule).
func (s *Server) resetSync(w http.ResponseWriter, r *http.Request) error {
	if _, ok := connectors.CapabilityOf(r.PathValue("sync_type")); !ok {
		return badRequest("unknown sync type", map[string]string{"sync_type": "must be orders, items, inventory, fulfillment or fulfillment_health"})
	}
	wh, err := warehouseParam(r, 0)
	if err != nil {
		return err
	}
	st, err := s.db.ResetSync(r.Context(), principal(r.Context()).Actor(),
		store.SyncKey{Connector: r.PathValue("name"), WarehouseID: wh, SyncType: r.PathValue("sync_type")})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (u *connectorManifestUI) connect(w http.ResponseWriter, r *http.Request) error {
	if err := u.s.requireAdminUser(r); err != nil {
		return err
	}
	name := r.PathValue("name")
	wh, err := strconv.ParseInt(r.FormValue("warehouse_id"), 10, 64)
	if err != nil || wh <= 0 {
		return badRequest("warehouse_id must be a positive integer", map[string]string{"warehouse_id": "must be a positive integer"})
	}
	to, err := u.svc.BeginOAuth(r.Context(), name, wh, principal(r.Context()).SessionID, u.baseURL+oauthCallbackPath)
	var ce *connectors.ConfigError
	switch {
	case errors.As(err, &ce):
		return badRequest("save the client id and secret before connecting", ce.Fields)
	case errors.Is(err, manifest.ErrNotOAuth):
		return badRequest(err.Error(), nil)
	case err != nil:
		return err
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

// callback completes the consent. Its GET carries the state the provider
// echoes back; the flow checks it against the admin's own session.
func (u *connectorManifestUI) callback(w http.ResponseWriter, r *http.Request) error {
	if err := u.s.requireAdminUser(r); err != nil {
		return err
	}
	q := r.URL.Query()
	name, wh, err := u.svc.CompleteOAuth(r.Context(), principal(r.Context()).SessionID, q.Get("state"), q.Get("code"),
		q.Get("error"), u.baseURL+oauthCallbackPath)
	to := connectorURL(name, wh, "connection")
	switch {
	case err == nil:
		return u.s.seeOther(w, r, to, flash{Kind: "ok", Topic: "connection", Text: "Connected. The hub keeps the tokens sealed and renews them before they expire."})
	case name == "":
		return badRequest(err.Error(), nil)
	default:
		return u.s.seeOther(w, r, to, flash{Kind: "error", Topic: "connection", Text: "Not connected: " + err.Error()})
	}
}

// cspOriginRE is an origin safe to put in a CSP header.
var cspOriginRE = regexp.MustCompile(`^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$`)

// connectorManifestView is the setup panel's data.
type connectorManifestView struct {
	Name, Provider, Version, Docs string
	IsManifest                    bool
	Setup                         []string // paragraphs
	WarehouseID                   int64
	CanWrite                      bool
	OAuth                         bool
	OAuthStatus                   manifest.OAuthStatus
	Webhooks                      []connectorWebhookView
	Hosts                         []string
}

type connectorWebhookView struct {
	Stream, URL string
	Setup       []string
}

func paragraphs(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, "\n\n") {
		if p = strings.Join(strings.Fields(p), " "); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// panel returns the setup panel of connector name, or nil when it is not a
// manifest connector.
func (u *connectorManifestUI) panel(ctx context.Context, w http.ResponseWriter, name string, wh int64, canWrite bool) templ.Component {
	if u == nil {
		return nil
	}
	v := connectorManifestView{Name: name, WarehouseID: wh, CanWrite: canWrite}
	if m, ok := u.svc.Manifest(name); ok {
		v.IsManifest, v.Provider, v.Version, v.Docs = true, m.Provider, m.Version, m.Docs
		v.Setup, v.Hosts, v.OAuth = paragraphs(m.Setup), m.Hosts, m.Auth.Kind == manifest.AuthOAuth2AuthorizationCode
	}
	streams := u.svc.WebhookStreams(name)
	if !v.IsManifest && len(streams) == 0 {
		return nil
	}
	if v.OAuth && wh > 0 {
		v.OAuthStatus = u.svc.OAuthStatus(ctx, name, wh)
		if o := v.OAuthStatus.AuthorizeOrigin; canWrite && cspOriginRE.MatchString(o) {
			// Connect posts here and is redirected to the provider's
			// consent page: form-action must allow that one origin.
			w.Header().Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self' "+o)
		}
	}
	if wh > 0 {
		for _, s := range streams {
			v.Webhooks = append(v.Webhooks, connectorWebhookView{Stream: s.Key,
				URL: u.baseURL + ConnectorWebhookPath(name, wh, s.Key), Setup: paragraphs(s.Setup)})
		}
	}
	return connectorManifestPanel(v)
}

// connectorValuesTester tests typed values before they are saved
// (connectors.Service implements it).
type connectorValuesTester interface {
	TestValues(ctx context.Context, name string, warehouseID int64, raw map[string]json.RawMessage) (connectors.ConnectionResult, error)
}

// testValues is POST /api/admin/connectors/{name}/test-values: the Test
// button with the values in the form, before saving them. The body is the
// credentials body ({"warehouse_id", "values"}); values left out are the
// stored ones. Nothing is saved.
func (h *connectorAPI) testValues(w http.ResponseWriter, r *http.Request) error {
	tv, ok := h.svc.(connectorValuesTester)
	if !ok {
		return &Error{Status: http.StatusNotFound, Code: "not_found", Message: "testing unsaved values is not available"}
	}
	var req credentialsRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	wh, err := warehouseParam(r, req.WarehouseID)
	if err != nil {
		return err
	}
	if req.Values == nil {
		return badRequest("values is required: an object of field -> value", map[string]string{"values": "is required"})
	}
	res, err := tv.TestValues(r.Context(), r.PathValue("name"), wh, req.Values)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// fulfillmentHealth is GET /api/admin/connectors/{name}/fulfillment-health:
// the fulfillment_health_check of one connector in one warehouse.
func (s *Server) fulfillmentHealth(w http.ResponseWriter, r *http.Request) error {
	wh, err := warehouseParam(r, 0)
	if err != nil {
		return err
	}
	reps, err := connectors.CheckFulfillmentHealth(r.Context(), s.db, r.PathValue("name"), wh, s.clock.Now())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, reps[0])
	return nil
}
