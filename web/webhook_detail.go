package web

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"sentryhub/dispatcher"
	"sentryhub/store"
)

// One subscription: its settings, deliveries, DLQ and the actions on them.

func (u *webhookUI) detailData(r *http.Request, id int64) (whDetailData, error) {
	ctx := r.Context()
	sub, err := u.svc.Subscription(ctx, id)
	if err != nil {
		return whDetailData{}, err
	}
	st, err := u.svc.Stats(ctx, id)
	if err != nil {
		return whDetailData{}, err
	}
	exp, err := u.svc.PreviousSecretExpiry(ctx, id)
	if err != nil {
		return whDetailData{}, err
	}
	readable, err := u.svc.SecretReadable(ctx, id)
	if err != nil {
		return whDetailData{}, err
	}
	sv := u.statsView(st)
	d := whDetailData{Layout: u.s.layoutFor(r, sub.Name+" · Webhooks", "/webhooks"), CanWrite: canWrite(r), Sub: sub,
		Status: whStatusOf(sub, readable, sv.Open, sv.Dead), Filter: whFilterText(sub.Filter), PrevExpires: u.s.atStorePtr(exp),
		Stats: sv, Catalog: u.s.catalog, Settings: whFormFromSub(sub), Batch: whBatchForm{Mode: "dead"}}

	q := r.URL.Query()
	d.DeliveryStatus = q.Get("status")
	if d.DeliveryStatus != "" && !slices.Contains(whDeliveryStatuses, d.DeliveryStatus) {
		return d, badRequest("unknown delivery status "+strconv.Quote(whClip(d.DeliveryStatus)),
			map[string]string{"status": "must be one of " + strings.Join(whDeliveryStatuses, ", ")})
	}
	if d.Before, err = queryInt(r, "before", 0, 0, 1<<62); err != nil {
		return d, err
	}
	ds, more, err := u.svc.Deliveries(ctx, id, store.DeliveryQuery{Status: store.DeliveryStatus(d.DeliveryStatus), Before: d.Before, Limit: whDeliveryPage})
	if err != nil {
		return d, err
	}
	for _, x := range ds {
		d.Deliveries = append(d.Deliveries, u.deliveryRow(x))
		d.Live = d.Live || x.Status == store.DeliveryPending || x.Status == store.DeliveryInFlight
	}
	if more && len(ds) > 0 {
		d.NextBefore = ds[len(ds)-1].ID
	}
	dlq, more, err := u.svc.Deliveries(ctx, id, store.DeliveryQuery{Status: store.DeliveryDead, Limit: whDLQPage})
	if err != nil {
		return d, err
	}
	for _, x := range dlq {
		d.DLQ = append(d.DLQ, u.deliveryRow(x))
	}
	d.DLQMore = more
	return d, nil
}

var whDeliveryStatuses = []string{string(store.DeliveryPending), string(store.DeliveryInFlight), string(store.DeliverySucceeded),
	string(store.DeliveryDead), string(store.DeliveryReplayed)}

func (u *webhookUI) detail(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	d, err := u.detailData(r, id)
	if errors.Is(err, store.ErrNotFound) {
		return u.notFound(w, r, id)
	}
	if err != nil {
		return err
	}
	fs, nonce := u.s.takeFlashes(w, r)
	if rv, ok, gone := u.reveals.claim(u.s, r, nonce); ok {
		d.Secret = u.secretView(rv)
	} else {
		fs = append(fs, gone...)
	}
	// A refused settings or replay-batch form comes back here
	// (post/redirect/get) with its values and errors.
	rf, ok, gone := u.s.refused.claim(u.s, r, nonce)
	fs = append(fs, gone...)
	switch {
	case ok && rf.Form == whSettingsForm(id):
		if rf.Values != nil { // nil: too long to keep; the stored settings show
			d.Settings = whFormFromPost(rf.Values)
		}
		d.Settings.Errors, d.SettingsError = rf.Errors, append(fieldList(rf.Errors), rf.Notes...)
	case ok && rf.Form == whBatchFormName(id):
		if rf.Values != nil {
			d.Batch = whBatchFormFromPost(rf.Values)
		}
		d.Batch.Errors, d.BatchError = rf.Errors, append(fieldList(rf.Errors), rf.Notes...)
	}
	d.Flashes = fs
	return u.s.render(w, r, http.StatusOK, webhookDetailPage(d))
}

