package web

import (
	"net/http"

	"sentryhub/store"
)

// Failing deliveries across every subscription.

func (u *webhookUI) errorsPage(w http.ResponseWriter, r *http.Request) error {
	kind := r.URL.Query().Get("kind")
	list, summary, err := u.svc.Errors(r.Context(), store.WebhookErrorQuery{Kind: store.ErrorKind(kind), Limit: whErrorsPage})
	if err != nil {
		return err
	}
	d := whErrorsData{Layout: u.s.layoutFor(r, "Failing deliveries · Webhooks", "/webhooks"), Kind: kind, Kinds: store.ErrorKinds(),
		Summary: summary, Catalog: store.ErrorCatalog()}
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
	return u.s.render(w, r, http.StatusOK, webhookErrorsPage(d))
}
