package sink

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"sentryhub/clock"
)

// Paths the sink serves.
const (
	// WebhookPath receives deliveries (POST); subscriptions point here.
	WebhookPath = "/webhook"
	// PagePath is the HTML list of recent deliveries.
	PagePath = "/"
	// JSONPath is the same list as JSON.
	JSONPath = "/deliveries"
)

// Limits.
const (
	// MaxBody is the largest delivery body the sink reads; a larger one is
	// answered 413. Envelopes are a few hundred bytes.
	MaxBody = 1 << 20
	// MaxShownBody is how much of a body each retained delivery keeps.
	MaxShownBody = 64 << 10
	// DefaultKeep is how many deliveries are retained by default.
	DefaultKeep = 200
	// DefaultRemember is how many event ids dedupe remembers by default.
	DefaultRemember = 100_000
)

// Config configures a Sink. Secrets is required.
type Config struct {
	// Secrets looks up the signing secret of a generation.
	Secrets Secrets
	// Keep is how many deliveries are retained, newest first (default
	// DefaultKeep).
	Keep int
	// Remember is how many event ids are remembered for dedupe, oldest
	// forgotten first (default DefaultRemember, at least Keep).
	Remember int
	// Clock is the sink's wall clock for the replay window and arrival
	// times (default clock.Real).
	Clock clock.Clock
	// Log receives one line per delivery (accepted at debug, refused at
	// warn), never a body or a secret. Default: discard.
	Log *slog.Logger
}

// Delivery is one request the sink received, as shown on its page.
type Delivery struct {
	// Seq numbers arrivals from 1; it orders deliveries that arrived in the
	// same instant.
	Seq        uint64    `json:"seq"`
	ReceivedAt time.Time `json:"received_at"`
	// DeliveryID is X-Sentry-Delivery-Id as received (for correlation only).
	DeliveryID string `json:"delivery_id"`
	// EventType is the envelope's event_type, or the header's when the body
	// is not an envelope.
	EventType     string `json:"event_type"`
	EventID       int64  `json:"event_id,omitempty"`
	AggregateType string `json:"aggregate_type,omitempty"`
	AggregateID   string `json:"aggregate_id,omitempty"`
	Generation    int    `json:"generation,omitempty"`
	Timestamp     int64  `json:"timestamp,omitempty"`
	// Valid is the signature verdict; Reason says why it is invalid.
	Valid  bool   `json:"valid"`
	Reason string `json:"reason,omitempty"`
	// Duplicate marks a valid delivery of an event_id already accepted.
	Duplicate bool `json:"duplicate"`
	// Status is the HTTP status the sink answered.
	Status int `json:"status"`
	// Notes are problems besides the signature (an unusable envelope, an
	// event-type header that disagrees with the signed body).
	Notes []string `json:"notes,omitempty"`
	// Body is the raw body (at most MaxShownBody bytes of it).
	Body          string `json:"body"`
	BodyTruncated bool   `json:"body_truncated,omitempty"`
}

// Stats counts every delivery since the sink started, not only those
// retained.
type Stats struct {
	Received   uint64 `json:"received"`
	Valid      uint64 `json:"valid"`
	Invalid    uint64 `json:"invalid"`
	Duplicates uint64 `json:"duplicates"`
}

// Sink is the reference consumer. Build it with New; it is an http.Handler
// and is safe for concurrent use.
type Sink struct {
	secrets  Secrets
	clock    clock.Clock
	log      *slog.Logger
	keep     int
	remember int
	mux      *http.ServeMux

	mu    sync.Mutex
	seq   uint64
	stats Stats
	ring  []Delivery // circular, len <= keep; next is the slot to write
	next  int
	seen  map[int64]struct{}
	order []int64 // event ids in the order they were first accepted, circular
	oldN  int     // next slot of order to overwrite once it is full
}

// New returns a Sink for cfg. It fails when Secrets is missing.
func New(cfg Config) (*Sink, error) {
	if cfg.Secrets == nil {
		return nil, errors.New("sink: Secrets is required")
	}
	if cfg.Keep <= 0 {
		cfg.Keep = DefaultKeep
	}
	if cfg.Remember <= 0 {
		cfg.Remember = DefaultRemember
	}
	cfg.Remember = max(cfg.Remember, cfg.Keep)
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	s := &Sink{
		secrets: cfg.Secrets, clock: cfg.Clock, log: cfg.Log, keep: cfg.Keep, remember: cfg.Remember,
		seen: map[int64]struct{}{},
	}
	m := http.NewServeMux()
	m.HandleFunc("POST "+WebhookPath, s.receive)
	m.Handle("GET "+PagePath+"{$}", localOnly(http.HandlerFunc(s.page)))
	m.Handle("GET "+JSONPath, localOnly(http.HandlerFunc(s.json)))
	s.mux = m
	return s, nil
}

