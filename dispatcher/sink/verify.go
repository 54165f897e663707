package sink

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"sentryhub/store/vault"
)

// Header names of the wire contract. The sink keeps its own copy instead of
// importing the dispatcher's: it checks the hub against the contract.
const (
	HeaderSignature           = "X-Sentry-Signature"
	HeaderSignatureGeneration = "X-Sentry-Signature-Generation"
	HeaderDeliveryID          = "X-Sentry-Delivery-Id"
	HeaderEventType           = "X-Sentry-Event-Type"
	HeaderTimestamp           = "X-Sentry-Timestamp"
)

// ReplayWindow is how far X-Sentry-Timestamp may be from the sink's clock,
// in either direction (the contract's REPLAY_WINDOW_S).
const ReplayWindow = 300 * time.Second

const signaturePrefix = "sha256="

// Secrets is the consumer's secret store: the contract's
// secret_for_generation. Secret returns the secret of generation 1 or 2 and
// ok=false when that generation has none (generation 2 outside its 24-hour
// dual-accept window). An error means the store could not be read; the sink
// answers 503 so the hub retries.
type Secrets interface {
	Secret(ctx context.Context, generation int) (s vault.Secret, ok bool, err error)
}

// SecretsFunc adapts a function to Secrets.
type SecretsFunc func(ctx context.Context, generation int) (vault.Secret, bool, error)

// Secret calls f.
func (f SecretsFunc) Secret(ctx context.Context, generation int) (vault.Secret, bool, error) {
	return f(ctx, generation)
}

// Keyring is an in-memory Secrets with the contract's two slots. It is safe
// for concurrent use and, like vault.Secret, never prints its contents.
type Keyring struct {
	mu    sync.RWMutex
	slots [2]vault.Secret
}

// NewKeyring returns a Keyring holding gen1 in slot 1.
func NewKeyring(gen1 vault.Secret) *Keyring {
	k := &Keyring{}
	k.slots[0] = gen1
	return k
}

// Set stores s in slot generation (1 or 2); a zero Secret empties the slot.
// Other generations are ignored.
func (k *Keyring) Set(generation int, s vault.Secret) {
	if generation != 1 && generation != 2 {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.slots[generation-1] = s
}

// Rotate does what the contract asks of a consumer when the admin rotates:
// slot 1 moves to slot 2 and next becomes slot 1.
func (k *Keyring) Rotate(next vault.Secret) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.slots[1], k.slots[0] = k.slots[0], next
}

