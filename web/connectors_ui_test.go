package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/net/html"

	"sentryhub/connectors"
	"sentryhub/connectors/shopify"
	"sentryhub/store"
)

const connUIPassword = "correct horse battery"

// connectorUIEnv is the connector env with an admin and a viewer logged in
// through the real login form.
type connectorUIEnv struct {
	*connectorEnv
	adminC, viewerC *http.Client
}

func newConnectorUIEnv(t *testing.T) *connectorUIEnv {
	t.Helper()
	e := &connectorUIEnv{connectorEnv: newConnectorEnv(t)}
	e.user("admin@example.com", store.RoleAdmin)
	e.user("viewer@example.com", store.RoleViewer)
	e.adminC, e.viewerC = e.browser(), e.browser()
	for c, email := range map[*http.Client]string{e.adminC: "admin@example.com", e.viewerC: "viewer@example.com"} {
		if r := e.login(c, email, connUIPassword); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("login %s: %d", email, r.StatusCode)
		}
	}
	return e
}

// post submits a form like a browser on this site.
func (e *connectorUIEnv) post(c *http.Client, path string, form url.Values) *http.Response {
	e.t.Helper()
	return e.do(c, "POST", path, map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": e.srv.URL},
		strings.NewReader(form.Encode()))
}

// page GETs path and returns the parsed document and its raw HTML.
func (e *connectorUIEnv) page(c *http.Client, path string, want int) (*html.Node, string) {
	e.t.Helper()
	r := e.do(c, "GET", path, nil, nil)
	b, _ := io.ReadAll(r.Body)
	if r.StatusCode != want {
		e.t.Fatalf("GET %s: %d, want %d\n%.3000s", path, r.StatusCode, want, b)
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		e.t.Fatalf("GET %s: not HTML: %s", path, r.Header.Get("Content-Type"))
	}
	n, err := html.Parse(strings.NewReader(string(b)))
	if err != nil {
		e.t.Fatal(err)
	}
	return n, string(b)
}

// follow checks a change answered 303 to the connector page and loads it.
func (e *connectorUIEnv) follow(c *http.Client, r *http.Response, wantPrefix string) (*html.Node, string) {
	e.t.Helper()
	if r.StatusCode != http.StatusSeeOther {
		b, _ := io.ReadAll(r.Body)
		e.t.Fatalf("status %d, want 303: %.2000s", r.StatusCode, b)
	}
	loc := r.Header.Get("Location")
	if !strings.HasPrefix(loc, wantPrefix) {
		e.t.Fatalf("redirect to %q, want prefix %q", loc, wantPrefix)
	}
	return e.page(c, loc, http.StatusOK)
}

func (e *connectorUIEnv) stored() (connectors.CredentialView, error) {
	return e.svc.GetCredentials(context.Background(), "shopify", e.wh)
}

func connValidCredentials() url.Values {
	return url.Values{"warehouse_id": {"1"}, "shop_domain": {"acme.myshopify.com"}, "auth_mode": {"access_token"},
		"access_token": {shopToken}, "client_id": {""}, "client_secret": {""}, "location_id": {shopLoc},
		"api_version": {shopify.DefaultAPIVersion}, "notify_customer": {"false"}}
}

func (e *connectorUIEnv) saveValid() {
	e.t.Helper()
	e.follow(e.adminC, e.post(e.adminC, "/connectors/shopify/credentials", connValidCredentials()), "/connectors/shopify")
}

// ---- HTML helpers ----

func connAttr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

// connFindAll returns the elements for which match is true, in document order.
func connFindAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func connByID(n *html.Node, id string) *html.Node {
	f := connFindAll(n, func(x *html.Node) bool { v, _ := connAttr(x, "id"); return v == id })
	if len(f) == 0 {
		return nil
	}
	return f[0]
}

// connControls returns the visible form connControls named name inside root.
func connControls(root *html.Node, name string) []*html.Node {
	return connFindAll(root, func(x *html.Node) bool {
		if x.Data != "input" && x.Data != "select" && x.Data != "textarea" {
			return false
		}
		if n, _ := connAttr(x, "name"); n != name {
			return false
		}
		t, _ := connAttr(x, "type")
		return t != "hidden"
	})
}

func connHasAttr(n *html.Node, key string) bool { _, ok := connAttr(n, key); return ok }

// ---- tests ----

