package netsuite

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"sentryhub/clock"
)

// creds is what a client signs with. The signer below is written apart from
// the fake's verifier (url.QueryEscape-based encoding, its own sort) so that
// a mistake in one is not hidden by the same mistake in the other.
type creds struct {
	realm, ck, cs, tk, ts, method string
}

func pctEncode(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(url.QueryEscape(s), "+", "%20"), "%7E", "~"), "*", "%2A")
}

func signRequest(req *http.Request, c creds, now time.Time, nonce string) {
	params := map[string]string{
		"oauth_consumer_key": c.ck, "oauth_token": c.tk, "oauth_signature_method": cmpStr(c.method, "HMAC-SHA256"),
		"oauth_timestamp": strconv.FormatInt(now.Unix(), 10), "oauth_nonce": nonce, "oauth_version": "1.0",
	}
	var pairs []string
	for k, vs := range req.URL.Query() {
		for _, v := range vs {
			pairs = append(pairs, pctEncode(k)+"\x00"+pctEncode(v))
		}
	}
	for k, v := range params {
		pairs = append(pairs, pctEncode(k)+"\x00"+pctEncode(v))
	}
	sort.Strings(pairs) // \x00 sorts below every name byte, so names order first
	for i, p := range pairs {
		pairs[i] = strings.Replace(p, "\x00", "=", 1)
	}
	base := req.Method + "&" + pctEncode("http://"+req.URL.Host+req.URL.Path) + "&" + pctEncode(strings.Join(pairs, "&"))
	mac := hmac.New(sha256.New, []byte(pctEncode(c.cs)+"&"+pctEncode(c.ts)))
	mac.Write([]byte(base))
	params["oauth_signature"] = base64.StdEncoding.EncodeToString(mac.Sum(nil))
	h := `OAuth realm="` + c.realm + `"`
	for k, v := range params {
		h += fmt.Sprintf(`, %s="%s"`, k, pctEncode(v))
	}
	req.Header.Set("Authorization", h)
}

func cmpStr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

type harness struct {
	t     *testing.T
	f     *Fake
	srv   *httptest.Server
	clk   *clock.Fake
	c     creds
	nonce int
	hdr   map[string]string
}

func newHarness(t *testing.T, items, orders int) *harness {
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	f := New(Config{Seed: 3, Items: items, Orders: orders, Now: clk.Now})
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return &harness{t: t, f: f, srv: srv, clk: clk, c: creds{realm: "1234567_SB1", ck: "ns-ck", cs: "ns-cs", tk: "ns-tk", ts: "ns-ts"}}
}

func (h *harness) do(method, target string, body any, prefer bool) (*http.Response, map[string]any) {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	if !strings.HasPrefix(target, "http") {
		target = h.srv.URL + target
	}
	req, _ := http.NewRequest(method, target, rd)
	req.Header.Set("Content-Type", "application/json")
	if prefer {
		req.Header.Set("Prefer", "transient")
	}
	for k, v := range h.hdr {
		req.Header.Set(k, v)
	}
	h.nonce++
	signRequest(req, h.c, h.clk.Now(), fmt.Sprintf("n%d", h.nonce))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	if len(b) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			h.t.Fatalf("%s %s: not JSON: %s", method, target, b)
		}
	}
	return resp, m
}

func (h *harness) suiteql(q string, limit, offset int) (int, map[string]any) {
	resp, m := h.do("POST", fmt.Sprintf("/services/rest/query/v1/suiteql?limit=%d&offset=%d", limit, offset), map[string]string{"q": q}, true)
	return resp.StatusCode, m
}

func errorCode(m map[string]any) string {
	d, _ := m["o:errorDetails"].([]any)
	if len(d) == 0 {
		return ""
	}
	return d[0].(map[string]any)["o:errorCode"].(string)
}

