package web

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"time"

	"sentryhub/dispatcher"
	"sentryhub/store"
	"sentryhub/store/vault"
)

// WebhookService is what the webhook admin API needs: the dispatcher
// implements it, and app passes it to SetWebhooks. Subscription, delivery
// and error types are the store's; secrets travel as vault.Secret until the
// one response that shows them.
type WebhookService interface {
	CreateSubscription(ctx context.Context, actor string, in store.SubscriptionCreate) (store.Subscription, vault.Secret, error)
	Subscriptions(ctx context.Context) ([]store.Subscription, error)
	Subscription(ctx context.Context, id int64) (store.Subscription, error)
	UpdateSubscription(ctx context.Context, actor string, id int64, p store.SubscriptionPatch) (store.Subscription, string, error)
	DeleteSubscription(ctx context.Context, actor string, id int64) error
	RotateSecret(ctx context.Context, actor string, id int64) (vault.Secret, time.Time, error)
	PreviousSecretExpiry(ctx context.Context, id int64) (*store.Time, error)
	Deliveries(ctx context.Context, id int64, q store.DeliveryQuery) ([]store.Delivery, bool, error)
	Delivery(ctx context.Context, id, deliveryID int64) (store.Delivery, error)
	Replay(ctx context.Context, actor string, id, deliveryID int64) (store.Delivery, error)
	ReplayBatch(ctx context.Context, actor string, id int64, q store.ReplayQuery) (int, error)
	Stats(ctx context.Context, id int64) (store.WebhookStats, error)
	Errors(ctx context.Context, q store.WebhookErrorQuery) ([]store.WebhookError, []store.WebhookErrorSummary, error)
	// SecretReadable reports whether the subscription's signing secret
	// opens with the hub's key; one that does not is not dispatched.
	SecretReadable(ctx context.Context, id int64) (bool, error)
	// SendTest sends one test envelope to the subscription now.
	SendTest(ctx context.Context, actor string, id int64) (dispatcher.TestResult, error)
}

// SetWebhooks registers the webhook admin API (/api/admin/webhooks...) over
// svc. Call it once, before the server starts.
func (s *Server) SetWebhooks(svc WebhookService) {
	s.webhooks = svc
	h := &webhookAPI{svc: svc}
	m := s.mux
	const base = "/api/admin/webhooks"
	m.Handle("POST "+base, s.api(store.ScopeAdmin, h.create))
	m.Handle("GET "+base, s.api(store.ScopeAdmin, h.list))
	m.Handle("GET "+base+"/errors", s.api(store.ScopeAdmin, h.errors))
	m.Handle("GET "+base+"/{id}", s.api(store.ScopeAdmin, h.get))
	m.Handle("PATCH "+base+"/{id}", s.api(store.ScopeAdmin, h.update))
	m.Handle("DELETE "+base+"/{id}", s.api(store.ScopeAdmin, h.delete))
	m.Handle("POST "+base+"/{id}/rotate-secret", s.api(store.ScopeAdmin, h.rotate))
	m.Handle("GET "+base+"/{id}/deliveries", s.api(store.ScopeAdmin, h.deliveries))
	m.Handle("GET "+base+"/{id}/deliveries/{delivery}", s.api(store.ScopeAdmin, h.delivery))
	m.Handle("POST "+base+"/{id}/deliveries/{delivery}/replay", s.api(store.ScopeAdmin, h.replay))
	m.Handle("GET "+base+"/{id}/dlq", s.api(store.ScopeAdmin, h.dlq))
	m.Handle("POST "+base+"/{id}/replay-batch", s.api(store.ScopeAdmin, h.replayBatch))
	m.Handle("GET "+base+"/{id}/stats", s.api(store.ScopeAdmin, h.stats))
	s.webhookUIRoutes(svc)
}

type webhookAPI struct {
	svc WebhookService
}

// issuedSecret is how a secret is shown, once: the plaintext (the HMAC key
// is its UTF-8 bytes) and, for Standard Webhooks subscriptions, the same key
// in whsec_ form for the Standard Webhooks libraries.
type issuedSecret struct {
	Secret           string `json:"secret"`
	SecretGeneration int    `json:"secret_generation"`
	SecretStandard   string `json:"secret_standard,omitempty"`
	Note             string `json:"note"`
}

func issue(sec vault.Secret, standard bool) issuedSecret {
	key := sec.Reveal()
	out := issuedSecret{Secret: string(key), SecretGeneration: 1,
		Note: "store this secret now: it is not shown again"}
	if standard {
		out.SecretStandard = dispatcher.StandardSecret(sec)
	}
	clear(key)
	return out
}

