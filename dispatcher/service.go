package dispatcher

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"sentryhub/ssrf"
	"sentryhub/store"
	"sentryhub/store/vault"
)

// RotationWindow is how long the previous secret (generation 2) stays valid
// after a rotation.
const RotationWindow = 24 * time.Hour

// MaxReplayBatch bounds one replay-batch request, whatever the headroom.
const MaxReplayBatch = 100_000

// NewSecret returns a fresh signing secret: 32 random bytes as unpadded
// URL-safe base64 (43 characters). The HMAC key is the UTF-8 bytes of that
// text, exactly what the admin copies into the consumer's secret store.
func NewSecret() vault.Secret {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand panics instead)
	s := vault.NewSecret(base64.RawURLEncoding.EncodeToString(b[:]))
	clear(b[:])
	return s
}

// StandardSecret returns the Standard Webhooks form of a secret:
// "whsec_" + base64 of the same key bytes.
func StandardSecret(s vault.Secret) string {
	k := s.Reveal()
	defer clear(k)
	return "whsec_" + base64.StdEncoding.EncodeToString(k)
}

func auditTarget(id int64) string { return "webhook:" + strconv.FormatInt(id, 10) }

// checkURL runs the SSRF guard on a subscription URL, turning a refusal
// into a 422 on the url field. It resolves DNS, so it runs on the caller's
// goroutine, never the engine's.
func (d *Dispatcher) checkURL(ctx context.Context, raw string) error {
	err := d.guard.CheckURL(ctx, raw)
	if err == nil {
		return nil
	}
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, ssrf.ErrBlocked):
		return &store.ValidationError{Message: "webhook URL refused",
			Fields: map[string]string{"url": "is not an allowed destination: " + err.Error()}}
	case errors.As(err, &dnsErr):
		return &store.ValidationError{Message: "webhook URL refused",
			Fields: map[string]string{"url": "host does not resolve: " + dnsErr.Err}}
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return &store.ValidationError{Message: "webhook URL refused",
		Fields: map[string]string{"url": "cannot be checked: " + err.Error()}}
}

// CreateSubscription validates in, checks the URL with the SSRF guard and
// creates the subscription with a new generation-1 secret, starting at the
// current end of the event log, audited ("webhook.create", without the
// secret). It returns the subscription and the secret, which is never
// available again. Errors: *store.ValidationError naming each bad field,
// ErrStopped.
func (d *Dispatcher) CreateSubscription(ctx context.Context, actor string, in store.SubscriptionCreate) (store.Subscription, vault.Secret, error) {
	s, err := in.Normalize(d.cfg.AllowHTTP)
	if err != nil {
		return store.Subscription{}, vault.Secret{}, err
	}
	if err := d.checkURL(ctx, s.URL); err != nil {
		return store.Subscription{}, vault.Secret{}, err
	}
	secret := NewSecret()
	v, err := do(ctx, d.eng, func(ctx context.Context) (store.Subscription, error) {
		created, err := d.db.CreateSubscription(ctx, actor, s, d.vault.SealFunc(secret))
		if err != nil {
			return store.Subscription{}, err
		}
		st := &subState{sub: created, matcher: created.Matcher(), secret: secret}
		d.eng.subs[created.ID] = st
		d.eng.startActor(st, nil)
		d.eng.updateGauges()
		return created, nil
	})
	if err != nil {
		return store.Subscription{}, vault.Secret{}, fmt.Errorf("create webhook subscription: %w", err)
	}
	return v, secret, nil
}

// Subscriptions lists the subscriptions (never a secret).
func (d *Dispatcher) Subscriptions(ctx context.Context) ([]store.Subscription, error) {
	return d.db.Subscriptions(ctx)
}

// SecretReadable reports whether the subscription's signing secret opens
// with the current key. One that does not (sealed under another key, or
// damaged) is not dispatched: its deliveries wait until the secret is
// rotated or the hub runs with the key that sealed it, so admins must see it.
func (d *Dispatcher) SecretReadable(ctx context.Context, id int64) (bool, error) {
	_, _, err := d.vault.WebhookSecrets(ctx, id)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, vault.ErrDecrypt), errors.Is(err, store.ErrNotFound):
		return false, nil
	}
	return false, fmt.Errorf("check signing secret of subscription %d: %w", id, err)
}

