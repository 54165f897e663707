package businesscentral

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"sentryhub/clock"
)

type harness struct {
	t     *testing.T
	f     *Fake
	srv   *httptest.Server
	clk   *clock.Fake
	token string
}

func newHarness(t *testing.T, cfg Config) *harness {
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	cfg.Now = clk.Now
	f := New(cfg)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	h := &harness{t: t, f: f, srv: srv, clk: clk}
	code, m := h.tokenRequest(url.Values{"grant_type": {"client_credentials"}, "client_id": {"bc-client"}, "client_secret": {"bc-secret"}, "scope": {Scope}}, "")
	if code != 200 {
		t.Fatalf("token: %d %v", code, m)
	}
	h.token = m["access_token"].(string)
	return h
}

func (h *harness) tokenRequest(form url.Values, tenant string) (int, map[string]any) {
	if tenant == "" {
		tenant = "contoso.onmicrosoft.com"
	}
	resp, err := http.PostForm(h.srv.URL+"/"+tenant+"/oauth2/v2.0/token", form)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func (h *harness) do(method, target string, body any, hdr map[string]string) (*http.Response, map[string]any) {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	if !strings.HasPrefix(target, "http") {
		target = h.srv.URL + h.f.APIPath() + target
	}
	req, _ := http.NewRequest(method, target, rd)
	req.Header.Set("Authorization", "Bearer "+h.token)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	if len(b) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			h.t.Fatalf("not JSON: %s", b)
		}
	}
	return resp, m
}

func errCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func TestTokenEndpoint(t *testing.T) {
	h := newHarness(t, Config{Seed: 1, Items: 1})
	good := url.Values{"grant_type": {"client_credentials"}, "client_id": {"bc-client"}, "client_secret": {"bc-secret"}, "scope": {Scope}}
	with := func(k, v string) url.Values {
		c := url.Values{}
		for kk, vv := range good {
			c[kk] = vv
		}
		c.Set(k, v)
		return c
	}
	tests := []struct {
		name   string
		form   url.Values
		tenant string
		code   int
		err    string
	}{
		{"good", good, "", 200, ""},
		{"wrong secret", with("client_secret", "nope"), "", 401, "invalid_client"},
		{"unknown client", with("client_id", "other"), "", 400, "unauthorized_client"},
		{"wrong scope", with("scope", "https://graph.microsoft.com/.default"), "", 400, "invalid_scope"},
		{"auth code grant", with("grant_type", "authorization_code"), "", 400, "unsupported_grant_type"},
		{"unknown tenant", good, "fabrikam.onmicrosoft.com", 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, m := h.tokenRequest(tt.form, tt.tenant)
			if code != tt.code || (tt.err != "" && (m["error"] != tt.err || !strings.HasPrefix(m["error_description"].(string), "AADSTS"))) {
				t.Fatalf("%d %v", code, m)
			}
			if tt.code == 200 && (m["token_type"] != "Bearer" || m["expires_in"] != 3599.0 || m["refresh_token"] != nil) {
				t.Fatalf("grant %v", m)
			}
		})
	}
}

func TestExpiryThenNewToken(t *testing.T) {
	h := newHarness(t, Config{Seed: 2, Items: 2})
	if resp, _ := h.do("GET", "/items", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("fresh: %d", resp.StatusCode)
	}
	h.clk.Advance(3600 * time.Second)
	resp, m := h.do("GET", "/items", nil, nil)
	if resp.StatusCode != 401 || errCode(m) != "Authentication_InvalidCredentials" || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_token") {
		t.Fatalf("expired: %d %v", resp.StatusCode, m)
	}
	_, tok := h.tokenRequest(url.Values{"grant_type": {"client_credentials"}, "client_id": {"bc-client"}, "client_secret": {"bc-secret"}, "scope": {Scope}}, "")
	h.token = tok["access_token"].(string)
	if resp, _ := h.do("GET", "/items", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("new token: %d", resp.StatusCode)
	}
	if h.f.Tokens.Grants() != 2 {
		t.Fatalf("grants %d, want 2", h.f.Tokens.Grants())
	}
}

