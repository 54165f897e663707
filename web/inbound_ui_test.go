package web

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"sentryhub/store"
)

// TestInboundPages drives the inbound pages with plain form posts (what a
// browser without JavaScript sends): a viewer sees but cannot change, and
// every change by an admin, a refused one included, answers with a
// redirect to the page, which says what happened once (post/redirect/get).
func TestInboundPages(t *testing.T) {
	t.Parallel()
	e := newInboundEnv(t)
	admin := e.formSession("admin@example.com", store.RoleAdmin)
	viewer := e.formSession("viewer@example.com", store.RoleViewer)

	code, html := viewer.get("/inbound")
	if code != 200 || !strings.Contains(html, `id="source-shop"`) || strings.Contains(html, `id="create-source"`) ||
		strings.Contains(html, `id="create-token-shop"`) || strings.Contains(html, "/revoke") {
		t.Fatalf("viewer's sources page: %d", code)
	}
	viewer.forbidden("/inbound/sources", "/inbound/sources/shop/tokens", "/inbound/sources/shop/tokens/1/revoke",
		"/inbound/shop/sales_orders")

	// A refused name comes back on the page with what was typed, once.
	html = admin.submit("/inbound/sources", url.Values{"name": {"Not Valid"}}, "/inbound#source-form")
	if !strings.Contains(html, `id="source-form-refused"`) || !strings.Contains(html, "lowercase") ||
		!strings.Contains(html, `value="Not Valid"`) || !strings.Contains(html, `id="source-name-error"`) {
		t.Errorf("refused source: %s", html)
	}
	if _, again := admin.get("/inbound"); strings.Contains(again, "Not Valid") || strings.Contains(again, `id="source-form-refused"`) {
		t.Error("the refused form is shown again on reload")
	}
	html = admin.submit("/inbound/sources", url.Values{"name": {"erp"}}, "/inbound")
	if !flashOf(html, "ok", "Source “erp” added") || !strings.Contains(html, `id="source-erp"`) {
		t.Errorf("created source: %s", html)
	}
	html = admin.submit("/inbound/sources", url.Values{"name": {"erp"}}, "/inbound#source-form")
	if !strings.Contains(html, `id="source-form-refused"`) || !strings.Contains(html, "exists") || !strings.Contains(html, `value="erp"`) {
		t.Errorf("taken name: %s", html)
	}

	// A push token is shown once, on the page the redirect leads to.
	html = admin.submit("/inbound/sources/erp/tokens", url.Values{"name": {"erp push"}}, "/inbound")
	tok := regexp.MustCompile(`id="new-token-value">(shub_[^<]+)<`).FindStringSubmatch(html)
	if tok == nil || !flashOf(html, "ok", "Push token “erp push” created") || !strings.Contains(html, `data-copy="new-token-value"`) {
		t.Fatalf("push token page: %s", html)
	}
	if _, again := admin.get("/inbound"); strings.Contains(again, "new-token-value") || strings.Contains(again, tok[1]) {
		t.Error("the token is shown again")
	}
	if lt, err := e.db.LookupToken(t.Context(), tok[1]); err != nil || lt.InboundSource != "erp" {
		t.Fatalf("the token shown is not erp's push token: %v %+v", err, lt)
	}
	html = admin.submit("/inbound/sources/erp/tokens", url.Values{"name": {""}}, "/inbound#source-erp")
	if !strings.Contains(html, `id="token-erp-refused"`) || !strings.Contains(html, `id="token-erp-error"`) {
		t.Errorf("nameless token: %s", html)
	}

	// Revoking asks first, then says so; the token no longer works.
	toks, _ := e.db.ListTokens(t.Context())
	var id string
	for _, tk := range toks {
		if tk.InboundSource == "erp" {
			id = itoa(tk.ID)
		}
	}
	if code, _, _ := admin.post("/inbound/sources/shop/tokens/"+id+"/revoke", url.Values{"confirm": {"yes"}}); code != http.StatusNotFound {
		t.Errorf("revoking erp's token through shop: %d", code)
	}
	html = admin.confirm("/inbound/sources/erp/tokens/"+id+"/revoke", nil, revokePushTokenQuestion("erp push", "erp"), "/inbound")
	if !flashOf(html, "ok", "revoked") || !strings.Contains(html, `<span class="badge bad">revoked</span>`) {
		t.Errorf("after revoke: %s", html)
	}
	if _, err := e.db.LookupToken(t.Context(), tok[1]); err == nil {
		t.Error("the revoked token still works")
	}

	// The dry run answers with the editor (it changes nothing).
	bad := strings.Replace(shopOrders, "[upper]", "[uper]", 1)
	code, _, html = admin.post("/inbound/shop/sales_orders/test", url.Values{"mapping": {bad}, "sample": {"{}"}})
	if code != 422 || !strings.Contains(html, "line 7, column") || !strings.Contains(html, `<li id="L7" class="bad">`) {
		t.Fatalf("mapping error page: %d", code)
	}
	before := countAll(t, e.db)
	code, _, html = admin.post("/inbound/shop/sales_orders/test", url.Values{"mapping": {shopOrders},
		"sample": {`{"id":"1","number":"5","location":"main","customer":{"city":"Oslo"},"items":[{"code":"widget-1","count":"2"}]}`}})
	if code != 200 || !strings.Contains(html, "WEB-5") || countAll(t, e.db) != before {
		t.Fatalf("dry run page: %d", code)
	}
	if resp := e.do(admin.c, "GET", "/inbound/shop/sales_orders/test", nil, nil); resp.StatusCode != http.StatusSeeOther ||
		resp.Header.Get("Location") != "/inbound/shop/sales_orders" {
		t.Errorf("opening the dry run's URL: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}

	// A refused save goes back to the editor with the YAML typed and its
	// problem marked; a reload shows the saved mapping again.
	html = admin.submit("/inbound/shop/sales_orders", url.Values{"mapping": {bad}, "sample": {`{"id":"9"}`}}, "/inbound/shop/sales_orders#editor")
	if !strings.Contains(html, `id="editor-refused"`) || !strings.Contains(html, "Not saved: the mapping has 1 problem") || !strings.Contains(html, `<li id="L7" class="bad">`) ||
		!strings.Contains(html, "[uper]") || !strings.Contains(html, `{&#34;id&#34;:&#34;9&#34;}`) {
		t.Errorf("refused save: %s", html)
	}
	if _, again := admin.get("/inbound/shop/sales_orders"); strings.Contains(again, "[uper]") || strings.Contains(again, `class="bad"`) {
		t.Error("the refused mapping is shown again on reload")
	}
	html = admin.submit("/inbound/shop/sales_orders", url.Values{"mapping": {shopOrders}, "sample": {"{}"}}, "/inbound/shop/sales_orders")
	if !flashOf(html, "ok", "Saved as version 2") || !strings.Contains(html, `<time class="ts"`) {
		t.Fatalf("save: %s", html)
	}
	if code, _ := admin.get("/inbound/shop/customers"); code != 404 {
		t.Errorf("unknown resource page: %d", code)
	}
}
