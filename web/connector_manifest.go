package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/a-h/templ"

	"sentryhub/connectors"
	"sentryhub/connectors/manifest"
)

// ConnectorManifests is what the UI needs for declarative connectors
// (manifest.Service implements it).
type ConnectorManifests interface {
	Manifest(name string) (*manifest.Manifest, bool)
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
	cu := &connectorUI{s: u.s}
	switch {
	case err == nil:
		cu.flash(w, r, connectorFlash{Kind: "ok", Topic: "connection", Message: "Connected. The hub keeps the tokens sealed and renews them before they expire."})
	case name == "":
		return badRequest(err.Error(), nil)
	default:
		cu.flash(w, r, connectorFlash{Kind: "error", Topic: "connection", Message: "Not connected: " + err.Error()})
	}
	http.Redirect(w, r, connectorURL(name, wh, "connection"), http.StatusSeeOther)
	return nil
}

// connectorManifestView is the setup panel's data.
type connectorManifestView struct {
	Name, Provider, Version, Docs string
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
func (u *connectorManifestUI) panel(ctx context.Context, name string, wh int64, canWrite bool) templ.Component {
	if u == nil {
		return nil
	}
	m, ok := u.svc.Manifest(name)
	if !ok {
		return nil
	}
	v := connectorManifestView{Name: name, Provider: m.Provider, Version: m.Version, Docs: m.Docs,
		Setup: paragraphs(m.Setup), WarehouseID: wh, CanWrite: canWrite, Hosts: m.Hosts,
		OAuth: m.Auth.Kind == manifest.AuthOAuth2AuthorizationCode}
	if v.OAuth && wh > 0 {
		v.OAuthStatus = u.svc.OAuthStatus(ctx, name, wh)
	}
	if wh > 0 {
		for _, s := range m.WebhookStreams() {
			v.Webhooks = append(v.Webhooks, connectorWebhookView{Stream: s.Key,
				URL: u.baseURL + ConnectorWebhookPath(name, wh, s.Key), Setup: paragraphs(s.Setup)})
		}
	}
	return connectorManifestPanel(v)
}
