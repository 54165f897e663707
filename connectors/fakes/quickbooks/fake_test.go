package quickbooks

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
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

func newHarness(t *testing.T, items, orders int) *harness {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	f := New(Config{Seed: 7, Items: items, Orders: orders, Now: clk.Now})
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	access, _ := f.Grant()
	return &harness{t: t, f: f, srv: srv, clk: clk, token: access}
}

func (h *harness) do(method, path, body string) (int, map[string]any) {
	h.t.Helper()
	req, _ := http.NewRequest(method, h.srv.URL+path, strings.NewReader(body))
	if h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	if len(b) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			h.t.Fatalf("%s %s: body is not JSON: %s", method, path, b)
		}
	}
	return resp.StatusCode, m
}

func (h *harness) query(q string) (int, map[string]any) {
	return h.do("GET", "/v3/company/9130350000000000/query?minorversion=75&query="+url.QueryEscape(q), "")
}

func rows(m map[string]any, entity string) []any {
	qr, _ := m["QueryResponse"].(map[string]any)
	r, _ := qr[entity].([]any)
	return r
}

func faultCode(m map[string]any) string {
	f, _ := m["Fault"].(map[string]any)
	errs, _ := f["Error"].([]any)
	if len(errs) == 0 {
		return ""
	}
	e, _ := errs[0].(map[string]any)
	return e["code"].(string)
}

func TestQueryPaginates(t *testing.T) {
	h := newHarness(t, 250, 0)
	seen := map[string]bool{}
	var sizes []int
	for start := 1; ; start += 100 {
		code, m := h.query(fmt.Sprintf("select * from Item STARTPOSITION %d MAXRESULTS 100", start))
		if code != 200 {
			t.Fatalf("page at %d: status %d %v", start, code, m)
		}
		page := rows(m, "Item")
		if len(page) == 0 {
			if qr := m["QueryResponse"].(map[string]any); len(qr) != 0 {
				t.Fatalf("past the end QueryResponse = %v, want {}", qr)
			}
			break
		}
		sizes = append(sizes, len(page))
		for _, r := range page {
			sku := r.(map[string]any)["Sku"].(string)
			if seen[sku] {
				t.Fatalf("%s served twice", sku)
			}
			seen[sku] = true
		}
	}
	if fmt.Sprint(sizes) != "[100 100 50]" || len(seen) != 250 {
		t.Fatalf("pages %v, %d distinct; want [100 100 50], 250", sizes, len(seen))
	}
}

func TestQueryFilters(t *testing.T) {
	h := newHarness(t, 50, 10)
	items := h.f.Items()
	cut := items[39].Updated.In(Zone).Format("2006-01-02T15:04:05-07:00")
	h.f.Touch(items[0].ID, func(it *Item) { it.Active = false })
	tests := []struct {
		name, q, entity string
		want            int
	}{
		{"incremental", "select * from Item where Metadata.LastUpdatedTime > '" + cut + "' orderby Metadata.LastUpdatedTime", "Item", 10},
		{"inactive hidden", "select * from Item MAXRESULTS 1000", "Item", 49},
		{"inactive asked for", "select * from Item where Active IN (true, false) MAXRESULTS 1000", "Item", 50},
		{"by sku", "SELECT * FROM Item WHERE Sku = 'SKU-00007'", "Item", 1},
		{"by id list", "select * from Item where Id in ('2', '3', '4')", "Item", 3},
		{"name like", "select * from Item where Name like '%SKU-0001%'", "Item", 10},
		{"receipts", "select * from SalesReceipt", "SalesReceipt", 5},
		{"invoices", "select * from Invoice", "Invoice", 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, m := h.query(tt.q)
			if code != 200 || len(rows(m, tt.entity)) != tt.want {
				t.Fatalf("status %d, %d rows; want 200, %d (%v)", code, len(rows(m, tt.entity)), tt.want, m)
			}
		})
	}
	code, m := h.query("select count(*) from Item where Active = false")
	if code != 200 || m["QueryResponse"].(map[string]any)["totalCount"] != 1.0 {
		t.Fatalf("count: %d %v", code, m)
	}
}