// Subscription returns one subscription, or store.ErrNotFound.
func (d *Dispatcher) Subscription(ctx context.Context, id int64) (store.Subscription, error) {
	return d.db.Subscription(ctx, id)
}

// UpdateSubscription applies a PATCH, audited with its diff (action
// webhook.pause, webhook.resume or webhook.update). A filter change applies
// to events selected from now on; the cursor never moves back. Lifting a
// ceiling on a subscription paused for that reason does not resume it: the
// returned hint names the follow-up PATCH. Resuming continues where the
// subscription stopped. Errors: store.ErrNotFound, *store.ValidationError,
// ErrStopped.
func (d *Dispatcher) UpdateSubscription(ctx context.Context, actor string, id int64, p store.SubscriptionPatch) (store.Subscription, string, error) {
	if p.URL != nil {
		if _, err := p.Apply(store.Subscription{}, d.cfg.AllowHTTP); err != nil {
			var ve *store.ValidationError
			if errors.As(err, &ve) && ve.Fields["url"] != "" {
				return store.Subscription{}, "", err
			}
		}
		if err := d.checkURL(ctx, *p.URL); err != nil {
			return store.Subscription{}, "", err
		}
	}
	type result struct {
		s    store.Subscription
		hint string
	}
	v, err := do(ctx, d.eng, func(ctx context.Context) (result, error) {
		st := d.eng.subs[id]
		if st == nil || st.deleting {
			return result{}, fmt.Errorf("webhook subscription %d: %w", id, store.ErrNotFound)
		}
		cur := st.sub
		if cur.Owner != "" && (p.URL != nil || p.Filter != nil) {
			return result{}, &store.ValidationError{Message: "this subscription belongs to an integration",
				Fields: map[string]string{"subscription_filter": "the URL and filter follow the integration's settings: edit the integration instead"}}
		}
		next, err := p.Apply(cur, d.cfg.AllowHTTP)
		if err != nil {
			return result{}, err
		}
		var hint string
		if cur.Status == store.SubscriptionPaused && next.Status == store.SubscriptionPaused &&
			((cur.PauseReason == store.PausePendingCeiling && next.PendingCeiling > cur.PendingCeiling) ||
				(cur.PauseReason == store.PauseDLQCeiling && next.DLQCeiling > cur.DLQCeiling)) {
			hint = fmt.Sprintf(`the subscription stays paused (pause_reason %s): lifting a ceiling never resumes it; `+
				`after triage, send PATCH /api/admin/webhooks/%d with {"status": "active"}`, cur.PauseReason, id)
		}
		saved, err := d.db.UpdateSubscription(ctx, actor, cur, next)
		if err != nil {
			return result{}, err
		}
		if cur.Status != store.SubscriptionActive && saved.Status == store.SubscriptionActive {
			// A resume gives the failing heads another try: the
			// subscription pauses again at its ceiling only if one fails.
			st.stuck, st.armed = false, false
		}
		st.sub = saved
		st.matcher = saved.Matcher()
		d.eng.reconfigure(st)
		if saved.Status == store.SubscriptionActive {
			// Resumed, or the ceiling moved: fan out what waited.
			d.eng.wake.Store(true)
		}
		d.eng.updateGauges()
		return result{s: saved, hint: hint}, nil
	})
	if err != nil {
		return store.Subscription{}, "", fmt.Errorf("update webhook subscription %d: %w", id, err)
	}
	return v.s, v.hint, nil
}

