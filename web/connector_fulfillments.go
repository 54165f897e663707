package web

import (
	"errors"
	"fmt"
	"net/http"

	"sentryhub/store"
)

// Retrying a fulfillment push.

func (u *connectorUI) retryPush(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	wh, err := connectorFormWarehouse(r)
	if err != nil {
		return err
	}
	p, err := u.svc.RetryFulfillment(r.Context(), principal(r.Context()).Actor(), name, id)
	var ce *store.ConflictError
	switch {
	case errors.As(err, &ce):
		return u.redirect(w, r, name, wh, "fulfillments", flash{Kind: "warn", Text: ce.Message})
	case errors.Is(err, store.ErrNotFound):
		if _, ierr := u.svc.Info(name); ierr != nil {
			return ierr
		}
		return u.redirect(w, r, name, wh, "fulfillments", flash{Kind: "error", Text: fmt.Sprintf("There is no fulfillment push %d for this connector.", id)})
	case err != nil:
		return err
	}
	return u.redirect(w, r, name, wh, "fulfillments", flash{Kind: "ok",
		Text: fmt.Sprintf("The push of order %s is queued again and will be sent shortly.", p.OrderID)})
}
