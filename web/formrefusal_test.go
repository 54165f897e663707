package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestRefusedWebhookFormsRedirect: a refused subscription-settings or
// replay-batch form answers 303 to the subscription's page (its own GET
// URL), which shows the errors beside the fields and the values as typed;
// a reload shows the page as stored, without the refusal and without
// sending the form again; nothing was changed.
func TestRefusedWebhookFormsRedirect(t *testing.T) {
	t.Parallel()
	e := newWhUIEnv(t)
	srv := okServer(t, nil)
	c := e.createViaAPI(`{"name":"erp","url":"` + srv.URL + `/hook"}`)
	p := whSubPath(c.ID)
	for _, tc := range []struct {
		name, action, anchor string
		form                 url.Values
		summaryID, errorID   string
		inputID, typed       string
	}{
		{"settings", p, "#settings", url.Values{"name": {"erp-typed"}, "url": {srv.URL + "/hook"}, "pending_ceiling": {"lots"},
			"dlq_ceiling": {"1000"}, "rate_limit_per_sec": {"0"}, "max_in_flight": {"16"}},
			"settings-error", "set-pending_ceiling-error", "set-name", "erp-typed"},
		{"replay batch", p + "/replay-batch", "#replay-batch", url.Values{"mode": {"range"}, "from_event_id": {"first"},
			"warehouse_ids": {"7"}}, "batch-error", "batch-from-error", "batch-warehouses", "7"},
		{"backfill without bounds", p + "/replay-batch", "#replay-batch", url.Values{"mode": {"range"}, "warehouse_ids": {"3, 4"}},
			"batch-error", "batch-from-error", "batch-warehouses", "3, 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.submit(e.adminC, tc.action, tc.form)
			if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != p+tc.anchor {
				t.Fatalf("refused form: %d to %q, want 303 to %q", r.StatusCode, r.Header.Get("Location"), p+tc.anchor)
			}
			doc := e.page(e.adminC, p, 200)
			if whByID(doc, tc.summaryID) == nil || whByID(doc, tc.errorID) == nil {
				t.Fatalf("errors not shown: %q", text(whByID(doc, tc.summaryID)))
			}
			if v := whAttr(whByID(doc, tc.inputID), "value"); v != tc.typed {
				t.Fatalf("typed value %q, want %q", v, tc.typed)
			}
			// A reload is a GET of the page: no refusal, the stored values.
			doc = e.page(e.adminC, p, 200)
			if whByID(doc, tc.summaryID) != nil || whByID(doc, tc.errorID) != nil || whAttr(whByID(doc, tc.inputID), "value") == tc.typed {
				t.Fatal("the refusal shows again on reload")
			}
			if s := e.sub(c.ID); s.Name != "erp" || s.PendingCeiling != c.PendingCeiling {
				t.Fatalf("a refused form changed the subscription: %+v", s)
			}
		})
	}

	t.Run("another subscription's page does not show it", func(t *testing.T) {
		other := e.createViaAPI(`{"name":"other","url":"` + srv.URL + `/other"}`)
		e.submit(e.adminC, p, url.Values{"name": {"erp-typed"}, "pending_ceiling": {"lots"}})
		doc := e.page(e.adminC, whSubPath(other.ID), 200)
		if whByID(doc, "settings-error") != nil || whAttr(whByID(doc, "set-name"), "value") != "other" {
			t.Fatal("a refusal shows on another subscription's page")
		}
	})

	t.Run("kept 10 minutes", func(t *testing.T) {
		e.submit(e.adminC, p, url.Values{"name": {"erp-typed"}, "pending_ceiling": {"lots"}})
		e.clock.Advance(11 * time.Minute)
		doc := e.page(e.adminC, p, 200)
		if whByID(doc, "settings-error") != nil || !whHasFlash(doc, "warn", "can no longer be shown") {
			t.Fatalf("expired refusal: %v", whFlashesOf(doc))
		}
	})

	t.Run("too long to keep", func(t *testing.T) {
		e.s.cfg.MaxBodyBytes = 1 << 20 // the test server's 4 KiB is below what a refusal keeps
		form := url.Values{"name": {"erp"}, "url": {srv.URL + "/hook"}, "pending_ceiling": {"lots"}, "dlq_ceiling": {"1000"},
			"rate_limit_per_sec": {"0"}, "max_in_flight": {"16"}, "aggregate_ids": {strings.Repeat("x", maxRefusedBytes)}}
		doc := e.submitOK(e.adminC, p, form, p+"#settings")
		if whByID(doc, "set-pending_ceiling-error") == nil || !strings.Contains(text(whByID(doc, "settings-error")), "too long to show again") {
			t.Fatalf("summary %q", text(whByID(doc, "settings-error")))
		}
		if whAttr(whByID(doc, "set-name"), "value") != "erp" {
			t.Fatal("the stored settings are not shown in place of the dropped values")
		}
	})
}

// TestRefusedCredentialsRedirect: a refused credentials form answers 303
// to the connector page, which shows the errors and the typed settings; a
// typed secret is neither shown nor kept on the server, and the form says
// to type it again; a reload shows the page without the refusal.
func TestRefusedCredentialsRedirect(t *testing.T) {
	t.Parallel()
	e := newConnectorUIEnv(t)
	const typedSecret = "shpat_typed_then_refused_77"
	form := connValidCredentials()
	form.Set("shop_domain", "acme.example.com")
	form.Set("access_token", typedSecret)
	form.Set("location_id", "555")
	r := e.post(e.adminC, "/connectors/shopify/credentials", form)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/connectors/shopify?warehouse_id=1#credentials" {
		t.Fatalf("refused form: %d to %q", r.StatusCode, r.Header.Get("Location"))
	}
	e.s.refused.mu.Lock()
	for _, kept := range e.s.refused.m {
		for k, vs := range kept.value.Values {
			if k == "access_token" || strings.Contains(strings.Join(vs, " "), typedSecret) {
				t.Errorf("the server kept the typed secret under %s", k)
			}
		}
	}
	e.s.refused.mu.Unlock()

	doc, raw := e.page(e.adminC, "/connectors/shopify?warehouse_id=1", http.StatusOK)
	if el := connByID(doc, "error-shop_domain"); el == nil || !strings.Contains(text(el), "myshopify.com") {
		t.Fatalf("field error %q", text(el))
	}
	if v, _ := connAttr(connByID(doc, "field-location_id"), "value"); v != "555" {
		t.Fatalf("typed location %q", v)
	}
	if v, _ := connAttr(connByID(doc, "field-access_token"), "value"); v != "" || strings.Contains(raw, typedSecret) {
		t.Fatal("the typed secret came back to the browser")
	}
	if s := text(connByID(doc, "form-errors")); !strings.Contains(s, "nothing was changed") || !strings.Contains(s, "type them again") {
		t.Fatalf("summary %q", s)
	}
	doc, _ = e.page(e.adminC, "/connectors/shopify?warehouse_id=1", http.StatusOK)
	if connByID(doc, "error-shop_domain") != nil || connByID(doc, "form-errors") != nil {
		t.Fatal("the refusal shows again on reload")
	}
	if v, _ := connAttr(connByID(doc, "field-location_id"), "value"); v == "555" {
		t.Fatal("typed values shown again on reload")
	}
}
