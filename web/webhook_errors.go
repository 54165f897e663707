package web

import (
	"net/http"
	"net/url"
	"strconv"

	"sentryhub/store"
)

// Failing deliveries across every subscription, filtered by subscription,
// kind and day of the latest attempt; dead ones can be replayed from here.

func (u *webhookUI) errorsPage(w http.ResponseWriter, r *http.Request) error {
	v := r.URL.Query()
	d := whErrorsData{Layout: u.s.layoutFor(r, "Failing deliveries · Webhooks", "/webhooks"), Kind: v.Get("kind"),
		Kinds: store.ErrorKinds(), Catalog: store.ErrorCatalog(), Since: v.Get("since"), Until: v.Get("until"),
		CanWrite: canWrite(r), Here: r.URL.RequestURI()}
	q := store.WebhookErrorQuery{Kind: store.ErrorKind(d.Kind), Limit: whErrorsPage}
	fields := map[string]string{}
	if s := v.Get("subscription"); s != "" {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id <= 0 {
			fields["subscription"] = "must be a subscription id"
		}
		q.SubscriptionID, d.SubID = id, id
	}
	q.Since, q.Until = dayRange(v, fields)
	if len(fields) > 0 {
		return badRequest("invalid filter", fields)
	}
	subs, err := u.svc.Subscriptions(r.Context())
	if err != nil {
		return err
	}
	for _, s := range subs {
		d.Subs = append(d.Subs, whSubOption{ID: s.ID, Name: s.Name})
	}
	list, summary, err := u.svc.Errors(r.Context(), q)
	if err != nil {
		return err
	}
	d.Summary = summary
	for _, s := range summary {
		d.Total += s.Count
	}
	for _, e := range list {
		row := whErrorRow{DeliveryID: e.DeliveryID, SubID: e.SubscriptionID, EventID: e.EventID, SubName: e.SubscriptionName,
			EventType: e.EventType, Status: string(e.Status), Attempts: e.Attempts, LastAttempt: u.s.atStore(e.LastAttemptAt),
			Kind: string(e.ErrorKind), Message: e.Error.Message, Hint: e.Error.Hint}
		if e.Status == store.DeliveryPending {
			row.NextAttempt = u.s.atStorePtr(e.NextAttemptAt)
		}
		if e.StatusCode != nil {
			row.Code = *e.StatusCode
		}
		d.Rows = append(d.Rows, row)
	}
	d.Flashes, _ = u.s.takeFlashes(w, r)
	return u.s.render(w, r, http.StatusOK, webhookErrorsPage(d))
}

// errorsReturn is where a replay started on the errors page goes back
// to: the page as it was filtered, and nothing but that page.
func errorsReturn(back string) (string, bool) {
	if !localPath(back) {
		return "", false
	}
	u, err := url.Parse(back)
	if err != nil || u.Path != "/webhooks/errors" {
		return "", false
	}
	return back, true
}
