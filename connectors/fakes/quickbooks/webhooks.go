package quickbooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"sentryhub/connectors/fakes/fakekit"
)

// Webhooks as Intuit sends them since its move to CloudEvents (mandatory
// from mid-2026): a POST of a JSON array of events, each naming the
// company (intuitaccountid), the entity id (intuitentityid) and a type
// like qbo.item.updated.v1, with an empty data object — the entity itself
// is read from the API. The whole body is signed: intuit-signature is the
// base64 HMAC-SHA256 of it, keyed by the app's verifier token. Intuit
// sends every connected company's events to the app's one endpoint.

// CloudEvent is one webhook notification.
type CloudEvent struct {
	SpecVersion     string         `json:"specversion"`
	ID              string         `json:"id"`
	Source          string         `json:"source"`
	Type            string         `json:"type"`
	DataContentType string         `json:"datacontenttype"`
	Time            string         `json:"time"`
	EntityID        string         `json:"intuitentityid"`
	AccountID       string         `json:"intuitaccountid"`
	Data            map[string]any `json:"data"`
}

// Delivery says how SendWebhook signs a payload.
type Delivery int

const (
	// Signed carries the HMAC keyed by the verifier token.
	Signed Delivery = iota
	// Forged carries an HMAC keyed by another token.
	Forged
	// Unsigned carries no intuit-signature header.
	Unsigned
)

// Event returns a notification that entity (Item, SalesReceipt, Invoice)
// id of this company was changed by op (created, updated, deleted).
func (f *Fake) Event(entity, id, op string) CloudEvent {
	return f.EventFor(f.cfg.RealmID, entity, id, op)
}

// EventFor is Event for another company connected to the same app.
func (f *Fake) EventFor(realm, entity, id, op string) CloudEvent {
	return CloudEvent{SpecVersion: "1.0", ID: fakeUUID(), Source: "intuit." + fakekit.Random(12),
		Type: "qbo." + strings.ToLower(entity) + "." + op + ".v1", DataContentType: "application/json",
		Time: f.cfg.Now().UTC().Format(time.RFC3339Nano), EntityID: id, AccountID: realm, Data: map[string]any{}}
}

func fakeUUID() string {
	r := fakekit.Random(16)
	return r[:8] + "-" + r[8:12] + "-" + r[12:16] + "-" + r[16:20] + "-" + r[20:32]
}

// Signature is the intuit-signature of payload under verifier.
func Signature(verifier string, payload []byte) string {
	m := hmac.New(sha256.New, []byte(verifier))
	m.Write(payload)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Payload encodes events as one delivery.
func Payload(events ...CloudEvent) []byte {
	b, err := json.Marshal(events)
	if err != nil {
		panic(err) // plain structs always encode
	}
	return b
}

// SendWebhook POSTs payload to url signed as mode says, with the app's
// verifier token, and returns the answer (body read into the returned
// string, then closed).
func SendWebhook(ctx context.Context, client *http.Client, url, verifier string, payload []byte, mode Delivery) (*http.Response, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Content-Type", "application/cloudevents-batch+json")
	switch mode {
	case Signed:
		req.Header.Set("intuit-signature", Signature(verifier, payload))
	case Forged:
		req.Header.Set("intuit-signature", Signature(verifier+"-not", payload))
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("deliver webhook: %w", err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp, buf.String(), nil
}
