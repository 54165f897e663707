package stripe

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"sentryhub/clock"
)

type harness struct {
	t   *testing.T
	f   *Fake
	srv *httptest.Server
	clk *clock.Fake
	key string
}

func newHarness(t *testing.T, products, sessions int) *harness {
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	f := New(Config{Seed: 9, Products: products, Sessions: sessions, Now: clk.Now})
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return &harness{t: t, f: f, srv: srv, clk: clk, key: "sk_test_fake"}
}

func (h *harness) do(method, path string, form url.Values, idem string) (*http.Response, map[string]any) {
	h.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, h.srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if h.key != "" {
		req.Header.Set("Authorization", "Bearer "+h.key)
	}
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		h.t.Fatalf("%s %s: not JSON: %v", method, path, err)
	}
	return resp, m
}

func errType(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	s, _ := e["type"].(string)
	return s
}

func TestAuth(t *testing.T) {
	h := newHarness(t, 1, 0)
	tests := []struct {
		name, key string
		basic     bool
		want      int
	}{{"bearer", "sk_test_fake", false, 200}, {"basic", "sk_test_fake", true, 200}, {"wrong", "sk_test_nope1234", false, 401}, {"none", "", false, 401}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", h.srv.URL+"/v1/products", nil)
			if tt.basic {
				req.SetBasicAuth(tt.key, "")
			} else if tt.key != "" {
				req.Header.Set("Authorization", "Bearer "+tt.key)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want || resp.Header.Get("Request-Id") == "" {
				t.Fatalf("%d %s", resp.StatusCode, b)
			}
			if strings.Contains(string(b), "nope1234") && !strings.Contains(string(b), "****") {
				t.Fatalf("key echoed unredacted: %s", b)
			}
		})
	}
}

func TestCursorPagination(t *testing.T) {
	h := newHarness(t, 25, 0)
	var ids []string
	var sizes []int
	after := ""
	for {
		path := "/v1/products?limit=10"
		if after != "" {
			path += "&starting_after=" + after
		}
		_, m := h.do("GET", path, nil, "")
		data := m["data"].([]any)
		sizes = append(sizes, len(data))
		for _, d := range data {
			ids = append(ids, d.(map[string]any)["id"].(string))
		}
		if !m["has_more"].(bool) {
			break
		}
		after = ids[len(ids)-1]
	}
	if fmt.Sprint(sizes) != "[10 10 5]" {
		t.Fatalf("pages %v", sizes)
	}
	prods := h.f.Products()
	if ids[0] != prods[len(prods)-1].ID { // newest first
		t.Fatalf("first listed %s, want the newest %s", ids[0], prods[len(prods)-1].ID)
	}
	_, m := h.do("GET", "/v1/products?limit=3&ending_before="+ids[5], nil, "")
	got := m["data"].([]any)
	if len(got) != 3 || got[2].(map[string]any)["id"] != ids[4] || m["has_more"] != true {
		t.Fatalf("ending_before: %v", m)
	}
	for _, bad := range []string{"limit=0", "limit=101", "starting_after=prod_nope", "starting_after=a&ending_before=b", "created[gte]=soon"} {
		if resp, m := h.do("GET", "/v1/products?"+bad, nil, ""); resp.StatusCode/100 != 4 || errType(m) != "invalid_request_error" {
			t.Errorf("%s: %d %v", bad, resp.StatusCode, m)
		}
	}
}