// DeleteSubscription deletes a subscription and its secrets at once, and
// its deliveries in the background; attempts in flight are cut. Audited as
// webhook.delete. Errors: store.ErrNotFound, ErrStopped.
func (d *Dispatcher) DeleteSubscription(ctx context.Context, actor string, id int64) error {
	_, err := do(ctx, d.eng, func(ctx context.Context) (struct{}, error) {
		st := d.eng.subs[id]
		if st == nil || st.deleting {
			return struct{}{}, fmt.Errorf("webhook subscription %d: %w", id, store.ErrNotFound)
		}
		if st.sub.Owner != "" {
			return struct{}{}, &store.ConflictError{Message: "this subscription belongs to an integration: delete or uninstall the integration instead"}
		}
		if err := d.db.DeleteSubscription(ctx, actor, st.sub); err != nil {
			return struct{}{}, err
		}
		st.deleting = true
		if st.stopFetch != nil {
			st.stopFetch()
			st.stopWork()
		}
		d.eng.metrics().backlog.DeleteLabelValues(strconv.FormatInt(id, 10))
		d.eng.updateGauges()
		return struct{}{}, nil
	})
	if err != nil {
		return fmt.Errorf("delete webhook subscription %d: %w", id, err)
	}
	return nil
}

// RotateSecret demotes the signing secret to generation 2, valid for
// RotationWindow (a second rotation inside the window overwrites it), and
// signs from now on with a new generation-1 secret, which it returns once
// with the generation-2 expiry. Audited as webhook.rotate_secret (without
// secrets). Errors: store.ErrNotFound, ErrStopped.
func (d *Dispatcher) RotateSecret(ctx context.Context, actor string, id int64) (vault.Secret, time.Time, error) {
	secret := NewSecret()
	v, err := do(ctx, d.eng, func(ctx context.Context) (time.Time, error) {
		st := d.eng.subs[id]
		if st == nil || st.deleting {
			return time.Time{}, fmt.Errorf("webhook subscription %d: %w", id, store.ErrNotFound)
		}
		expires := d.clock.Now().Add(RotationWindow).UTC().Truncate(time.Millisecond)
		if err := d.db.RotateWebhookSecret(ctx, actor, id, d.vault.SealFunc(secret), expires); err != nil {
			return time.Time{}, err
		}
		st.secret = secret
		if st.actor == nil {
			d.eng.startActor(st, st.held)
			st.held = nil
			d.eng.wake.Store(true)
		} else {
			d.eng.reconfigure(st)
		}
		return expires, nil
	})
	if err != nil {
		return vault.Secret{}, time.Time{}, fmt.Errorf("rotate secret of webhook subscription %d: %w", id, err)
	}
	return secret, v, nil
}

// PreviousSecretExpiry returns when a subscription's generation-2 secret
// expires, or nil when there is none.
func (d *Dispatcher) PreviousSecretExpiry(ctx context.Context, id int64) (*store.Time, error) {
	return d.db.PreviousSecretExpiry(ctx, id)
}

// Deliveries pages through a subscription's delivery history, every
// attempt included (see store.DeliveryQuery).
func (d *Dispatcher) Deliveries(ctx context.Context, id int64, q store.DeliveryQuery) ([]store.Delivery, bool, error) {
	return d.db.Deliveries(ctx, id, q)
}

// Delivery returns one delivery with its attempts, or store.ErrNotFound.
func (d *Dispatcher) Delivery(ctx context.Context, id, deliveryID int64) (store.Delivery, error) {
	return d.db.Delivery(ctx, id, deliveryID)
}

// Stats summarizes a subscription's deliveries, or store.ErrNotFound.
func (d *Dispatcher) Stats(ctx context.Context, id int64) (store.WebhookStats, error) {
	return d.db.WebhookStats(ctx, id)
}

// Errors lists failing deliveries across subscriptions with a count per
// kind; every entry carries the catalog's message and hint.
func (d *Dispatcher) Errors(ctx context.Context, q store.WebhookErrorQuery) ([]store.WebhookError, []store.WebhookErrorSummary, error) {
	return d.db.ListWebhookErrors(ctx, q)
}