// The names of the detail page's forms that come back after a refusal.
func whSettingsForm(id int64) string  { return "webhook-settings:" + itoa(id) }
func whBatchFormName(id int64) string { return "replay-batch:" + itoa(id) }

func (u *webhookUI) update(w http.ResponseWriter, r *http.Request) error {
	return u.action(w, r, func(id int64) error {
		ctx := r.Context()
		cur, err := u.svc.Subscription(ctx, id)
		if err != nil {
			return err
		}
		f := whFormFromPost(r.PostForm)
		p, fields := f.patch(cur)
		var ve *store.ValidationError
		if len(fields) == 0 {
			if p.IsEmpty() {
				return u.s.seeOther(w, r, "/webhooks/"+itoa(id), flash{Kind: "ok", Text: "Nothing to save: the settings are unchanged."})
			}
			_, hint, err := u.svc.UpdateSubscription(ctx, principal(ctx).Actor(), id, p)
			switch {
			case err == nil:
				msgs := []flash{{Kind: "ok", Text: "Settings saved."}}
				if p.Filter != nil {
					msgs[0].Text += " The new filter applies to events selected from now on; use Replay batch below to backfill older ones."
				}
				if hint != "" {
					msgs = append(msgs, flash{Kind: "warn", Text: "Still paused. The API's hint: " + hint +
						". Here: after triage, press Resume."})
				}
				return u.s.seeOther(w, r, "/webhooks/"+itoa(id), msgs...)
			case errors.As(err, &ve):
				fields = ve.Fields
			default:
				return err
			}
		}
		if _, err := p.Apply(cur, true); len(fields) > 0 && errors.As(err, &ve) {
			// Report the other fields' problems too, not one round at a time.
			for k, v := range ve.Fields {
				if _, ok := fields[k]; !ok && k != "body" {
					fields[k] = v
				}
			}
		}
		return u.s.seeOtherRefused(w, r, "/webhooks/"+itoa(id)+"#settings",
			refusedForm{Form: whSettingsForm(id), Values: r.PostForm, Errors: fields})
	})
}

func (u *webhookUI) setStatus(w http.ResponseWriter, r *http.Request, status string) error {
	return u.action(w, r, func(id int64) error {
		ctx := r.Context()
		cur, err := u.svc.Subscription(ctx, id)
		if err != nil {
			return err
		}
		back := "/webhooks/" + itoa(id)
		if cur.Status == store.SubscriptionStatus(status) {
			return u.s.seeOther(w, r, back, flash{Kind: "warn", Text: "Subscription “" + cur.Name + "” is already " + status + "."})
		}
		if _, _, err := u.svc.UpdateSubscription(ctx, principal(ctx).Actor(), id, store.SubscriptionPatch{Status: &status}); err != nil {
			return err
		}
		if store.SubscriptionStatus(status) == store.SubscriptionPaused {
			return u.s.seeOther(w, r, back, flash{Kind: "ok", Text: "Paused. Nothing is sent or retried until you resume; " +
				"events committed meanwhile wait and are delivered after resuming."})
		}
		msg := "Resumed: delivery continues where it stopped."
		if cur.PauseReason == store.PausePendingCeiling {
			msg += " If the open deliveries are still at the pending ceiling, new events wait until the backlog drains (or it pauses again)."
		}
		return u.s.seeOther(w, r, back, flash{Kind: "ok", Text: msg})
	})
}

func (u *webhookUI) pause(w http.ResponseWriter, r *http.Request) error {
	return u.setStatus(w, r, string(store.SubscriptionPaused))
}

func (u *webhookUI) resume(w http.ResponseWriter, r *http.Request) error {
	return u.setStatus(w, r, string(store.SubscriptionActive))
}

