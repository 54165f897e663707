package connectors

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"sentryhub/clock"
	"sentryhub/store/vault"
)

// Capability is one thing a connector can do.
type Capability string

// The capabilities of the contract. A connector declares the subset it
// implements; every other operation must return an error matching
// ErrUnsupported.
const (
	CapSyncOrders      Capability = "sync_orders"
	CapSyncItems       Capability = "sync_items"
	CapSyncInventory   Capability = "sync_inventory"
	CapPushFulfillment Capability = "push_fulfillment"
)

// KnownCapabilities lists the capabilities of the contract in a fixed order.
func KnownCapabilities() []Capability {
	return []Capability{CapSyncOrders, CapSyncItems, CapSyncInventory, CapPushFulfillment}
}

// Sync types: the sync_type of a sync_state row and of the admin sync
// endpoint. Each maps to one capability.
const (
	SyncOrders      = "orders"
	SyncItems       = "items"
	SyncInventory   = "inventory"
	SyncFulfillment = "fulfillment"
	// SyncFulfillmentHealth is the fulfillment_health_check task: a run
	// that fails while the connection's fulfillment pushes have failed or
	// are overdue. It needs push_fulfillment and calls nothing upstream.
	SyncFulfillmentHealth = "fulfillment_health"
)

// CapabilityOf returns the capability behind a sync type, or false.
func CapabilityOf(syncType string) (Capability, bool) {
	switch syncType {
	case SyncOrders:
		return CapSyncOrders, true
	case SyncItems:
		return CapSyncItems, true
	case SyncInventory:
		return CapSyncInventory, true
	case SyncFulfillment, SyncFulfillmentHealth:
		return CapPushFulfillment, true
	}
	return "", false
}

// SyncTypeOf returns the sync type of a capability.
func SyncTypeOf(c Capability) string {
	switch c {
	case CapSyncOrders:
		return SyncOrders
	case CapSyncItems:
		return SyncItems
	case CapSyncInventory:
		return SyncInventory
	case CapPushFulfillment:
		return SyncFulfillment
	}
	return ""
}

// Connector is the contract every connector implements. A Connector value is
// bound to one warehouse: the Factory that builds it receives that
// warehouse's settings, credentials, sink and HTTP client in an Env.
//
// Sync methods pull records changed since since (the zero time on a first
// run, meaning "everything") and write each through Env.Sink; they return
// what they did, and an error only when the sync as a whole failed (a record
// the hub refused is counted in the result, not returned). All upstream HTTP
// goes through Env.HTTP. Operations outside Capabilities return an error
// matching ErrUnsupported (use Unsupported).
type Connector interface {
	// SyncOrders pulls new and updated orders.
	SyncOrders(ctx context.Context, since time.Time) (SyncResult, error)
	// SyncItems pulls item master records.
	SyncItems(ctx context.Context, since time.Time) (SyncResult, error)
	// SyncInventory pulls inventory level changes.
	SyncInventory(ctx context.Context, since time.Time) (SyncResult, error)
	// PushFulfillment posts a shipment confirmation back upstream. It must
	// be idempotent under req.IdempotencyKey: calling it again for a
	// shipment already recorded upstream returns success without a second
	// fulfillment.
	PushFulfillment(ctx context.Context, req FulfillmentRequest) (PushResult, error)
	// TestConnection is a lightweight reachability and credentials check
	// (the admin Test button). Failures are reported in the result; the
	// error is for the hub's own problems.
	TestConnection(ctx context.Context) (ConnectionResult, error)
	// ConfigSchema describes the settings the admin form asks for.
	ConfigSchema() Schema
	// Capabilities lists the operations this connector implements.
	Capabilities() []Capability
}

// Factory builds a connector bound to env. It must not do I/O and must not
// fail: configuration problems are reported by the operations (and by
// TestConnection). The registry calls it once with a zero Env to read the
// schema and capabilities.
type Factory func(env Env) Connector

// Env is what a connector gets from the framework.
type Env struct {
	// Connector and WarehouseID name the scope of this instance.
	Connector   string
	WarehouseID int64
	// Settings are the non-secret values of the config schema; Secrets
	// the secret ones (and any runtime credentials the connector saved).
	Settings Values
	Secrets  map[string]vault.Secret
	// HTTP is the outbound client every upstream call must use.
	HTTP *Client
	// Sink receives canonical records.
	Sink Sink
	// Credentials persists credentials obtained at runtime (a refreshed
	// OAuth token) to the vault for this connector and warehouse.
	Credentials CredentialSaver
	Clock       clock.Clock
	Log         *slog.Logger
}

// Secret returns the secret named key, or the zero Secret.
func (e Env) Secret(key string) vault.Secret { return e.Secrets[key] }

// CredentialSaver stores credentials a connector obtained while running.
type CredentialSaver interface {
	SaveCredentials(ctx context.Context, values map[string]vault.Secret) error
}

// Values are settings as stored: text, typed by the schema.
type Values map[string]string

// String returns the value of key, or "".
func (v Values) String(key string) string { return v[key] }

// Int returns the value of key as an integer, or def when unset or invalid.
func (v Values) Int(key string, def int64) int64 {
	n, err := strconv.ParseInt(v[key], 10, 64)
	if err != nil {
		return def
	}
	return n
}

// Bool returns the value of key as a boolean ("true"/"false"), or def.
func (v Values) Bool(key string, def bool) bool {
	b, err := strconv.ParseBool(v[key])
	if err != nil {
		return def
	}
	return b
}