func TestNextLinkPaging(t *testing.T) {
	h := newHarness(t, Config{Seed: 3, Items: 45, PageSize: 20})
	tests := []struct {
		name   string
		prefer string
		want   string
	}{{"server page size", "", "[20 20 5]"}, {"client maxpagesize", "odata.maxpagesize=10", "[10 10 10 10 5]"}, {"larger than server's", "odata.maxpagesize=500", "[20 20 5]"}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := "/items"
			var sizes []int
			seen := map[string]bool{}
			for next != "" {
				resp, m := h.do("GET", next, nil, map[string]string{"Prefer": tt.prefer})
				if resp.StatusCode != 200 {
					t.Fatalf("%s: %d %v", next, resp.StatusCode, m)
				}
				v := m["value"].([]any)
				sizes = append(sizes, len(v))
				for _, it := range v {
					seen[it.(map[string]any)["number"].(string)] = true
				}
				next, _ = m["@odata.nextLink"].(string)
			}
			if fmt.Sprint(sizes) != tt.want || len(seen) != 45 {
				t.Fatalf("pages %v (%d distinct), want %s", sizes, len(seen), tt.want)
			}
		})
	}
}

func TestFilters(t *testing.T) {
	h := newHarness(t, Config{Seed: 4, Items: 30, Orders: 4})
	items := h.f.Items()
	cut := items[24].Modified.UTC().Format(time.RFC3339)
	tests := []struct {
		filter string
		code   int
		n      int
	}{
		{"lastModifiedDateTime gt " + cut, 200, 5},
		{"lastModifiedDateTime ge " + cut + " and number ne 'SKU-00030'", 200, 5},
		{"number eq 'SKU-00003'", 200, 1},
		{"blocked eq false", 200, 30},
		{"number eq SKU-00003", 400, 0},
		{"lastModifiedDateTime gt yesterday", 400, 0},
		{"colour eq 'red'", 400, 0},
		{"number eq 'x' or number eq 'y'", 400, 0},
		{"number like 'x'", 400, 0},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			resp, m := h.do("GET", "/items?$filter="+url.QueryEscape(tt.filter), nil, nil)
			if resp.StatusCode != tt.code || (tt.code == 200 && len(m["value"].([]any)) != tt.n) {
				t.Fatalf("%d %v", resp.StatusCode, m)
			}
		})
	}
	resp, m := h.do("GET", "/salesOrders?$expand=salesOrderLines&$top=2", nil, nil)
	if resp.StatusCode != 200 || len(m["value"].([]any)) != 2 || len(m["value"].([]any)[0].(map[string]any)["salesOrderLines"].([]any)) == 0 {
		t.Fatalf("orders with lines: %d %v", resp.StatusCode, m)
	}
}

func TestThrottle(t *testing.T) {
	h := newHarness(t, Config{Seed: 5, Items: 1, RetryAfter: 3 * time.Second})
	h.f.ThrottleNext(1)
	resp, m := h.do("GET", "/items", nil, nil)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3" || errCode(m) != "Application_TooManyRequests" {
		t.Fatalf("%d %s %v", resp.StatusCode, resp.Header.Get("Retry-After"), m)
	}
	if resp, _ := h.do("GET", "/items", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("after: %d", resp.StatusCode)
	}
}

