package dispatcher

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"

	"sentryhub/store"
)

// TestEventType is the event_type of a test delivery. It is not in the
// event catalog: a consumer acknowledges it (2xx) and ignores it.
const TestEventType = "webhook.test"

// TestResult is the outcome of one test delivery.
type TestResult struct {
	OK       bool
	Status   int             // HTTP status, 0 when none came back
	Kind     store.ErrorKind // when it failed
	Duration time.Duration
	Body     []byte // the envelope sent
}

// SendTest signs and sends one test envelope (event_id 0, event_type
// webhook.test) to a subscription's URL now, through the same client,
// SSRF guard and signing as deliveries, and returns what happened. It is
// not a delivery: nothing is stored or retried, and a paused subscription
// can be tested. It is audited. It returns ErrNotFound for an unknown
// subscription and an error when its secret does not open.
func (d *Dispatcher) SendTest(ctx context.Context, actor string, id int64) (TestResult, error) {
	sub, err := d.db.Subscription(ctx, id)
	if err != nil {
		return TestResult{}, err
	}
	secret, _, err := d.vault.WebhookSecrets(ctx, id)
	if err != nil {
		return TestResult{}, fmt.Errorf("test delivery to subscription %d: %w", id, err)
	}
	now := d.clock.Now()
	ev := store.Event{ID: 0, EventType: TestEventType, EventVersion: 1, Timestamp: now.Truncate(time.Millisecond),
		AggregateType: "webhook_subscription", AggregateID: uuid.NewString(), SourceTxnID: uuid.NewString(),
		Data: []byte(`{"message":"A test delivery from Sentry Hub: no change happened.","subscription_id":` + strconv.FormatInt(id, 10) + `}`)}
	ref, err := newEventRef(&ev)
	if err != nil {
		return TestResult{}, err
	}
	res := d.send(ctx, &job{d: &delivery{ev: ref}, cfg: &sendConfig{url: sub.URL, secret: secret, standard: sub.StandardWebhooks}})
	out := TestResult{OK: res.ok, Status: res.status, Kind: res.kind, Duration: res.duration, Body: ref.body}
	outcome := "succeeded"
	if !res.ok {
		outcome = "failed: " + string(res.kind)
	}
	if err := d.db.Audit(ctx, store.Audit{Actor: actor, Action: "webhook.test", Target: store.WebhookTarget(id),
		Diff: map[string]any{"outcome": outcome, "status": res.status}}); err != nil {
		return out, err
	}
	return out, nil
}
