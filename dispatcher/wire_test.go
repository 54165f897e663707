package dispatcher

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"sentryhub/store"
	"sentryhub/testsignal"
)

// outcome is one attempt result as the actor recorded it.
type outcome = resultSignal

// watch returns the signal of every attempt outcome. Call before start.
func (e *env) watch() *testsignal.Signal[outcome] {
	e.d.signals.Result.InitSize(e.t, "an attempt outcome", 100000)
	return &e.d.signals.Result
}

// requireTools reports whether the named tools are on PATH; without them a
// test is skipped locally and fails in CI (CI=true).
func requireTools(t *testing.T, tools ...string) bool {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is required in CI: %v", tool, err)
			}
			t.Logf("skipping the %s check: %v", tool, err)
			return false
		}
	}
	return true
}

// testdataFile returns the absolute path of a file in testdata, for the
// external verifiers to load.
func testdataFile(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// wireCase is one captured request handed to the external verifiers.
type wireCase struct {
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body_b64"`
	Gen1    string            `json:"gen1_b64"`
	Gen2    string            `json:"gen2_b64,omitempty"`
	WhSec   string            `json:"whsec,omitempty"`
}

func wireCases(reqs []captured, gen1, gen2 []byte, whsec string) []wireCase {
	var out []wireCase
	for _, r := range reqs {
		h := map[string]string{}
		for k := range r.header {
			h[k] = r.header.Get(k)
		}
		c := wireCase{Headers: h, Body: base64.StdEncoding.EncodeToString(r.body),
			Gen1: base64.StdEncoding.EncodeToString(gen1), WhSec: whsec}
		if gen2 != nil {
			c.Gen2 = base64.StdEncoding.EncodeToString(gen2)
		}
		out = append(out, c)
	}
	return out
}

func writeCases(t *testing.T, cases []wireCase) string {
	b, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "cases.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// runPythonVerifier runs testdata/verify_sentry.py (the Python verifier
// of docs/webhooks.md) on every case and returns its answers: "" for a
// genuine delivery, else its reason.
func runPythonVerifier(t *testing.T, cases []wireCase) []string {
	t.Helper()
	const harness = `
import base64, json, sys
sys.path.insert(0, sys.argv[1])
from verify_sentry import delivery_problem
out = []
for c in json.load(open(sys.argv[2])):
    secrets = {1: base64.b64decode(c["gen1_b64"])}
    if c.get("gen2_b64"):
        secrets[2] = base64.b64decode(c["gen2_b64"])
    out.append(delivery_problem(c["headers"], base64.b64decode(c["body_b64"]), secrets))
print(json.dumps(out))
`
	// -B: importing the verifier must not write __pycache__ into testdata.
	cmd := exec.Command("python3", "-B", "-c", harness, filepath.Dir(testdataFile(t, "verify_sentry.py")), writeCases(t, cases))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("python3 verifier: %v\n%s", err, stderr.String())
	}
	var out []*string
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("python3 verifier output %q: %v", stdout.String(), err)
	}
	return problems(out)
}