func (u *webhookUI) rotate(w http.ResponseWriter, r *http.Request) error {
	return u.action(w, r, func(id int64) error {
		ctx := r.Context()
		sub, err := u.svc.Subscription(ctx, id)
		if err != nil {
			return err
		}
		if ok, err := u.s.confirmed(w, r, "Rotate the signing secret of “"+sub.Name+"”? The new secret signs every request from now on; "+
			"the old one stays valid for 24 hours so the consumer can switch.", "/webhooks/"+itoa(id)); !ok {
			return err
		}
		sec, expires, err := u.svc.RotateSecret(ctx, principal(ctx).Actor(), id)
		if err != nil {
			return err
		}
		return seeOtherRevealing(u.s, w, r, "/webhooks/"+itoa(id), u.reveals, whReveal{sub: id, name: sub.Name, secret: sec,
			standard: sub.StandardWebhooks, rotated: true, prevExpires: expires}, flash{Kind: "ok", Text: "Secret rotated."})
	})
}

func (u *webhookUI) replay(w http.ResponseWriter, r *http.Request) error {
	return u.action(w, r, func(id int64) error {
		did, err := pathID(r, "delivery")
		if err != nil {
			return err
		}
		ctx := r.Context()
		d, err := u.svc.Replay(ctx, principal(ctx).Actor(), id, did)
		if err != nil {
			return err
		}
		to := "/webhooks/" + itoa(id)
		if back, ok := errorsReturn(r.PostForm.Get("back")); ok {
			to = back
		}
		return u.s.seeOther(w, r, to, flash{Kind: "ok", Text: fmt.Sprintf(
			"Delivery %d queued again as delivery %d (event %d): it is sent at the end of its aggregate's lane, "+
				"with a fresh timestamp and signature and the same body.", did, d.ID, d.EventID)})
	})
}

func (u *webhookUI) replayBatch(w http.ResponseWriter, r *http.Request) error {
	return u.action(w, r, func(id int64) error {
		f := whBatchFormFromPost(r.PostForm)
		q, fields := f.query()
		if len(fields) == 0 {
			ctx := r.Context()
			n, err := u.svc.ReplayBatch(ctx, principal(ctx).Actor(), id, q)
			var ve *store.ValidationError
			switch {
			case err == nil:
				msg := flash{Kind: "ok", Text: "Queued " + count(int64(n), "delivery", "deliveries") + " again."}
				switch {
				case n == 0 && f.Mode == "dead":
					msg = flash{Kind: "warn", Text: "Nothing queued: no dead delivery matches (the dead-letter queue may be empty)."}
				case n == 0:
					msg = flash{Kind: "warn", Text: "Nothing queued: no event in that range passes the filter."}
				case f.Mode == "dead":
					msg.Text += " Their dead rows are now marked replayed and left the DLQ."
				}
				return u.s.seeOther(w, r, "/webhooks/"+itoa(id), msg)
			case errors.As(err, &ve):
				fields = ve.Fields
			default:
				return err
			}
		}
		return u.s.seeOtherRefused(w, r, "/webhooks/"+itoa(id)+"#replay-batch",
			refusedForm{Form: whBatchFormName(id), Values: r.PostForm, Errors: fields})
	})
}

// sendTest sends a test envelope and says what came back.
func (u *webhookUI) sendTest(w http.ResponseWriter, r *http.Request) error {
	return u.action(w, r, func(id int64) error {
		ctx := r.Context()
		res, err := u.svc.SendTest(ctx, principal(ctx).Actor(), id)
		if err != nil {
			return err
		}
		took := strconv.FormatInt(res.Duration.Milliseconds(), 10) + " ms"
		if res.OK {
			return u.s.seeOther(w, r, "/webhooks/"+itoa(id), flash{Kind: "ok", Topic: "test", Text: fmt.Sprintf(
				"Test event sent: the consumer answered HTTP %d in %s. It was signed like every delivery, with event_type %s and event_id 0; nothing was stored or retried.",
				res.Status, took, dispatcher.TestEventType)})
		}
		e := res.Kind.Entry()
		msg := "Test event failed (" + string(res.Kind)
		if res.Status != 0 {
			msg += ", HTTP " + strconv.Itoa(res.Status)
		}
		msg += " after " + took + "): " + e.Message + " " + e.Hint
		return u.s.seeOther(w, r, "/webhooks/"+itoa(id), flash{Kind: "error", Topic: "test", Text: msg})
	})
}
