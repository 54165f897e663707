package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"sentryhub/dispatcher"
	"sentryhub/store"
	"sentryhub/store/vault"
)

// The webhook admin pages. Every change goes through the same
// WebhookService calls as the JSON API, so it is validated and audited the
// same way; each POST answers with a redirect (post/redirect/get) and a
// flash message. A form with invalid input comes back with its values and
// an error naming each bad field: the settings and replay-batch forms by a
// redirect to the page (formrefusal.go), the create form rendered again.

// webhookUI serves the pages over svc.
type webhookUI struct {
	s       *Server
	svc     WebhookService
	reveals *revealStore[whReveal]
}

// webhookUIRoutes registers the /webhooks pages. SetWebhooks calls it.
func (s *Server) webhookUIRoutes(svc WebhookService) {
	u := &webhookUI{s: s, svc: svc, reveals: newRevealStore[whReveal]("secret", "The new secret can no longer be shown: it is shown once, "+
		"within 10 minutes, to the admin who created it. Rotate the secret to get a new one.")}
	m := s.mux
	m.Handle("GET /webhooks", s.page(u.list))
	m.Handle("POST /webhooks", s.page(u.create))
	m.Handle("GET /webhooks/errors", s.page(u.errorsPage))
	m.Handle("GET /webhooks/{id}", s.page(u.detail))
	m.Handle("POST /webhooks/{id}", s.page(u.update))
	m.Handle("POST /webhooks/{id}/pause", s.page(u.pause))
	m.Handle("POST /webhooks/{id}/resume", s.page(u.resume))
	m.Handle("POST /webhooks/{id}/rotate-secret", s.page(u.rotate))
	m.Handle("POST /webhooks/{id}/test", s.page(u.sendTest))
	m.Handle("GET /webhooks/{id}/deliveries/{delivery}", s.page(u.deliveryDetail))
	m.Handle("GET /events", s.page(u.eventsList))
	m.Handle("GET /events/{id}", s.page(u.eventDetail))
	m.Handle("POST /webhooks/{id}/deliveries/{delivery}/replay", s.page(u.replay))
	m.Handle("POST /webhooks/{id}/replay-batch", s.page(u.replayBatch))
	m.Handle("GET /webhooks/{id}/delete", s.page(u.deleteConfirm))
	m.Handle("POST /webhooks/{id}/delete", s.page(u.delete))
}

// Page sizes of the detail page's delivery tables.
const (
	whDeliveryPage = 20
	whDLQPage      = 20
	whErrorsPage   = 100
)

// whReveal is a new signing secret waiting to be shown once.
type whReveal struct {
	sub         int64
	name        string
	secret      vault.Secret
	standard    bool
	rotated     bool
	prevExpires time.Time
}

// takeFlash returns and clears the pending messages and the secret to show,
// if any. A secret shown here is gone from the server afterwards.
func (u *webhookUI) takeFlash(w http.ResponseWriter, r *http.Request) ([]flash, *whSecretView) {
	out, rv, ok := takeRevealed(u.s, w, r, u.reveals)
	if !ok {
		return out, nil
	}
	return out, u.secretView(rv)
}

func (u *webhookUI) secretView(rv whReveal) *whSecretView {
	key := rv.secret.Reveal()
	v := &whSecretView{SubID: rv.sub, SubName: rv.name, Secret: string(key), Rotated: rv.rotated}
	if rv.standard {
		v.Standard = dispatcher.StandardSecret(rv.secret)
	}
	clear(key)
	if rv.rotated {
		v.PrevExpires = u.s.at(rv.prevExpires)
	}
	return v
}

// notFound renders the page for a subscription that does not exist (or
// was deleted meanwhile).
func (u *webhookUI) notFound(w http.ResponseWriter, r *http.Request, id int64) error {
	return &Error{Status: http.StatusNotFound, Code: "not_found", Message: fmt.Sprintf(
		"there is no webhook subscription %d. It may have been deleted; deletions are in the audit log.", id)}
}

// action is the common frame of the detail page's POST handlers: admin
// only, the subscription id from the path, and errors a person can act on
// (validation, conflict, gone) turned into a flash on the page the form
// came from.
func (u *webhookUI) action(w http.ResponseWriter, r *http.Request, fn func(id int64) error) error {
	if err := u.s.requireAdminUser(r); err != nil {
		return err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := parseForm(r); err != nil {
		return err
	}
	err = fn(id)
	if err == nil {
		return nil
	}
	if errors.Is(err, store.ErrNotFound) {
		// The subscription itself, or only a delivery of it?
		if _, serr := u.svc.Subscription(r.Context(), id); errors.Is(serr, store.ErrNotFound) {
			return u.s.seeOther(w, r, "/webhooks", flash{Kind: "error",
				Text: fmt.Sprintf("Webhook subscription %d no longer exists; it may have been deleted.", id)})
		}
	}
	ae := toAPIError(err)
	if ae.Status >= 500 {
		return err
	}
	msg := ae.Message
	if len(ae.Fields) > 0 {
		msg += ": " + strings.Join(fieldList(ae.Fields), "; ")
	}
	return u.s.seeOther(w, r, "/webhooks/"+itoa(id), flash{Kind: "error", Text: sentence(msg)})
}
