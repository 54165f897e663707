package manifests_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"sentryhub/clock"
	"sentryhub/connectors"
	"sentryhub/connectors/connectortest"
	"sentryhub/connectors/fakes/bigcommerce"
	"sentryhub/connectors/fakes/businesscentral"
	"sentryhub/connectors/fakes/quickbooks"
	"sentryhub/connectors/manifest"
	"sentryhub/ssrf"
	"sentryhub/store"
	"sentryhub/store/storetest"
	"sentryhub/store/vault"
)

// hookHub is one connection of a manifest connector behind the platform's
// webhook receiver, with a real store and its worker running: what a
// provider reaches at /hooks/connectors/<key>/<warehouse>/<stream>.
type hookHub struct {
	db  *store.DB
	rx  *manifest.Receiver
	wh  int64
	url string // + "/" + stream
	key string
}

func newHookHub(t *testing.T, fc *clock.Fake, reg *connectors.Registry, key string, settings, secrets map[string]string) *hookHub {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t, filepath.Join(t.TempDir(), store.FileName), store.WithAuditKey(store.DeriveAuditKey([]byte("test"))), store.WithPasswordHashing(store.PasswordHashing{MemoryKiB: 8, Threads: 1}))
	db.Now = fc.Now
	log := slog.New(slog.DiscardHandler)
	v := connectortest.NewFakeVault()
	pool := connectortest.NewPool(t, connectors.HTTPConfig{AllowHTTP: true}, ssrf.New(ssrf.Config{AllowPrivate: connectortest.Loopback()}), fc, log)
	runner := connectortest.NewRunner(t, connectors.RunnerConfig{}, connectors.RunnerDeps{Registry: reg, DB: db, Vault: v, HTTP: pool, Clock: fc, Log: log})
	w, err := db.CreateWarehouse(ctx, store.OpMeta{}, store.WarehouseInput{Code: "W1", Name: "Main"})
	if err != nil {
		t.Fatal(err)
	}
	h := &hookHub{db: db, wh: w.Value.ID, key: key}
	if err := db.PutConnectorSettings(ctx, "test", key, h.wh, settings); err != nil {
		t.Fatal(err)
	}
	sec := map[string]vault.Secret{}
	for k, s := range secrets {
		sec[k] = vault.NewSecret(s)
	}
	if err := v.PutCredentials(ctx, "test", key, h.wh, sec); err != nil {
		t.Fatal(err)
	}
	h.rx = manifest.NewReceiver(runner, db, fc, nil)
	h.rx.Processed.Init(t, "webhook event processed")
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- h.rx.Run(rctx) }()
	t.Cleanup(func() { cancel(); <-done })
	// The same order as web.SetConnectorWebhooks: a handshake first, then
	// the signature-checked delivery.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		stream := strings.TrimPrefix(r.URL.Path, "/")
		if rep, ok := h.rx.Handshake(r.Context(), key, h.wh, stream, r.URL.Query(), body); ok {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(rep.Status)
			_, _ = io.WriteString(w, rep.Message)
			return
		}
		rep := h.rx.Receive(r.Context(), key, h.wh, stream, r.Header, body)
		w.WriteHeader(rep.Status)
		_, _ = io.WriteString(w, rep.Message)
	}))
	t.Cleanup(srv.Close)
	h.url = srv.URL
	return h
}