func TestConnectorUIPagesRender(t *testing.T) {
	t.Parallel()
	e := newConnectorUIEnv(t)
	if r := e.do(e.browser(), "GET", "/connectors", nil, nil); r.StatusCode != http.StatusSeeOther ||
		!strings.HasPrefix(r.Header.Get("Location"), "/login?next=%2Fconnectors") {
		t.Fatalf("anonymous: %d %s", r.StatusCode, r.Header.Get("Location"))
	}

	list, _ := e.page(e.adminC, "/connectors", http.StatusOK)
	card := connByID(list, "connector-shopify")
	if card == nil || !strings.Contains(text(card), "Shopify") || !strings.Contains(text(card), "Push fulfillment") {
		t.Fatalf("list card: %q", text(card))
	}
	row := connByID(list, "health-shopify-1")
	if row == nil || find(row, "span", "data-credentials", "missing") == nil {
		t.Fatalf("health row: %q", text(row))
	}
	for _, st := range []string{"orders", "items", "inventory", "fulfillment"} {
		cell := find(row, "td", "data-sync-type", st)
		if cell == nil || find(cell, "span", "data-status", "idle") == nil || !strings.Contains(text(cell), "never succeeded") {
			t.Errorf("health of %s: %q", st, text(cell))
		}
	}

	detail, _ := e.page(e.adminC, "/connectors/shopify", http.StatusOK)
	for _, id := range []string{"credentials", "credentials-form", "test-connection", "sync", "runs", "fulfillments",
		"sync-now-orders", "schedule-orders", "circuit"} {
		if connByID(detail, id) == nil {
			t.Errorf("detail page lacks #%s", id)
		}
	}
	if text(connByID(detail, "credentials-state")) != "not configured" || connByID(detail, "delete-credentials") != nil {
		t.Error("unconfigured connector shows as configured or offers delete")
	}
	if !strings.Contains(text(connByID(detail, "runs")), "No runs yet") || !strings.Contains(text(connByID(detail, "fulfillments")), "No pending") {
		t.Error("empty states missing")
	}

	// A second warehouse brings the selector; the query picks the warehouse.
	if _, err := e.db.CreateWarehouse(context.Background(), store.OpMeta{}, store.WarehouseInput{Code: "W2", Name: "Overflow"}); err != nil {
		t.Fatal(err)
	}
	two, _ := e.page(e.adminC, "/connectors/shopify?warehouse_id=2", http.StatusOK)
	pick := connByID(two, "warehouse-picker")
	if pick == nil || find(pick, "option", "value", "2") == nil || !connHasAttr(find(pick, "option", "value", "2"), "selected") {
		t.Fatal("warehouse selector missing or not on warehouse 2")
	}
	if v, _ := connAttr(find(connByID(two, "credentials-form"), "input", "name", "warehouse_id"), "value"); v != "2" {
		t.Fatalf("form posts to warehouse %q", v)
	}

	for _, tc := range []struct {
		path string
		want int
	}{
		{"/connectors/nope", 404},
		{"/connectors/shopify?warehouse_id=99", 404},
		{"/connectors/shopify?warehouse_id=abc", 400},
	} {
		doc, _ := e.page(e.adminC, tc.path, tc.want)
		if connByID(doc, "error") == nil {
			t.Errorf("%s: no error message on the page", tc.path)
		}
	}
}

func TestConnectorUIEmptyStates(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.user("a@example.com", store.RoleAdmin)
	c := e.browser()
	e.login(c, "a@example.com", connUIPassword)
	info := connectors.Info{Name: "acme_erp", Capabilities: []connectors.Capability{connectors.CapSyncItems}, SyncTypes: []string{"items"}}
	svc := &connStubService{infos: []connectors.Info{info}}
	e.s.SetConnectors(svc)
	ue := &connectorUIEnv{connectorEnv: &connectorEnv{testEnv: e}}

	list, _ := ue.page(c, "/connectors", http.StatusOK)
	if w := connByID(list, "no-warehouses"); w == nil || !strings.Contains(text(w), "POST /api/v1/warehouses") {
		t.Fatalf("no-warehouse hint: %q", text(w))
	}
	if connByID(list, "connector-acme_erp") == nil {
		t.Fatal("registered connector not listed")
	}
	detail, _ := ue.page(c, "/connectors/acme_erp", http.StatusOK)
	if connByID(detail, "no-warehouses") == nil || connByID(detail, "credentials-form") != nil {
		t.Fatal("detail page without warehouses")
	}
	svc.infos = nil
	empty, _ := ue.page(c, "/connectors", http.StatusOK)
	if connByID(empty, "no-connectors") == nil {
		t.Fatal("no empty state for an empty registry")
	}
}

// connStubService serves the registry part of ConnectorService; the rest is
// never reached in a hub without warehouses.
type connStubService struct {
	ConnectorService
	infos []connectors.Info
}

func (s *connStubService) List(context.Context) []connectors.Info { return s.infos }

func (s *connStubService) Info(name string) (connectors.Info, error) {
	for _, i := range s.infos {
		if i.Name == name {
			return i, nil
		}
	}
	return connectors.Info{}, store.ErrNotFound
}