func (h *webhookAPI) create(w http.ResponseWriter, r *http.Request) error {
	in, err := parseSubscriptionCreate(r)
	if err != nil {
		return err
	}
	sub, sec, err := h.svc.CreateSubscription(r.Context(), principal(r.Context()).Actor(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, struct {
		store.Subscription
		issuedSecret
	}{sub, issue(sec, sub.StandardWebhooks)})
	return nil
}

func parseSubscriptionCreate(r *http.Request) (store.SubscriptionCreate, error) {
	var in store.SubscriptionCreate
	if err := decodeJSON(r, &in); err != nil {
		return in, err
	}
	return in, nil
}

// ParseSubscriptionPatch decodes a PATCH body: one JSON object whose known
// fields are all optional (null means absent); unknown fields are refused.
func ParseSubscriptionPatch(body []byte) (store.SubscriptionPatch, error) {
	var p store.SubscriptionPatch
	err := decodeJSONBytes(body, &p)
	return p, err
}

func (h *webhookAPI) list(w http.ResponseWriter, r *http.Request) error {
	subs, err := h.svc.Subscriptions(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"subscriptions": subs})
	return nil
}

type subscriptionView struct {
	store.Subscription
	SigningGeneration       int         `json:"signing_generation"`
	PreviousSecretExpiresAt *store.Time `json:"previous_secret_expires_at"`
}

func (h *webhookAPI) get(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	sub, err := h.svc.Subscription(r.Context(), id)
	if err != nil {
		return err
	}
	exp, err := h.svc.PreviousSecretExpiry(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, subscriptionView{Subscription: sub, SigningGeneration: 1, PreviousSecretExpiresAt: exp})
	return nil
}

func (h *webhookAPI) update(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var body bytes.Buffer
	if _, err := body.ReadFrom(r.Body); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return badRequest("cannot read request body", nil)
	}
	p, err := ParseSubscriptionPatch(body.Bytes())
	if err != nil {
		return err
	}
	sub, hint, err := h.svc.UpdateSubscription(r.Context(), principal(r.Context()).Actor(), id, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		store.Subscription
		Hint string `json:"hint,omitempty"`
	}{sub, hint})
	return nil
}

func (h *webhookAPI) delete(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := h.svc.DeleteSubscription(r.Context(), principal(r.Context()).Actor(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *webhookAPI) rotate(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	sub, err := h.svc.Subscription(r.Context(), id)
	if err != nil {
		return err
	}
	sec, expires, err := h.svc.RotateSecret(r.Context(), principal(r.Context()).Actor(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		issuedSecret
		PreviousGeneration      int    `json:"previous_generation"`
		PreviousSecretExpiresAt string `json:"previous_secret_expires_at"`
	}{issue(sec, sub.StandardWebhooks), 2, expires.UTC().Format(store.TimeFormat)})
	return nil
}

func deliveryQuery(r *http.Request, status store.DeliveryStatus) (store.DeliveryQuery, error) {
	q := store.DeliveryQuery{Status: status}
	if status == "" {
		q.Status = store.DeliveryStatus(r.URL.Query().Get("status"))
	}
	var err error
	if q.After, err = queryInt(r, "after", 0, 0, 1<<62); err != nil {
		return q, err
	}
	if q.Before, err = queryInt(r, "before", 0, 0, 1<<62); err != nil {
		return q, err
	}
	limit, err := queryInt(r, "limit", store.DefaultDeliveryPage, 1, store.MaxDeliveryPage)
	q.Limit = int(limit)
	return q, err
}

func (h *webhookAPI) listDeliveries(w http.ResponseWriter, r *http.Request, status store.DeliveryStatus) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	q, err := deliveryQuery(r, status)
	if err != nil {
		return err
	}
	ds, more, err := h.svc.Deliveries(r.Context(), id, q)
	if err != nil {
		return err
	}
	resp := map[string]any{"deliveries": ds}
	if more && len(ds) > 0 {
		last := ds[len(ds)-1].ID
		if q.After > 0 {
			resp["next_after"] = last
		} else {
			resp["next_before"] = last
		}
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (h *webhookAPI) deliveries(w http.ResponseWriter, r *http.Request) error {
	return h.listDeliveries(w, r, "")
}

func (h *webhookAPI) dlq(w http.ResponseWriter, r *http.Request) error {
	return h.listDeliveries(w, r, store.DeliveryDead)
}

func (h *webhookAPI) delivery(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	did, err := pathID(r, "delivery")
	if err != nil {
		return err
	}
	d, err := h.svc.Delivery(r.Context(), id, did)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (h *webhookAPI) replay(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	did, err := pathID(r, "delivery")
	if err != nil {
		return err
	}
	d, err := h.svc.Replay(r.Context(), principal(r.Context()).Actor(), id, did)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"delivery": d})
	return nil
}

func (h *webhookAPI) replayBatch(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var q store.ReplayQuery
	if err := decodeJSON(r, &q); err != nil {
		return err
	}
	n, err := h.svc.ReplayBatch(r.Context(), principal(r.Context()).Actor(), id, q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"queued": n})
	return nil
}

func (h *webhookAPI) stats(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	st, err := h.svc.Stats(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (h *webhookAPI) errors(w http.ResponseWriter, r *http.Request) error {
	sub, err := queryInt(r, "subscription_id", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", store.DefaultDeliveryPage, 1, store.MaxDeliveryPage)
	if err != nil {
		return err
	}
	q := store.WebhookErrorQuery{SubscriptionID: sub, Kind: store.ErrorKind(r.URL.Query().Get("kind")), Limit: int(limit)}
	list, summary, err := h.svc.Errors(r.Context(), q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"errors": list, "summary": summary, "catalog": store.ErrorCatalog()})
	return nil
}
