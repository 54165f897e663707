package manifest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"sentryhub/connectors"
)

// Record is what a write action writes: its template values (record.X).
// Lines is JSON-encoded where a body names {{record.lines}}.
type Record struct {
	SourceID    string
	OrderID     string
	OrderNumber string
	Carrier     string
	Tracking    string
	Lines       []connectors.Line
	SKU         string
	OnHand      int64
	Name        string
	Barcode     string
}

func (r Record) value(name string) string {
	switch name {
	case "source_id":
		return r.SourceID
	case "order_id":
		return r.OrderID
	case "order_number":
		return r.OrderNumber
	case "carrier":
		return r.Carrier
	case "tracking":
		return r.Tracking
	case "lines":
		b, _ := json.Marshal(r.Lines)
		return string(b)
	case "sku":
		return r.SKU
	case "on_hand":
		return strconv.FormatInt(r.OnHand, 10)
	case "name":
		return r.Name
	case "barcode":
		return r.Barcode
	}
	return ""
}

// BodyHook builds a write's JSON body from the record and the decoded
// snapshot read.
type BodyHook func(rec Record, snapshot any) (any, error)

// WriteResult reports a write action.
type WriteResult struct {
	// Ref is the written object's id upstream (ref_path of the response).
	Ref string
	// Verified is true when the verification read confirmed the write
	// (for a delete: the object is gone).
	Verified bool
	// RolledBack is true when verification failed and the rollback ran.
	RolledBack bool
}

// ErrVerification is matched by the error of a write whose verification
// read did not confirm it.
var ErrVerification = errors.New("write not confirmed by the verification read")

// VerificationError is a write the verification read did not confirm.
type VerificationError struct {
	Key        string
	Reason     string
	RolledBack bool
	// RollbackErr is why the rollback failed, when it did.
	RollbackErr error
}

func (e *VerificationError) Error() string {
	s := fmt.Sprintf("write %s: %s", e.Key, e.Reason)
	switch {
	case e.RolledBack:
		s += "; rolled back to the snapshot"
	case e.RollbackErr != nil:
		s += "; rollback failed: " + e.RollbackErr.Error()
	}
	return s
}

// Unwrap returns ErrVerification and ErrPermanent: retrying the same
// write would not change the verification.
func (e *VerificationError) Unwrap() []error {
	return []error{ErrVerification, connectors.ErrPermanent}
}

// Write runs the write action for object and action: snapshot read, the
// write (with the provider's idempotency header carrying idemKey), the
// verification read, and the rollback when verification fails.
func (c *Conn) Write(ctx context.Context, object, action string, rec Record, idemKey string) (WriteResult, error) {
	w := c.m.writeFor(object, action, rec.SourceID)
	if w == nil {
		return WriteResult{}, fmt.Errorf("connector %s has no %s %s write action", c.m.Key, action, object)
	}
	// The upstream knows the record by its own id, without the stream's prefix.
	rec.SourceID = strings.TrimPrefix(rec.SourceID, w.SourcePrefix)
	if err := c.missing(); err != nil {
		return WriteResult{}, err
	}
	var snapshot any
	var delta int64
	ref := ""
	vars := func(n string) string {
		ns, rest, _ := strings.Cut(n, ".")
		switch {
		case ns == "record":
			return rec.value(rest)
		case ns == "snapshot":
			return text(lookup(snapshot, splitPath(rest)))
		case n == "ref":
			return ref
		case n == "idempotency_key":
			return idemKey
		case n == "delta":
			return strconv.FormatInt(delta, 10)
		}
		return ""
	}
	if w.Snapshot != nil {
		resp, err := c.send(ctx, w.Snapshot, vars, nil)
		if err != nil {
			return WriteResult{}, fmt.Errorf("write %s: snapshot: %w", w.Key, err)
		}
		snapshot = parsed(resp)
	}
	found, unchanged := false, false
	if w.DeltaFrom != nil {
		cur, err := snapshotQuantity(snapshot, w.DeltaFrom)
		if err != nil {
			return WriteResult{}, fmt.Errorf("write %s: %w", w.Key, err)
		}
		// Nothing to adjust: an adjustment of 0 is not sent (upstreams
		// refuse empty ones), and the verification read still runs.
		delta = rec.OnHand - cur
		unchanged = delta == 0
	}
	if w.Existing != nil {
		var err error
		if ref, found, err = c.existing(ctx, w.Existing, vars); err != nil {
			return WriteResult{}, fmt.Errorf("write %s: existing: %w", w.Key, err)
		}
	}
	if !found && !unchanged {
		hdr := http.Header{}
		if w.IdempotencyHeader != "" && idemKey != "" {
			hdr.Set(w.IdempotencyHeader, idemKey)
		}
		req, err := c.build(w.Request, vars, hdr)
		if err != nil {
			return WriteResult{}, err
		}
		if w.BodyHook != "" {
			body, err := c.d.opts.Hooks.Bodies[w.BodyHook](rec, snapshot)
			if err != nil {
				return WriteResult{}, fmt.Errorf("write %s: %w", w.Key, err)
			}
			if req.Body, err = json.Marshal(body); err != nil {
				return WriteResult{}, fmt.Errorf("write %s: body: %w", w.Key, err)
			}
			req.Header.Set("Content-Type", "application/json")
		}
		req.Idempotent = w.IdempotencyHeader != "" && idemKey != ""
		resp, err := c.do(ctx, req)
		if err != nil {
			return WriteResult{}, fmt.Errorf("write %s: %w", w.Key, err)
		}
		if w.RefPath != nil {
			ref = text(lookup(parsed(resp), w.RefPath))
		}
		if loc := resp.Header.Get(w.RefHeader); w.RefHeader != "" && loc != "" {
			if u, err := url.Parse(loc); err == nil {
				ref = path.Base(u.Path)
			}
		}
	}
	res := WriteResult{Ref: ref}
	reason := c.verify(ctx, w, vars)
	if reason == "" {
		res.Verified = true
		return res, nil
	}
	ve := &VerificationError{Key: w.Key, Reason: reason}
	if w.Rollback != nil && !unchanged {
		if _, err := c.send(ctx, w.Rollback, vars, nil); err != nil {
			ve.RollbackErr = err
		} else {
			ve.RolledBack = true
			res.RolledBack = true
		}
	}
	return res, ve
}