func TestConnectorUICredentialsForm(t *testing.T) {
	t.Parallel()
	e := newConnectorUIEnv(t)
	info, _ := e.svc.Info("shopify")

	// One control per schema field, typed by the field.
	wantInput := map[string]string{"shop_domain": "input/text", "auth_mode": "select", "access_token": "input/password",
		"client_id": "input/text", "client_secret": "input/password", "location_id": "input/text",
		"api_version": "select", "notify_customer": "input/checkbox", "webhook_secret": "input/password"}
	doc, _ := e.page(e.adminC, "/connectors/shopify?warehouse_id=1", http.StatusOK)
	form := connByID(doc, "credentials-form")
	for _, f := range info.Schema.Fields {
		t.Run(f.Name, func(t *testing.T) {
			cs := connControls(form, f.Name)
			if len(cs) != 1 {
				t.Fatalf("%d connControls", len(cs))
			}
			got := cs[0].Data
			if typ, ok := connAttr(cs[0], "type"); ok {
				got += "/" + typ
			}
			if got != wantInput[f.Name] {
				t.Fatalf("control %s, want %s", got, wantInput[f.Name])
			}
			id, _ := connAttr(cs[0], "id")
			label := find(form, "label", "for", id)
			if label == nil || !strings.Contains(text(label), f.Label) {
				t.Fatalf("no label %q for #%s", f.Label, id)
			}
			if f.Required && (!connHasAttr(cs[0], "required") || find(label, "abbr", "title", "required") == nil) {
				t.Fatal("required field not marked")
			}
			if f.Help != "" && !strings.Contains(text(connByID(form, "help-"+f.Name)), f.Help) {
				t.Fatal("help text missing")
			}
			if f.Placeholder != "" && !f.Secret {
				if p, _ := connAttr(cs[0], "placeholder"); p != f.Placeholder {
					t.Fatalf("placeholder %q", p)
				}
			}
			if f.Type == connectors.TypeEnum {
				if n := len(connFindAll(cs[0], func(x *html.Node) bool { return x.Data == "option" })); n != len(f.Options) {
					t.Fatalf("%d options, want %d", n, len(f.Options))
				}
				if o := find(cs[0], "option", "value", f.Default); o == nil || !connHasAttr(o, "selected") {
					t.Fatal("default option not selected")
				}
			}
			if f.Secret {
				if v, _ := connAttr(cs[0], "value"); v != "" {
					t.Fatalf("secret input has value %q", v)
				}
				if !strings.Contains(text(connByID(form, "help-"+f.Name)), "Not set") {
					t.Fatal("secret state not shown")
				}
			}
		})
	}

	// Save: a redirect back with a flash; the secret went to the vault.
	r := e.post(e.adminC, "/connectors/shopify/credentials", connValidCredentials())
	doc, raw := e.follow(e.adminC, r, "/connectors/shopify?warehouse_id=1#credentials")
	if f := find(doc, "div", "data-flash", "ok"); f == nil || !strings.Contains(text(f), "Credentials saved") {
		t.Fatal("no success flash")
	}
	if text(connByID(doc, "credentials-state")) != "configured" {
		t.Fatal("not shown as configured")
	}
	if strings.Contains(raw, shopToken) || strings.Contains(raw, "****") {
		t.Fatal("the page shows the stored secret or its placeholder value")
	}
	tok := connControls(connByID(doc, "credentials-form"), "access_token")[0]
	if v, _ := connAttr(tok, "value"); v != "" || connHasAttr(tok, "required") {
		t.Fatalf("stored secret input: value %q required %v", v, connHasAttr(tok, "required"))
	}
	if p, _ := connAttr(tok, "placeholder"); p != "stored — leave blank to keep" ||
		!strings.Contains(text(connByID(doc, "help-access_token")), "Stored — leave blank to keep") {
		t.Fatalf("stored secret not explained: %q", p)
	}
	if v, _ := connAttr(connControls(connByID(doc, "credentials-form"), "location_id")[0], "value"); v != shopLoc {
		t.Fatalf("stored setting not shown: %q", v)
	}
	if again, _ := e.page(e.adminC, "/connectors/shopify?warehouse_id=1", http.StatusOK); find(again, "div", "data-flash", "ok") != nil {
		t.Fatal("flash shown twice")
	}

	// Blank secret = keep it: change a setting only, the token still works.
	keep := connValidCredentials()
	keep.Set("access_token", "")
	keep.Set("notify_customer", "true")
	keep["notify_customer"] = []string{"false", "true"} // hidden input, then the ticked box
	e.follow(e.adminC, e.post(e.adminC, "/connectors/shopify/credentials", keep), "/connectors/shopify")
	v, err := e.stored()
	if err != nil || v.Values["access_token"] != connectors.Redacted || v.Values["notify_customer"] != "true" {
		t.Fatalf("after keep: %+v %v", v, err)
	}
	if res, _ := e.svc.Test(context.Background(), "shopify", e.wh); !res.OK {
		t.Fatalf("kept token does not work: %+v", res)
	}

	// An optional setting emptied keeps its stored value, and the page says so.
	emptied := connValidCredentials()
	emptied.Set("access_token", "")
	emptied.Set("location_id", "")
	doc, _ = e.follow(e.adminC, e.post(e.adminC, "/connectors/shopify/credentials", emptied), "/connectors/shopify")
	if f := find(doc, "div", "data-flash", "warn"); f == nil || !strings.Contains(text(f), "Location ID was left empty") {
		t.Fatal("emptied optional setting not explained")
	}
}

