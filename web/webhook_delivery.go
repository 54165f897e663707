package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"sentryhub/dispatcher"
	"sentryhub/store"
)

// One delivery: the request as it is sent (headers and the exact body;
// the signature is computed from the secret at each attempt and never
// stored, so it is described, not shown) and every attempt.

type whDeliveryView struct {
	Layout   layoutData
	Sub      store.Subscription
	Row      whDeliveryRow
	Headers  [][2]string
	Body     string
	CanWrite bool
}

func (u *webhookUI) deliveryDetail(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	did, err := pathID(r, "delivery")
	if err != nil {
		return err
	}
	ctx := r.Context()
	sub, err := u.svc.Subscription(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return u.notFound(w, r, id)
	}
	if err != nil {
		return err
	}
	d, err := u.svc.Delivery(ctx, id, did)
	if errors.Is(err, store.ErrNotFound) {
		return &Error{Status: http.StatusNotFound, Code: "not_found", Message: fmt.Sprintf("subscription %d has no delivery %d", id, did)}
	}
	if err != nil {
		return err
	}
	ev, err := u.s.db.EventByID(ctx, d.EventID)
	if err != nil {
		return err
	}
	body, err := ev.Envelope()
	if err != nil {
		return err
	}
	ts := "<unix seconds of the attempt>"
	if d.LastAttemptAt != nil {
		ts = strconv.FormatInt(d.LastAttemptAt.Unix(), 10)
	}
	p := whDeliveryView{Layout: u.s.layoutFor(r, fmt.Sprintf("Delivery %d · %s", did, sub.Name), "/webhooks"), Sub: sub,
		Row: u.deliveryRow(d), Body: string(body), CanWrite: canWrite(r),
		Headers: [][2]string{
			{"Content-Type", "application/json"},
			{dispatcher.HeaderEventType, ev.EventType},
			{dispatcher.HeaderTimestamp, ts},
			{dispatcher.HeaderDeliveryID, strconv.FormatInt(ev.ID, 10) + ":" + ts},
			{dispatcher.HeaderSignatureGeneration, "1"},
			{dispatcher.HeaderSignature, "sha256=<hex HMAC-SHA256 of \"" + ts + ".\" + body, keyed with the current secret>"},
		}}
	if sub.StandardWebhooks {
		p.Headers = append(p.Headers, [2]string{dispatcher.HeaderWebhookID, dispatcher.StandardWebhookID(d.ID)},
			[2]string{dispatcher.HeaderWebhookTimestamp, ts},
			[2]string{dispatcher.HeaderWebhookSignature, "v1,<base64 HMAC-SHA256 of \"" + dispatcher.StandardWebhookID(d.ID) + "." + ts + ".\" + body>"})
	}
	return u.s.render(w, r, http.StatusOK, webhookDeliveryPage(p))
}