func (h *hookHub) counts(t *testing.T) store.WebhookEventCounts {
	t.Helper()
	c, err := h.db.ConnectorWebhookCounts(context.Background(), h.key, h.wh)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestQuickBooksItemWebhooks: Intuit's signed notification is stored, the
// item read back by id and upserted once; a forged or unsigned delivery
// is 401 and counted; notifications of another company or entity are
// ignored.
func TestQuickBooksItemWebhooks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fc := clock.NewFake(connectortest.Start())
	fake, reg, settings, secrets := quickbooksSetup(t, quickbooks.Config{Seed: 9, Items: 4, Orders: 2, Now: fc.Now})
	secrets["webhook_verifier_token"] = "verifier-123"
	h := newHookHub(t, fc, reg, "quickbooks", settings, secrets)
	url := h.url + "/item_changes"

	it := fake.Items()[2]
	fake.Touch(it.ID, func(i *quickbooks.Item) { i.Description = "Renamed in QuickBooks" })
	payload := quickbooks.Payload(
		fake.Event("Item", it.ID, "updated"),
		fake.EventFor("4620816365000000000", "Item", it.ID, "updated"), // another company on the same app
		fake.Event("Invoice", "7", "created"),                          // not subscribed here
	)
	for _, tc := range []struct {
		name   string
		mode   quickbooks.Delivery
		status int
	}{
		{"forged", quickbooks.Forged, 401},
		{"unsigned", quickbooks.Unsigned, 401},
		{"signed", quickbooks.Signed, 202},
		{"redelivered", quickbooks.Signed, 200},
	} {
		resp, msg, err := quickbooks.SendWebhook(ctx, nil, url, "verifier-123", payload, tc.mode)
		if err != nil || resp.StatusCode != tc.status {
			t.Fatalf("%s: %v %q %v, want %d", tc.name, resp, msg, err, tc.status)
		}
		if tc.name == "signed" && msg != "1 accepted, 0 duplicate, 2 ignored" {
			t.Fatalf("signed: %q", msg)
		}
	}
	ev := h.rx.Processed.WaitOrTimeout()
	if ev.Status != store.WebhookEventDone || ev.EventType != "qbo.item.updated.v1" {
		t.Fatalf("processed %+v", ev)
	}
	got, err := h.db.GetItem(ctx, it.SKU)
	if err != nil || got.Name != "Renamed in QuickBooks" || got.Source == nil || got.Source.ID != it.ID {
		t.Fatalf("item from the webhook: %+v %v (result %q)", got, err, ev.Result)
	}
	if n := fake.Calls("GET", "/v3/company/9130350000000000/item/"+it.ID); n != 1 {
		t.Fatalf("item read %d times, want once", n)
	}
	c := h.counts(t)
	if c.ByStatus["done"] != 1 || len(c.ByStatus) != 1 || c.Rejections["signature_invalid"] != 1 || c.Rejections["signature_missing"] != 1 {
		t.Fatalf("counts %+v", c)
	}
	h.rx.Processed.RequireEmpty()
}

// TestBigCommerceWebhooks: a hook registered with the secret header
// delivers; the product and the order are read back; a delivery without
// or with a wrong header is 401 and counted; a repeat is dropped.
func TestBigCommerceWebhooks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fc := clock.NewFake(connectortest.Start())
	fake, reg, settings, secrets := bigcommerceSetup(t, bigcommerce.Config{Seed: 4, Products: 3, Orders: 2, Now: fc.Now})
	secrets["webhook_secret"] = "bc-hook-secret"
	h := newHookHub(t, fc, reg, "bigcommerce", settings, secrets)
	hooks := bigcommerce.NewHooks(fake)
	secretHeader := map[string]string{"X-Sentryhub-Webhook-Secret": "bc-hook-secret"}
	hooks.Add("store/product/*", h.url+"/product_changes", secretHeader)
	hooks.Add("store/order/*", h.url+"/order_changes", secretHeader)

	p := fake.Products()[1]
	fake.Touch(p.ID, func(x *bigcommerce.Product) { x.Name = "Renamed in BigCommerce" })
	ev := fake.NewEvent("store/product/updated", "product", p.ID)
	for _, tc := range []struct {
		name    string
		headers map[string]string
		status  int
	}{
		{"no secret", nil, 401},
		{"wrong secret", map[string]string{"X-Sentryhub-Webhook-Secret": "guess"}, 401},
	} {
		if st, err := bigcommerce.Post(ctx, nil, h.url+"/product_changes", tc.headers, ev); err != nil || st != tc.status {
			t.Fatalf("%s: %d %v, want %d", tc.name, st, err, tc.status)
		}
	}
	for i, want := range []int{202, 200} { // delivered, then redelivered
		if st, err := hooks.Fire(ctx, nil, ev); err != nil || len(st) != 1 || st[0] != want {
			t.Fatalf("delivery %d: %v %v, want %d", i, st, err, want)
		}
	}
	processed := h.rx.Processed.WaitOrTimeout()
	if processed.Status != store.WebhookEventDone {
		t.Fatalf("processed %+v", processed)
	}
	got, err := h.db.GetItem(ctx, p.SKU)
	if err != nil || got.Name != "Renamed in BigCommerce" {
		t.Fatalf("item from the webhook: %+v %v (result %q)", got, err, processed.Result)
	}

	// Another store's event at this URL is not this connection's.
	other := fake.NewEvent("store/product/updated", "product", p.ID)
	other.Producer, other.CreatedAt = "stores/zzz999", other.CreatedAt+1
	if st, err := bigcommerce.Post(ctx, nil, h.url+"/product_changes", secretHeader, other); err != nil || st != 200 {
		t.Fatalf("other store: %d %v", st, err)
	}
	// An order event: the order is read with its consignments (its
	// products first, so its lines name known SKUs).
	for _, p := range fake.Products() {
		if st, err := hooks.Fire(ctx, nil, fake.NewEvent("store/product/created", "product", p.ID)); err != nil || st[0] != 202 {
			t.Fatalf("product created: %v %v", st, err)
		}
		if ev := h.rx.Processed.WaitOrTimeout(); ev.Status != store.WebhookEventDone {
			t.Fatalf("product processed %+v", ev)
		}
	}
	o := fake.Orders()[0]
	if st, err := hooks.Fire(ctx, nil, fake.NewEvent("store/order/created", "order", o.ID)); err != nil || st[0] != 202 {
		t.Fatalf("order event: %v %v", st, err)
	}
	processed = h.rx.Processed.WaitOrTimeout()
	if processed.Status != store.WebhookEventDone || processed.Result != "1 written, 0 failed" {
		t.Fatalf("order processed %+v", processed)
	}
	c := h.counts(t)
	if c.ByStatus["done"] != int64(2+len(fake.Products())) || c.Rejections["signature_missing"] != 1 || c.Rejections["signature_invalid"] != 1 {
		t.Fatalf("counts %+v", c)
	}
}