// The base string of RFC 5849's worked example (section 3.4.1.1), with
// query, form body and oauth parameters, encoded and sorted by name then value.
func TestBaseStringMatchesRFC5849Example(t *testing.T) {
	req := httptest.NewRequest("POST", "http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b", strings.NewReader("c2&a3=2+q"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	oauth := map[string]string{"realm": "Example", "oauth_consumer_key": "9djdj82h48djs9d2", "oauth_token": "kkk9d7dh3k39sjv7",
		"oauth_signature_method": "HMAC-SHA1", "oauth_timestamp": "137131201", "oauth_nonce": "7d8f3e4a", "oauth_signature": "x"}
	got := baseString(req, oauth, formParams(req))
	const want = "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"
	if got != want {
		t.Fatalf("base string\n got %s\nwant %s", got, want)
	}
}

func TestSignatureVerification(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(h *harness, req *http.Request)
		why    string
	}{
		{"valid", nil, ""},
		{"realm is not the account", func(h *harness, r *http.Request) { c := h.c; c.realm = "7654321"; signRequest(r, c, h.clk.Now(), "x1") }, "realm"},
		{"wrong consumer secret", func(h *harness, r *http.Request) { c := h.c; c.cs = "guess"; signRequest(r, c, h.clk.Now(), "x2") }, "signature mismatch"},
		{"wrong token secret", func(h *harness, r *http.Request) { c := h.c; c.ts = "guess"; signRequest(r, c, h.clk.Now(), "x3") }, "signature mismatch"},
		{"HMAC-SHA1 named", func(h *harness, r *http.Request) {
			c := h.c
			c.method = "HMAC-SHA1"
			signRequest(r, c, h.clk.Now(), "x4")
		}, "HMAC-SHA256"},
		{"unknown consumer", func(h *harness, r *http.Request) { c := h.c; c.ck = "other"; signRequest(r, c, h.clk.Now(), "x5") }, "consumer key"},
		{"stale timestamp", func(h *harness, r *http.Request) { signRequest(r, h.c, h.clk.Now().Add(-6*time.Minute), "x6") }, "away from now"},
		{"query changed after signing", func(h *harness, r *http.Request) {
			signRequest(r, h.c, h.clk.Now(), "x7")
			r.URL.RawQuery = "limit=5&offset=0"
		}, "signature mismatch"},
		{"no header", func(h *harness, r *http.Request) { r.Header.Del("Authorization") }, "not OAuth"},
		{"replayed nonce", func(h *harness, r *http.Request) {
			signRequest(r, h.c, h.clk.Now(), "same")
			first := r.Clone(r.Context())
			first.Body = io.NopCloser(strings.NewReader(`{"q":"SELECT id FROM item"}`))
			first.RequestURI = ""
			resp, err := http.DefaultClient.Do(first)
			if err != nil || resp.StatusCode != 200 {
				h.t.Fatalf("first use of the nonce: %v %v", err, resp)
			}
			resp.Body.Close()
		}, "used before"},
		{"revoked token", func(h *harness, r *http.Request) { h.f.RevokeToken(); signRequest(r, h.c, h.clk.Now(), "x8") }, "revoked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, 3, 0)
			req, _ := http.NewRequest("POST", h.srv.URL+"/services/rest/query/v1/suiteql?limit=2&offset=0", strings.NewReader(`{"q":"SELECT id FROM item"}`))
			req.Header.Set("Prefer", "transient")
			signRequest(req, h.c, h.clk.Now(), "n0")
			if tt.mutate != nil {
				tt.mutate(h, req)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&m)
			resp.Body.Close()
			if tt.why == "" {
				if resp.StatusCode != 200 {
					t.Fatalf("valid request refused: %d %v %v", resp.StatusCode, m, h.f.Refusals())
				}
				return
			}
			refusals := h.f.Refusals()
			if resp.StatusCode != 401 || errorCode(m) != "INVALID_LOGIN" || len(refusals) == 0 || !strings.Contains(refusals[len(refusals)-1], tt.why) {
				t.Fatalf("got %d %s %v, want 401 INVALID_LOGIN because %q", resp.StatusCode, errorCode(m), refusals, tt.why)
			}
		})
	}
}

func TestSuiteQLPaging(t *testing.T) {
	h := newHarness(t, 250, 0)
	next := h.srv.URL + "/services/rest/query/v1/suiteql?limit=100&offset=0"
	seen := map[string]bool{}
	var counts []int
	for next != "" {
		resp, m := h.do("POST", next, map[string]string{"q": "SELECT id, itemid FROM item ORDER BY id"}, true)
		if resp.StatusCode != 200 || m["totalResults"] != 250.0 {
			t.Fatalf("%s: %d %v", next, resp.StatusCode, m)
		}
		counts = append(counts, int(m["count"].(float64)))
		for _, it := range m["items"].([]any) {
			seen[it.(map[string]any)["itemid"].(string)] = true
		}
		next = ""
		for _, l := range m["links"].([]any) {
			if l.(map[string]any)["rel"] == "next" {
				next = l.(map[string]any)["href"].(string)
			}
		}
		if (next != "") != m["hasMore"].(bool) {
			t.Fatalf("hasMore %v but next link %q", m["hasMore"], next)
		}
	}
	if fmt.Sprint(counts) != "[100 100 50]" || len(seen) != 250 {
		t.Fatalf("pages %v, %d distinct", counts, len(seen))
	}
}