func errCeiling(s store.Subscription, open int64, n int) error {
	return fmt.Errorf("%w: queuing %d more would take subscription %d past its pending_ceiling (%d open of %d); raise pending_ceiling or narrow the replay",
		store.ErrConflict, n, s.ID, open, s.PendingCeiling)
}

// Replay queues one delivery's event again as a new delivery (new delivery
// id, fresh X-Sentry-Timestamp and signature, the envelope unchanged) at the
// end of its lane. A dead delivery leaves the DLQ (status replayed). It
// returns the new delivery. Errors: store.ErrNotFound; store.ErrConflict
// when the delivery is still open or the pending ceiling is reached;
// ErrStopped.
func (d *Dispatcher) Replay(ctx context.Context, actor string, id, deliveryID int64) (store.Delivery, error) {
	v, err := do(ctx, d.eng, func(ctx context.Context) ([]int64, error) {
		st := d.eng.subs[id]
		if st == nil || st.deleting {
			return nil, fmt.Errorf("webhook subscription %d: %w", id, store.ErrNotFound)
		}
		if st.open+1 > st.sub.PendingCeiling {
			return nil, errCeiling(st.sub, st.open, 1)
		}
		return d.eng.replay(ctx, st, actor, nil, []int64{deliveryID})
	})
	if err != nil {
		return store.Delivery{}, fmt.Errorf("replay delivery %d: %w", deliveryID, err)
	}
	return d.db.Delivery(ctx, id, v[0])
}

// ReplayBatch queues again every event matching q (see store.ReplayQuery)
// for one subscription, in event order, and returns how many it queued.
// Replayed dead deliveries leave the DLQ. Errors: store.ErrNotFound,
// *store.ValidationError, store.ErrConflict when the batch would pass the
// pending ceiling (or MaxReplayBatch), ErrStopped.
func (d *Dispatcher) ReplayBatch(ctx context.Context, actor string, id int64, q store.ReplayQuery) (int, error) {
	q, err := q.Normalize()
	if err != nil {
		return 0, err
	}
	v, err := do(ctx, d.eng, func(ctx context.Context) (int, error) {
		st := d.eng.subs[id]
		if st == nil || st.deleting {
			return 0, fmt.Errorf("webhook subscription %d: %w", id, store.ErrNotFound)
		}
		ids, err := d.eng.replay(ctx, st, actor, &q, nil)
		return len(ids), err
	})
	if err != nil {
		return 0, fmt.Errorf("replay batch for subscription %d: %w", id, err)
	}
	return v, nil
}

