package bigcommerce

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// Webhooks (v3) as BigCommerce sends them: a POST of
// {scope, store_id, data {type, id}, hash, created_at, producer} — the
// resource's id, not the resource. Nothing is signed; a hook is
// registered with custom headers that BigCommerce sends with every
// delivery, which is how a receiver tells it is BigCommerce. hash is the
// SHA-1 of the event data, so the same change of the same product twice
// carries the same hash.

// Hook is a registered webhook (POST /v3/hooks).
type Hook struct {
	ID          int
	Scope       string // store/product/updated, or a wildcard store/product/*
	Destination string
	Headers     map[string]string
	Active      bool
}

// Event is one delivery's payload.
type Event struct {
	Scope     string         `json:"scope"`
	StoreID   string         `json:"store_id"`
	Data      map[string]any `json:"data"`
	Hash      string         `json:"hash"`
	CreatedAt int64          `json:"created_at"`
	Producer  string         `json:"producer"`
}

// Hooks is the store's webhook registry (the /v3/hooks resource), kept
// beside the Fake so a test that needs no webhooks pays nothing.
type Hooks struct {
	f    *Fake
	mu   sync.Mutex
	list []*Hook
	next int
}

// NewHooks returns an empty registry for f's store.
func NewHooks(f *Fake) *Hooks { return &Hooks{f: f, next: 18000000} }

// Add registers a hook as POST /v3/hooks would, and returns it.
func (hs *Hooks) Add(scope, destination string, headers map[string]string) Hook {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	hs.next++
	h := &Hook{ID: hs.next, Scope: scope, Destination: destination, Headers: headers, Active: true}
	hs.list = append(hs.list, h)
	return *h
}

// NewEvent builds the payload of a scope event about the resource of type
// typ ("product", "order") with id, created now.
func (f *Fake) NewEvent(scope, typ string, id int) Event {
	data := map[string]any{"type": typ, "id": id}
	b, _ := json.Marshal(data)
	sum := sha1.Sum(b)
	return Event{Scope: scope, StoreID: "1000001", Data: data, Hash: hex.EncodeToString(sum[:]),
		CreatedAt: f.cfg.Now().Unix(), Producer: "stores/" + f.cfg.StoreHash}
}

// Fire delivers ev to every active hook whose scope covers it, with the
// hook's headers, and returns each answer's status in hook order.
func (hs *Hooks) Fire(ctx context.Context, client *http.Client, ev Event) ([]int, error) {
	hs.mu.Lock()
	var to []Hook
	for _, h := range hs.list {
		if h.Active && scopeCovers(h.Scope, ev.Scope) {
			to = append(to, *h)
		}
	}
	hs.mu.Unlock()
	var out []int
	for _, h := range to {
		status, err := Post(ctx, client, h.Destination, h.Headers, ev)
		if err != nil {
			return out, err
		}
		out = append(out, status)
	}
	return out, nil
}

func scopeCovers(hook, scope string) bool {
	if prefix, ok := strings.CutSuffix(hook, "*"); ok {
		return strings.HasPrefix(scope, prefix)
	}
	return hook == scope
}

// Post sends ev to url with headers, as BigCommerce (or someone posing as
// it) would, and returns the answer's status.
func Post(ctx context.Context, client *http.Client, url string, headers map[string]string, ev Event) (int, error) {
	b, err := json.Marshal(ev)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("deliver webhook: %w", err)
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
