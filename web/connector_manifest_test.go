package web

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"sentryhub/connectors/manifest"
)

// stubManifests plays the manifest service: Shopify has one webhook
// stream, and the OAuth flow accepts only the state "good".
type stubManifests struct{ wh int64 }

func (stubManifests) Manifest(string) (*manifest.Manifest, bool) { return nil, false }
func (stubManifests) WebhookStreams(name string) []*manifest.Stream {
	if name != "shopify" {
		return nil
	}
	return []*manifest.Stream{{Key: "orders", Setup: "Subscribe to order events."}}
}
func (stubManifests) OAuthStatus(context.Context, string, int64) manifest.OAuthStatus {
	return manifest.OAuthStatus{}
}
func (stubManifests) BeginOAuth(_ context.Context, name string, wh, sid int64, redirect string) (string, error) {
	return "https://auth.example/authorize?redirect_uri=" + url.QueryEscape(redirect), nil
}
func (s stubManifests) CompleteOAuth(_ context.Context, sid int64, state, code, perr, redirect string) (string, int64, error) {
	if state != "good" {
		return "", 0, manifest.ErrOAuthState
	}
	return "shopify", s.wh, nil
}

func TestConnectorManifestUI(t *testing.T) {
	t.Parallel()
	e := newConnectorUIEnv(t)
	e.s.SetConnectorManifests(stubManifests{wh: e.wh}, "https://hub.example")
	wh := strconv.FormatInt(e.wh, 10)

	doc, _ := e.page(e.adminC, "/connectors/shopify?warehouse_id="+wh, http.StatusOK)
	el := connByID(doc, "webhook-url-orders")
	if el == nil || text(el) != "https://hub.example/hooks/connectors/shopify/"+wh+"/orders" {
		t.Fatalf("webhook URL element %v", el)
	}

	r := e.post(e.adminC, "/connectors/shopify/oauth/connect", url.Values{"warehouse_id": {wh}})
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "https://auth.example/authorize?redirect_uri="+url.QueryEscape("https://hub.example/connectors/oauth/callback")) {
		t.Fatalf("connect: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	if r := e.post(e.viewerC, "/connectors/shopify/oauth/connect", url.Values{"warehouse_id": {wh}}); r.StatusCode != http.StatusForbidden {
		t.Fatalf("viewer connect: %d", r.StatusCode)
	}

	r = e.do(e.adminC, "GET", "/connectors/oauth/callback?state=good&code=c", nil, nil)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/connectors/shopify?warehouse_id="+wh+"#connection" {
		t.Fatalf("callback: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	r = e.do(e.adminC, "GET", "/connectors/oauth/callback?state=forged&code=c", nil, nil)
	if b, _ := io.ReadAll(r.Body); r.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "press Connect again") {
		t.Fatalf("forged state: %d %s", r.StatusCode, b)
	}
}

// The audited reset answers 409 for a sync that is not running.
func TestResetSyncAPI(t *testing.T) {
	t.Parallel()
	e := newConnectorEnv(t)
	wh := strconv.FormatInt(e.wh, 10)
	code, _, body := e.api(e.admin, "POST", "/api/admin/connectors/shopify/sync/orders/reset?warehouse_id="+wh, nil)
	if code != http.StatusNotFound {
		t.Fatalf("never ran: %d %s", code, body)
	}
	code, _, body = e.api(e.admin, "POST", "/api/admin/connectors/shopify/sync/bogus/reset?warehouse_id="+wh, nil)
	if code != http.StatusBadRequest {
		t.Fatalf("bad type: %d %s", code, body)
	}
}