// Secret returns the secret in slot generation. It never fails.
func (k *Keyring) Secret(_ context.Context, generation int) (vault.Secret, bool, error) {
	if generation != 1 && generation != 2 {
		return vault.Secret{}, false, nil
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	s := k.slots[generation-1]
	return s, !s.IsZero(), nil
}

// String returns a fixed text: a Keyring never prints its secrets.
func (k *Keyring) String() string { return "sink.Keyring(****)" }

// GoString returns the same fixed text for %#v.
func (k *Keyring) GoString() string { return k.String() }

// Verdict is the outcome of checking one delivery's signature.
type Verdict struct {
	Valid bool
	// Reason says why the delivery is not valid ("" when it is).
	Reason string
	// Generation and Timestamp are the parsed headers (0 when they did not
	// parse).
	Generation int
	Timestamp  int64
}

func invalid(format string, a ...any) Verdict {
	return Verdict{Reason: fmt.Sprintf(format, a...)}
}

// Verify checks a delivery's headers against its raw body the way the
// contract's reference Python verifier does, in the same order:
//
//  1. X-Sentry-Signature starts with "sha256=";
//  2. X-Sentry-Signature-Generation and X-Sentry-Timestamp are integers as
//     Python's int() reads them (see parsePyInt);
//  3. the generation is 1 or 2;
//  4. the timestamp is at most ReplayWindow from now, either way;
//  5. secrets has a secret for the generation;
//  6. the lowercase hex HMAC-SHA256, keyed with the secret's bytes, of
//     "<timestamp>.<body>" (timestamp re-formatted as a decimal integer, as
//     the reference's f-string does) equals the header's digest, compared
//     in constant time.
//
// body must be the exact bytes received. The returned error is set only
// when secrets fails; the verdict is then not valid.
func Verify(ctx context.Context, h http.Header, body []byte, secrets Secrets, now time.Time) (Verdict, error) {
	sigHeader := h.Get(HeaderSignature)
	received, ok := strings.CutPrefix(sigHeader, signaturePrefix)
	if !ok {
		if sigHeader == "" {
			return invalid("no %s header", HeaderSignature), nil
		}
		return invalid("%s does not start with %q", HeaderSignature, signaturePrefix), nil
	}
	gen, genOK := parsePyInt(h.Get(HeaderSignatureGeneration))
	ts, tsOK := parsePyInt(h.Get(HeaderTimestamp))
	switch {
	case !genOK:
		return invalid("%s is not an integer", HeaderSignatureGeneration), nil
	case !tsOK:
		return invalid("%s is not an integer", HeaderTimestamp), nil
	}
	v := Verdict{Timestamp: ts}
	if gen != 1 && gen != 2 {
		v.Reason = fmt.Sprintf("signature generation %d is not 1 or 2", gen)
		return v, nil
	}
	v.Generation = int(gen)
	// Written so that no subtraction can overflow, whatever ts is.
	window := int64(ReplayWindow / time.Second)
	n := now.Unix()
	switch {
	case ts < n-window:
		v.Reason = fmt.Sprintf("timestamp is %s old: outside the ±%d s replay window", age(n, ts), window)
		return v, nil
	case ts > n+window:
		v.Reason = fmt.Sprintf("timestamp is %s in the future: outside the ±%d s replay window", age(ts, n), window)
		return v, nil
	}
	secret, ok, err := secrets.Secret(ctx, v.Generation)
	if err != nil {
		v.Reason = "the secret store could not be read"
		return v, fmt.Errorf("secret for generation %d: %w", v.Generation, err)
	}
	if !ok || secret.IsZero() {
		v.Reason = fmt.Sprintf("no secret for generation %d (a generation-2 secret is accepted only for 24 h after a rotation)", v.Generation)
		return v, nil
	}
	key := secret.Reveal()
	expected := sign(key, ts, body)
	clear(key)
	// hmac.compare_digest on two str: equal length and equal characters;
	// an uppercase or non-hex digest does not match.
	if subtle.ConstantTimeCompare([]byte(expected), []byte(received)) != 1 {
		v.Reason = "signature does not match the body (wrong secret, or the body or timestamp was altered)"
		return v, nil
	}
	v.Valid = true
	return v, nil
}

// sign returns the lowercase hex HMAC-SHA256 of "<ts>.<body>" under key.
func sign(key []byte, ts int64, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(strconv.AppendInt(nil, ts, 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Sign returns the X-Sentry-Signature value a sender computes for body at
// timestamp ts with key: "sha256=" + lowercase hex HMAC-SHA256 of
// "<ts>.<body>". Tests and tools that post to a sink use it.
func Sign(key []byte, ts int64, body []byte) string { return signaturePrefix + sign(key, ts, body) }

// age formats the distance from b to a (a >= b) in whole seconds, or as
// "over a day" when it does not fit a duration.
func age(a, b int64) string {
	if d := uint64(a) - uint64(b); d <= 86400 {
		return strconv.FormatUint(d, 10) + " s"
	}
	return "over a day"
}

// isPySpace reports whether int() skips the Latin-1 character b around a
// number: C's ASCII isspace (space, \t \n \v \f \r), and the non-ASCII
// whitespace NEL and NBSP, which int() turns into spaces first. The ASCII
// separators 0x1c-0x1f are str.isspace() but not skipped by int().
func isPySpace(b byte) bool {
	return b == ' ' || (b >= '\t' && b <= '\r') || b == 0x85 || b == 0xa0
}

// parsePyInt parses s as Python's int(s) does when s is a header value
// decoded as Latin-1 (what WSGI frameworks hand the reference verifier):
// surrounding whitespace ignored, an optional sign, decimal digits with
// single underscores allowed between digits ("1_000"), leading zeros
// allowed. Python's integers are unbounded; a value outside int64 is
// clamped, which keeps every later decision the same (no clamped value is
// a valid generation or falls in the replay window).
func parsePyInt(s string) (int64, bool) {
	i, j := 0, len(s)
	for i < j && isPySpace(s[i]) {
		i++
	}
	for j > i && isPySpace(s[j-1]) {
		j--
	}
	s = s[i:j]
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" {
		return 0, false
	}
	var v uint64
	overflow := false
	prevDigit := false
	for k := 0; k < len(s); k++ {
		c := s[k]
		switch {
		case c >= '0' && c <= '9':
			if !overflow {
				if v > (math.MaxUint64-uint64(c-'0'))/10 {
					overflow = true
				} else {
					v = v*10 + uint64(c-'0')
				}
			}
			prevDigit = true
		case c == '_' && prevDigit && k+1 < len(s):
			prevDigit = false // the next character must be a digit
		default:
			return 0, false
		}
	}
	if !prevDigit {
		return 0, false
	}
	switch {
	case neg && (overflow || v > math.MaxInt64+1):
		return math.MinInt64, true
	case neg:
		return int64(-v), true // v <= 1<<63: wraps exactly to the negative value
	case overflow || v > math.MaxInt64:
		return math.MaxInt64, true
	}
	return int64(v), true
}