func TestQueryRefusesWhatItCannotParse(t *testing.T) {
	h := newHarness(t, 3, 0)
	for _, q := range []string{"", "select from Item", "select * from Customer", "select * from Item where Sku", "select * from Item where Sku ~ 'x'",
		"select * from Item STARTPOSITION 0", "select * from Item where Nope = '1'", "select * from Item where Sku = 'unterminated"} {
		code, m := h.query(q)
		if code != 400 || (faultCode(m) != "4000" && faultCode(m) != "4001") {
			t.Errorf("%q: status %d code %q, want 400 4000/4001", q, code, faultCode(m))
		}
	}
}

func TestAuth(t *testing.T) {
	h := newHarness(t, 3, 0)
	const path = "/v3/company/9130350000000000/item/1"
	if code, _ := h.do("GET", path, ""); code != 200 {
		t.Fatalf("fresh token: %d", code)
	}
	h.f.Tokens.ExpireAll()
	code, m := h.do("GET", path, "")
	f, _ := m["fault"].(map[string]any)
	if code != 401 || f["type"] != "AUTHENTICATION" {
		t.Fatalf("expired token: %d %v", code, m)
	}
	h.token = "made-up"
	if code, _ := h.do("GET", path, ""); code != 401 {
		t.Fatalf("unknown token: %d", code)
	}
	h.token, _ = h.f.Grant()
	if code, m := h.do("GET", "/v3/company/1234/item/1", ""); code != 403 {
		t.Fatalf("another company's realm: %d %v", code, m)
	}
	h.clk.Advance(time.Hour)
	if code, _ := h.do("GET", path, ""); code != 401 {
		t.Fatalf("token past its hour: %d", code)
	}
}

func TestOAuthFlow(t *testing.T) {
	h := newHarness(t, 1, 0)
	cb := "https://hub.example/oauth/callback"
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(h.srv.URL + "/connect/oauth2?" + url.Values{"client_id": {"qb-client"}, "response_type": {"code"},
		"scope": {"com.intuit.quickbooks.accounting"}, "redirect_uri": {cb}, "state": {"s1"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != 302 || loc.Query().Get("state") != "s1" || loc.Query().Get("realmId") != "9130350000000000" || loc.Query().Get("code") == "" {
		t.Fatalf("consent redirect: %d %s", resp.StatusCode, loc)
	}
	code := loc.Query().Get("code")
	exchange := func(id, secret string, form url.Values) (int, map[string]any) {
		req, _ := http.NewRequest("POST", h.srv.URL+"/oauth2/v1/tokens/bearer", strings.NewReader(form.Encode()))
		req.SetBasicAuth(id, secret)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	authCode := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {cb}}
	if st, m := exchange("qb-client", "wrong", authCode); st != 401 || m["error"] != "invalid_client" {
		t.Fatalf("bad secret: %d %v", st, m)
	}
	if st, m := exchange("qb-client", "qb-secret", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"https://elsewhere/"}}); st != 400 || m["error"] != "invalid_grant" {
		t.Fatalf("redirect mismatch: %d %v", st, m)
	}
	// The mismatch spent the code, as a used code is spent.
	st, m := exchange("qb-client", "qb-secret", authCode)
	if st != 400 {
		t.Fatalf("code reused: %d %v", st, m)
	}
	access, refresh := h.f.Grant()
	_ = access
	st, m = exchange("qb-client", "qb-secret", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
	if st != 200 || m["access_token"] == "" || m["refresh_token"] == refresh || m["expires_in"] != 3600.0 || m["token_type"] != "bearer" {
		t.Fatalf("refresh: %d %v", st, m)
	}
	if st, _ := exchange("qb-client", "qb-secret", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}); st != 400 {
		t.Fatalf("spent refresh token accepted: %d", st)
	}
	h.token = m["access_token"].(string)
	if code, _ := h.do("GET", "/v3/company/9130350000000000/item/1", ""); code != 200 {
		t.Fatalf("refreshed token refused: %d", code)
	}
	h.f.Tokens.RevokeRefresh()
	if st, _ := exchange("qb-client", "qb-secret", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {m["refresh_token"].(string)}}); st != 400 {
		t.Fatalf("revoked refresh token accepted: %d", st)
	}
}

