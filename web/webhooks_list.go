package web

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"sentryhub/store"
)

// The list of subscriptions and the create form.

func (u *webhookUI) listData(r *http.Request) (whListData, error) {
	ctx := r.Context()
	subs, err := u.svc.Subscriptions(ctx)
	if err != nil {
		return whListData{}, err
	}
	rates, err := u.s.db.SuccessRates(ctx, u.s.clock.Now().Add(-24*time.Hour))
	if err != nil {
		return whListData{}, err
	}
	d := whListData{Layout: u.s.layoutFor(r, "Webhooks", "/webhooks"), CanWrite: canWrite(r), Catalog: u.s.catalog, Form: newWhForm()}
	for _, s := range subs {
		// Stats is one index count per status plus a bounded latency sample;
		// a hub has few subscriptions.
		st, err := u.svc.Stats(ctx, s.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return d, err
		}
		readable, err := u.svc.SecretReadable(ctx, s.ID)
		if err != nil {
			return d, err
		}
		pending := st.Counts[store.DeliveryPending] + st.Counts[store.DeliveryInFlight]
		dead := st.Counts[store.DeliveryDead]
		row := whRow{ID: s.ID, Name: s.Name, URL: s.URL, Status: whStatusOf(s, readable, pending, dead), PauseShort: whPauseShort(string(s.PauseReason)),
			Filter: whFilterText(s.Filter), Pending: pending, PendingCeiling: s.PendingCeiling, PendingHigh: pending*5 >= s.PendingCeiling*4,
			Dead: dead, DLQCeiling: s.DLQCeiling, DeadHigh: dead*5 >= s.DLQCeiling*4,
			LastFailure: u.s.atStorePtr(s.LastFailureAt), LastSuccess: u.s.atStorePtr(s.LastSuccessAt)}
		if s.LastFailureKind != nil {
			row.LastFailureKind = *s.LastFailureKind
			row.LastFailureMsg = store.ErrorKind(*s.LastFailureKind).Entry().Message
		}
		if s.LastFailureStatus != nil {
			row.LastFailureCode = *s.LastFailureStatus
		}
		rate := rates[s.ID]
		row.Rate24h, row.Finished24h = whPercent(rate.Rate()), rate.Succeeded+rate.Dead
		d.Rows = append(d.Rows, row)
	}
	_, summary, err := u.svc.Errors(ctx, store.WebhookErrorQuery{Limit: 1})
	if err != nil {
		return d, err
	}
	for _, s := range summary {
		d.Failing += s.Count
	}
	return d, nil
}

func (u *webhookUI) list(w http.ResponseWriter, r *http.Request) error {
	d, err := u.listData(r)
	if err != nil {
		return err
	}
	// The redirect after a create brings the new secret (shown once, on
	// the subscription's page) or, after a refusal, the form as typed.
	fs, nonce := u.s.takeFlashes(w, r)
	if rv, ok, gone := u.reveals.claim(u.s, r, nonce); ok {
		d.Secret = u.secretView(rv)
	} else {
		fs = append(fs, gone...)
	}
	rf, gone := u.s.refusedFrom(r, nonce, whCreateForm)
	if rf != nil {
		if rf.Values != nil { // nil: too long to keep; an empty form shows
			d.Form = whFormFromPost(rf.Values)
		}
		d.Form.Errors, d.FormError = rf.Errors, append(fieldList(rf.Errors), rf.Notes...)
	}
	d.Flashes = append(fs, gone...)
	return u.s.render(w, r, http.StatusOK, webhooksPage(d))
}

// whCreateForm names the create form when it comes back refused.
const whCreateForm = "webhook-create"

func (u *webhookUI) create(w http.ResponseWriter, r *http.Request) error {
	if err := u.s.requireAdminUser(r); err != nil {
		return err
	}
	if err := parseForm(r); err != nil {
		return err
	}
	f := whFormFromPost(r.PostForm)
	in, fields := f.create()
	var ve *store.ValidationError
	if len(fields) == 0 {
		sub, sec, err := u.svc.CreateSubscription(r.Context(), principal(r.Context()).Actor(), in)
		if err == nil {
			return seeOtherRevealing(u.s, w, r, "/webhooks/"+itoa(sub.ID), u.reveals, whReveal{sub: sub.ID, name: sub.Name,
				secret: sec, standard: sub.StandardWebhooks}, flash{Kind: "ok",
				Text: fmt.Sprintf("Subscription “%s” created. It receives the matching events committed from now on.", sub.Name)})
		}
		if !errors.As(err, &ve) {
			return err
		}
		fields = ve.Fields
	} else if _, err := in.Normalize(true); errors.As(err, &ve) {
		// Report the other fields' problems too, not one round at a time.
		for k, v := range ve.Fields {
			if _, ok := fields[k]; !ok {
				fields[k] = v
			}
		}
	}
	// Post/redirect/get: the list page shows the form as typed with its
	// errors, and a reload does not send it again.
	return u.s.seeOtherRefused(w, r, "/webhooks#new-subscription",
		refusedForm{Form: whCreateForm, Values: r.PostForm, Errors: fields})
}