// ServeHTTP routes to the webhook receiver, the page and the JSON view.
func (s *Sink) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Deliveries returns the retained deliveries, newest first.
func (s *Sink) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Delivery, 0, len(s.ring))
	for i := range len(s.ring) {
		// next-1 is the newest; walk backwards around the ring.
		out = append(out, s.ring[(s.next-1-i+2*len(s.ring))%len(s.ring)])
	}
	return out
}

// Stats returns the counters.
func (s *Sink) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// envelope is the part of the body the sink reads.
type envelope struct {
	EventID       int64
	EventType     string
	AggregateType string
	AggregateID   string
}

// parseEnvelope reads the envelope fields the sink shows, by their exact
// names, as a consumer's JSON library would (encoding/json alone matches
// struct fields case-insensitively, so "Event_ID" would count). EventID is
// 0 unless the body is an object whose event_id is a positive integer;
// notes say what is wrong. Other fields of the wrong type are noted and
// left empty: only event_id is needed to dedupe.
func parseEnvelope(body []byte) (envelope, []string) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return envelope{}, []string{"body is not a JSON event envelope: " + err.Error()}
	}
	var env envelope
	var notes []string
	if raw, ok := fields["event_id"]; !ok || json.Unmarshal(raw, &env.EventID) != nil || env.EventID <= 0 {
		env.EventID = 0
		notes = append(notes, "envelope has no positive integer event_id")
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"event_type", &env.EventType}, {"aggregate_type", &env.AggregateType}, {"aggregate_id", &env.AggregateID}} {
		if raw, ok := fields[f.name]; ok && json.Unmarshal(raw, f.dst) != nil {
			notes = append(notes, "envelope field "+f.name+" is not a string")
		}
	}
	return env, notes
}

// receive handles one delivery: read the raw bytes, verify, dedupe, record,
// answer. The answer is a small JSON acknowledgement; the hub reads only
// its status.
func (s *Sink) receive(w http.ResponseWriter, r *http.Request) {
	now := s.clock.Now()
	d := Delivery{
		ReceivedAt: now.UTC(),
		DeliveryID: r.Header.Get(HeaderDeliveryID),
		EventType:  r.Header.Get(HeaderEventType),
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	d.Body, d.BodyTruncated = shown(body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			d.Reason = fmt.Sprintf("body larger than %d bytes", MaxBody)
			s.finish(w, d, http.StatusRequestEntityTooLarge, "body_too_large")
			return
		}
		d.Reason = "body could not be read"
		s.finish(w, d, http.StatusBadRequest, "unreadable_body")
		return
	}
	verdict, verr := Verify(r.Context(), r.Header, body, s.secrets, now)
	d.Valid, d.Reason, d.Generation, d.Timestamp = verdict.Valid, verdict.Reason, verdict.Generation, verdict.Timestamp

	// What the body says is shown even when the signature fails, labelled
	// by the verdict; only a valid delivery is deduped and acknowledged.
	env, notes := parseEnvelope(body)
	d.Notes = notes
	if env.EventID > 0 {
		d.EventID, d.AggregateType, d.AggregateID = env.EventID, env.AggregateType, env.AggregateID
		if env.EventType != "" {
			if d.EventType != "" && d.EventType != env.EventType {
				d.Notes = append(d.Notes, fmt.Sprintf("%s %q differs from the body's event_type %q", HeaderEventType, d.EventType, env.EventType))
			}
			d.EventType = env.EventType
		}
	}

	switch {
	case verr != nil:
		// Not the sender's fault: 503 makes the hub retry.
		s.log.Error("sink secret store failed", slog.String("delivery_id", d.DeliveryID), slog.Any("error", verr))
		s.finish(w, d, http.StatusServiceUnavailable, "secret_store_unavailable")
	case !verdict.Valid:
		s.finish(w, d, http.StatusUnauthorized, "invalid_signature")
	case d.EventID == 0:
		// Signed but unusable: there is nothing to dedupe on or apply.
		s.finish(w, d, http.StatusBadRequest, "bad_envelope")
	default:
		s.finish(w, d, http.StatusOK, "")
	}
}