func TestConnectorUICredentialsRefused(t *testing.T) {
	t.Parallel()
	const typedSecret = "shpat_typed_but_refused_0001"
	for _, tc := range []struct {
		name  string
		edit  func(url.Values)
		field string
		msg   string
	}{
		{"missing required", func(v url.Values) { v.Set("shop_domain", "") }, "shop_domain", "is required"},
		{"wrong type", func(v url.Values) { v["notify_customer"] = []string{"maybe"} }, "notify_customer", "must be true or false"},
		{"not an option", func(v url.Values) { v.Set("api_version", "2019-04") }, "api_version", "must be one of"},
		{"bad shop domain", func(v url.Values) { v.Set("shop_domain", "169.254.169.254") }, "shop_domain", "myshopify.com"},
		{"redacted placeholder sent", func(v url.Values) { v.Set("access_token", "****") }, "access_token", "redacted placeholder"},
		{"secret the mode needs", func(v url.Values) { v.Set("access_token", "") }, "access_token", "is required for access_token"},
		{"setting the mode needs", func(v url.Values) {
			v.Set("auth_mode", "client_credentials")
			v.Set("client_secret", typedSecret)
		}, "client_id", "is required for client_credentials"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newConnectorUIEnv(t)
			form := connValidCredentials()
			form.Set("access_token", typedSecret)
			form.Set("location_id", "987654")
			tc.edit(form)
			// Post/redirect/get: back to the form's page, which shows the
			// refusal.
			r := e.post(e.adminC, "/connectors/shopify/credentials", form)
			if loc := r.Header.Get("Location"); loc != "/connectors/shopify?warehouse_id=1#credentials" {
				t.Fatalf("refused form redirects to %q", loc)
			}
			doc, b := e.follow(e.adminC, r, "/connectors/shopify?warehouse_id=1")
			fe := connByID(doc, "error-"+tc.field)
			if fe == nil || !strings.Contains(text(fe), tc.msg) {
				t.Fatalf("error next to %s: %q (summary %q)", tc.field, text(fe), text(connByID(doc, "form-errors")))
			}
			in := connControls(connByID(doc, "credentials-form"), tc.field)[0]
			if !connHasAttr(in, "aria-invalid") {
				t.Fatal("input not marked invalid")
			}
			if !strings.Contains(text(connByID(doc, "form-errors")), "nothing was changed") {
				t.Fatal("no summary")
			}
			// The user's non-secret input is kept; typed secrets are not echoed.
			if v, _ := connAttr(connControls(connByID(doc, "credentials-form"), "location_id")[0], "value"); v != "987654" {
				t.Fatalf("typed location not kept: %q", v)
			}
			if strings.Contains(b, typedSecret) {
				t.Fatal("typed secret echoed in the page")
			}
			if _, err := e.stored(); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("something was stored: %v", err)
			}
		})
	}
}

func TestConnectorUIViewerIsReadOnly(t *testing.T) {
	t.Parallel()
	e := newConnectorUIEnv(t)
	e.saveValid()
	doc, raw := e.page(e.viewerC, "/connectors/shopify?warehouse_id=1", http.StatusOK)
	if connByID(doc, "read-only") == nil || connByID(doc, "credentials-form") != nil || connByID(doc, "sync-now-orders") != nil ||
		connByID(doc, "test-connection") != nil || connByID(doc, "delete-credentials") != nil || connByID(doc, "schedule-orders") != nil {
		t.Fatal("viewer sees change connControls")
	}
	view := connByID(doc, "credentials-view")
	if !strings.Contains(text(view), "acme.myshopify.com") || !strings.Contains(text(view), "stored") || strings.Contains(raw, shopToken) {
		t.Fatalf("viewer credentials view: %q", text(view))
	}
	list, _ := e.page(e.viewerC, "/connectors", http.StatusOK)
	if connByID(list, "connector-shopify") == nil {
		t.Fatal("viewer cannot see the list")
	}

	before, _ := e.db.ListAudit(context.Background(), 0, 500)
	wh := url.Values{"warehouse_id": {"1"}}
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{"/connectors/shopify/credentials", connValidCredentials()},
		{"/connectors/shopify/credentials/delete", url.Values{"warehouse_id": {"1"}, "confirm": {"yes"}}},
		{"/connectors/shopify/test", wh},
		{"/connectors/shopify/sync/orders", wh},
		{"/connectors/shopify/schedules/orders", url.Values{"warehouse_id": {"1"}, "mode": {"interval"}, "interval_value": {"5"}, "interval_unit": {"minutes"}}},
		{"/connectors/shopify/fulfillments/1/retry", wh},
	} {
		t.Run(tc.path, func(t *testing.T) {
			r := e.post(e.viewerC, tc.path, tc.form)
			if r.StatusCode != http.StatusForbidden {
				t.Fatalf("viewer POST: %d", r.StatusCode)
			}
		})
	}
	after, _ := e.db.ListAudit(context.Background(), 0, 500)
	if len(after) != len(before) {
		t.Fatalf("viewer changed something: %d audit entries became %d", len(before), len(after))
	}
	if runs, _ := e.svc.Runs(context.Background(), "shopify", e.wh, "", 10); len(runs) != 0 {
		t.Fatal("viewer started a sync")
	}
	if _, err := e.stored(); err != nil {
		t.Fatal("viewer deleted the credentials")
	}
}

