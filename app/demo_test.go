package app

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"sentryhub/dispatcher"
	"sentryhub/store"
	"sentryhub/store/vault"
)

// The banner lines the demo prints once everything is up.
var (
	bannerAdmin = regexp.MustCompile(`(?m)^  Admin UI: +(http://\S+)/$`)
	bannerSink  = regexp.MustCompile(`(?m)^  Webhook sink: (http://127\.0\.0\.1:\d+/) \(deliveries signed by the hub, verified here\)$`)
)

// sinkView is the demo sink's JSON view.
type sinkView struct {
	Stats struct {
		Received   int `json:"received"`
		Valid      int `json:"valid"`
		Invalid    int `json:"invalid"`
		Duplicates int `json:"duplicates"`
	} `json:"stats"`
	Deliveries []sinkDelivery `json:"deliveries"` // newest first
}

type sinkDelivery struct {
	Seq           int    `json:"seq"`
	DeliveryID    string `json:"delivery_id"`
	EventType     string `json:"event_type"`
	EventID       int64  `json:"event_id"`
	AggregateType string `json:"aggregate_type"`
	AggregateID   string `json:"aggregate_id"`
	Generation    int    `json:"generation"`
	Valid         bool   `json:"valid"`
	Reason        string `json:"reason"`
	Duplicate     bool   `json:"duplicate"`
	Status        int    `json:"status"`
	Body          string `json:"body"`
}

func readSink(t *testing.T, sinkURL string) sinkView {
	t.Helper()
	resp, err := http.Get(sinkURL + "deliveries")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v sinkView
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != 200 {
		t.Fatalf("sink JSON view: %d %v", resp.StatusCode, err)
	}
	return v
}

// waitSink polls the sink until it has received n deliveries.
func waitSink(t *testing.T, sinkURL string, n int) sinkView {
	t.Helper()
	var v sinkView
	poll(t, fmt.Sprintf("the sink to receive %d deliveries", n), 30*time.Second, func() bool {
		v = readSink(t, sinkURL)
		return v.Stats.Received >= n
	})
	return v
}

// event is what the test reads of an envelope from the events API.
type event struct {
	raw           string
	EventID       int64  `json:"event_id"`
	EventType     string `json:"event_type"`
	AggregateType string `json:"aggregate_type"`
	AggregateID   string `json:"aggregate_id"`
}