func TestSuiteQLValues(t *testing.T) {
	h := newHarness(t, 30, 4)
	items := h.f.Items()
	cut := items[19].Modified.UTC().Format("2006-01-02 15:04:05")
	code, m := h.suiteql("SELECT id, itemid, TO_CHAR(lastmodifieddate, 'YYYY-MM-DD\"T\"HH24:MI:SS') AS modified, isinactive, totalquantityonhand FROM item "+
		"WHERE lastmodifieddate > TO_TIMESTAMP('"+cut+"', 'YYYY-MM-DD HH24:MI:SS') ORDER BY lastmodifieddate DESC", 1000, 0)
	if code != 200 || m["count"] != 10.0 {
		t.Fatalf("incremental: %d %v", code, m)
	}
	first := m["items"].([]any)[0].(map[string]any)
	if first["itemid"] != items[29].ItemID || first["modified"] != items[29].Modified.UTC().Format("2006-01-02T15:04:05") ||
		first["isinactive"] != "F" || first["totalquantityonhand"] != strconv.FormatInt(items[29].OnHand, 10) {
		t.Fatalf("row %v", first)
	}
	for since, want := range map[string]float64{"": 30, cut: 11} {
		code, m := h.suiteql("SELECT id FROM item WHERE TO_CHAR(lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') >= '"+since+"'", 1000, 0)
		if code != 200 || m["count"] != want {
			t.Fatalf("TO_CHAR >= %q: %d %v, want %v rows", since, code, m["count"], want)
		}
	}
	code, m = h.suiteql("SELECT * FROM transactionline WHERE transaction = "+strconv.Itoa(h.f.Orders()[0].ID), 1000, 0)
	if code != 200 {
		t.Fatalf("lines: %d %v", code, m)
	}
	var sawMain, sawNegative bool
	for _, it := range m["items"].([]any) {
		row := it.(map[string]any)
		if row["mainline"] == "T" {
			_, hasItem := row["item"]
			sawMain = !hasItem // null columns are left out
		} else if strings.HasPrefix(row["quantity"].(string), "-") {
			sawNegative = true
		}
	}
	if !sawMain || !sawNegative {
		t.Fatalf("mainline without item %v, negative quantities %v: %v", sawMain, sawNegative, m["items"])
	}
	code, m = h.suiteql("SELECT id, trandate FROM transaction WHERE type = 'SalesOrd' AND status IN ('B', 'D')", 1000, 0)
	if code != 200 || m["count"] != 4.0 || !strings.Contains(m["items"].([]any)[0].(map[string]any)["trandate"].(string), "/") {
		t.Fatalf("orders: %d %v", code, m)
	}
}

func TestSuiteQLRefusals(t *testing.T) {
	h := newHarness(t, 3, 0)
	for _, q := range []string{"", "SELECT", "SELECT id FROM nowhere", "SELECT nope FROM item", "SELECT id FROM item WHERE lastmodifieddate > '2026-01-01'",
		"SELECT id FROM item WHERE id ~ 3", "SELECT id FROM item ORDER BY nope", "SELECT id FROM item WHERE itemid = 'open",
		"SELECT id FROM item WHERE lastmodifieddate > TO_DATE('2026-13-45', 'YYYY-MM-DD')", "SELECT id FROM item i extra",
		"SELECT tl.quantity FROM transactionline tl JOIN nowhere n ON n.id = tl.item",
		"SELECT tl.quantity FROM transactionline tl JOIN item i i.id = tl.item"} {
		if code, m := h.suiteql(q, 10, 0); code != 400 || errorCode(m) != "INVALID_PARAMETER" {
			t.Errorf("%q: %d %v", q, code, m)
		}
	}
	if resp, _ := h.do("POST", "/services/rest/query/v1/suiteql", map[string]string{"q": "SELECT id FROM item"}, false); resp.StatusCode != 400 {
		t.Errorf("no Prefer header: %d", resp.StatusCode)
	}
	for _, qs := range []string{"limit=0", "limit=1001", "offset=-1", "offset=100000"} {
		if resp, _ := h.do("POST", "/services/rest/query/v1/suiteql?"+qs, map[string]string{"q": "SELECT id FROM item"}, true); resp.StatusCode != 400 {
			t.Errorf("%s: %d", qs, resp.StatusCode)
		}
	}
}