func TestItemWrites(t *testing.T) {
	h := newHarness(t, Config{Seed: 6, Items: 3})
	it := h.f.Items()[0]
	path := "/items(" + it.ID + ")"
	_, cur := h.do("GET", path, nil, nil)
	tag := cur["@odata.etag"].(string)
	tests := []struct {
		name   string
		drop   bool
		ifm    string
		body   any
		code   int
		errc   string
		wantDN string
	}{
		{"no If-Match", false, "", map[string]any{"displayName": "A"}, 400, "BadRequest", it.DisplayName},
		{"stale etag", false, `W/"old"`, map[string]any{"displayName": "A"}, 412, "Request_EntityChanged", it.DisplayName},
		{"read-only property", false, "*", map[string]any{"lastModifiedDateTime": "2026-01-01T00:00:00Z"}, 400, "BadRequest", it.DisplayName},
		{"unknown property", false, "*", map[string]any{"colour": "red"}, 400, "BadRequest", it.DisplayName},
		{"update", false, tag, map[string]any{"displayName": "Renamed", "unitPrice": 3.5}, 200, "", "Renamed"},
		{"old etag after update", false, tag, map[string]any{"displayName": "B"}, 412, "Request_EntityChanged", "Renamed"},
		{"dropped", true, "*", map[string]any{"displayName": "Lost"}, 200, "", "Renamed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.f.DropWrites(tt.drop)
			defer h.f.DropWrites(false)
			resp, m := h.do("PATCH", path, tt.body, map[string]string{"If-Match": tt.ifm})
			if resp.StatusCode != tt.code || errCode(m) != tt.errc {
				t.Fatalf("%d %v", resp.StatusCode, m)
			}
			if _, back := h.do("GET", path, nil, nil); back["displayName"] != tt.wantDN {
				t.Fatalf("read back %v", back)
			}
		})
	}
	// A new inventory posts an adjustment of the difference.
	for _, step := range []struct {
		inv  float64
		drop bool
		want []Entry
	}{
		{it.Inventory + 4, false, []Entry{{it.Number, "Positive Adjmt.", 4}}},
		{it.Inventory + 1, false, []Entry{{it.Number, "Positive Adjmt.", 4}, {it.Number, "Negative Adjmt.", 3}}},
		{it.Inventory + 1, false, []Entry{{it.Number, "Positive Adjmt.", 4}, {it.Number, "Negative Adjmt.", 3}}}, // no change, no entry
		{it.Inventory + 9, true, []Entry{{it.Number, "Positive Adjmt.", 4}, {it.Number, "Negative Adjmt.", 3}}},
	} {
		h.f.DropWrites(step.drop)
		resp, m := h.do("PATCH", path, map[string]any{"inventory": step.inv}, map[string]string{"If-Match": "*"})
		h.f.DropWrites(false)
		if resp.StatusCode != 200 || m["inventory"] != step.inv || !slices.Equal(h.f.Entries(), step.want) {
			t.Fatalf("inventory %v: %d %v, entries %v", step.inv, resp.StatusCode, m, h.f.Entries())
		}
	}
	if _, back := h.do("GET", path, nil, nil); back["inventory"] != it.Inventory+1 {
		t.Fatalf("inventory read back %v, want %v", back["inventory"], it.Inventory+1)
	}
	if resp, m := h.do("POST", "/items", map[string]any{"number": "NEW-0", "inventory": 3}, nil); resp.StatusCode != 400 || errCode(m) != "BadRequest" {
		t.Fatalf("create with inventory: %d %v", resp.StatusCode, m)
	}
	resp, made := h.do("POST", "/items", map[string]any{"number": "NEW-1", "displayName": "New"}, nil)
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %v", resp.StatusCode, made)
	}
	if resp, m := h.do("POST", "/items", map[string]any{"number": "NEW-1"}, nil); resp.StatusCode != 400 || errCode(m) != "Internal_EntityWithSameKeyExists" {
		t.Fatalf("duplicate: %d %v", resp.StatusCode, m)
	}
	if resp, _ := h.do("DELETE", "/items("+made["id"].(string)+")", nil, map[string]string{"If-Match": made["@odata.etag"].(string)}); resp.StatusCode != 204 {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if resp, m := h.do("GET", "/items("+made["id"].(string)+")", nil, nil); resp.StatusCode != 404 || errCode(m) != "BadRequest_NotFound" {
		t.Fatalf("after delete: %d %v", resp.StatusCode, m)
	}
}