// replay runs on the engine goroutine: one transaction selects the sources
// (one delivery, or the matches of q), inserts the new deliveries, marks
// replayed dead ones, and audits; memory follows after commit.
func (e *engine) replay(ctx context.Context, st *subState, actor string, q *store.ReplayQuery, deliveryIDs []int64) ([]int64, error) {
	headroom := st.sub.PendingCeiling - st.open
	now := e.d.clock.Now()
	var newIDs, evIDs []int64
	var events []store.Event
	var replayedDead int64
	err := e.st.Update(ctx, func(t *store.EngineTx) error {
		var srcs []store.ReplaySource
		if q != nil {
			limit := min(headroom, MaxReplayBatch) + 1
			var err error
			if srcs, err = t.ReplayCandidates(st.sub.ID, *q, int(max(limit, 1))); err != nil {
				return err
			}
			if int64(len(srcs)) > headroom || len(srcs) > MaxReplayBatch {
				return errCeiling(st.sub, st.open, len(srcs))
			}
		} else {
			for _, did := range deliveryIDs {
				src, status, err := t.ReplaySourceOf(st.sub.ID, did)
				if err != nil {
					return err
				}
				if status == store.DeliveryPending || status == store.DeliveryInFlight {
					return fmt.Errorf("%w: delivery %d is still %s; it will be sent anyway", store.ErrConflict, did, status)
				}
				srcs = append(srcs, src)
			}
		}
		if len(srcs) == 0 {
			return nil
		}
		evIDs = make([]int64, len(srcs))
		of := make([]int64, len(srcs))
		for i, s := range srcs {
			evIDs[i], of[i] = s.EventID, s.DeliveryID
		}
		var err error
		if newIDs, err = t.InsertDeliveries(st.sub.ID, evIDs, of, now); err != nil {
			return err
		}
		if replayedDead, err = t.MarkReplayed(of); err != nil {
			return err
		}
		if events, err = t.EventsByID(evIDs); err != nil {
			return err
		}
		e.st.CountStatements(2)
		diff := map[string]any{"queued": len(newIDs), "dead_replayed": replayedDead}
		action := "webhook.replay"
		if q != nil {
			action = "webhook.replay_batch"
			diff["query"] = q
		} else {
			diff["delivery_id"], diff["new_delivery_id"], diff["event_id"] = deliveryIDs[0], newIDs[0], evIDs[0]
		}
		return t.AppendAudit(store.Audit{Actor: actor, Action: action, Target: auditTarget(st.sub.ID), Diff: diff})
	})
	if err != nil {
		return nil, err
	}
	if len(newIDs) == 0 {
		return nil, nil
	}
	refs := make(map[int64]*eventRef, len(events))
	for i := range events {
		ref, err := newEventRef(&events[i])
		if err != nil {
			return nil, fmt.Errorf("envelope of event %d: %w", events[i].ID, err)
		}
		refs[events[i].ID] = ref
	}
	// InsertDeliveries returns ids in insertion order: newIDs[i] is evIDs[i].
	add := make([]*delivery, len(newIDs))
	for i, id := range newIDs {
		add[i] = &delivery{id: id, ev: refs[evIDs[i]]}
		if add[i].ev == nil {
			return nil, fmt.Errorf("replay: event %d not loaded", evIDs[i])
		}
	}
	st.open += int64(len(add))
	st.dead -= replayedDead
	if st.actor != nil {
		e.hand(st, add)
		st.stuck = false
	} else {
		// No usable secret yet: keep them with the others, for the actor
		// that RotateSecret starts.
		st.held = append(st.held, add...)
	}
	e.updateGauges()
	return newIDs, nil
}

func (e *engine) metrics() *metrics { return e.d.metrics }

// CheckURL runs the SSRF guard on a webhook URL another area (integrations)
// is about to give a subscription, as a 422 on the url field.
func (d *Dispatcher) CheckURL(ctx context.Context, raw string) error { return d.checkURL(ctx, raw) }

// ManageSubscription runs write on the engine and adopts the subscription
// row it returns: for an area (integrations) that creates, changes or
// deletes a subscription it owns inside its own store transaction, so the
// subscription changes atomically with that area's rows. A new row starts
// dispatching with secret (its generation-1 secret, sealed by write); a
// known row takes its new URL, filter and status; a row marked deleting is
// purged like a deleted subscription. write returning nil changes nothing.
// Errors: write's, ErrStopped.
func (d *Dispatcher) ManageSubscription(ctx context.Context, secret vault.Secret, write func(ctx context.Context) (*store.Subscription, error)) error {
	_, err := do(ctx, d.eng, func(ctx context.Context) (struct{}, error) {
		sub, err := write(ctx)
		if err != nil || sub == nil {
			return struct{}{}, err
		}
		st := d.eng.subs[sub.ID]
		switch {
		case st == nil && sub.Status != store.SubscriptionDeleting:
			st = &subState{sub: *sub, matcher: sub.Matcher(), secret: secret}
			d.eng.subs[sub.ID] = st
			d.eng.startActor(st, nil)
		case st == nil:
		case sub.Status == store.SubscriptionDeleting:
			st.deleting = true
			if st.stopFetch != nil {
				st.stopFetch()
				st.stopWork()
			}
			d.eng.metrics().backlog.DeleteLabelValues(strconv.FormatInt(sub.ID, 10))
		default:
			st.sub = *sub
			st.matcher = sub.Matcher()
			d.eng.reconfigure(st)
		}
		d.eng.wake.Store(true)
		d.eng.updateGauges()
		return struct{}{}, nil
	})
	return err
}
