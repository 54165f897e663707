package connectors

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"sentryhub/ssrf"
)

// The error taxonomy. Every error the HTTP helper and the connectors return
// matches at most one of the first three with errors.Is, which tells the
// framework how to react.
var (
	// ErrTransient: try again later (429, 503, other 5xx, timeouts,
	// connection failures). The HTTP helper has already retried; the runner
	// retries the whole run on top.
	ErrTransient = errors.New("transient upstream failure")
	// ErrPermanent: retrying cannot help (401/403: credentials or
	// permissions are wrong, and retrying risks a lockout; a blocked
	// destination; a malformed response).
	ErrPermanent = errors.New("permanent upstream failure")
	// ErrData: the upstream rejected what we sent (its own 400/422 or a
	// GraphQL userError); the error names the fields when the upstream did.
	ErrData = errors.New("upstream rejected the data")

	// ErrCircuitOpen: the circuit breaker of this connector and warehouse
	// is open; calls fail fast until the cooldown ends.
	ErrCircuitOpen = errors.New("circuit open")
	// ErrUnsupported: the connector does not implement the operation.
	ErrUnsupported = errors.New("operation not supported by this connector")
	// ErrRecord: the hub refused one record (validation or conflict); the
	// sync counts it and goes on.
	ErrRecord = errors.New("record refused")
	// ErrNotConfigured: the connector has no (or incomplete) settings or
	// credentials for the warehouse.
	ErrNotConfigured = errors.New("connector not configured")
)

// IsTransient reports whether err is worth retrying later.
func IsTransient(err error) bool { return errors.Is(err, ErrTransient) }

// ErrorKind classifies an upstream HTTP failure.
type ErrorKind int

// Error kinds; see ErrTransient, ErrPermanent and ErrData.
const (
	KindTransient ErrorKind = iota + 1
	KindPermanent
	KindData
)

// String names the kind: transient, permanent or data.
func (k ErrorKind) String() string {
	switch k {
	case KindTransient:
		return "transient"
	case KindPermanent:
		return "permanent"
	case KindData:
		return "data"
	}
	return "unknown"
}

func (k ErrorKind) sentinel() error {
	switch k {
	case KindTransient:
		return ErrTransient
	case KindPermanent:
		return ErrPermanent
	case KindData:
		return ErrData
	}
	return nil
}

// HTTPError is an upstream call that failed, after the helper's retries.
// Its text never contains credentials: URL is scrubbed (no userinfo, query
// values replaced) and Message passes through the client's secret scrubber.
type HTTPError struct {
	Kind   ErrorKind
	Method string
	URL    string // scrubbed
	// Status is the HTTP status, 0 for a transport failure.
	Status  int
	Message string
	// Fields names what the upstream rejected (KindData), field -> message.
	Fields map[string]string
	// RetryAfter is the server's advice, when it gave one.
	RetryAfter time.Duration
	Attempts   int
}

func (e *HTTPError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: ", e.Method, e.URL)
	if e.Status != 0 {
		fmt.Fprintf(&b, "HTTP %d: ", e.Status)
	}
	b.WriteString(e.Message)
	if len(e.Fields) > 0 {
		b.WriteString(" (fields: ")
		for i, k := range slices.Sorted(maps.Keys(e.Fields)) {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(k)
			if m := e.Fields[k]; m != "" {
				b.WriteString(": " + m)
			}
		}
		b.WriteString(")")
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " after %d attempts", e.Attempts)
	}
	return b.String()
}

// Is matches the sentinel of e's kind.
func (e *HTTPError) Is(target error) bool { return target != nil && target == e.Kind.sentinel() }

// DataError is an upstream rejection of our data that did not come as an
// HTTP status: a GraphQL userErrors list, for instance. It matches ErrData.
type DataError struct {
	Message string
	Fields  map[string]string
}

func (e *DataError) Error() string {
	if len(e.Fields) == 0 {
		return e.Message
	}
	parts := make([]string, 0, len(e.Fields))
	for _, k := range slices.Sorted(maps.Keys(e.Fields)) {
		parts = append(parts, k+": "+e.Fields[k])
	}
	return e.Message + " (" + strings.Join(parts, "; ") + ")"
}

// Unwrap returns ErrData.
func (e *DataError) Unwrap() error { return ErrData }

// CircuitOpenError is returned without calling upstream while the breaker
// of Connector + WarehouseID is open. It matches ErrCircuitOpen (and not
// ErrTransient: retrying before RetryAt only fails fast again).
type CircuitOpenError struct {
	Connector   string
	WarehouseID int64
	RetryAt     time.Time
}

func (e *CircuitOpenError) Error() string {
	return fmt.Sprintf("circuit open for connector %s in warehouse %d after repeated upstream failures; calls fail fast until %s",
		e.Connector, e.WarehouseID, e.RetryAt.UTC().Format(time.RFC3339))
}

// Unwrap returns ErrCircuitOpen.
func (e *CircuitOpenError) Unwrap() error { return ErrCircuitOpen }

// BlockedDestinationError is an upstream URL the SSRF guard refused. It
// matches ssrf.ErrBlocked and ErrPermanent.
type BlockedDestinationError struct {
	Host   string
	Reason string
	err    *ssrf.BlockedError
}

func (e *BlockedDestinationError) Error() string {
	if e.err != nil {
		return "blocked destination: " + e.err.Error()
	}
	return fmt.Sprintf("blocked destination: host %q: %s", e.Host, e.Reason)
}

// Unwrap returns the guard's error (which matches ssrf.ErrBlocked).
func (e *BlockedDestinationError) Unwrap() error {
	if e.err != nil {
		return e.err
	}
	return ssrf.ErrBlocked
}

// Is matches ErrPermanent: a blocked destination is a configuration error.
func (e *BlockedDestinationError) Is(target error) bool { return target == ErrPermanent }

// RecordError is a canonical record the hub refused. It matches ErrRecord.
type RecordError struct {
	SourceID string
	Message  string
	Fields   map[string]string
	err      error
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("record %s refused: %s", e.SourceID, e.Message)
}

// Unwrap returns ErrRecord and the store error behind it.
func (e *RecordError) Unwrap() []error {
	if e.err == nil {
		return []error{ErrRecord}
	}
	return []error{ErrRecord, e.err}
}

func asRecordError(err error, re **RecordError) bool { return errors.As(err, re) }

// ConfigError is a connector configuration problem found at run time (a
// missing or invalid setting). It matches ErrNotConfigured and
// ErrPermanent.
type ConfigError struct {
	Connector string
	Fields    map[string]string
}

func (e *ConfigError) Error() string {
	parts := make([]string, 0, len(e.Fields))
	for _, k := range slices.Sorted(maps.Keys(e.Fields)) {
		parts = append(parts, k+" "+e.Fields[k])
	}
	return fmt.Sprintf("connector %s is not configured: %s", e.Connector, strings.Join(parts, "; "))
}

// Is matches ErrNotConfigured and ErrPermanent.
func (e *ConfigError) Is(target error) bool {
	return target == ErrNotConfigured || target == ErrPermanent
}