func TestConnectorUITestConnection(t *testing.T) {
	t.Parallel()
	e := newConnectorUIEnv(t)
	wh := url.Values{"warehouse_id": {"1"}}

	// Before credentials: a failed result that says what is missing.
	doc, _ := e.follow(e.adminC, e.post(e.adminC, "/connectors/shopify/test", wh), "/connectors/shopify?warehouse_id=1#credentials")
	res := connByID(doc, "test-result")
	if res == nil || !strings.Contains(text(res), "Connection failed") {
		t.Fatalf("unconfigured test: %q", text(res))
	}

	e.saveValid()
	doc, _ = e.follow(e.adminC, e.post(e.adminC, "/connectors/shopify/test", wh), "/connectors/shopify")
	res = connByID(doc, "test-result")
	if ok, _ := connAttr(res, "data-ok"); ok != "true" || !strings.Contains(text(res), "Acme Test Shop") {
		t.Fatalf("test: %q", text(res))
	}

	// A rejecting upstream that echoes the token: failed, and scrubbed.
	e.fake.Reject()
	doc, raw := e.follow(e.adminC, e.post(e.adminC, "/connectors/shopify/test", wh), "/connectors/shopify")
	res = connByID(doc, "test-result")
	if ok, _ := connAttr(res, "data-ok"); ok != "false" || !strings.Contains(text(res), "401") || strings.Contains(raw, shopToken) {
		t.Fatalf("rejected test: %q", text(res))
	}
}

var connRunIDRE = regexp.MustCompile(`run ([0-9a-f-]{36})`)

