package businesscentral

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"sentryhub/connectors/fakes/fakekit"
)

// Webhook subscriptions as Business Central runs them. A subscription
// (POST …/api/v2.0/subscriptions {notificationUrl, resource,
// clientState}) is created only after a handshake: Business Central POSTs
// to notificationUrl with a validationToken query parameter and an empty
// body, and wants the token back as the 200 answer's body. It lives three
// days unless renewed (PATCH, another handshake). Notifications are
// batched: {value: [{subscriptionId, clientState, expirationDateTime,
// resource, changeType, lastModifiedDateTime}]}, resource being the
// changed entity's path — ids only; the subscriber reads the entity.
// Nothing is signed: clientState, a secret the subscriber chose, comes
// back in every notification.

// Subscription is a registered webhook subscription.
type Subscription struct {
	ID, NotificationURL, Resource, ClientState string
	Expires                                    time.Time
}

// Notification is one entry of a delivery's value list.
type Notification struct {
	SubscriptionID       string `json:"subscriptionId"`
	ClientState          string `json:"clientState"`
	ExpirationDateTime   string `json:"expirationDateTime"`
	Resource             string `json:"resource"`
	ChangeType           string `json:"changeType"`
	LastModifiedDateTime string `json:"lastModifiedDateTime"`
}

// Subscriptions is the tenant's subscription list, kept beside the Fake.
type Subscriptions struct {
	f    *Fake
	mu   sync.Mutex
	list []*Subscription
}

// NewSubscriptions returns an empty subscription list for f's tenant.
func NewSubscriptions(f *Fake) *Subscriptions { return &Subscriptions{f: f} }

// Subscribe creates a subscription to resource (a path under the API
// root, like "companies(id)/items") after the handshake with
// notificationURL; it fails, creating nothing, when the handshake does.
func (ss *Subscriptions) Subscribe(ctx context.Context, client *http.Client, notificationURL, resource, clientState string) (Subscription, error) {
	token := "bc-validation-" + fakekit.Random(12)
	u, err := url.Parse(notificationURL)
	if err != nil {
		return Subscription{}, err
	}
	q := u.Query()
	q.Set("validationToken", token)
	u.RawQuery = q.Encode()
	status, body, err := post(ctx, client, u.String(), nil)
	if err != nil {
		return Subscription{}, err
	}
	if status != http.StatusOK || body != token {
		return Subscription{}, fmt.Errorf("handshake failed: %d %q", status, body)
	}
	s := &Subscription{ID: strings.ReplaceAll(ss.f.guidLocked(), "-", ""), NotificationURL: notificationURL,
		Resource: "/api/v2.0/" + resource, ClientState: clientState, Expires: ss.f.cfg.Now().Add(72 * time.Hour)}
	ss.mu.Lock()
	ss.list = append(ss.list, s)
	ss.mu.Unlock()
	return *s, nil
}

func (f *Fake) guidLocked() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.guid()
}

// Change is a change to notify: the entity path under the company
// ("items(id)", "salesOrders(id)") and created, updated or deleted.
type Change struct {
	Entity, Type string
	Modified     time.Time
}

// Notifications returns the notifications each change yields for the
// subscriptions whose resource covers it, grouped by notification URL.
func (ss *Subscriptions) Notifications(changes ...Change) map[string][]Notification {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	base := "api/v2.0/companies(" + ss.f.company + ")/"
	out := map[string][]Notification{}
	for _, c := range changes {
		set, _, _ := strings.Cut(c.Entity, "(")
		for _, s := range ss.list {
			if s.Resource != "/"+base+set {
				continue
			}
			out[s.NotificationURL] = append(out[s.NotificationURL], Notification{SubscriptionID: s.ID, ClientState: s.ClientState,
				ExpirationDateTime: s.Expires.UTC().Format(time.RFC3339), Resource: base + c.Entity, ChangeType: c.Type,
				LastModifiedDateTime: bcTime(c.Modified)})
		}
	}
	return out
}

// Notify delivers the changes to their subscribers, one batched POST per
// notification URL, and returns each URL's answer status.
func (ss *Subscriptions) Notify(ctx context.Context, client *http.Client, changes ...Change) (map[string]int, error) {
	out := map[string]int{}
	for to, list := range ss.Notifications(changes...) {
		status, err := Deliver(ctx, client, to, list)
		if err != nil {
			return out, err
		}
		out[to] = status
	}
	return out, nil
}

// Deliver POSTs one batch of notifications to url, as Business Central
// (or someone posing as it) would, and returns the answer's status.
func Deliver(ctx context.Context, client *http.Client, url string, list []Notification) (int, error) {
	b, err := json.Marshal(map[string]any{"value": list})
	if err != nil {
		return 0, err
	}
	status, _, err := post(ctx, client, url, b)
	return status, err
}

func post(ctx context.Context, client *http.Client, url string, body []byte) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("deliver to %s: %w", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b), nil
}