// finish records d under the lock (deciding Duplicate for an accepted
// delivery), logs it and writes the answer.
func (s *Sink) finish(w http.ResponseWriter, d Delivery, status int, code string) {
	d.Status = status
	s.mu.Lock()
	if status == http.StatusOK {
		d.Duplicate = !s.markSeen(d.EventID)
	}
	s.seq++
	d.Seq = s.seq
	s.stats.Received++
	switch {
	case d.Valid && d.Duplicate:
		s.stats.Valid++
		s.stats.Duplicates++
	case d.Valid:
		s.stats.Valid++
	default:
		s.stats.Invalid++
	}
	if len(s.ring) < s.keep {
		s.ring = append(s.ring, d)
	} else {
		s.ring[s.next] = d
	}
	s.next = (s.next + 1) % s.keep
	s.mu.Unlock()

	attrs := []any{slog.Uint64("seq", d.Seq), slog.String("delivery_id", d.DeliveryID),
		slog.Int64("event_id", d.EventID), slog.Int("status", status)}
	if code != "" {
		s.log.Warn("sink refused delivery", append(attrs, slog.String("reason", d.Reason))...)
	} else {
		s.log.Debug("sink accepted delivery", append(attrs, slog.Bool("duplicate", d.Duplicate))...)
	}

	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	switch {
	case code != "":
		fmt.Fprintf(w, `{"error":{"code":%q}}`+"\n", code)
	case d.Duplicate:
		io.WriteString(w, `{"status":"duplicate"}`+"\n")
	default:
		io.WriteString(w, `{"status":"accepted"}`+"\n")
	}
}

// markSeen adds id to the seen set and reports whether it was new. The set
// keeps the last s.remember ids; the oldest is forgotten first. Called with
// s.mu held.
func (s *Sink) markSeen(id int64) bool {
	if _, ok := s.seen[id]; ok {
		return false
	}
	s.seen[id] = struct{}{}
	if len(s.order) < s.remember {
		s.order = append(s.order, id)
		return true
	}
	delete(s.seen, s.order[s.oldN])
	s.order[s.oldN] = id
	s.oldN = (s.oldN + 1) % s.remember
	return true
}

// shown returns what a retained delivery keeps of body.
func shown(body []byte) (string, bool) {
	if len(body) > MaxShownBody {
		return string(body[:MaxShownBody]), true
	}
	return string(body), false
}

// pretty indents a JSON body for display; anything else is shown as is.
func pretty(body string, truncated bool) string {
	if truncated {
		return body
	}
	var b bytes.Buffer
	if err := json.Indent(&b, []byte(body), "", "  "); err != nil {
		return body
	}
	return b.String()
}

// localOnly refuses read views whose Host is a name other than localhost:
// a page on a loopback port is otherwise readable by any web site through
// DNS rebinding (a name that resolves to 127.0.0.1 after the page loads).
// An IP literal or localhost cannot be rebound.
func localOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if host != "localhost" && net.ParseIP(trimBrackets(host)) == nil {
			http.Error(w, "the sink answers only to an IP address or localhost", http.StatusMisdirectedRequest)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

func trimBrackets(h string) string {
	if len(h) >= 2 && h[0] == '[' && h[len(h)-1] == ']' {
		return h[1 : len(h)-1]
	}
	return h
}

// jsonView is what JSONPath serves.
type jsonView struct {
	Stats      Stats      `json:"stats"`
	Deliveries []Delivery `json:"deliveries"`
}

func (s *Sink) json(w http.ResponseWriter, _ *http.Request) {
	v := jsonView{Stats: s.Stats(), Deliveries: s.Deliveries()}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // a write error means the client left
}

func (s *Sink) page(w http.ResponseWriter, r *http.Request) {
	v := pageView{Stats: s.Stats(), Keep: s.keep}
	if n, err := strconv.Atoi(r.URL.Query().Get("refresh")); err == nil && n > 0 {
		v.Refresh = min(n, 3600)
	}
	for _, d := range s.Deliveries() {
		v.Deliveries = append(v.Deliveries, deliveryView{Delivery: d, Pretty: pretty(d.Body, d.BodyTruncated)})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = page(v).Render(r.Context(), w) // a write error means the client left
}