// Line is a quantity of one sku.
type Line struct {
	SKU string `json:"sku"`
	Qty int64  `json:"qty"`
}

// FulfillmentRequest is a shipment to report upstream.
type FulfillmentRequest struct {
	// OrderID is the hub's sales order id; SourceID the order's id upstream.
	OrderID     string
	SourceID    string
	OrderNumber string
	Carrier     string
	Tracking    string
	Lines       []Line
	// IdempotencyKey is stable across retries of this shipment.
	IdempotencyKey string
}

// SyncResult reports a sync. The framework sets Success from the returned
// error; connectors fill in the counts through Track, Skip and See.
type SyncResult struct {
	Success        bool `json:"success"`
	RecordsSynced  int  `json:"records_synced"`
	RecordsSkipped int  `json:"records_skipped"`
	RecordsFailed  int  `json:"records_failed"`
	// MaxSeen is the latest upstream modification time among the records
	// read (zero when none). The framework stores min(run start, MaxSeen)
	// as the next cursor.
	MaxSeen  time.Time       `json:"max_seen,omitzero"`
	Notes    string          `json:"notes,omitempty"`
	Failures []RecordFailure `json:"failures,omitempty"`
}

// RecordFailure is a record the hub refused.
type RecordFailure struct {
	SourceID string            `json:"source_id"`
	Message  string            `json:"message"`
	Fields   map[string]string `json:"fields,omitempty"`
}

// maxFailures bounds SyncResult.Failures; the count keeps going.
const maxFailures = 20

// Track counts the outcome of writing the record sourceID: nil is synced, a
// record error (ErrRecord) is counted as failed and listed, and anything
// else is returned for the caller to abort the sync with.
func (r *SyncResult) Track(sourceID string, err error) error {
	if err == nil {
		r.RecordsSynced++
		return nil
	}
	var re *RecordError
	if !asRecordError(err, &re) {
		return err
	}
	r.RecordsFailed++
	if len(r.Failures) < maxFailures {
		r.Failures = append(r.Failures, RecordFailure{SourceID: sourceID, Message: re.Message, Fields: re.Fields})
	}
	return nil
}

// Fail counts a record the connector itself could not map.
func (r *SyncResult) Fail(sourceID, message string) {
	r.RecordsFailed++
	if len(r.Failures) < maxFailures {
		r.Failures = append(r.Failures, RecordFailure{SourceID: sourceID, Message: message})
	}
}

// Skip counts a record deliberately not written (cancelled, no sku, ...).
func (r *SyncResult) Skip() { r.RecordsSkipped++ }

// See raises MaxSeen to t.
func (r *SyncResult) See(t time.Time) {
	if t.After(r.MaxSeen) {
		r.MaxSeen = t
	}
}

// PushResult reports a fulfillment push.
type PushResult struct {
	Success bool `json:"success"`
	// UpstreamRef identifies the fulfillment upstream.
	UpstreamRef string `json:"upstream_ref,omitempty"`
	// AlreadyDone is true when the upstream already had this shipment and
	// nothing new was created.
	AlreadyDone bool   `json:"already_done,omitempty"`
	Message     string `json:"message,omitempty"`
}

// ConnectionResult is the outcome of TestConnection. Build it with
// NewConnectionResult: its message is capped and stripped of non-printable
// characters, so a misbehaving upstream cannot smuggle payloads into the
// admin UI. The framework sanitizes it again whatever the connector did.
type ConnectionResult struct {
	OK      bool   `json:"ok"`
	Message string `json:"message"`
}

// MaxMessageLen caps ConnectionResult.Message, in characters.
const MaxMessageLen = 500

// NewConnectionResult returns a result with a sanitized message.
func NewConnectionResult(ok bool, message string) ConnectionResult {
	return ConnectionResult{OK: ok, Message: SanitizeMessage(message, MaxMessageLen)}
}

// SanitizeMessage keeps at most maxRunes printable characters of s: control
// characters (newlines and tabs become spaces), invisible format characters
// such as bidi overrides, and invalid UTF-8 are dropped, and runs of spaces
// collapse, so the text is safe to show as one line.
func SanitizeMessage(s string, maxRunes int) string {
	var b strings.Builder
	b.Grow(min(len(s), maxRunes*4))
	n := 0
	space := false
	for len(s) > 0 && n < maxRunes {
		r, size := utf8.DecodeRuneInString(s)
		s = s[size:]
		switch {
		case r == utf8.RuneError && size <= 1:
			continue
		case r == '\n' || r == '\r' || r == '\t' || unicode.IsSpace(r):
			if !space && n > 0 {
				b.WriteByte(' ')
				n++
				space = true
			}
			continue
		case !unicode.IsPrint(r):
			continue
		}
		b.WriteRune(r)
		n++
		space = false
	}
	return strings.TrimRight(b.String(), " ")
}

// Unsupported returns the error an operation outside a connector's
// capabilities returns.
func Unsupported(connector string, c Capability) error {
	return &UnsupportedError{Connector: connector, Capability: c}
}

// UnsupportedError is returned for an operation the connector does not
// declare. It matches ErrUnsupported.
type UnsupportedError struct {
	Connector  string
	Capability Capability
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("connector %s does not support %s", e.Connector, e.Capability)
}

// Unwrap returns ErrUnsupported.
func (e *UnsupportedError) Unwrap() error { return ErrUnsupported }