func TestShipAndInvoice(t *testing.T) {
	h := newHarness(t, Config{Seed: 7, Items: 5, Orders: 3})
	o := h.f.Orders()[0]
	before := map[string]float64{}
	for _, it := range h.f.Items() {
		before[it.Number] = it.Inventory
	}
	// Ship the first line only: zero the others' ship quantity.
	for _, l := range o.Lines[1:] {
		if resp, m := h.do("PATCH", "/salesOrders("+o.ID+")/salesOrderLines("+l.ID+")", map[string]any{"shipQuantity": 0}, map[string]string{"If-Match": "*"}); resp.StatusCode != 200 {
			t.Fatalf("patch line: %d %v", resp.StatusCode, m)
		}
	}
	if resp, _ := h.do("PATCH", "/salesOrders("+o.ID+")/salesOrderLines("+o.Lines[0].ID+")", map[string]any{"shipQuantity": o.Lines[0].Qty + 1}, map[string]string{"If-Match": "*"}); resp.StatusCode != 400 {
		t.Fatalf("over-ship accepted: %d", resp.StatusCode)
	}
	if resp, m := h.do("POST", "/salesOrders("+o.ID+")/Microsoft.NAV.shipAndInvoice", nil, nil); resp.StatusCode != 204 {
		t.Fatalf("ship: %d %v", resp.StatusCode, m)
	}
	_, list := h.do("GET", "/salesShipments?$expand=salesShipmentLines&$filter="+url.QueryEscape("orderNumber eq '"+o.Number+"'"), nil, nil)
	ships := list["value"].([]any)
	if len(ships) != 1 || len(ships[0].(map[string]any)["salesShipmentLines"].([]any)) != 1 {
		t.Fatalf("shipments %v", list)
	}
	for _, it := range h.f.Items() {
		if it.Number == o.Lines[0].ItemNumber && it.Inventory != before[it.Number]-o.Lines[0].Qty {
			t.Fatalf("inventory of %s %v, want %v", it.Number, it.Inventory, before[it.Number]-o.Lines[0].Qty)
		}
	}
	if len(o.Lines) > 1 {
		if resp, _ := h.do("GET", "/salesOrders("+o.ID+")", nil, nil); resp.StatusCode != 200 {
			t.Fatalf("partly shipped order gone: %d", resp.StatusCode)
		}
		if resp, _ := h.do("POST", "/salesOrders("+o.ID+")/Microsoft.NAV.shipAndInvoice", nil, nil); resp.StatusCode != 400 {
			t.Fatalf("nothing to ship accepted: %d", resp.StatusCode)
		}
	}
	o2 := h.f.Orders()[len(h.f.Orders())-1]
	h.f.DropWrites(true)
	h.do("POST", "/salesOrders("+o2.ID+")/Microsoft.NAV.shipAndInvoice", nil, nil)
	h.f.DropWrites(false)
	if resp, _ := h.do("GET", "/salesOrders("+o2.ID+")", nil, nil); resp.StatusCode != 200 || len(h.f.Shipments()) != 1 {
		t.Fatalf("dropped posting kept: %d, %d shipments", resp.StatusCode, len(h.f.Shipments()))
	}
	if resp, _ := h.do("POST", "/salesOrders("+o2.ID+")/Microsoft.NAV.shipAndInvoice", nil, nil); resp.StatusCode != 204 {
		t.Fatalf("full ship: %d", resp.StatusCode)
	}
	if resp, m := h.do("GET", "/salesOrders("+o2.ID+")", nil, nil); resp.StatusCode != 404 {
		t.Fatalf("fully shipped order still open: %d %v", resp.StatusCode, m)
	}
}

func TestRouting(t *testing.T) {
	h := newHarness(t, Config{Seed: 8, Items: 1})
	resp, m := h.do("GET", h.srv.URL+"/v2.0/contoso.onmicrosoft.com/production/api/v2.0/companies", nil, nil)
	if resp.StatusCode != 200 || m["value"].([]any)[0].(map[string]any)["id"] != h.f.CompanyID() {
		t.Fatalf("companies: %d %v", resp.StatusCode, m)
	}
	for _, p := range []string{"/v2.0/contoso.onmicrosoft.com/sandbox/api/v2.0/companies", "/v2.0/contoso.onmicrosoft.com/production/api/v2.0/companies(nope)/items",
		"/v2.0/contoso.onmicrosoft.com/production/api/v2.0/companies(" + h.f.CompanyID() + ")/customers", "/nowhere"} {
		if resp, _ := h.do("GET", h.srv.URL+p, nil, nil); resp.StatusCode != 404 {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
}

func FuzzParseFilter(f *testing.F) {
	f.Add("lastModifiedDateTime gt 2026-01-01T00:00:00Z and number eq 'a''b'")
	f.Add("x eq '")
	f.Fuzz(func(t *testing.T, s string) {
		fs, err := parseFilter(s)
		if err == nil {
			for _, x := range fs {
				if x.field == "" || x.op == "" {
					t.Fatalf("%q gave %+v", s, fs)
				}
			}
		}
	})
}

func TestRejectEchoesTheSecret(t *testing.T) {
	h := newHarness(t, Config{Seed: 1, Items: 1})
	h.f.Reject()
	code, m := h.tokenRequest(url.Values{"grant_type": {"client_credentials"}, "client_id": {"bc-client"}, "client_secret": {"bc-secret"}, "scope": {Scope}}, "")
	if code != 401 || !strings.Contains(m["error_description"].(string), "bc-secret") {
		t.Fatalf("%d %v", code, m)
	}
	resp, m := h.do("GET", "/items", nil, nil)
	if resp.StatusCode != 401 || !strings.Contains(errCode(m), "Authentication") {
		t.Fatalf("%d %v", resp.StatusCode, m)
	}
}