func TestThrottle(t *testing.T) {
	h := newHarness(t, 3, 0)
	h.f.ThrottleNext(2)
	for i, want := range []int{429, 429, 200} {
		code, m := h.query("select * from Item")
		if code != want {
			t.Fatalf("request %d: %d, want %d", i, code, want)
		}
		if code == 429 && faultCode(m) != "003001" {
			t.Fatalf("throttle fault %v", m)
		}
	}
}

func TestItemWrites(t *testing.T) {
	h := newHarness(t, 5, 0)
	const base = "/v3/company/9130350000000000/"
	it, _ := h.f.ItemBySKU("SKU-00002")
	tests := []struct {
		name     string
		drop     bool
		body     string
		wantCode int
		fault    string
		check    func(Item) bool
	}{
		{"sparse qty update", false, `{"Id":"` + it.ID + `","SyncToken":"0","sparse":true,"QtyOnHand":42}`, 200, "", func(i Item) bool { return i.QtyOnHand == 42 && i.SyncToken == 1 && i.SKU == "SKU-00002" }},
		{"stale sync token", false, `{"Id":"` + it.ID + `","SyncToken":"0","sparse":true,"QtyOnHand":7}`, 400, "5010", func(i Item) bool { return i.QtyOnHand == 42 }},
		{"dropped write", true, `{"Id":"` + it.ID + `","SyncToken":"1","sparse":true,"QtyOnHand":9}`, 200, "", func(i Item) bool { return i.QtyOnHand == 42 && i.SyncToken == 1 }},
		{"full update clears sku", false, `{"Id":"` + it.ID + `","SyncToken":"1","Name":"Renamed","Type":"Inventory"}`, 200, "", func(i Item) bool { return i.Name == "Renamed" && i.SKU == "" }},
		{"full update needs a name", false, `{"Id":"` + it.ID + `","SyncToken":"2","Type":"Inventory"}`, 400, "2020", func(i Item) bool { return i.Name == "Renamed" }},
		{"bad type", false, `{"Id":"` + it.ID + `","SyncToken":"2","sparse":true,"QtyOnHand":"lots"}`, 400, "2010", func(i Item) bool { return i.SyncToken == 2 }},
		{"deactivate", false, `{"Id":"` + it.ID + `","SyncToken":"2","sparse":true,"Active":false}`, 200, "", func(i Item) bool { return !i.Active }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.f.DropWrites(tt.drop)
			code, m := h.do("POST", base+"item?minorversion=75", tt.body)
			if code != tt.wantCode || (tt.fault != "" && faultCode(m) != tt.fault) {
				t.Fatalf("status %d fault %q, want %d %q: %v", code, faultCode(m), tt.wantCode, tt.fault, m)
			}
			_, back := h.do("GET", base+"item/"+it.ID, "")
			var got Item
			for _, i := range h.f.Items() {
				if i.ID == it.ID {
					got = i
				}
			}
			if !tt.check(got) || back["Item"].(map[string]any)["SyncToken"] != fmt.Sprint(got.SyncToken) {
				t.Fatalf("after: %+v / %v", got, back["Item"])
			}
		})
	}
	h.f.DropWrites(false)
	if _, m := h.query("select * from Item where Id = '" + it.ID + "'"); len(rows(m, "Item")) != 0 {
		t.Fatal("inactive item still listed")
	}
	code, m := h.do("POST", base+"item", `{"Name":"New Thing","Type":"Inventory","Sku":"NEW-1","QtyOnHand":3}`)
	if code != 200 || m["Item"].(map[string]any)["Id"] == "" {
		t.Fatalf("create: %d %v", code, m)
	}
	if code, m := h.do("POST", base+"item", `{"Name":"New Thing","Type":"Inventory"}`); code != 400 || faultCode(m) != "6240" {
		t.Fatalf("duplicate name: %d %v", code, m)
	}
}