// existing looks for the record an earlier run of the same create made:
// its ref and true when one matches.
func (c *Conn) existing(ctx context.Context, e *Existing, vars func(string) string) (string, bool, error) {
	resp, err := c.send(ctx, &e.RequestSpec, vars, nil)
	if err != nil {
		return "", false, err
	}
	list, _ := lookup(parsed(resp), splitPath(e.Records)).([]any)
	if e.Records == "" {
		list, _ = parsed(resp).([]any)
	}
	for _, rec := range list {
		ok := true
		for path, want := range e.Match {
			if text(lookup(rec, splitPath(path))) != c.render(want, vars) {
				ok = false
				break
			}
		}
		if ok {
			return text(lookup(rec, splitPath(e.RefPath))), true, nil
		}
	}
	return "", false, nil
}

// verify reads the object back; "" when the write is confirmed, else why
// not. A delete is confirmed only by a 404 (read-after-delete).
func (c *Conn) verify(ctx context.Context, w *Write, vars func(string) string) string {
	resp, err := c.send(ctx, w.Verify, vars, nil)
	var he *connectors.HTTPError
	if w.Action == "delete" {
		if errors.As(err, &he) && (he.Status == http.StatusNotFound || he.Status == http.StatusGone) {
			return ""
		}
		if err != nil {
			return "verification read failed: " + err.Error()
		}
		if len(w.Verify.Expect) == 0 {
			return "the object is still there after the delete"
		}
	} else if err != nil {
		return "verification read failed: " + err.Error()
	}
	doc := parsed(resp)
	for path, want := range w.Verify.Expect {
		got := text(lookup(doc, splitPath(path)))
		if exp := c.render(want, vars); got != exp {
			return fmt.Sprintf("verification read has %s = %q, want %q", path, got, exp)
		}
	}
	return ""
}

// PushFulfillment runs the fulfillment create action.
func (c *Conn) PushFulfillment(ctx context.Context, req connectors.FulfillmentRequest) (connectors.PushResult, error) {
	if c.m.write("fulfillment", "create") == nil {
		return connectors.PushResult{}, connectors.Unsupported(c.m.Key, connectors.CapPushFulfillment)
	}
	res, err := c.Write(ctx, "fulfillment", "create", Record{SourceID: req.SourceID, OrderID: req.OrderID,
		OrderNumber: req.OrderNumber, Carrier: req.Carrier, Tracking: req.Tracking, Lines: req.Lines}, req.IdempotencyKey)
	if err != nil {
		return connectors.PushResult{}, err
	}
	return connectors.PushResult{Success: true, UpstreamRef: res.Ref}, nil
}

// renderJSON renders a JSON body template: placeholder values are
// JSON-escaped, and a placeholder that is a whole JSON string ("{{x}}")
// whose value is JSON (record.lines) is replaced by that value.
func (c *Conn) renderJSON(body string, extra func(string) string) string {
	t := parseTemplate(body)
	var b strings.Builder
	for i, p := range t.parts {
		if p.name == "" {
			lit := p.lit
			if i+1 < len(t.parts) && t.parts[i+1].name == "record.lines" && strings.HasSuffix(lit, `"`) {
				lit = lit[:len(lit)-1]
			}
			if i > 0 && t.parts[i-1].name == "record.lines" && strings.HasPrefix(lit, `"`) {
				lit = lit[1:]
			}
			b.WriteString(lit)
			continue
		}
		v, ok := c.configVar(p.name)
		if !ok && extra != nil {
			v = extra(p.name)
		}
		if p.name == "record.lines" {
			b.WriteString(v)
			continue
		}
		q, _ := json.Marshal(v)
		b.Write(q[1 : len(q)-1])
	}
	return b.String()
}

// snapshotQuantity reads the current quantity of a delta write from the
// snapshot: a whole number, or absent (an upstream that leaves a null
// quantity out, as NetSuite does for a location never stocked) for 0.
func snapshotQuantity(snapshot any, path []string) (int64, error) {
	if snapshot == nil {
		// Taking an unreadable snapshot for 0 would adjust by the whole quantity.
		return 0, fmt.Errorf("snapshot: the answer is not JSON, so the current quantity is unknown")
	}
	v := lookup(snapshot, path)
	if v == nil {
		return 0, nil
	}
	s := text(v)
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n != math.Trunc(n) {
		return 0, fmt.Errorf("snapshot: %s is %q, not a whole quantity", strings.Join(path, "."), s)
	}
	return int64(n), nil
}