func TestSessionsExpandAndFilter(t *testing.T) {
	h := newHarness(t, 10, 12)
	sessions := h.f.Sessions()
	cut := sessions[7].Created
	_, m := h.do("GET", "/v1/checkout/sessions?limit=100&created[gte]="+strconv.FormatInt(cut, 10), nil, "")
	if n := len(m["data"].([]any)); n != 5 {
		t.Fatalf("created[gte] kept %d, want 5", n)
	}
	if _, has := m["data"].([]any)[0].(map[string]any)["line_items"]; has {
		t.Fatal("line_items present without expansion")
	}
	_, m = h.do("GET", "/v1/checkout/sessions?limit=2&expand[]=data.line_items.data.price.product", nil, "")
	s := m["data"].([]any)[0].(map[string]any)
	li := s["line_items"].(map[string]any)["data"].([]any)[0].(map[string]any)
	prod := li["price"].(map[string]any)["product"].(map[string]any)
	if !strings.HasPrefix(prod["metadata"].(map[string]any)["sku"].(string), "SKU-") || li["quantity"].(float64) < 1 {
		t.Fatalf("expanded line %v", li)
	}
	if resp, _ := h.do("GET", "/v1/checkout/sessions?expand[]=data.customer", nil, ""); resp.StatusCode != 400 {
		t.Fatalf("unknown expansion: %d", resp.StatusCode)
	}
	_, one := h.do("GET", "/v1/checkout/sessions/"+sessions[0].ID+"?expand[]=line_items", nil, "")
	if _, ok := one["line_items"].(map[string]any)["data"].([]any)[0].(map[string]any)["price"].(map[string]any)["product"].(string); !ok {
		t.Fatalf("line_items without product expansion should carry the product id: %v", one["line_items"])
	}
}

func TestIdempotencyKey(t *testing.T) {
	h := newHarness(t, 1, 0)
	form := url.Values{"name": {"Widget"}, "metadata[sku]": {"W-1"}}
	r1, m1 := h.do("POST", "/v1/products", form, "key-1")
	r2, m2 := h.do("POST", "/v1/products", form, "key-1")
	if r1.StatusCode != 200 || r2.Header.Get("Idempotent-Replayed") != "true" || m1["id"] != m2["id"] || len(h.f.Products()) != 2 {
		t.Fatalf("replay: %v %v, %d products", m1["id"], m2["id"], len(h.f.Products()))
	}
	if resp, m := h.do("POST", "/v1/products", url.Values{"name": {"Other"}}, "key-1"); resp.StatusCode != 400 || errType(m) != "idempotency_error" {
		t.Fatalf("reuse with other params: %d %v", resp.StatusCode, m)
	}
	if _, m := h.do("POST", "/v1/products", form, "key-2"); m["id"] == m1["id"] {
		t.Fatal("a new key replayed the old answer")
	}
}

func TestProductWrites(t *testing.T) {
	h := newHarness(t, 3, 0)
	p := h.f.Products()[0]
	path := "/v1/products/" + p.ID
	tests := []struct {
		name  string
		drop  bool
		form  url.Values
		code  int
		check func(map[string]any) bool
	}{
		{"stock in metadata", false, url.Values{"metadata[on_hand]": {"17"}}, 200, func(m map[string]any) bool { return m["metadata"].(map[string]any)["on_hand"] == "17" }},
		{"dropped", true, url.Values{"metadata[on_hand]": {"1"}}, 200, func(m map[string]any) bool { return m["metadata"].(map[string]any)["on_hand"] == "17" }},
		{"unset", false, url.Values{"metadata[on_hand]": {""}}, 200, func(m map[string]any) bool { _, ok := m["metadata"].(map[string]any)["on_hand"]; return !ok }},
		{"empty name", false, url.Values{"name": {""}}, 400, func(m map[string]any) bool { return m["name"] == p.Name }},
		{"archive", false, url.Values{"active": {"false"}}, 200, func(m map[string]any) bool { return m["active"] == false }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.f.DropWrites(tt.drop)
			defer h.f.DropWrites(false)
			if resp, m := h.do("POST", path, tt.form, ""); resp.StatusCode != tt.code {
				t.Fatalf("%d %v", resp.StatusCode, m)
			}
			if _, back := h.do("GET", path, nil, ""); !tt.check(back) {
				t.Fatalf("read back %v", back)
			}
		})
	}
	if resp, m := h.do("DELETE", path, nil, ""); resp.StatusCode != 400 || errType(m) != "invalid_request_error" {
		t.Fatalf("delete with prices: %d %v", resp.StatusCode, m)
	}
	_, made := h.do("POST", "/v1/products", url.Values{"name": {"Loose"}}, "")
	if _, m := h.do("DELETE", "/v1/products/"+made["id"].(string), nil, ""); m["deleted"] != true {
		t.Fatalf("delete: %v", m)
	}
	if resp, m := h.do("GET", "/v1/products/"+made["id"].(string), nil, ""); resp.StatusCode != 404 || m["error"].(map[string]any)["code"] != "resource_missing" {
		t.Fatalf("after delete: %d %v", resp.StatusCode, m)
	}
}