// runNodeVerifier runs testdata/verify_sentry.js (the Node verifier of
// docs/webhooks.md) on every case, with lowercase header names as Node
// delivers them, and returns its answers as runPythonVerifier does. When
// modules is set it also runs the standardwebhooks library's
// Webhook.verify on the whsec form of each case that has one.
func runNodeVerifier(t *testing.T, cases []wireCase, modules string) (ours []string, standard []bool) {
	t.Helper()
	const harness = `
const fs = require('fs');
const { deliveryProblem } = require(process.argv[1]);
let Webhook = null;
if (process.argv[3]) { Webhook = require(process.argv[3] + '/node_modules/standardwebhooks').Webhook; }
const out = { ours: [], standard: [] };
for (const c of JSON.parse(fs.readFileSync(process.argv[2]))) {
  const headers = {};
  for (const [k, v] of Object.entries(c.headers)) headers[k.toLowerCase()] = v;
  const secrets = { 1: Buffer.from(c.gen1_b64, 'base64') };
  if (c.gen2_b64) secrets[2] = Buffer.from(c.gen2_b64, 'base64');
  const body = Buffer.from(c.body_b64, 'base64');
  out.ours.push(deliveryProblem(headers, body, secrets));
  if (Webhook && c.whsec) {
    try { new Webhook(c.whsec).verify(body.toString('utf8'), headers); out.standard.push(true); }
    catch (e) { out.standard.push(false); }
  }
}
console.log(JSON.stringify(out));
`
	args := []string{"-e", harness, testdataFile(t, "verify_sentry.js"), writeCases(t, cases)}
	if modules != "" {
		args = append(args, modules)
	}
	cmd := exec.Command("node", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node verifier: %v\n%s", err, stderr.String())
	}
	var out struct {
		Ours     []*string `json:"ours"`
		Standard []bool    `json:"standard"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("node verifier output %q: %v", stdout.String(), err)
	}
	return problems(out.Ours), out.Standard
}

// problems turns the verifiers' answers (null or a reason) into strings,
// "" for a genuine delivery.
func problems(answers []*string) []string {
	out := make([]string, len(answers))
	for i, a := range answers {
		if a == nil {
			continue
		}
		out[i] = *a
		if *a == "" {
			out[i] = "(empty reason)"
		}
	}
	return out
}

// installStandardWebhooks installs the standardwebhooks npm package into a
// temporary directory, once per test binary.
var npmOnce struct {
	sync.Once
	dir string
	err error
}

func installStandardWebhooks(t *testing.T) string {
	t.Helper()
	if !requireTools(t, "node", "npm") {
		return ""
	}
	npmOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sentryhub-npm-")
		if err != nil {
			npmOnce.err = err
			return
		}
		cmd := exec.Command("npm", "install", "--prefix", dir, "--no-audit", "--no-fund", "standardwebhooks")
		out, err := cmd.CombinedOutput()
		if err != nil {
			npmOnce.err = err
			npmOnce.dir = string(out)
			return
		}
		npmOnce.dir = dir
	})
	if npmOnce.err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("npm install standardwebhooks: %v\n%s", npmOnce.err, npmOnce.dir)
		}
		t.Logf("skipping the standardwebhooks library check: npm install failed: %v", npmOnce.err)
		return ""
	}
	return npmOnce.dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if npmOnce.dir != "" && npmOnce.err == nil {
		os.RemoveAll(npmOnce.dir)
	}
	os.Exit(code)
}

// verifyStandard is the Standard Webhooks verification algorithm from its
// specification, independent of the dispatcher's code.
func verifyStandard(h http.Header, body []byte, whsec string, now time.Time) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(whsec, "whsec_"))
	if err != nil {
		return false
	}
	id, tsStr, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	ts, err := strconv.ParseInt(tsStr, 10, 64)
	if err != nil || id == "" || now.Unix()-ts > 300 || ts-now.Unix() > 300 {
		return false
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + tsStr + "."))
	m.Write(body)
	want := base64.StdEncoding.EncodeToString(m.Sum(nil))
	for _, s := range strings.Fields(sigs) {
		if v, sig, ok := strings.Cut(s, ","); ok && v == "v1" && hmac.Equal([]byte(sig), []byte(want)) {
			return true
		}
	}
	return false
}

var deliveryIDRe = regexp.MustCompile(`^([0-9]+):([0-9]+)$`)

func TestWireFormat(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := newConsumer(t, nil, nil)
	e.start()
	_, key := e.create(store.SubscriptionCreate{URL: c.srv.URL + "/hook"})
	ids := e.appendEvents(6, 2)
	got := c.waitN(t, len(ids))

	evs, _, err := e.db.ListEvents(context.Background(), store.EventQuery{After: ids[0] - 1, Limit: len(ids)})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[int64]store.Event{}
	for _, ev := range evs {
		byID[ev.ID] = ev
	}
	for _, r := range got {
		id := r.eventID(t)
		ev := byID[id]
		want, err := ev.Envelope()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(r.body, want) {
			t.Fatalf("body differs from the canonical envelope:\n got %s\nwant %s", r.body, want)
		}
		h := r.header
		if h.Get("Content-Type") != "application/json" || h.Get("X-Sentry-Signature-Generation") != "1" ||
			h.Get("X-Sentry-Event-Type") != ev.EventType || h.Get("Content-Length") != "" && h.Get("Content-Length") != strconv.Itoa(len(want)) {
			t.Fatalf("headers %v", h)
		}
		m := deliveryIDRe.FindStringSubmatch(h.Get("X-Sentry-Delivery-Id"))
		if m == nil || m[1] != strconv.FormatInt(id, 10) || m[2] != h.Get("X-Sentry-Timestamp") {
			t.Fatalf("X-Sentry-Delivery-Id %q, timestamp %q", h.Get("X-Sentry-Delivery-Id"), h.Get("X-Sentry-Timestamp"))
		}
		ts, _ := strconv.ParseInt(h.Get("X-Sentry-Timestamp"), 10, 64)
		if d := time.Now().Unix() - ts; d < 0 || d > 5 {
			t.Fatalf("X-Sentry-Timestamp %d is not the dispatch time", ts)
		}
		if h.Get("webhook-id") != "" || h.Get("webhook-signature") != "" {
			t.Fatal("Standard Webhooks headers must be opt-in")
		}
		if !verifySentry(h, r.body, gen1Only(key), time.Now()) {
			t.Fatalf("the Go verifier rejects %v", h)
		}
		if verifySentry(h, r.body, gen1Only([]byte("wrong")), time.Now()) {
			t.Fatal("a wrong secret verifies")
		}
	}

	// Every real delivery is genuine; then altered copies of the first one,
	// each breaking one rule of docs/webhooks.md, so that a verifier that
	// accepts everything, or checks only the HMAC, fails here.
	cases := wireCases(got, key, nil, "")
	want := make([]string, len(cases))
	names := make([]string, len(cases))
	for i, r := range got {
		names[i] = fmt.Sprintf("delivery of event %d", r.eventID(t))
	}
	now := time.Now().Unix()
	prev := []byte("the previous secret, generation 2")
	first := got[0]
	resigned := func(secret []byte, gen string, ts int64) http.Header {
		h := first.header.Clone()
		h.Set("X-Sentry-Signature-Generation", gen)
		h.Set("X-Sentry-Timestamp", strconv.FormatInt(ts, 10))
		h.Set("X-Sentry-Signature", "sha256="+hmacHex(secret, strconv.FormatInt(ts, 10)+".", first.body))
		return h
	}
	with := func(name, value string) http.Header {
		h := first.header.Clone()
		if value == "" {
			h.Del(name)
		} else {
			h.Set(name, value)
		}
		return h
	}
	for _, a := range []struct {
		name       string
		header     http.Header
		body       []byte
		gen1, gen2 []byte
		want       string
	}{
		{"body altered", first.header, append(bytes.Clone(first.body), ' '), key, nil, "mismatch"},
		{"wrong secret", first.header, first.body, []byte("not the secret"), nil, "mismatch"},
		{"generation 2 during a rotation", resigned(prev, "2", now), first.body, key, prev, ""},
		{"generation 2 after its window", resigned(prev, "2", now), first.body, key, nil, "no-secret"},
		{"generation 3", resigned(key, "3", now), first.body, key, nil, "unknown-generation"},
		{"signed 1000 s ago", resigned(key, "1", now-1000), first.body, key, nil, "outside-window"},
		{"signed 1000 s ahead", resigned(key, "1", now+1000), first.body, key, nil, "outside-window"},
		{"timestamp not a number", with("X-Sentry-Timestamp", "soon"), first.body, key, nil, "bad-header"},
		{"no signature", with("X-Sentry-Signature", ""), first.body, key, nil, "no-signature"},
		{"another algorithm", with("X-Sentry-Signature", "sha1="+strings.TrimPrefix(first.header.Get("X-Sentry-Signature"), "sha256=")), first.body, key, nil, "no-signature"},
	} {
		cases = append(cases, wireCases([]captured{{header: a.header, body: a.body}}, a.gen1, a.gen2, "")...)
		want = append(want, a.want)
		names = append(names, a.name)
		if got := verifySentry(a.header, a.body, func(g int) []byte { return map[int][]byte{1: a.gen1, 2: a.gen2}[g] }, time.Now()); got != (a.want == "") {
			t.Fatalf("%s: the Go verifier says %v", a.name, got)
		}
	}
	wantAnswers := func(answers []string, who string) {
		t.Helper()
		if len(answers) != len(cases) {
			t.Fatalf("%s returned %d answers for %d cases", who, len(answers), len(cases))
		}
		for i, a := range answers {
			if a != want[i] {
				t.Errorf("%s, %s: %q, want %q (\"\": genuine)", who, names[i], a, want[i])
			}
		}
	}
	if requireTools(t, "python3") {
		wantAnswers(runPythonVerifier(t, cases), "the Python verifier")
	}
	if requireTools(t, "node") {
		ours, _ := runNodeVerifier(t, cases, "")
		wantAnswers(ours, "the Node verifier")
	}
}

// TestDocsShowTheTestedVerifiers holds docs/webhooks.md to the verifiers
// the wire tests run: a consumer who copies the Python or Node example
// copies code that has verified real deliveries.
func TestDocsShowTheTestedVerifiers(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("..", "docs", "webhooks.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ file, fence string }{
		{"verify_sentry.py", "```python\n"},
		{"verify_sentry.js", "```js\n"},
	} {
		code, err := os.ReadFile(testdataFile(t, f.file))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(doc, []byte(f.fence+string(code)+"```\n")) {
			t.Errorf("docs/webhooks.md does not show testdata/%s verbatim in a %q block", f.file, strings.TrimSpace(f.fence))
		}
	}
}

