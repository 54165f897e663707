package manifest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"sentryhub/clock"
	"sentryhub/connectors"
	"sentryhub/store"
	"sentryhub/testsignal"
)

// WebhookStream returns the webhook stream called key, or nil.
func (m *Manifest) WebhookStream(key string) *Stream {
	for _, s := range m.Streams {
		if s.Mode == "webhook" && s.Key == key {
			return s
		}
	}
	return nil
}

// ProcessWebhook maps and writes the records of one accepted event of
// stream through the sink.
func (c *Conn) ProcessWebhook(ctx context.Context, stream string, body []byte) (connectors.SyncResult, error) {
	var res connectors.SyncResult
	s := c.m.WebhookStream(stream)
	if s == nil {
		return res, fmt.Errorf("connector %s has no webhook stream %q", c.m.Key, stream)
	}
	if s.Thin != nil {
		return c.processThin(ctx, s, body)
	}
	doc := parsed(&connectors.Response{Body: body})
	if doc == nil {
		return res, fmt.Errorf("webhook body is not JSON")
	}
	sel := lookup(doc, s.Records)
	records, ok := sel.([]any)
	if !ok {
		if sel == nil {
			return res, fmt.Errorf("webhook body has nothing at %s", strings.Join(s.Records, "."))
		}
		records = []any{sel}
	}
	var pg page
	for _, rec := range records {
		c.handle(s, rec, &res, &pg)
	}
	err := c.flush(ctx, &pg, &res)
	return res, err
}

// Instancer builds a connector instance with its stored settings and
// credentials (connectors.Runner.Instance).
type Instancer interface {
	Instance(ctx context.Context, name string, warehouseID int64) (connectors.Env, connectors.Connector, error)
}

// WebhookStore is what the receiver keeps in the database.
type WebhookStore interface {
	AcceptConnectorWebhookEvent(ctx context.Context, ev store.ConnectorWebhookEvent) (int64, bool, error)
	PendingConnectorWebhookEvents(ctx context.Context, limit int) ([]store.ConnectorWebhookEvent, error)
	FinishConnectorWebhookEvent(ctx context.Context, id int64, status, result string) error
	CountConnectorWebhookRejection(ctx context.Context, connector string, warehouseID int64, reason string) error
}

// Receiver takes provider webhook deliveries for manifest connectors:
// it verifies the signature before anything else, drops redeliveries by
// provider event id, stores the event durably, and only then answers; its
// Run loop maps and writes stored events through the connector's sink.
type Receiver struct {
	inst  Instancer
	db    WebhookStore
	clock clock.Clock
	log   *slog.Logger
	wake  chan struct{}
	// Processed fires after each stored event is processed (tests).
	Processed testsignal.Signal[store.ConnectorWebhookEvent]
}

// NewReceiver returns a receiver; run its Run loop to process events.
func NewReceiver(inst Instancer, db WebhookStore, c clock.Clock, log *slog.Logger) *Receiver {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Receiver{inst: inst, db: db, clock: c, log: log, wake: make(chan struct{}, 1)}
}

// Reply is the receiver's answer to a delivery.
type Reply struct {
	Status  int
	Message string
}

// WebhookSource is a connector with provider webhook streams: every
// manifest connector, and Go connectors that declare streams the same way
// (Shopify).
type WebhookSource interface {
	// WebhookStream returns the webhook stream called key, or nil.
	WebhookStream(key string) *Stream
	// WebhookSecret is the signing secret of stream s for this connection
	// (empty when none is stored: every delivery is then refused).
	WebhookSecret(s *Stream) []byte
	// ProcessWebhook maps and writes the records of one accepted event.
	ProcessWebhook(ctx context.Context, stream string, body []byte) (connectors.SyncResult, error)
}

// WebhookStream returns the manifest's webhook stream called key, or nil.
func (c *Conn) WebhookStream(key string) *Stream { return c.m.WebhookStream(key) }

// WebhookSecret renders the stream's signature secret.
func (c *Conn) WebhookSecret(s *Stream) []byte {
	return []byte(c.render(s.Signature.Secret, nil))
}