func TestThrottle(t *testing.T) {
	h := newHarness(t, 3, 0)
	h.f.ThrottleNext(1)
	for i, want := range []int{429, 200} {
		code, m := h.suiteql("SELECT id FROM item", 10, 0)
		if code != want || (code == 429 && errorCode(m) != "CONCURRENCY_LIMIT_EXCEEDED") {
			t.Fatalf("request %d: %d %v", i, code, m)
		}
	}
}

func TestRecordWrites(t *testing.T) {
	h := newHarness(t, 5, 3)
	item := h.f.Items()[1]
	itemPath := "/services/rest/record/v1/inventoryItem/" + strconv.Itoa(item.ID)
	get := func(path string) (int, map[string]any) {
		resp, m := h.do("GET", path+"?expandSubResources=true", nil, false)
		return resp.StatusCode, m
	}

	t.Run("patch then read back", func(t *testing.T) {
		resp, _ := h.do("PATCH", itemPath, map[string]any{"displayName": "Renamed"}, false)
		if resp.StatusCode != 204 {
			t.Fatalf("patch: %d", resp.StatusCode)
		}
		if _, m := get(itemPath); m["displayName"] != "Renamed" || m["itemId"] != item.ItemID {
			t.Fatalf("read back %v", m)
		}
	})
	t.Run("dropped patch is not kept", func(t *testing.T) {
		h.f.DropWrites(true)
		defer h.f.DropWrites(false)
		if resp, _ := h.do("PATCH", itemPath, map[string]any{"displayName": "Lost"}, false); resp.StatusCode != 204 {
			t.Fatalf("patch: %d", resp.StatusCode)
		}
		if _, m := get(itemPath); m["displayName"] != "Renamed" {
			t.Fatalf("dropped write was kept: %v", m)
		}
	})
	t.Run("unknown field refused", func(t *testing.T) {
		if resp, m := h.do("PATCH", itemPath, map[string]any{"colour": "red"}, false); resp.StatusCode != 400 || errorCode(m) != "INVALID_CONTENT" {
			t.Fatalf("%d %v", resp.StatusCode, m)
		}
	})
	t.Run("inventory adjustment", func(t *testing.T) {
		body := map[string]any{"account": map[string]string{"id": "58"}, "adjLocation": map[string]string{"id": "1"},
			"inventory": map[string]any{"items": []any{map[string]any{"item": map[string]string{"id": strconv.Itoa(item.ID)}, "location": map[string]string{"id": "1"}, "adjustQtyBy": -2}}}}
		resp, _ := h.do("POST", "/services/rest/record/v1/inventoryAdjustment", body, false)
		if resp.StatusCode != 204 || !strings.Contains(resp.Header.Get("Location"), "/inventoryAdjustment/") {
			t.Fatalf("adjust: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		_, m := get(itemPath)
		locs := m["locations"].(map[string]any)["items"].([]any)
		if locs[0].(map[string]any)["quantityOnHand"] != float64(item.OnHand-2) {
			t.Fatalf("on hand %v, want %d", locs, item.OnHand-2)
		}
		loc := resp.Header.Get("Location")
		if code, m := get(loc); code != 200 || m["inventory"].(map[string]any)["items"].([]any)[0].(map[string]any)["adjustQtyBy"] != -2.0 {
			t.Fatalf("read adjustment: %d %v", code, m)
		}
		// Deleting the adjustment takes its change back.
		if resp, _ := h.do("DELETE", loc, nil, false); resp.StatusCode != 204 {
			t.Fatalf("delete adjustment: %d", resp.StatusCode)
		}
		if code, _ := get(loc); code != 404 || len(h.f.Adjustments()) != 0 {
			t.Fatalf("deleted adjustment still read: %d", code)
		}
		_, m = get(itemPath)
		if q := m["locations"].(map[string]any)["items"].([]any)[0].(map[string]any)["quantityOnHand"]; q != float64(item.OnHand) {
			t.Fatalf("on hand after delete %v, want %d", q, item.OnHand)
		}
		body["inventory"] = map[string]any{"items": []any{map[string]any{"item": map[string]string{"id": strconv.Itoa(item.ID)}, "adjustQtyBy": 0}}}
		if resp, m := h.do("POST", "/services/rest/record/v1/inventoryAdjustment", body, false); resp.StatusCode != 400 || errorCode(m) != "USER_ERROR" {
			t.Fatalf("adjust by 0: %d %v", resp.StatusCode, m)
		}
		body["inventory"] = map[string]any{"items": []any{map[string]any{"item": map[string]string{"id": "999999"}, "adjustQtyBy": 1}}}
		if resp, m := h.do("POST", "/services/rest/record/v1/inventoryAdjustment", body, false); resp.StatusCode != 400 || errorCode(m) != "INVALID_KEY_OR_REF" {
			t.Fatalf("unknown item: %d %v", resp.StatusCode, m)
		}
	})
	t.Run("fulfil, read back, delete", func(t *testing.T) {
		o := h.f.Orders()[0]
		transform := fmt.Sprintf("/services/rest/record/v1/salesOrder/%d/!transform/itemFulfillment", o.ID)
		over := map[string]any{"item": map[string]any{"items": []any{map[string]any{"orderLine": 1, "quantity": o.Lines[0].Qty + 1, "itemReceive": true}}}}
		if resp, m := h.do("POST", transform, map[string]any{"item": map[string]any{"items": []any{}}, "package": map[string]any{"items": []any{}}}, false); resp.StatusCode != 204 || h.f.Orders()[0].Lines[len(o.Lines)-1].Fulfilled != o.Lines[len(o.Lines)-1].Qty {
			t.Fatalf("fulfil all: %d %v", resp.StatusCode, m)
		} else if resp2, _ := h.do("DELETE", resp.Header.Get("Location"), nil, false); resp2.StatusCode != 204 {
			t.Fatalf("undo fulfil all: %d", resp2.StatusCode)
		}
		if resp, m := h.do("POST", transform, over, false); resp.StatusCode != 400 || errorCode(m) != "USER_ERROR" {
			t.Fatalf("over-fulfil: %d %v", resp.StatusCode, m)
		}
		body := map[string]any{"item": map[string]any{"items": []any{map[string]any{"orderLine": 1, "quantity": o.Lines[0].Qty, "itemReceive": true}}},
			"package": map[string]any{"items": []any{map[string]any{"packageTrackingNumber": "1Z42"}}}}
		resp, _ := h.do("POST", transform, body, false)
		loc := resp.Header.Get("Location")
		if resp.StatusCode != 204 || loc == "" {
			t.Fatalf("fulfil: %d", resp.StatusCode)
		}
		code, m := get(loc)
		pk := m["package"].(map[string]any)["items"].([]any)
		if code != 200 || pk[0].(map[string]any)["packageTrackingNumber"] != "1Z42" || m["createdFrom"].(map[string]any)["id"] != strconv.Itoa(o.ID) {
			t.Fatalf("read back %d %v", code, m)
		}
		_, so := get(fmt.Sprintf("/services/rest/record/v1/salesOrder/%d", o.ID))
		if so["status"].(map[string]any)["id"] == "B" {
			t.Fatalf("order still pending fulfilment: %v", so["status"])
		}
		if resp, _ := h.do("DELETE", loc, nil, false); resp.StatusCode != 204 {
			t.Fatalf("delete: %d", resp.StatusCode)
		}
		if code, m := get(loc); code != 404 || errorCode(m) != "NONEXISTENT_ID" {
			t.Fatalf("after delete: %d %v", code, m)
		}
		if h.f.Orders()[0].Lines[0].Fulfilled != 0 {
			t.Fatal("deleting the fulfillment did not reopen the line")
		}
		o2 := h.f.Orders()[1]
		t2 := fmt.Sprintf("/services/rest/record/v1/salesOrder/%d/!transform/itemFulfillment", o2.ID)
		b2 := map[string]any{"item": map[string]any{"items": []any{map[string]any{"orderLine": 1, "quantity": 1, "itemReceive": true}}}}
		h.hdr = map[string]string{"X-NetSuite-Idempotency-Key": "ful-1"}
		first, _ := h.do("POST", t2, b2, false)
		again, m := h.do("POST", t2, b2, false)
		h.hdr = nil
		if first.StatusCode != 204 || again.StatusCode != 400 || errorCode(m) != "IDEMPOTENCY_ERROR" || again.Header.Get("Location") != first.Header.Get("Location") || len(h.f.Fulfillments()) != 1 {
			t.Fatalf("idempotency key: %d then %d %v, %d fulfillments", first.StatusCode, again.StatusCode, m, len(h.f.Fulfillments()))
		}
		h.f.DropWrites(true)
		resp, _ = h.do("POST", transform, body, false)
		h.f.DropWrites(false)
		if code, _ := get(resp.Header.Get("Location")); resp.StatusCode != 204 || code != 404 {
			t.Fatalf("dropped fulfilment: %d then read %d", resp.StatusCode, code)
		}
	})
	t.Run("delete item", func(t *testing.T) {
		if resp, _ := h.do("DELETE", itemPath, nil, false); resp.StatusCode != 204 {
			t.Fatalf("delete: %d", resp.StatusCode)
		}
		if code, _ := get(itemPath); code != 404 {
			t.Fatalf("deleted item still read: %d", code)
		}
	})
}

func TestRecordList(t *testing.T) {
	h := newHarness(t, 7, 0)
	resp, m := h.do("GET", "/services/rest/record/v1/inventoryItem?limit=5&offset=5", nil, false)
	if resp.StatusCode != 200 || m["count"] != 2.0 || m["hasMore"] != false || m["totalResults"] != 7.0 {
		t.Fatalf("%d %v", resp.StatusCode, m)
	}
}

func FuzzParseSuiteQL(f *testing.F) {
	for _, s := range []string{"SELECT id, TO_CHAR(lastmodifieddate, 'YYYY-MM-DD\"T\"HH24:MI:SS') AS m FROM item WHERE lastmodifieddate >= TO_TIMESTAMP('2026-01-01 00:00:00', 'YYYY-MM-DD HH24:MI:SS') ORDER BY id",
		"SELECT * FROM transaction WHERE type IN ('SalesOrd', 'ItemShip') AND id > 3", "SELECT 'x''y'", "SELECT id FROM item WHERE id <> 1",
		"SELECT tl.transaction, i.itemid FROM transactionline tl JOIN item i ON i.id = tl.item WHERE tl.transaction IN (1, 2) ORDER BY tl.transaction, tl.id DESC"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st, err := parseSuiteQL(s)
		if err == nil && (!tables[st.table] || st.join != nil && !tables[st.join.table]) {
			t.Fatalf("%q parsed with table %q", s, st.table)
		}
	})
}

func FuzzParseOAuthHeader(f *testing.F) {
	f.Add(`OAuth realm="1", oauth_nonce="a%20b"`)
	f.Add(`OAuth a="`)
	f.Fuzz(func(t *testing.T, s string) { _, _ = parseOAuthHeader(s) })
}

func TestRejectEchoesTheHeader(t *testing.T) {
	h := newHarness(t, 1, 0)
	h.f.Reject()
	code, m := h.suiteql("SELECT id FROM item", 10, 0)
	b, _ := json.Marshal(m)
	if code != 401 || !strings.Contains(string(b), "ns-tk") {
		t.Fatalf("%d %s", code, b)
	}
}

// A sales order's lines joined with their items, as a client reads them
// for a page of orders: one row per line, item ids resolved to item names.
func TestSuiteQLJoin(t *testing.T) {
	h := newHarness(t, 5, 4)
	orders := h.f.Orders()
	q := fmt.Sprintf("SELECT tl.transaction, tl.linesequencenumber, i.itemid, tl.quantity FROM transactionline tl JOIN item i ON i.id = tl.item"+
		" WHERE tl.transaction IN (%d, %d) AND tl.mainline = 'F' ORDER BY tl.transaction, tl.linesequencenumber DESC", orders[0].ID, orders[2].ID)
	code, m := h.suiteql(q, 1000, 0)
	if code != 200 {
		t.Fatalf("join: %d %v", code, m)
	}
	items := map[int]string{}
	for _, it := range h.f.Items() {
		items[it.ID] = it.ItemID
	}
	var want []string
	for _, o := range []Order{orders[0], orders[2]} {
		for i := len(o.Lines) - 1; i >= 0; i-- { // linesequencenumber DESC within each order
			l := o.Lines[i]
			want = append(want, fmt.Sprintf("%d %d %s -%d", o.ID, l.Line, items[l.ItemID], l.Qty))
		}
	}
	var got []string
	for _, it := range m["items"].([]any) {
		r := it.(map[string]any)
		got = append(got, fmt.Sprintf("%s %s %s %s", r["transaction"], r["linesequencenumber"], r["itemid"], r["quantity"]))
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("lines\n got %v\nwant %v", got, want)
	}
	if code, m := h.suiteql("SELECT tl.quantity FROM transactionline tl JOIN item i ON i.nope = tl.item", 10, 0); code != 400 || errorCode(m) != "INVALID_PARAMETER" {
		t.Fatalf("join on a missing field: %d %v", code, m)
	}
}