// hmacHex is the lowercase hex HMAC-SHA256 of prefix+body under key.
func hmacHex(key []byte, prefix string, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(prefix))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func TestStandardWebhooks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withFakeClock(time.Now().Truncate(time.Second)))
	outs := e.watch()
	var mu sync.Mutex
	failures := 1
	c := newConsumer(t, e.fake.Now, func(w http.ResponseWriter, r *http.Request, cp captured) bool {
		mu.Lock()
		defer mu.Unlock()
		if failures > 0 {
			failures--
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	e.start()
	sub, key := e.create(store.SubscriptionCreate{URL: c.srv.URL, StandardWebhooks: true})
	whsec := "whsec_" + base64.StdEncoding.EncodeToString(key)
	e.appendEvents(1, 1)
	first := c.wait(t)
	o := outs.WaitOrTimeout()
	e.fake.Set(o.upd.NextAttemptAt)
	retry := c.wait(t)
	outs.WaitOrTimeout()

	// webhook-id is stable across retries of one delivery, while the
	// timestamp and both signatures are fresh.
	if first.header.Get("webhook-id") == "" || first.header.Get("webhook-id") != retry.header.Get("webhook-id") {
		t.Fatalf("webhook-id %q then %q", first.header.Get("webhook-id"), retry.header.Get("webhook-id"))
	}
	if first.header.Get("webhook-timestamp") == retry.header.Get("webhook-timestamp") ||
		retry.header.Get("webhook-timestamp") != retry.header.Get("X-Sentry-Timestamp") {
		t.Fatal("webhook-timestamp must be the (fresh) dispatch time")
	}
	if first.header.Get("X-Sentry-Delivery-Id") == retry.header.Get("X-Sentry-Delivery-Id") {
		t.Fatal("X-Sentry-Delivery-Id must change on a retry")
	}
	// A replay is a new delivery: a new webhook-id.
	ds := deliveries(t, e.db, sub.ID, "")
	e.untilCommitted("first delivery succeeded", func() bool {
		d, err := e.db.Delivery(context.Background(), sub.ID, ds[0].ID)
		return err == nil && d.Status == store.DeliverySucceeded
	})
	if _, err := e.d.Replay(context.Background(), "test", sub.ID, ds[0].ID); err != nil {
		t.Fatal(err)
	}
	replay := c.wait(t)
	if replay.header.Get("webhook-id") == first.header.Get("webhook-id") {
		t.Fatal("a replay must carry a new webhook-id")
	}
	reqs := []captured{first, retry, replay}
	for _, r := range reqs {
		if !verifyStandard(r.header, r.body, whsec, e.fake.Now()) {
			t.Fatalf("Standard Webhooks verification (spec algorithm) fails: %v", r.header)
		}
		if !verifySentry(r.header, r.body, gen1Only(key), e.fake.Now()) {
			t.Fatal("the X-Sentry signature must still be there")
		}
	}
	// The real library, as receivers run it (its clock is the wall clock;
	// the fake clock started at the wall clock's time).
	if dir := installStandardWebhooks(t); dir != "" {
		cases := wireCases(reqs, key, nil, whsec)
		tampered := cases[0]
		tampered.Body = base64.StdEncoding.EncodeToString(bytes.Replace(first.body, []byte(`"event_id"`), []byte(`"event_id" `), 1))
		cases = append(cases, tampered)
		ours, std := runNodeVerifier(t, cases, dir)
		for i := range cases {
			want := i < len(cases)-1
			if std[i] != want || (ours[i] == "") != want {
				t.Fatalf("case %d: standardwebhooks %v, our Node verifier %q, want genuine=%v", i, std[i], ours[i], want)
			}
		}
		t.Logf("standardwebhooks (npm) and our Node verifier agree on %d requests", len(cases))
	}
}

func TestNoSecretOrBodyInLogsOrDatabase(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const leak = "postgres://admin:hunter2@db.internal/prod"
	c := newConsumer(t, nil, func(w http.ResponseWriter, r *http.Request, cp captured) bool {
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte("stack trace: " + leak))
		return true
	})
	outs := e.watch()
	e.start()
	_, key := e.create(store.SubscriptionCreate{URL: c.srv.URL + "/hook?token=querysecret", Ordering: ptr(store.OrderingAggregate)})
	// A network failure too: its error names the URL unless stripped.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String() + "/hook?token=querysecret"
	ln.Close()
	e.create(store.SubscriptionCreate{Name: "refused", URL: refused, Ordering: ptr(store.OrderingAggregate)})
	e.appendEvents(3, 3)
	kinds := map[store.ErrorKind]int{}
	for range 6 {
		o := outs.WaitOrTimeout()
		kinds[o.upd.Attempt.ErrorKind]++
	}
	if kinds[store.Kind5xx] != 3 || kinds[store.KindConnection] != 3 {
		t.Fatalf("outcomes %v", kinds)
	}
	e.stop()
	e.db.Close()
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(e.db.Path + suffix)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("hunter2")) || bytes.Contains(b, []byte("stack trace")) {
			t.Fatalf("a response body was persisted in %s", e.db.Path+suffix)
		}
		if bytes.Contains(b, key) {
			t.Fatalf("the plaintext secret is in %s", e.db.Path+suffix)
		}
	}
	logs := e.logs.String()
	for _, bad := range []string{string(key), "hunter2", "querysecret", `"aggregate_id":`, `"seq":`} {
		if strings.Contains(logs, bad) {
			t.Fatalf("logs contain %q:\n%s", bad, logs)
		}
	}
	if !strings.Contains(logs, "webhook attempt failed") {
		t.Fatalf("failed attempts are not logged:\n%s", logs)
	}
}
