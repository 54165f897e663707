package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"sentryhub/store"
)

// Deleting a subscription, after typing its name.

func (u *webhookUI) deleteData(r *http.Request, id int64) (whDeleteData, error) {
	sub, err := u.svc.Subscription(r.Context(), id)
	if err != nil {
		return whDeleteData{}, err
	}
	st, err := u.svc.Stats(r.Context(), id)
	if err != nil {
		return whDeleteData{}, err
	}
	return whDeleteData{Layout: u.s.layoutFor(r, "Delete "+sub.Name+" · Webhooks", "/webhooks"), Sub: sub,
		Stats: u.statsView(st), CanWrite: canWrite(r)}, nil
}

func (u *webhookUI) deleteConfirm(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	d, err := u.deleteData(r, id)
	if errors.Is(err, store.ErrNotFound) {
		return u.notFound(w, r, id)
	}
	if err != nil {
		return err
	}
	return u.s.render(w, r, http.StatusOK, webhookDeletePage(d))
}

func (u *webhookUI) delete(w http.ResponseWriter, r *http.Request) error {
	return u.action(w, r, func(id int64) error {
		d, err := u.deleteData(r, id)
		if err != nil {
			return err
		}
		d.Typed = r.PostForm.Get("confirm_name")
		if strings.TrimSpace(d.Typed) != d.Sub.Name {
			d.Error = "Confirmation: type the subscription's name, “" + d.Sub.Name + "”, exactly to delete it. Nothing was deleted."
			return u.s.render(w, r, http.StatusUnprocessableEntity, webhookDeletePage(d))
		}
		ctx := r.Context()
		if err := u.svc.DeleteSubscription(ctx, principal(ctx).Actor(), id); err != nil {
			return err
		}
		return u.s.seeOther(w, r, "/webhooks", flash{Kind: "ok", Text: fmt.Sprintf(
			"Subscription “%s” deleted. Its secrets are gone and nothing more is sent; its delivery history is purged in the background.", d.Sub.Name)})
	})
}
