package web

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"sentryhub/store"
)

// The credentials form's "Test these values" button tests what is typed,
// shows the result around the same typed values, and saves nothing.
func TestConnectorUITestTypedValues(t *testing.T) {
	t.Parallel()
	e := newConnectorUIEnv(t)
	load := func(r *http.Response, want int) (*html.Node, string) {
		t.Helper()
		b, _ := io.ReadAll(r.Body)
		if r.StatusCode != want {
			t.Fatalf("status %d, want %d: %.2000s", r.StatusCode, want, b)
		}
		doc, err := html.Parse(strings.NewReader(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		return doc, string(b)
	}
	assertNothingStored := func() {
		t.Helper()
		if _, err := e.stored(); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("testing saved something: %v", err)
		}
	}

	doc, raw := load(e.post(e.adminC, "/connectors/shopify/credentials/test", connValidCredentials()), http.StatusOK)
	res := connByID(doc, "test-result")
	if ok, _ := connAttr(res, "data-ok"); ok != "true" || !strings.Contains(text(res), "not saved") {
		t.Fatalf("typed valid values: %q", text(res))
	}
	if v, _ := connAttr(connControls(doc, "shop_domain")[0], "value"); v != "acme.myshopify.com" {
		t.Fatalf("typed shop domain not shown again: %q", v)
	}
	if strings.Contains(raw, shopToken) {
		t.Fatal("typed secret sent back to the browser")
	}
	assertNothingStored()

	wrong := connValidCredentials()
	wrong.Set("access_token", "shpat_wrong")
	e.fake.Reject()
	doc, _ = load(e.post(e.adminC, "/connectors/shopify/credentials/test", wrong), http.StatusOK)
	if ok, _ := connAttr(connByID(doc, "test-result"), "data-ok"); ok != "false" {
		t.Fatalf("rejected values: %q", text(connByID(doc, "test-result")))
	}
	assertNothingStored()

	bad := connValidCredentials()
	bad.Set("shop_domain", "")
	doc, _ = load(e.post(e.adminC, "/connectors/shopify/credentials/test", bad), http.StatusUnprocessableEntity)
	if errs := connByID(doc, "form-errors"); errs == nil || !strings.Contains(text(errs), "Not tested") {
		t.Fatalf("invalid values: no errors shown")
	}
	assertNothingStored()

	// A viewer cannot test.
	if r := e.post(e.viewerC, "/connectors/shopify/credentials/test", connValidCredentials()); r.StatusCode != http.StatusForbidden {
		t.Fatalf("viewer: %d", r.StatusCode)
	}
}

// The settings of the auth mode not in use are hidden by the server, from
// the typed, else stored, else default mode, so the form reads right
// without JavaScript.
func TestConnectorUIHidesOtherAuthMode(t *testing.T) {
	t.Parallel()
	e := newConnectorUIEnv(t)
	hidden := func(doc *html.Node, id string) bool {
		t.Helper()
		n := connByID(doc, id)
		if n == nil {
			t.Fatalf("no #%s", id)
		}
		return connHasAttr(n, "hidden")
	}
	doc, _ := e.page(e.adminC, "/connectors/shopify?warehouse_id=1", http.StatusOK)
	if hidden(doc, "row-access_token") || !hidden(doc, "row-client_id") || !hidden(doc, "row-client_secret") || hidden(doc, "row-shop_domain") {
		t.Fatal("default access_token mode: wrong rows hidden")
	}
	cc := connValidCredentials()
	cc.Set("auth_mode", "client_credentials")
	cc.Set("access_token", "")
	doc, _ = e.follow(e.adminC, e.post(e.adminC, "/connectors/shopify/credentials", cc), "/connectors/shopify") // refused: no client id
	if !hidden(doc, "row-access_token") || hidden(doc, "row-client_id") || hidden(doc, "row-client_secret") {
		t.Fatal("typed client_credentials mode: wrong rows hidden")
	}
}
