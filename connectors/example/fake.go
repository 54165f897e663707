package example

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fake is the example API in memory, an http.Handler for tests (serve it
// with httptest.NewServer). It implements the endpoints in the package
// documentation faithfully: bearer auth, updated_since filtering, cursor
// pages, and Idempotency-Key on fulfillments.
type Fake struct {
	mu           sync.Mutex
	apiKey       string
	rejectAll    bool
	items        []APIItem
	orders       []APIOrder
	fulfillments map[string]string // idempotency key -> fulfillment id
}

// NewFake returns an empty fake accepting apiKey.
func NewFake(apiKey string) *Fake {
	return &Fake{apiKey: apiKey, fulfillments: map[string]string{}}
}

// AddItem stores (or replaces, by id) an item.
func (f *Fake) AddItem(it APIItem) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if i := slices.IndexFunc(f.items, func(x APIItem) bool { return x.ID == it.ID }); i >= 0 {
		f.items[i] = it
		return
	}
	f.items = append(f.items, it)
}

// AddOrder stores (or replaces, by id) an order.
func (f *Fake) AddOrder(o APIOrder) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if i := slices.IndexFunc(f.orders, func(x APIOrder) bool { return x.ID == o.ID }); i >= 0 {
		f.orders[i] = o
		return
	}
	f.orders = append(f.orders, o)
}

// Reject makes every later request fail with 401, echoing the presented
// key in the body (as some real APIs do).
func (f *Fake) Reject() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rejectAll = true
}

// Fulfillments counts the fulfillments created.
func (f *Fake) Fulfillments() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.fulfillments)
}

// ServeHTTP answers the example API.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if f.rejectAll || got != f.apiKey {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid api key " + got})
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/ping":
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	case r.Method == http.MethodGet && r.URL.Path == "/items":
		page, next, err := pageOf(f.items, r, func(it APIItem) time.Time { return it.UpdatedAt })
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"errors": map[string][]string{"updated_since": {err.Error()}}})
			return
		}
		writeJSON(w, http.StatusOK, ItemsPage{Items: page, NextCursor: next})
	case r.Method == http.MethodGet && r.URL.Path == "/orders":
		page, next, err := pageOf(f.orders, r, func(o APIOrder) time.Time { return o.UpdatedAt })
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"errors": map[string][]string{"updated_since": {err.Error()}}})
			return
		}
		writeJSON(w, http.StatusOK, OrdersPage{Orders: page, NextCursor: next})
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/orders/") && strings.HasSuffix(r.URL.Path, "/fulfillments"):
		key := r.Header.Get("Idempotency-Key")
		if key == "" {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"errors": map[string][]string{"idempotency_key": {"is required"}}})
			return
		}
		var body struct {
			Carrier string `json:"carrier"`
		}
		if json.NewDecoder(r.Body).Decode(&body) != nil || body.Carrier == "" {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"errors": map[string][]string{"carrier": {"is required"}}})
			return
		}
		if id, ok := f.fulfillments[key]; ok {
			writeJSON(w, http.StatusOK, map[string]string{"id": id})
			return
		}
		id := "ful_" + strconv.Itoa(len(f.fulfillments)+1)
		f.fulfillments[key] = id
		writeJSON(w, http.StatusCreated, map[string]string{"id": id})
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not found"})
	}
}

// pageOf filters by updated_since, orders by update time, and pages with
// an offset cursor.
func pageOf[T any](all []T, r *http.Request, updated func(T) time.Time) ([]T, string, error) {
	q := r.URL.Query()
	var since time.Time
	if s := q.Get("updated_since"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return nil, "", err
		}
		since = t
	}
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 {
		limit = 100
	}
	offset, _ := strconv.Atoi(q.Get("cursor"))
	var match []T
	for _, x := range all {
		if !updated(x).Before(since) {
			match = append(match, x)
		}
	}
	slices.SortStableFunc(match, func(a, b T) int { return updated(a).Compare(updated(b)) })
	if offset > len(match) {
		offset = len(match)
	}
	end := min(offset+limit, len(match))
	next := ""
	if end < len(match) {
		next = strconv.Itoa(end)
	}
	return match[offset:end], next, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