func TestSessionMetadataAndThrottle(t *testing.T) {
	h := newHarness(t, 3, 2)
	s := h.f.Sessions()[0]
	if resp, m := h.do("POST", "/v1/checkout/sessions/"+s.ID, url.Values{"metadata[tracking_number]": {"1Z9"}}, ""); resp.StatusCode != 200 || m["metadata"].(map[string]any)["tracking_number"] != "1Z9" {
		t.Fatalf("update: %d %v", resp.StatusCode, m)
	}
	if resp, _ := h.do("POST", "/v1/checkout/sessions/"+s.ID, url.Values{"status": {"open"}}, ""); resp.StatusCode != 400 {
		t.Fatalf("non-metadata update: %d", resp.StatusCode)
	}
	h.f.ThrottleNext(1)
	if resp, m := h.do("GET", "/v1/checkout/sessions", nil, ""); resp.StatusCode != 429 || m["error"].(map[string]any)["code"] != "rate_limit" {
		t.Fatalf("throttle: %d %v", resp.StatusCode, m)
	}
	if resp, _ := h.do("GET", "/v1/checkout/sessions", nil, ""); resp.StatusCode != 200 {
		t.Fatalf("after throttle: %d", resp.StatusCode)
	}
}

// verify is a receiver-side check written from Stripe's description, apart
// from SignatureHeader: any v1 may match, the timestamp must be recent.
func verify(header string, payload []byte, secret string, now time.Time) bool {
	var ts string
	var sigs []string
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(n, 0)).Abs() > 5*time.Minute {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%s.%s", ts, payload)
	want := hex.EncodeToString(mac.Sum(nil))
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return true
		}
	}
	return false
}

func TestWebhookDelivery(t *testing.T) {
	h := newHarness(t, 3, 0)
	prices := map[string]int64{}
	for _, p := range h.f.Products() {
		prices[p.Price] = 2
	}
	s, evt := h.f.CompleteSession("a@example.com", prices)
	if evt.Type != "checkout.session.completed" || evt.Data["object"].(map[string]any)["id"] != s.ID || len(s.Lines) != 3 {
		t.Fatalf("event %+v", evt)
	}
	got := make(chan bool, 1)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ok := verify(r.Header.Get("Stripe-Signature"), body, "whsec_fake", h.clk.Now())
		got <- ok
		if !ok {
			w.WriteHeader(400)
		}
	}))
	defer recv.Close()
	for _, tt := range []struct {
		mode Delivery
		want bool
	}{{Valid, true}, {Forged, false}, {Stale, false}, {Unsigned, false}} {
		resp, err := h.f.Deliver(context.Background(), nil, recv.URL, evt, tt.mode)
		if err != nil {
			t.Fatal(err)
		}
		if ok := <-got; ok != tt.want || (resp.StatusCode == 200) != tt.want {
			t.Errorf("mode %d: verified %v status %d, want %v", tt.mode, ok, resp.StatusCode, tt.want)
		}
	}
	// The new session is listed first, newest first.
	_, m := h.do("GET", "/v1/checkout/sessions?limit=1", nil, "")
	if m["data"].([]any)[0].(map[string]any)["id"] != s.ID {
		t.Fatalf("completed session not listed first: %v", m)
	}
}

func TestRejectEchoesTheKey(t *testing.T) {
	h := newHarness(t, 1, 0)
	h.f.Reject()
	resp, m := h.do("GET", "/v1/products", nil, "")
	b, _ := json.Marshal(m)
	if resp.StatusCode != 401 || !strings.Contains(string(b), "sk_test_fake") {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}