func TestConnectorUISyncNow(t *testing.T) {
	t.Parallel()
	e := newConnectorUIEnv(t)
	t0 := e.clock.Now().Add(-time.Hour)
	e.fake.AddVariant(shopify.FakeVariant{SKU: "WIDGET-1", ProductTitle: "Widget", Title: "Default Title", UpdatedAt: t0})
	e.fake.AddVariant(shopify.FakeVariant{SKU: "WIDGET-2", ProductTitle: "Gadget", Title: "Default Title", UpdatedAt: t0})
	e.saveValid()
	wh := url.Values{"warehouse_id": {"1"}}

	doc, _ := e.follow(e.adminC, e.post(e.adminC, "/connectors/shopify/sync/items", wh), "/connectors/shopify?warehouse_id=1#sync")
	flash := find(doc, "div", "data-flash", "ok")
	m := connRunIDRE.FindStringSubmatch(text(flash))
	if m == nil {
		t.Fatalf("flash names no run: %q", text(flash))
	}
	if o := <-e.done; o.RunID != m[1] || o.Status != store.RunSuccess {
		t.Fatalf("outcome %+v", o)
	}
	doc, _ = e.page(e.adminC, "/connectors/shopify?warehouse_id=1", http.StatusOK)
	row := find(connByID(doc, "runs"), "tr", "data-run", m[1])
	if row == nil {
		t.Fatal("run not in the history")
	}
	if st, _ := connAttr(row, "data-status"); st != "success" || text(find(row, "td", "data-field", "records")) != "2 / 0 / 0" {
		t.Fatalf("run row %q", text(row))
	}
	items := connByID(doc, "sync-items")
	if find(items, "span", "data-status", "idle") == nil || strings.Contains(text(find(items, "dd", "data-field", "last-success")), "never") {
		t.Fatalf("items state: %q", text(items))
	}
	list, _ := e.page(e.adminC, "/connectors", http.StatusOK)
	if cell := find(connByID(list, "health-shopify-1"), "td", "data-sync-type", "items"); !strings.Contains(text(cell), "last success 2026-11-26") {
		t.Fatalf("list health: %q", text(cell))
	}

	// Full resync is the same call with full set.
	doc, _ = e.follow(e.adminC, e.post(e.adminC, "/connectors/shopify/sync/items", url.Values{"warehouse_id": {"1"}, "full": {"1"}}), "/connectors/shopify")
	if !strings.Contains(text(find(doc, "div", "data-flash", "ok")), "Items full sync started") {
		t.Fatal("full sync not acknowledged")
	}
	<-e.done

	// Already running: a warning, no second run.
	if _, err := e.db.ClaimSync(context.Background(), store.SyncKey{Connector: "shopify", WarehouseID: e.wh, SyncType: "orders"},
		store.ClaimOptions{RunID: uuid.NewString()}); err != nil {
		t.Fatal(err)
	}
	doc, _ = e.follow(e.adminC, e.post(e.adminC, "/connectors/shopify/sync/orders", wh), "/connectors/shopify")
	if f := find(doc, "div", "data-flash", "warn"); f == nil || !strings.Contains(text(f), "already running") {
		t.Fatal("duplicate run not explained")
	}
	if find(connByID(doc, "sync-orders"), "span", "data-status", "running") == nil {
		t.Fatal("running state not shown")
	}
	// Unsupported sync type: refused by the service, said on the page.
	doc, _ = e.follow(e.adminC, e.post(e.adminC, "/connectors/shopify/sync/everything", wh), "/connectors/shopify")
	if f := find(doc, "div", "data-flash", "error"); f == nil || !strings.Contains(text(f), "Sync not started") {
		t.Fatal("unsupported sync type not explained")
	}
	entries, _ := e.db.ListAudit(context.Background(), 0, 100)
	n := 0
	for _, en := range entries {
		if en.Action == "connector.sync.trigger" && en.Actor == "user:admin@example.com" {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d sync trigger audit entries, want 2", n)
	}
}

func TestConnectorUISchedules(t *testing.T) {
	t.Parallel()
	e := newConnectorUIEnv(t)
	ctx := context.Background()
	sched := func(syncType string, kv ...string) *http.Response {
		f := url.Values{"warehouse_id": {"1"}}
		for i := 0; i+1 < len(kv); i += 2 {
			f[kv[i]] = append(f[kv[i]], kv[i+1])
		}
		return e.post(e.adminC, "/connectors/shopify/schedules/"+syncType, f)
	}
	doc, _ := e.follow(e.adminC, sched("orders", "mode", "interval", "interval_value", "5", "interval_unit", "minutes", "enabled", "false", "enabled", "true"),
		"/connectors/shopify?warehouse_id=1#sync-orders")
	if !strings.Contains(text(find(doc, "div", "data-flash", "ok")), "Orders schedule saved") ||
		!strings.Contains(text(find(connByID(doc, "sync-orders"), "dd", "data-field", "schedule")), "every 5 minutes") {
		t.Fatal("interval schedule not shown")
	}
	if v, _ := connAttr(connByID(doc, "interval-orders"), "value"); v != "5" {
		t.Fatalf("editor shows %q", v)
	}
	first, _ := e.svc.Schedules(ctx, "shopify", e.wh)
	if len(first) != 1 || first[0].IntervalSeconds != 300 || !first[0].Enabled || first[0].UpdatedBy != "user:admin@example.com" {
		t.Fatalf("schedules %+v", first)
	}

	e.follow(e.adminC, sched("items", "mode", "cron", "cron", "0 3 * * *", "enabled", "false", "enabled", "true"), "/connectors/shopify")
	both, _ := e.svc.Schedules(ctx, "shopify", e.wh)
	if len(both) != 2 {
		t.Fatalf("schedules %+v", both)
	}
	for _, s := range both {
		if s.SyncType == "orders" && !s.NextRunAt.Equal(first[0].NextRunAt) {
			t.Fatal("editing items moved the orders schedule's next run")
		}
	}

	for _, tc := range []struct {
		name, syncType string
		kv             []string
		errID, msg     string
	}{
		{"bad cron", "items", []string{"mode", "cron", "cron", "* * *"}, "error-cron-items", "Cron:"},
		{"interval too short", "orders", []string{"mode", "interval", "interval_value", "30", "interval_unit", "seconds"}, "error-interval-orders", "between 60 and 604800"},
		{"interval not a number", "orders", []string{"mode", "interval", "interval_value", "soon", "interval_unit", "minutes"}, "error-interval-orders", "whole number"},
		{"cron missing", "inventory", []string{"mode", "cron", "cron", ""}, "error-cron-inventory", "is required"},
		{"unknown mode", "orders", []string{"mode", "sometimes"}, "error-mode-orders", "choose"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := sched(tc.syncType, tc.kv...)
			b, _ := io.ReadAll(r.Body)
			if r.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("status %d", r.StatusCode)
			}
			doc, _ := html.Parse(strings.NewReader(string(b)))
			if el := connByID(doc, tc.errID); el == nil || !strings.Contains(text(el), tc.msg) {
				t.Fatalf("%s: %q; summary %q", tc.errID, text(el), text(connByID(doc, "schedule-error")))
			}
			if det := connByID(connByID(doc, "sync-"+tc.syncType), "schedule-"+tc.syncType).Parent; !connHasAttr(det, "open") {
				t.Fatal("editor with errors is closed")
			}
			now, _ := e.svc.Schedules(ctx, "shopify", e.wh)
			if len(now) != 2 {
				t.Fatalf("refused edit changed schedules: %+v", now)
			}
		})
	}
	// The typed cron is kept in the editor after a refusal.
	r := sched("items", "mode", "cron", "cron", "61 * * * *")
	doc2, _ := html.Parse(r.Body)
	if v, _ := connAttr(connByID(doc2, "cron-items"), "value"); v != "61 * * * *" {
		t.Fatalf("typed cron not kept: %q", v)
	}

	// Pause, then remove.
	e.follow(e.adminC, sched("orders", "mode", "interval", "interval_value", "5", "interval_unit", "minutes", "enabled", "false"), "/connectors/shopify")
	got, _ := e.svc.Schedules(ctx, "shopify", e.wh)
	for _, s := range got {
		if s.SyncType == "orders" && s.Enabled {
			t.Fatal("not paused")
		}
	}
	doc, _ = e.follow(e.adminC, sched("orders", "mode", "off"), "/connectors/shopify")
	if !strings.Contains(text(find(connByID(doc, "sync-orders"), "dd", "data-field", "schedule")), "off") {
		t.Fatal("removed schedule still shown")
	}
	if got, _ := e.svc.Schedules(ctx, "shopify", e.wh); len(got) != 1 || got[0].SyncType != "items" {
		t.Fatalf("after removal %+v", got)
	}
}