func listEvents(t *testing.T, base, token string) []event {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/api/v1/events?limit=1000", nil)
	req.Header.Set("X-WMS-Token", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct {
		Events []json.RawMessage `json:"events"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil || resp.StatusCode != 200 {
		t.Fatalf("events: %d %v", resp.StatusCode, err)
	}
	out := make([]event, len(page.Events))
	for i, raw := range page.Events {
		out[i].raw = string(raw)
		if err := json.Unmarshal(raw, &out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// checkDelivered asserts that the sink received each of events exactly
// once, verified, acknowledged, carrying the bytes the events API serves,
// and in event_id order within each aggregate.
func checkDelivered(t *testing.T, v sinkView, events []event) {
	t.Helper()
	if v.Stats.Invalid != 0 || v.Stats.Duplicates != 0 || v.Stats.Received != len(events) {
		t.Fatalf("sink stats %+v, want %d valid deliveries and nothing else", v.Stats, len(events))
	}
	byID := map[int64]event{}
	for _, e := range events {
		byID[e.EventID] = e
	}
	arrivals := slices.Clone(v.Deliveries)
	slices.SortFunc(arrivals, func(a, b sinkDelivery) int { return a.Seq - b.Seq })
	lanes := map[string][]int64{}
	for _, d := range arrivals {
		e, ok := byID[d.EventID]
		if !ok {
			t.Fatalf("delivery of unknown event %d", d.EventID)
		}
		delete(byID, d.EventID)
		if !d.Valid || d.Reason != "" || d.Status != 200 || d.Duplicate || d.Generation != 1 {
			t.Fatalf("delivery %+v not verified and accepted", d)
		}
		if d.Body != e.raw || d.EventType != e.EventType || d.AggregateID != e.AggregateID {
			t.Fatalf("delivery of event %d carries %q, the events API serves %q", d.EventID, d.Body, e.raw)
		}
		if !strings.HasPrefix(d.DeliveryID, strconv.FormatInt(d.EventID, 10)+":") {
			t.Fatalf("delivery id %q of event %d", d.DeliveryID, d.EventID)
		}
		lane := d.AggregateType + "/" + d.AggregateID
		lanes[lane] = append(lanes[lane], d.EventID)
	}
	if len(byID) > 0 {
		t.Fatalf("events never delivered: %v", byID)
	}
	for lane, ids := range lanes {
		if !slices.IsSorted(ids) {
			t.Fatalf("aggregate %s received events %v, not in event_id order", lane, ids)
		}
	}
}

// demoSecret reads the Demo sink subscription's signing secret the way the
// dispatcher does, so the test can check it is printed nowhere.
func demoSecret(t *testing.T, dir string) (store.Subscription, string) {
	t.Helper()
	ctx := context.Background()
	key, err := os.ReadFile(filepath.Join(dir, "demo-encryption.key"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := parseKey(string(key))
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, filepath.Join(dir, "sentryhub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	subs, err := db.Subscriptions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var found []store.Subscription
	for _, s := range subs {
		if s.Name == demoSinkName {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d %q subscriptions, want exactly one: %+v", len(found), demoSinkName, subs)
	}
	gen1, _, err := vault.New(db, k).WebhookSecrets(ctx, found[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	return found[0], string(gen1.Reveal())
}

func postJSON(t *testing.T, url, token, body string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("X-WMS-Token", token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestDemoWebhookSink runs `demo` twice on one data directory: first in
// process, then as the real binary stopped with SIGINT. The first start
// must deliver every seeded event to the sink, verified, in order per
// aggregate; the second must reuse the subscription (moving it to the new
// sink port when the old one is taken) without rotating its secret, and
// the sink must still verify, also across a rotation made in the admin API.
func TestDemoWebhookSink(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()

	// First start, in process.
	ctx, cancel := context.WithCancel(context.Background())
	var out, logs syncBuffer
	urlc := make(chan string, 1)
	done := make(chan int, 1)
	go func() {
		done <- Main{passwords: testMain().passwords, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &logs, Getenv: env("SENTRY_LOG_LEVEL", "info"),
			Ready: func(u string) { urlc <- u }}.Run(ctx, []string{"demo", "--data-dir", dir, "--addr", "127.0.0.1:0"})
	}()
	var base string
	select {
	case base = <-urlc:
	case code := <-done:
		t.Fatalf("demo exited %d: %s", code, logs.String())
	case <-time.After(60 * time.Second):
		t.Fatal("demo did not start")
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("demo exit %d: %s", code, logs.String())
		}
	}
	defer stop()

	m := bannerSink.FindStringSubmatch(out.String())
	if m == nil || !strings.Contains(out.String(), "  Admin UI:     "+base+"/\n") {
		t.Fatalf("banner lacks the admin URL or the sink line:\n%s", out.String())
	}
	sinkURL := m[1]
	if !strings.Contains(logs.String(), `"allow_private_targets":"127.0.0.1/32"`) {
		t.Fatalf("the demo should exempt exactly 127.0.0.1/32, with the usual warning:\n%s", logs.String())
	}
	token := strings.TrimSpace(run(t, env("SENTRY_DATA_DIR", dir), "", "token", "create", "--name", "e2e", "--scope", "admin").stdout)
	seeded := listEvents(t, base, token)
	if len(seeded) < 10 {
		t.Fatalf("only %d seeded events", len(seeded))
	}
	checkDelivered(t, waitSink(t, sinkURL, len(seeded)), seeded)

	// The sink is a verifier, not a recorder: a forged delivery is refused.
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	forged := `{"event_id":999999,"event_type":"ship.confirmed"}`
	req, _ := http.NewRequest("POST", sinkURL+"webhook", strings.NewReader(forged))
	req.Header.Set("X-Sentry-Signature", dispatcher.Sign([]byte("guessed"), time.Now().Unix(), []byte(forged)))
	req.Header.Set("X-Sentry-Signature-Generation", "1")
	req.Header.Set("X-Sentry-Timestamp", ts)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("forged delivery answered %d, want 401", resp.StatusCode)
	}
	if v := readSink(t, sinkURL); v.Stats.Invalid != 1 || v.Deliveries[0].Valid || v.Deliveries[0].Reason == "" {
		t.Fatalf("forged delivery not shown as invalid: %+v", v.Deliveries[0])
	}
	page, err := http.Get(sinkURL)
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if page.StatusCode != 200 || strings.Count(string(html), "<tr id=") != len(seeded)+1 {
		t.Fatalf("sink page: %d, %d rows", page.StatusCode, strings.Count(string(html), "<tr id="))
	}

	stop()
	sub, secret := demoSecret(t, dir)
	if sub.URL != sinkURL+"webhook" {
		t.Fatalf("subscription URL %q, sink %q", sub.URL, sinkURL)
	}
	key, _ := os.ReadFile(filepath.Join(dir, "demo-encryption.key"))
	for _, leak := range []string{secret, strings.TrimSpace(string(key))} {
		if strings.Contains(out.String()+logs.String(), leak) {
			t.Fatal("the demo printed its webhook secret or its encryption key")
		}
	}
	if !strings.Contains(logs.String(), "demo webhook sink stopped") || !strings.Contains(logs.String(), "sentryhub stopped") {
		t.Fatalf("no clean stop of the sink and the hub:\n%s", logs.String())
	}

	// Second start: the real binary. Hold the old sink port so the demo
	// must move the subscription to a new one.
	old, err := net.Listen("tcp", strings.TrimSuffix(strings.TrimPrefix(sinkURL, "http://"), "/"))
	if err != nil {
		t.Fatalf("the first sink's port was not released: %v", err)
	}
	defer old.Close()
	bin := buildBinary(t)
	cmd := exec.Command(bin, "demo", "--data-dir", dir, "--addr", "127.0.0.1:0")
	cmd.Env = []string{"SENTRY_LOG_LEVEL=info"}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var logs2 syncBuffer
	errDone := make(chan struct{})
	go func() {
		defer close(errDone)
		io.Copy(&logs2, stderr)
	}()
	var banner strings.Builder
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	deadline := time.After(60 * time.Second)
	for !strings.Contains(banner.String(), "Press Ctrl+C to stop.") {
		select {
		case l, ok := <-lines:
			if !ok {
				<-errDone
				t.Fatalf("demo exited before its banner:\n%s\n%s", banner.String(), logs2.String())
			}
			banner.WriteString(l + "\n")
		case <-deadline:
			t.Fatal("demo did not print its banner")
		}
	}
	go func() {
		for range lines { // drain
		}
	}()
	m2, a2 := bannerSink.FindStringSubmatch(banner.String()), bannerAdmin.FindStringSubmatch(banner.String())
	if m2 == nil || a2 == nil {
		t.Fatalf("second banner:\n%s", banner.String())
	}
	sinkURL2, base2 := m2[1], a2[1]
	if sinkURL2 == sinkURL {
		t.Fatal("the sink reused a port that was taken")
	}

	// One subscription, created once and moved once, both audited.
	code, body := getJSON(t, "GET", base2+"/api/admin/webhooks", token, nil)
	subs, _ := body["subscriptions"].([]any)
	if code != 200 || len(subs) != 1 || subs[0].(map[string]any)["url"] != sinkURL2+"webhook" {
		t.Fatalf("subscriptions after restart: %d %v", code, body)
	}
	code, body = getJSON(t, "GET", base2+"/api/admin/audit?limit=200", token, nil)
	var actions []string
	for _, e := range body["entries"].([]any) {
		e := e.(map[string]any)
		if a := e["action"].(string); strings.HasPrefix(a, "webhook.") {
			if e["actor"] != demoActor {
				t.Fatalf("audit entry %v not by the demo", e)
			}
			actions = append(actions, a)
		}
	}
	slices.Sort(actions)
	if code != 200 || !slices.Equal(actions, []string{"webhook.create", "webhook.update"}) {
		t.Fatalf("webhook audit entries %v, want one create and one update", actions)
	}

	// Nothing was seeded twice, and a new event reaches the new sink verified.
	if code := postJSON(t, base2+"/api/v1/inventory/adjustments", token,
		`{"warehouse_id":1,"sku":"WIDGET-1","delta":2,"reason":"after restart"}`); code != 201 && code != 200 {
		t.Fatalf("adjustment: %d", code)
	}
	all := listEvents(t, base2, token)
	if len(all) != len(seeded)+1 {
		t.Fatalf("%d events after restart, want %d", len(all), len(seeded)+1)
	}
	checkDelivered(t, waitSink(t, sinkURL2, 1), all[len(seeded):])

	// The restart did not rotate the secret. A rotation through the admin
	// API is verified at once: the hub signs with the new generation 1, and
	// the previous secret is accepted as generation 2 (dual-accept).
	sub2, same := demoSecret(t, dir)
	if same != secret {
		t.Fatal("the restart rotated the secret")
	}
	code, body = getJSON(t, "POST", fmt.Sprintf("%s/api/admin/webhooks/%d/rotate-secret", base2, sub2.ID), token, nil)
	if code != 200 || body["secret"] == "" {
		t.Fatalf("rotate-secret: %d", code)
	}
	rotated := body["secret"].(string)
	if code := postJSON(t, base2+"/api/v1/inventory/adjustments", token,
		`{"warehouse_id":1,"sku":"BOX-S","delta":-1,"reason":"after rotation"}`); code != 201 && code != 200 {
		t.Fatalf("adjustment: %d", code)
	}
	all = listEvents(t, base2, token)
	checkDelivered(t, waitSink(t, sinkURL2, 2), all[len(seeded):])
	probe := []byte(`{"aggregate_id":"00000000-0000-4000-8000-000000000001","aggregate_type":"inventory","event_id":4242424,"event_type":"adjustment.applied"}`)
	for _, c := range []struct {
		key  string
		gen  string
		want int
	}{{secret, "2", 200}, {secret, "1", 401}, {rotated, "1", 200}, {rotated, "2", 401}} {
		now := time.Now().Unix()
		req, _ := http.NewRequest("POST", sinkURL2+"webhook", strings.NewReader(string(probe)))
		req.Header.Set("X-Sentry-Signature", dispatcher.Sign([]byte(c.key), now, probe))
		req.Header.Set("X-Sentry-Signature-Generation", c.gen)
		req.Header.Set("X-Sentry-Timestamp", strconv.FormatInt(now, 10))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Fatalf("signed with the %s secret as generation %s: %d, want %d",
				map[bool]string{true: "previous", false: "new"}[c.key == secret], c.gen, resp.StatusCode, c.want)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	<-errDone
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGINT: %v\n%s", err, logs2.String())
	}
	for _, want := range []string{"demo sink subscription moved", "demo webhook sink stopped", "sentryhub stopped"} {
		if !strings.Contains(logs2.String(), want) {
			t.Fatalf("log lacks %q:\n%s", want, logs2.String())
		}
	}
	for _, leak := range []string{secret, rotated} {
		if strings.Contains(banner.String()+logs2.String(), leak) {
			t.Fatal("the demo printed a webhook secret")
		}
	}
}

// TestDemoSinkAddrMustBeLoopback: the sink address is exempted from the
// SSRF guard, so it must be a loopback IP; problems are reported with the
// others.
func TestDemoSinkAddrMustBeLoopback(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"0.0.0.0:0", "localhost:0", "10.0.0.1:9000", "127.0.0.1"} {
		r := run(t, env("SENTRY_DATA_DIR", t.TempDir(), "SENTRY_DEMO_SINK_ADDR", addr), "", "demo", "--log-level", "loud")
		if r.code != 2 || !strings.Contains(r.stderr, fmt.Sprintf("SENTRY_DEMO_SINK_ADDR: must be a loopback IP and port such as 127.0.0.1:0, got %q", addr)) ||
			!strings.Contains(r.stderr, "SENTRY_LOG_LEVEL") {
			t.Fatalf("%s: %d %q", addr, r.code, r.stderr)
		}
	}
	if got, problem := parseSinkAddr("[::1]:8081"); problem != "" || got.String() != "[::1]:8081" {
		t.Fatalf("::1: %v %q", got, problem)
	}
}