func TestSaleShipping(t *testing.T) {
	for _, tc := range []struct{ kind, path, other string }{
		{"SalesReceipt", "salesreceipt", "invoice"},
		{"Invoice", "invoice", "salesreceipt"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			h := newHarness(t, 5, 4)
			const base = "/v3/company/9130350000000000/"
			var id string
			for _, s := range h.f.Sales() {
				if s.Kind == tc.kind {
					id = s.ID
					break
				}
			}
			code, m := h.do("POST", base+tc.path, `{"Id":"`+id+`","SyncToken":"0","sparse":true,"ShipDate":"2026-03-01","TrackingNum":"1Z999"}`)
			if code != 200 || m[tc.kind].(map[string]any)["TrackingNum"] != "1Z999" {
				t.Fatalf("ship: %d %v", code, m)
			}
			_, back := h.do("GET", base+tc.path+"/"+id, "")
			sr := back[tc.kind].(map[string]any)
			if sr["TrackingNum"] != "1Z999" || sr["ShipDate"] != "2026-03-01" || sr["SyncToken"] != "1" {
				t.Fatalf("read back %v", sr)
			}
			lines := sr["Line"].([]any)
			if lines[len(lines)-1].(map[string]any)["DetailType"] != "SubTotalLineDetail" {
				t.Fatalf("no subtotal line: %v", lines)
			}
			if code, _ := h.do("GET", base+tc.other+"/"+id, ""); code != 400 {
				t.Fatalf("a %s id read as the other kind: %d", tc.kind, code)
			}
			if code, m := h.do("POST", base+tc.other, `{"Id":"`+id+`","SyncToken":"1","sparse":true,"TrackingNum":"X"}`); code != 400 || faultCode(m) != "610" {
				t.Fatalf("a %s id written as the other kind: %d %v", tc.kind, code, m)
			}
		})
	}
}

func TestCDC(t *testing.T) {
	h := newHarness(t, 20, 6)
	since := h.clk.Now()
	h.clk.Advance(time.Minute)
	items := h.f.Items()
	h.f.Touch(items[3].ID, func(it *Item) { it.QtyOnHand++ })
	code, m := h.do("GET", "/v3/company/9130350000000000/cdc?entities=Item,SalesReceipt&changedSince="+url.QueryEscape(since.In(Zone).Format(time.RFC3339)), "")
	if code != 200 {
		t.Fatalf("cdc: %d %v", code, m)
	}
	qr := m["CDCResponse"].([]any)[0].(map[string]any)["QueryResponse"].([]any)
	if got := qr[0].(map[string]any)["Item"].([]any); len(got) != 1 || got[0].(map[string]any)["Id"] != items[3].ID {
		t.Fatalf("changed items %v", got)
	}
	if got := qr[1].(map[string]any)["SalesReceipt"]; got != nil && len(got.([]any)) != 0 {
		t.Fatalf("unchanged receipts listed %v", got)
	}
	if code, _ := h.do("GET", "/v3/company/9130350000000000/cdc?entities=Item&changedSince=2020-01-01", ""); code != 400 {
		t.Fatalf("changedSince older than 30 days: %d", code)
	}
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"select * from Item where Metadata.LastUpdatedTime > '2026-01-01' STARTPOSITION 1 MAXRESULTS 10",
		"select count(*) from Invoice", "select Id, Name from Item where Id in ('1','2') orderby Id desc", "'", "select * from item where a like '%x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := parseQuery(s)
		if err == nil && (q.start < 1 || q.max < 1 || q.max > 1000 || q.entity == "") {
			t.Fatalf("%q parsed to %+v", s, q)
		}
	})
}

func TestRejectEchoesTheToken(t *testing.T) {
	h := newHarness(t, 1, 0)
	h.f.Reject()
	code, m := h.do("GET", "/v3/company/9130350000000000/item/1", "")
	b, _ := json.Marshal(m)
	if code != 401 || !strings.Contains(string(b), h.token) {
		t.Fatalf("%d %s", code, b)
	}
}