// Receive handles one delivery for connector name in warehouseID on
// stream. Every refusal before the signature is checked says as little as
// possible: the caller is not yet known to be the provider.
func (rx *Receiver) Receive(ctx context.Context, name string, warehouseID int64, stream string, h http.Header, body []byte) Reply {
	_, conn, err := rx.inst.Instance(ctx, name, warehouseID)
	var ce *connectors.ConfigError
	switch {
	case errors.Is(err, store.ErrNotFound) || errors.As(err, &ce):
		return Reply{http.StatusNotFound, "no such webhook endpoint"}
	case err != nil:
		rx.log.Error("webhook: load connector", slog.String("connector", name), slog.String("error", err.Error()))
		return Reply{http.StatusServiceUnavailable, "try again later"}
	}
	wc, ok := conn.(WebhookSource)
	if !ok || wc.WebhookStream(stream) == nil {
		return Reply{http.StatusNotFound, "no such webhook endpoint"}
	}
	s := wc.WebhookStream(stream)
	if err := s.Signature.Verify(wc.WebhookSecret(s), h, body, rx.clock.Now()); err != nil {
		reason := "signature_invalid"
		switch {
		case errors.Is(err, ErrSignatureMissing):
			reason = "signature_missing"
		case errors.Is(err, ErrSignatureStale):
			reason = "signature_stale"
		}
		if cerr := rx.db.CountConnectorWebhookRejection(ctx, name, warehouseID, reason); cerr != nil {
			rx.log.Error("webhook: count rejection", slog.String("error", cerr.Error()))
		}
		rx.log.Warn("webhook refused", slog.String("connector", name), slog.Int64("warehouse_id", warehouseID),
			slog.String("stream", stream), slog.String("reason", reason))
		return Reply{http.StatusUnauthorized, "signature verification failed"}
	}
	doc := parsed(&connectors.Response{Body: body})
	if doc == nil {
		return Reply{Status: http.StatusBadRequest, Message: "body is not JSON"}
	}
	if s.Thin != nil {
		return rx.receiveThin(ctx, name, warehouseID, s, wc, doc)
	}
	id := s.eventField(s.EventID, h, doc)
	if id == "" {
		return Reply{http.StatusBadRequest, "no event id at " + s.EventID}
	}
	typ := ""
	if s.EventType != "" {
		typ = s.eventField(s.EventType, h, doc)
		if len(s.Events) > 0 && !slices.Contains(s.Events, typ) {
			return Reply{http.StatusOK, "event type not subscribed; ignored"}
		}
	}
	_, dup, err := rx.db.AcceptConnectorWebhookEvent(ctx, store.ConnectorWebhookEvent{Connector: name, WarehouseID: warehouseID,
		Stream: stream, EventID: id, EventType: typ, Body: body})
	var ve *store.ValidationError
	switch {
	case errors.As(err, &ve):
		return Reply{http.StatusBadRequest, ve.Message}
	case err != nil:
		rx.log.Error("webhook: store event", slog.String("error", err.Error()))
		return Reply{http.StatusServiceUnavailable, "try again later"}
	case dup:
		return Reply{http.StatusOK, "duplicate event; already accepted"}
	}
	select {
	case rx.wake <- struct{}{}:
	default:
	}
	return Reply{http.StatusAccepted, "accepted"}
}

// Run processes stored events until ctx ends: at once when Receive stored
// one, and every poll interval for events left by a restart or a
// transient failure.
func (rx *Receiver) Run(ctx context.Context) error {
	const poll = 30 * time.Second
	for {
		if err := rx.drain(ctx); err != nil && ctx.Err() == nil {
			rx.log.Error("webhook events", slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-rx.wake:
		case <-rx.clock.After(poll):
		}
	}
}

// maxEventAttempts bounds retries of an event failing transiently.
const maxEventAttempts = 5

func (rx *Receiver) drain(ctx context.Context) error {
	for {
		evs, err := rx.db.PendingConnectorWebhookEvents(ctx, 100)
		if err != nil || len(evs) == 0 {
			return err
		}
		progress := false
		for _, ev := range evs {
			status, result := rx.process(ctx, ev)
			if status == store.WebhookEventPending && ev.Attempts+1 >= maxEventAttempts {
				status = store.WebhookEventFailed
			}
			if err := rx.db.FinishConnectorWebhookEvent(ctx, ev.ID, status, result); err != nil {
				return err
			}
			ev.Status, ev.Result = status, result
			rx.Processed.Signal(ev)
			if status != store.WebhookEventPending {
				progress = true
			}
		}
		if !progress {
			return nil // only transient failures: wait for the next poll
		}
	}
}

func (rx *Receiver) process(ctx context.Context, ev store.ConnectorWebhookEvent) (string, string) {
	_, conn, err := rx.inst.Instance(ctx, ev.Connector, ev.WarehouseID)
	if err != nil {
		return store.WebhookEventPending, "load connector: " + err.Error()
	}
	wc, ok := conn.(WebhookSource)
	if !ok {
		return store.WebhookEventFailed, "connector has no webhook streams"
	}
	res, err := wc.ProcessWebhook(ctx, ev.Stream, ev.Body)
	if err != nil {
		if connectors.IsTransient(err) {
			return store.WebhookEventPending, err.Error()
		}
		return store.WebhookEventFailed, err.Error()
	}
	msg := fmt.Sprintf("%d written, %d failed", res.RecordsSynced, res.RecordsFailed)
	if len(res.Failures) > 0 {
		msg += ": " + res.Failures[0].Message
	}
	return store.WebhookEventDone, msg
}