func TestConnectorUIDeleteNeedsConfirmation(t *testing.T) {
	t.Parallel()
	e := newConnectorUIEnv(t)
	e.saveValid()
	wh := url.Values{"warehouse_id": {"1"}}

	// The first press only asks.
	r := e.post(e.adminC, "/connectors/shopify/credentials/delete", wh)
	doc, _ := e.follow(e.adminC, r, "/connectors/shopify?warehouse_id=1&confirm=delete")
	if _, err := e.stored(); err != nil {
		t.Fatal("deleted without confirmation")
	}
	confirm := connByID(doc, "delete")
	if confirm == nil || connByID(confirm, "confirm-delete") == nil || connByID(confirm, "cancel-delete") == nil ||
		!strings.Contains(text(confirm), "Delete the Shopify credentials of warehouse W1") {
		t.Fatalf("confirmation: %q", text(confirm))
	}
	if v, _ := connAttr(find(confirm, "input", "name", "confirm"), "value"); v != "yes" {
		t.Fatal("confirmation form does not confirm")
	}

	yes := url.Values{"warehouse_id": {"1"}, "confirm": {"yes"}}
	doc, _ = e.follow(e.adminC, e.post(e.adminC, "/connectors/shopify/credentials/delete", yes), "/connectors/shopify")
	if _, err := e.stored(); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("not deleted: %v", err)
	}
	if !strings.Contains(text(find(doc, "div", "data-flash", "ok")), "Credentials deleted") || text(connByID(doc, "credentials-state")) != "not configured" {
		t.Fatal("deletion not shown")
	}
	doc, _ = e.follow(e.adminC, e.post(e.adminC, "/connectors/shopify/credentials/delete", yes), "/connectors/shopify")
	if find(doc, "div", "data-flash", "warn") == nil {
		t.Fatal("second delete not explained")
	}
	entries, _ := e.db.ListAudit(context.Background(), 0, 100)
	var deletes int
	for _, en := range entries {
		if strings.HasSuffix(en.Action, ".delete") && en.Actor == "user:admin@example.com" {
			deletes++
		}
	}
	if deletes != 2 { // the vault's and the settings' rows
		t.Fatalf("%d delete audit entries", deletes)
	}
}

