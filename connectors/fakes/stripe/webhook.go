package stripe

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"sentryhub/connectors/fakes/fakekit"
)

// Event is a webhook event envelope as Stripe sends it.
type Event struct {
	ID              string         `json:"id"`
	Object          string         `json:"object"`
	APIVersion      string         `json:"api_version"`
	Created         int64          `json:"created"`
	Data            map[string]any `json:"data"`
	Livemode        bool           `json:"livemode"`
	PendingWebhooks int            `json:"pending_webhooks"`
	Request         map[string]any `json:"request"`
	Type            string         `json:"type"`
}

// Delivery says how Deliver signs an event.
type Delivery int

const (
	// Valid signs with the endpoint secret and the current time.
	Valid Delivery = iota
	// Forged signs with a secret that is not the endpoint's.
	Forged
	// Stale signs correctly but with a timestamp ten minutes old, outside
	// Stripe's default five-minute tolerance.
	Stale
	// Unsigned sends no Stripe-Signature header.
	Unsigned
)

// SignatureHeader is the Stripe-Signature value for payload: the unix
// timestamp, and v1, the hex HMAC-SHA256 of "timestamp.payload" keyed by
// the endpoint secret.
func SignatureHeader(secret string, at time.Time, payload []byte) string {
	ts := strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "." + string(payload)))
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// CompleteSession adds a completed checkout session for the given price
// ids and quantities (as made by a shopper) and returns its
// checkout.session.completed event, line items left unexpanded as Stripe
// sends them.
func (f *Fake) CompleteSession(email string, lines map[string]int64) (Session, Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := &Session{ID: f.id("cs_test_"), Created: f.cfg.Now().Unix(), Email: email,
		Ship:     fakekit.Address{Name: "Webhook Buyer", Line1: "1 Hook Lane", City: "Leeds", Region: "WYK", PostalCode: "LS1", Country: "GB"},
		Metadata: map[string]string{}}
	for _, pr := range f.prices { // price order, so the lines are deterministic
		if q, ok := lines[pr.ID]; ok {
			s.Lines = append(s.Lines, SessionLine{ID: f.id("li_"), Price: pr.ID, Qty: q})
		}
	}
	f.sessions = append(f.sessions, s)
	return *s, f.event("checkout.session.completed", f.renderSession(s, false, false))
}

// Event wraps obj in an event envelope of type typ.
func (f *Fake) Event(typ string, obj map[string]any) Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.event(typ, obj)
}

func (f *Fake) event(typ string, obj map[string]any) Event {
	return Event{ID: f.id("evt_"), Object: "event", APIVersion: "2024-06-20", Created: f.cfg.Now().Unix(),
		Data: map[string]any{"object": obj}, PendingWebhooks: 1, Request: map[string]any{"id": nil, "idempotency_key": nil}, Type: typ}
}

// Deliver POSTs evt to url signed as mode says and returns the receiver's
// answer (its body closed).
func (f *Fake) Deliver(ctx context.Context, client *http.Client, url string, evt Event, mode Delivery) (*http.Response, error) {
	payload, err := json.Marshal(evt)
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	return f.DeliverRaw(ctx, client, url, payload, mode)
}

// DeliverRaw is Deliver for a payload already encoded.
func (f *Fake) DeliverRaw(ctx context.Context, client *http.Client, url string, payload []byte, mode Delivery) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
	now := f.cfg.Now()
	switch mode {
	case Valid:
		req.Header.Set("Stripe-Signature", SignatureHeader(f.cfg.WebhookSecret, now, payload))
	case Forged:
		req.Header.Set("Stripe-Signature", SignatureHeader("whsec_not_the_endpoints", now, payload))
	case Stale:
		req.Header.Set("Stripe-Signature", SignatureHeader(f.cfg.WebhookSecret, now.Add(-10*time.Minute), payload))
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	return resp, nil
}