// TestBusinessCentralWebhooks: the subscription's handshake is echoed,
// notifications carrying the client state are stored and read back, a
// wrong client state is 401 and counted, a repeat is dropped.
func TestBusinessCentralWebhooks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fc := clock.NewFake(connectortest.Start())
	fake, reg, settings, secrets := businessCentralSetup(t, businesscentral.Config{Seed: 6, Items: 3, Orders: 1, Now: fc.Now})
	subs := businesscentral.NewSubscriptions(fake)
	company := "companies(" + fake.CompanyID() + ")"
	// A connection without its client state refuses the handshake, so the
	// subscription is not made only to have every notification refused.
	bare := newHookHub(t, fc, reg, "businesscentral", settings, secrets)
	if _, err := subs.Subscribe(ctx, nil, bare.url+"/item_changes", company+"/items", "state-7f3a"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("subscribe without a client state: %v", err)
	}
	secrets["webhook_client_state"] = "state-7f3a"
	h := newHookHub(t, fc, reg, "businesscentral", settings, secrets)
	if _, err := subs.Subscribe(ctx, nil, h.url+"/item_changes", company+"/items", "state-7f3a"); err != nil {
		t.Fatalf("subscribe (handshake): %v", err)
	}
	// A token that is not plain text is not echoed; a stream without a
	// handshake does not answer one.
	for _, tc := range []struct {
		url    string
		status int
	}{
		{h.url + "/item_changes?validationToken=%3Cb%3E%0A", 400},
		{h.url + "/nope?validationToken=abc", 404},
	} {
		resp, err := http.Post(tc.url, "text/plain", nil)
		if err != nil || resp.StatusCode != tc.status {
			t.Fatalf("%s: %v %v, want %d", tc.url, resp, err, tc.status)
		}
		resp.Body.Close()
	}

	it := fake.Items()[0]
	fake.Touch(it.ID, func(x *businesscentral.Item) { x.DisplayName = "Renamed in Business Central" })
	change := businesscentral.Change{Entity: "items(" + it.ID + ")", Type: "updated", Modified: fc.Now()}
	forged := subs.Notifications(change)[h.url+"/item_changes"]
	forged[0].ClientState = "guess"
	if st, err := businesscentral.Deliver(ctx, nil, h.url+"/item_changes", forged); err != nil || st != 401 {
		t.Fatalf("forged: %d %v", st, err)
	}
	for i, want := range []int{202, 200} {
		st, err := subs.Notify(ctx, nil, change, businesscentral.Change{Entity: "items(" + fake.Items()[1].ID + ")", Type: "deleted", Modified: fc.Now()})
		if err != nil || st[h.url+"/item_changes"] != want {
			t.Fatalf("delivery %d: %v %v, want %d", i, st, err, want)
		}
	}
	ev := h.rx.Processed.WaitOrTimeout()
	if ev.Status != store.WebhookEventDone || ev.EventType != "updated" {
		t.Fatalf("processed %+v", ev)
	}
	got, err := h.db.GetItem(ctx, it.Number)
	if err != nil || got.Name != "Renamed in Business Central" || got.Source == nil || got.Source.ID != it.ID {
		t.Fatalf("item from the webhook: %+v %v (result %q)", got, err, ev.Result)
	}
	c := h.counts(t)
	if c.ByStatus["done"] != 1 || c.Rejections["signature_invalid"] != 1 {
		t.Fatalf("counts %+v", c)
	}
}