func TestConnectorUIFulfillmentRetry(t *testing.T) {
	t.Parallel()
	e := newConnectorUIEnv(t)
	ctx := context.Background()
	t0 := e.clock.Now().Add(-time.Hour)
	e.fake.AddVariant(shopify.FakeVariant{SKU: "WIDGET-1", ProductTitle: "Widget", Title: "Default Title", UpdatedAt: t0})
	e.fake.SetLevel(shopify.FakeLevel{LocationID: shopLoc, SKU: "WIDGET-1", Tracked: true, OnHand: 5, UpdatedAt: t0})
	e.fake.AddOrder(shopify.FakeOrder{Name: "#1001", UpdatedAt: t0, LocationID: shopLoc,
		Lines: []shopify.FakeLine{{SKU: "WIDGET-1", Qty: 1, RequiresShipping: true}}})
	e.call("POST", "/api/admin/connectors/shopify/credentials",
		`{"warehouse_id":1,"values":{"shop_domain":"acme.myshopify.com","access_token":"`+shopToken+`","location_id":"`+shopLoc+`"}}`, 200, nil)
	e.sync("items")
	e.sync("inventory")
	e.sync("orders")
	var id string
	if err := e.db.Reader().QueryRow(`SELECT id FROM sales_orders WHERE source_name = 'shopify'`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	for _, step := range []func() error{
		func() error { _, err := e.db.PickSalesOrder(ctx, store.OpMeta{}, id); return err },
		func() error { _, err := e.db.PackSalesOrder(ctx, store.OpMeta{}, id); return err },
		func() error {
			_, err := e.db.ShipSalesOrder(ctx, store.OpMeta{RequestID: uuid.NewString()}, id, store.ShipInput{Carrier: "UPS", Tracking: "1ZUI"})
			return err
		},
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	doc, _ := e.page(e.adminC, "/connectors/shopify?warehouse_id=1", http.StatusOK)
	pending := connFindAll(connByID(doc, "fulfillments"), func(n *html.Node) bool { v, _ := connAttr(n, "data-status"); return v == "pending" })
	if len(pending) != 1 || !strings.Contains(text(pending[0]), "UPS 1ZUI") || find(pending[0], "button", "type", "submit") != nil {
		t.Fatalf("pending push: %d", len(pending))
	}

	// A permanent upstream refusal fails the push.
	e.fake.FailNext("SentryFulfillmentOrders", http.StatusForbidden, 1, "")
	if err := e.worker.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	<-e.done
	pushes, _ := e.svc.Fulfillments(ctx, "shopify", e.wh, "failed", 10)
	if len(pushes) != 1 {
		t.Fatalf("failed pushes %+v", pushes)
	}
	pid := itoa(pushes[0].ID)
	doc, _ = e.page(e.adminC, "/connectors/shopify?warehouse_id=1", http.StatusOK)
	row := connByID(doc, "push-"+pid)
	if st, _ := connAttr(row, "data-status"); st != "failed" || !strings.Contains(text(row), "403") || connByID(row, "retry-"+pid) == nil {
		t.Fatalf("failed push row: %q", text(row))
	}

	doc, _ = e.follow(e.adminC, e.post(e.adminC, "/connectors/shopify/fulfillments/"+pid+"/retry", url.Values{"warehouse_id": {"1"}}),
		"/connectors/shopify?warehouse_id=1#fulfillments")
	if !strings.Contains(text(find(doc, "div", "data-flash", "ok")), "queued again") {
		t.Fatal("retry not acknowledged")
	}
	if st, _ := connAttr(connByID(doc, "push-"+pid), "data-status"); st != "pending" {
		t.Fatalf("after retry: %s", st)
	}
	// Retrying a pending push is a conflict, explained; an unknown one too.
	doc, _ = e.follow(e.adminC, e.post(e.adminC, "/connectors/shopify/fulfillments/"+pid+"/retry", url.Values{"warehouse_id": {"1"}}), "/connectors/shopify")
	if f := find(doc, "div", "data-flash", "warn"); f == nil || !strings.Contains(text(f), "only failed or skipped") {
		t.Fatal("conflict not explained")
	}
	doc, _ = e.follow(e.adminC, e.post(e.adminC, "/connectors/shopify/fulfillments/999/retry", url.Values{"warehouse_id": {"1"}}), "/connectors/shopify")
	if find(doc, "div", "data-flash", "error") == nil {
		t.Fatal("unknown push not explained")
	}
	if e.worker.Drain(ctx) == nil {
		<-e.done
	}
	if ps, _ := e.svc.Fulfillments(ctx, "shopify", e.wh, "succeeded", 10); len(ps) != 1 {
		t.Fatalf("retried push not sent: %+v", ps)
	}
}

func TestConnectorUIBadRequests(t *testing.T) {
	t.Parallel()
	e := newConnectorUIEnv(t)
	for _, tc := range []struct {
		path string
		form url.Values
		want int
	}{
		{"/connectors/shopify/test", url.Values{}, 400},
		{"/connectors/shopify/test", url.Values{"warehouse_id": {"99"}}, 422},
		{"/connectors/shopify/sync/orders", url.Values{"warehouse_id": {"99"}}, 422},
		{"/connectors/shopify/schedules/orders", url.Values{"warehouse_id": {"99"}, "mode": {"off"}}, 422},
		{"/connectors/shopify/sync/orders", url.Values{"warehouse_id": {"x"}}, 400},
		{"/connectors/nope/credentials", url.Values{"warehouse_id": {"1"}}, 404},
		{"/connectors/shopify/credentials", url.Values{"warehouse_id": {"99"}, "shop_domain": {"a.myshopify.com"}}, 422},
		{"/connectors/shopify/fulfillments/abc/retry", url.Values{"warehouse_id": {"1"}}, 400},
	} {
		t.Run(tc.path, func(t *testing.T) {
			r := e.post(e.adminC, tc.path, tc.form)
			if r.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", r.StatusCode, tc.want)
			}
			if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
				t.Fatalf("not an HTML page: %s", r.Header.Get("Content-Type"))
			}
			doc, _ := html.Parse(r.Body)
			back := find(doc, "a", "id", "back")
			href, _ := connAttr(back, "href")
			if connByID(doc, "error") == nil || (href != "/connectors" && href != "/connectors/shopify" && href != "/connectors/shopify?warehouse_id=1") {
				t.Fatalf("error page: %q, back to %q", text(connByID(doc, "error")), href)
			}
		})
	}
	// Cross-site form posts are refused before any handler.
	r := e.do(e.adminC, "POST", "/connectors/shopify/sync/orders", map[string]string{
		"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example"}, strings.NewReader("warehouse_id=1"))
	if r.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin: %d", r.StatusCode)
	}
}
