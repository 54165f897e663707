package connectortest

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"sentryhub/connectors"
)

// Fixture is what the conformance suite needs to exercise one connector
// against its fake upstream.
type Fixture struct {
	// Registry holds the connector, registered to talk to the fake upstream.
	Registry *connectors.Registry
	Name     string
	// Settings and Secrets configure it for the fake upstream; every
	// required field must be present.
	Settings map[string]string
	Secrets  map[string]string
	// Connection holds vault values the framework owns rather than the
	// form (an OAuth connection's tokens): given to the connector with the
	// secrets, not checked against the schema, and kept from leaking too.
	Connection map[string]string
	// Push is a shipment the fake upstream accepts (for push_fulfillment).
	Push connectors.FulfillmentRequest
	// Fulfillments counts the fulfillments the fake upstream has created,
	// to prove a repeated push creates one.
	Fulfillments func() int
	// Reject makes the fake upstream refuse the credentials from now on,
	// echoing the credential it was sent in its error body (as some real
	// APIs do), so the suite can check no secret leaks through a failure.
	Reject func()
}

// RunConformance checks a connector against the framework's contract:
//
//   - its registration is well formed (schema, capabilities) and the
//     instance describes itself like the registration;
//   - the fixture's secrets are the schema's secret fields;
//   - every operation outside its capabilities returns ErrUnsupported;
//   - TestConnection succeeds against the fake and its message is clean;
//   - every declared sync is idempotent: re-syncing the same window changes
//     nothing;
//   - a repeated fulfillment push (same idempotency key) creates one
//     fulfillment upstream;
//   - secrets never leave through results, errors, records or logs, even
//     when the upstream refuses the credentials and echoes them.
//
// A new connector is done when it passes.
func RunConformance(t *testing.T, f Fixture) {
	info, _, ok := f.Registry.Lookup(f.Name)
	if !ok {
		t.Fatalf("connector %q is not registered", f.Name)
	}
	ctx := context.Background()
	newKit := func(t *testing.T) (*Kit, connectors.Connector) {
		k := New(t)
		secrets := maps.Clone(f.Secrets)
		if secrets == nil {
			secrets = map[string]string{}
		}
		maps.Copy(secrets, f.Connection)
		return k, k.Connector(f.Registry, f.Name, f.Settings, secrets)
	}

	t.Run("registration", func(t *testing.T) {
		if p := info.Schema.Validate(); len(p) > 0 {
			t.Fatalf("schema problems: %v", p)
		}
		_, c := newKit(t)
		if wr, ok := c.(connectors.WebhookReceiver); len(info.Capabilities) == 0 && (!ok || !wr.ReceivesWebhooks()) {
			t.Fatal("no capabilities and no webhook streams")
		}
		caps := slices.Clone(c.Capabilities())
		slices.Sort(caps)
		want := slices.Clone(info.Capabilities)
		slices.Sort(want)
		if !slices.Equal(caps, want) {
			t.Fatalf("instance capabilities %v differ from the registration's %v", caps, want)
		}
		if got, _ := json.Marshal(c.ConfigSchema()); string(got) != mustJSON(info.Schema) {
			t.Fatal("instance schema differs from the registration's")
		}
	})

	t.Run("schema covers the fixture", func(t *testing.T) {
		for name := range f.Secrets {
			if fd, ok := info.Schema.Field(name); !ok || !fd.Secret {
				t.Errorf("fixture secret %q is not a secret field of the schema", name)
			}
		}
		for name := range f.Settings {
			if fd, ok := info.Schema.Field(name); !ok || fd.Secret {
				t.Errorf("fixture setting %q is not a non-secret field of the schema", name)
			}
		}
		for _, fd := range info.Schema.Fields {
			_, s1 := f.Settings[fd.Name]
			_, s2 := f.Secrets[fd.Name]
			if fd.Secret && fd.Default != "" {
				t.Errorf("secret field %q has a default", fd.Name)
			}
			if fd.Required && !s1 && !s2 && fd.Default == "" {
				t.Errorf("required field %q missing from the fixture", fd.Name)
			}
		}
	})

	t.Run("unsupported operations", func(t *testing.T) {
		_, c := newKit(t)
		for _, cp := range connectors.KnownCapabilities() {
			if info.Supports(cp) {
				continue
			}
			err := call(ctx, c, cp, f.Push)
			if !errors.Is(err, connectors.ErrUnsupported) {
				t.Errorf("%s is not declared but returned %v, want ErrUnsupported", cp, err)
			}
		}
	})

	t.Run("test connection", func(t *testing.T) {
		_, c := newKit(t)
		res, err := c.TestConnection(ctx)
		if err != nil || !res.OK {
			t.Fatalf("TestConnection against the fake: %+v %v", res, err)
		}
		checkMessage(t, res.Message)
	})

	for _, cp := range []connectors.Capability{connectors.CapSyncItems, connectors.CapSyncInventory, connectors.CapSyncOrders} {
		if !info.Supports(cp) {
			continue
		}
		t.Run(string(cp)+" is idempotent", func(t *testing.T) {
			k, c := newKit(t)
			since := time.Time{}
			res, err := syncCall(ctx, c, cp, since)
			if err != nil {
				t.Fatalf("first sync: %v", err)
			}
			if res.RecordsSynced == 0 {
				t.Fatalf("first sync wrote nothing (%+v); give the fixture some records", res)
			}
			changes := k.Sink.Changes()
			res2, err := syncCall(ctx, c, cp, since)
			if err != nil {
				t.Fatalf("second sync: %v", err)
			}
			if k.Sink.Changes() != changes {
				t.Fatalf("re-syncing the same window changed %d records", k.Sink.Changes()-changes)
			}
			if res2.RecordsSynced != res.RecordsSynced || res2.RecordsFailed != res.RecordsFailed {
				t.Fatalf("re-sync reported %+v after %+v", res2, res)
			}
			if !res.MaxSeen.IsZero() && res.MaxSeen.After(k.Clock.Now().Add(24*time.Hour)) {
				t.Fatalf("MaxSeen %s is in the far future", res.MaxSeen)
			}
		})
	}

	if info.Supports(connectors.CapPushFulfillment) {
		t.Run("push_fulfillment is idempotent", func(t *testing.T) {
			_, c := newKit(t)
			before := 0
			if f.Fulfillments != nil {
				before = f.Fulfillments()
			}
			r1, err := c.PushFulfillment(ctx, f.Push)
			if err != nil || !r1.Success {
				t.Fatalf("first push: %+v %v", r1, err)
			}
			r2, err := c.PushFulfillment(ctx, f.Push)
			if err != nil || !r2.Success {
				t.Fatalf("repeated push: %+v %v", r2, err)
			}
			if f.Fulfillments != nil && f.Fulfillments()-before != 1 {
				t.Fatalf("two pushes with one idempotency key created %d fulfillments", f.Fulfillments()-before)
			}
		})
	}

	t.Run("secrets stay secret", func(t *testing.T) {
		k, c := newKit(t)
		var out []string
		// Successful paths first, then failures after the upstream turns
		// the credentials down.
		for _, cp := range info.Capabilities {
			if cp == connectors.CapPushFulfillment {
				r, err := c.PushFulfillment(ctx, f.Push)
				out = append(out, mustJSON(r), errString(err))
				continue
			}
			r, err := syncCall(ctx, c, cp, time.Time{})
			out = append(out, mustJSON(r), errString(err))
		}
		if f.Reject == nil {
			t.Fatal("the fixture has no Reject hook")
		}
		f.Reject()
		res, err := c.TestConnection(ctx)
		if err == nil && res.OK {
			t.Fatal("TestConnection succeeded with rejected credentials")
		}
		checkMessage(t, res.Message)
		out = append(out, res.Message, errString(err))
		for _, cp := range info.Capabilities {
			var err error
			var r any
			if cp == connectors.CapPushFulfillment {
				r, err = c.PushFulfillment(ctx, f.Push)
			} else {
				r, err = syncCall(ctx, c, cp, time.Time{})
			}
			if err == nil {
				t.Errorf("%s succeeded with rejected credentials", cp)
			}
			out = append(out, mustJSON(r), errString(err))
		}
		out = append(out, k.Logs(), k.Sink.Dump())
		all := strings.Join(out, "\n")
		for name, v := range f.Secrets {
			if strings.Contains(all, v) {
				t.Errorf("secret %q leaked:\n%s", name, all)
			}
		}
		for name, v := range f.Connection {
			if strings.Contains(all, v) {
				t.Errorf("secret %q leaked:\n%s", name, all)
			}
		}
	})
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func checkMessage(t *testing.T, msg string) {
	t.Helper()
	if len([]rune(msg)) > connectors.MaxMessageLen {
		t.Errorf("message longer than %d characters", connectors.MaxMessageLen)
	}
	if strings.ContainsFunc(msg, func(r rune) bool { return !unicode.IsPrint(r) }) {
		t.Errorf("message has non-printable characters: %q", msg)
	}
}

func syncCall(ctx context.Context, c connectors.Connector, cp connectors.Capability, since time.Time) (connectors.SyncResult, error) {
	switch cp {
	case connectors.CapSyncOrders:
		return c.SyncOrders(ctx, since)
	case connectors.CapSyncItems:
		return c.SyncItems(ctx, since)
	case connectors.CapSyncInventory:
		return c.SyncInventory(ctx, since)
	}
	return connectors.SyncResult{}, errors.New("not a sync capability")
}

func call(ctx context.Context, c connectors.Connector, cp connectors.Capability, push connectors.FulfillmentRequest) error {
	if cp == connectors.CapPushFulfillment {
		_, err := c.PushFulfillment(ctx, push)
		return err
	}
	_, err := syncCall(ctx, c, cp, time.Time{})
	return err
}
