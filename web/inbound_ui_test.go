package web

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"sentryhub/store"
)

// TestInboundPages drives the inbound pages with plain form posts (what a
// browser without JavaScript sends): a viewer sees but cannot change, an
// admin's mistakes come back on the page, a mapping error names its line,
// a dry run writes nothing, and a push token is shown once.
func TestInboundPages(t *testing.T) {
	e := newInboundEnv(t)
	e.user("admin@example.com", store.RoleAdmin)
	e.user("viewer@example.com", store.RoleViewer)
	session := func(email string) *http.Client {
		c := e.browser()
		e.login(c, email, "correct horse battery").Body.Close()
		return c
	}
	admin, viewer := session("admin@example.com"), session("viewer@example.com")
	page := func(c *http.Client, method, path string, form url.Values) (int, string) {
		t.Helper()
		var body io.Reader
		h := map[string]string{"Origin": e.srv.URL}
		if form != nil {
			body = strings.NewReader(form.Encode())
			h["Content-Type"] = "application/x-www-form-urlencoded"
		}
		resp := e.do(c, method, path, h, body)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	code, html := page(viewer, "GET", "/inbound", nil)
	if code != 200 || !strings.Contains(html, `id="source-shop"`) || strings.Contains(html, `id="create-source"`) {
		t.Fatalf("viewer's sources page: %d", code)
	}
	if code, _ := page(viewer, "POST", "/inbound/sources", url.Values{"name": {"erp"}}); code != 403 {
		t.Errorf("viewer created a source: %d", code)
	}
	if code, _ := page(viewer, "POST", "/inbound/shop/sales_orders", url.Values{"mapping": {shopOrders}}); code != 403 {
		t.Errorf("viewer saved a mapping: %d", code)
	}

	if code, html := page(admin, "POST", "/inbound/sources", url.Values{"name": {"Not Valid"}}); code != 422 || !strings.Contains(html, "lowercase") {
		t.Errorf("bad source name: %d", code)
	}
	if code, _ := page(admin, "POST", "/inbound/sources", url.Values{"name": {"erp"}}); code != 303 {
		t.Errorf("create source: %d", code)
	}
	code, html = page(admin, "POST", "/inbound/sources/erp/tokens", url.Values{"name": {"erp push"}})
	if code != 200 || !strings.Contains(html, `id="new-token-value">shub_`) {
		t.Fatalf("push token: %d", code)
	}
	if _, again := page(admin, "GET", "/inbound", nil); strings.Contains(again, "new-token-value") {
		t.Error("the token is shown again")
	}

	bad := strings.Replace(shopOrders, "[upper]", "[uper]", 1)
	code, html = page(admin, "POST", "/inbound/shop/sales_orders/test", url.Values{"mapping": {bad}, "sample": {"{}"}})
	if code != 422 || !strings.Contains(html, "line 7, column") || !strings.Contains(html, `<li id="L7" class="bad">`) {
		t.Fatalf("mapping error page: %d", code)
	}
	before := countAll(t, e.db)
	code, html = page(admin, "POST", "/inbound/shop/sales_orders/test", url.Values{"mapping": {shopOrders},
		"sample": {`{"id":"1","number":"5","location":"main","customer":{"city":"Oslo"},"items":[{"code":"widget-1","count":"2"}]}`}})
	if code != 200 || !strings.Contains(html, "WEB-5") || countAll(t, e.db) != before {
		t.Fatalf("dry run page: %d", code)
	}
	code, html = page(admin, "POST", "/inbound/shop/sales_orders", url.Values{"mapping": {shopOrders}, "sample": {"{}"}})
	if code != 200 || !strings.Contains(html, "Saved as version 2") {
		t.Fatalf("save: %d", code)
	}
	if code, _ := page(admin, "GET", "/inbound/shop/customers", nil); code != 404 {
		t.Errorf("unknown resource page: %d", code)
	}
}
