package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fernet/fernet-go"

	"sentryhub/store"
)

func testKey(t *testing.T) string {
	t.Helper()
	var k fernet.Key
	if err := k.Generate(); err != nil {
		t.Fatal(err)
	}
	return k.Encode()
}

// env builds a getenv from pairs.
func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

type result struct {
	code           int
	stdout, stderr string
}

// testMain is the Main of in-process runs: production's but for the
// cheapest argon2id cost (64 MiB a hash would be most of this package's
// CPU; the binary run as a child process keeps the real cost).
func testMain() Main {
	return Main{passwords: store.PasswordHashing{MemoryKiB: 8, Threads: 1}}
}

// run executes one CLI invocation in-process.
func run(t *testing.T, getenv func(string) string, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	m := testMain()
	m.Stdin, m.Stdout, m.Stderr, m.Getenv = strings.NewReader(stdin), &out, &errb, getenv
	code := m.Run(context.Background(), args)
	return result{code, out.String(), errb.String()}
}

// startServe runs `serve` on a random port until the test ends and returns
// its base URL.
func startServe(t *testing.T, getenv func(string) string, args ...string) string {
	t.Helper()
	return startServeMain(t, getenv, nil, args...)
}

// startServeMain is startServe with a hook to adjust Main before it runs
// (tests aim first-party connectors at fakes through it).
func startServeMain(t *testing.T, getenv func(string) string, adjust func(*Main), args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	urlc := make(chan string, 1)
	done := make(chan int, 1)
	var logs syncBuffer
	m := testMain()
	m.Stdin, m.Stdout, m.Stderr, m.Getenv = strings.NewReader(""), io.Discard, &logs, getenv
	m.Ready = func(u string) { urlc <- u }
	if adjust != nil {
		adjust(&m)
	}
	go func() {
		done <- m.Run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...))
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d: %s", code, logs.String())
		}
	})
	select {
	case u := <-urlc:
		return u
	case code := <-done:
		t.Fatalf("serve exited %d before listening: %s", code, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	return ""
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServeRequiresEncryptionKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		key  string
		want string
	}{
		{"missing", "", "SENTRY_ENCRYPTION_KEY: is required"},
		{"malformed", "not-a-key", "SENTRY_ENCRYPTION_KEY: is not a valid Fernet key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, env("SENTRY_ENCRYPTION_KEY", tc.key, "SENTRY_DATA_DIR", dir), "", "serve")
			if r.code == 0 {
				t.Fatal("serve started without a valid key")
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("stderr %q does not name the problem %q", r.stderr, tc.want)
			}
			if strings.Contains(r.stderr, "not-a-key") {
				t.Fatal("the bad key value was echoed")
			}
			if _, err := os.Stat(filepath.Join(dir, "demo-encryption.key")); err == nil {
				t.Fatal("serve generated a key file")
			}
		})
	}
}

func TestConfigReportsAllProblemsTogether(t *testing.T) {
	t.Parallel()
	r := run(t, env(
		"SENTRY_ENCRYPTION_KEY", "",
		"SENTRY_ADDR", "nonsense",
		"SENTRY_BASE_URL", "ftp://x",
		"SENTRY_LOG_LEVEL", "loud",
		"SENTRY_ALLOW_PRIVATE_TARGETS", "127.0.0.0/8,banana",
		"DISPATCHER_HTTP_TIMEOUT_MS", "-4",
	), "", "serve")
	if r.code != 2 {
		t.Fatalf("exit code %d, want 2", r.code)
	}
	for _, v := range []string{"SENTRY_ENCRYPTION_KEY", "SENTRY_ADDR", "SENTRY_BASE_URL", "SENTRY_LOG_LEVEL", `SENTRY_ALLOW_PRIVATE_TARGETS: "banana"`, "DISPATCHER_HTTP_TIMEOUT_MS"} {
		if !strings.Contains(r.stderr, v) {
			t.Errorf("stderr does not name %s:\n%s", v, r.stderr)
		}
	}
}

func TestConfigFlagsOverrideEnv(t *testing.T) {
	t.Parallel()
	fs := Main{Stderr: io.Discard}.flagSet("serve", "serve")
	cfg, err := loadConfig(fs, []string{"--addr", "127.0.0.1:9999", "--allow-private-targets", "10.0.0.0/8, ::1/128"},
		env("SENTRY_ADDR", "127.0.0.1:1", "SENTRY_ENCRYPTION_KEY", testKey(t)), loadOptions{requireKey: true})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:9999" || len(cfg.AllowPrivateTargets) != 2 || cfg.DataDir != "./data" || cfg.BaseURL != "http://127.0.0.1:9999" {
		t.Fatalf("unexpected config %+v", cfg)
	}
	if cfg.DispatcherHTTPTimeout != 10*time.Second || cfg.DispatcherConnectTimeout != 5*time.Second || cfg.DispatcherReadTimeout != 8*time.Second {
		t.Fatalf("dispatcher timeout defaults wrong: %+v", cfg)
	}
}

func TestEverySubcommandHasHelp(t *testing.T) {
	t.Parallel()
	for _, c := range (Main{}).commands() {
		args := []string{c.name, "-h"}
		switch c.name {
		case "migrate":
			args = []string{"migrate", "status", "-h"}
		case "admin":
			args = []string{"admin", "create", "-h"}
		case "token":
			args = []string{"token", "create", "-h"}
		case "audit":
			args = []string{"audit", "verify", "-h"}
		}
		t.Run(c.name, func(t *testing.T) {
			r := run(t, env(), "", args...)
			if r.code != 0 || !strings.Contains(r.stderr, "Usage: sentryhub "+c.name) {
				t.Fatalf("code %d, stderr %q", r.code, r.stderr)
			}
		})
	}
}

func getJSON(t *testing.T, method, url, token string, body io.Reader) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("X-WMS-Token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&v)
	return resp.StatusCode, v
}

// TestServeEndToEnd covers the done-when list against the real
// binary's code path: health, readiness, tokens made by the CLI while serve
// runs on the same data directory, 401 and 403.
func TestServeEndToEnd(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	getenv := env("SENTRY_ENCRYPTION_KEY", testKey(t), "SENTRY_DATA_DIR", dir, "SENTRY_LOG_LEVEL", "warn")
	base := startServe(t, getenv)

	for _, p := range []string{"/healthz", "/readyz"} {
		if code, _ := getJSON(t, "GET", base+p, "", nil); code != 200 {
			t.Fatalf("%s: %d", p, code)
		}
	}

	admin := run(t, getenv, "", "token", "create", "--name", "ops", "--scope", "admin")
	if admin.code != 0 {
		t.Fatalf("token create: %d %s", admin.code, admin.stderr)
	}
	tok := strings.TrimSpace(admin.stdout)
	if strings.Contains(tok, "\n") || !strings.HasPrefix(tok, "shub_") {
		t.Fatalf("stdout must be the token alone, got %q", admin.stdout)
	}
	events := strings.TrimSpace(run(t, getenv, "", "token", "create", "--name", "reader", "--scope", "events:read").stdout)

	code, body := getJSON(t, "GET", base+"/api/admin/audit", tok, nil)
	if code != 200 {
		t.Fatalf("admin token: %d %v", code, body)
	}
	entries, _ := body["entries"].([]any)
	if len(entries) < 2 {
		t.Fatalf("audit should list the two token creations, got %v", body)
	}
	if code, body := getJSON(t, "GET", base+"/api/admin/audit", "", nil); code != 401 || body["error"].(map[string]any)["code"] != "unauthorized" {
		t.Fatalf("no token: %d %v", code, body)
	}
	if code, _ := getJSON(t, "GET", base+"/api/admin/audit", "shub_wrong", nil); code != 401 {
		t.Fatalf("wrong token: %d", code)
	}
	if code, _ := getJSON(t, "GET", base+"/api/admin/audit", events, nil); code != 403 {
		t.Fatalf("wrong scope: %d", code)
	}

	// Revoking through the CLI takes effect on the running server.
	list := run(t, getenv, "", "token", "list")
	if !strings.Contains(list.stdout, "reader") || strings.Contains(list.stdout, events) {
		t.Fatalf("token list: %q", list.stdout)
	}
	if r := run(t, getenv, "", "token", "revoke", "--id", "1"); r.code != 0 {
		t.Fatalf("revoke: %s", r.stderr)
	}
	if code, _ := getJSON(t, "GET", base+"/api/admin/audit", tok, nil); code != 401 {
		t.Fatalf("revoked token: %d", code)
	}

	if r := run(t, getenv, "", "audit", "verify"); r.code != 0 || !strings.Contains(r.stdout, "hash chain intact") {
		t.Fatalf("audit verify: %d %q %q", r.code, r.stdout, r.stderr)
	}
}

func TestTokenCreateRejectsBadScope(t *testing.T) {
	t.Parallel()
	getenv := env("SENTRY_DATA_DIR", t.TempDir())
	r := run(t, getenv, "", "token", "create", "--name", "x", "--scope", "events:read,root")
	if r.code == 0 || !strings.Contains(r.stderr, `unknown scope "root"`) || r.stdout != "" {
		t.Fatalf("%d %q %q", r.code, r.stdout, r.stderr)
	}
}

func TestAdminCreateReadsPasswordFromStdin(t *testing.T) {
	t.Parallel()
	getenv := env("SENTRY_DATA_DIR", t.TempDir(), "SENTRY_ENCRYPTION_KEY", testKey(t))
	r := run(t, getenv, "correct horse battery\n", "admin", "create", "--email", "ops@example.com", "--role", "viewer")
	if r.code != 0 {
		t.Fatalf("admin create: %s", r.stderr)
	}
	if strings.Contains(r.stderr+r.stdout, "correct horse") {
		t.Fatal("password echoed")
	}
	if r := run(t, getenv, "short\n", "admin", "create", "--email", "b@example.com"); r.code == 0 || !strings.Contains(r.stderr, "password must be at least 12") {
		t.Fatalf("short password accepted: %q", r.stderr)
	}
	if r := run(t, getenv, "correct horse battery\n", "admin", "create", "--email", "ops@example.com"); r.code == 0 || !strings.Contains(r.stderr, "already exists") {
		t.Fatalf("duplicate accepted: %q", r.stderr)
	}
	if r := run(t, getenv, "", "admin", "create", "--email", "c@example.com", "--password", "x"); r.code == 0 {
		t.Fatal("a --password flag must not exist")
	}
}

func TestMigrateStatus(t *testing.T) {
	t.Parallel()
	getenv := env("SENTRY_DATA_DIR", t.TempDir())
	r := run(t, getenv, "", "migrate", "status")
	if r.code != 0 || !strings.Contains(r.stdout, "pending") || !strings.Contains(r.stdout, "00001_foundation.sql") {
		t.Fatalf("status before up: %d %q %q", r.code, r.stdout, r.stderr)
	}
	r = run(t, getenv, "", "migrate", "up")
	if r.code != 0 || strings.Contains(r.stdout, "pending") || !strings.Contains(r.stdout, "applied") {
		t.Fatalf("up: %d %q %q", r.code, r.stdout, r.stderr)
	}
}

func TestDemoKeyFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "demo-encryption.key")
	k1, err := demoKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v %v", fi.Mode(), err)
	}
	k2, err := demoKey(path)
	if err != nil || k1 != k2 {
		t.Fatal("demo key not reused")
	}
}

func TestDemoStartsAndPrintsLogin(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var out, logs syncBuffer
	urlc := make(chan string, 1)
	done := make(chan int, 1)
	go func() {
		done <- Main{passwords: testMain().passwords, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &logs, Getenv: env("SENTRY_LOG_LEVEL", "warn"),
			Ready: func(u string) { urlc <- u }}.Run(ctx, []string{"demo", "--data-dir", dir, "--addr", "127.0.0.1:0"})
	}()
	var base string
	select {
	case base = <-urlc:
	case code := <-done:
		t.Fatalf("demo exited %d: %s", code, logs.String())
	}
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("demo exit %d: %s", code, logs.String())
		}
	}()
	printed := out.String()
	key, _ := os.ReadFile(filepath.Join(dir, "demo-encryption.key"))
	if len(key) == 0 || strings.Contains(printed+logs.String(), strings.TrimSpace(string(key))) {
		t.Fatal("demo key missing or printed")
	}
	if !strings.Contains(printed, base+"/") || !strings.Contains(printed, demoEmail) || !strings.Contains(printed, "Password:") {
		t.Fatalf("demo output lacks URL or login: %q", printed)
	}
	if code, _ := getJSON(t, "GET", base+"/readyz", "", nil); code != 200 {
		t.Fatalf("readyz %d", code)
	}
	// Demo data: a warehouse with stock and orders in several states.
	tok := strings.TrimSpace(run(t, env("SENTRY_DATA_DIR", dir), "", "token", "create", "--name", "t", "--scope", "admin").stdout)
	if code, body := getJSON(t, "GET", base+"/api/v1/inventory?warehouse_id=1", tok, nil); code != 200 || len(body["inventory"].([]any)) != 4 {
		t.Fatalf("demo inventory: %d %v", code, body)
	}
	if code, body := getJSON(t, "GET", base+"/api/v1/events?limit=1000", tok, nil); code != 200 || len(body["events"].([]any)) < 10 {
		t.Fatalf("demo events: %d %v", code, body)
	}
}

func TestBackupWhileWriting(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := testKey(t)
	getenv := env("SENTRY_DATA_DIR", dir, "SENTRY_ENCRYPTION_KEY", key)
	if r := run(t, getenv, "", "migrate", "up"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	started := make(chan struct{})
	wg.Add(1)
	go func() { // a concurrent writer, as serve would be
		defer wg.Done()
		for i := 0; ctx.Err() == nil && i < 2000; i++ {
			run(t, getenv, "", "token", "create", "--name", "w", "--scope", "events:read")
			if i == 0 {
				close(started)
			}
		}
	}()
	<-started
	to := filepath.Join(t.TempDir(), "copy.db")
	r := run(t, getenv, "", "backup", "--to", to)
	cancel()
	wg.Wait()
	if r.code != 0 {
		t.Fatalf("backup: %s", r.stderr)
	}
	// The copy opens, is fully migrated and its audit chain verifies.
	if r := run(t, env("SENTRY_DATA_DIR", filepath.Dir(to), "SENTRY_ENCRYPTION_KEY", key), "", "audit", "verify"); r.code == 0 {
		t.Fatal("verify on a dir without sentryhub.db should not pass silently")
	}
	copyDir := t.TempDir()
	if err := os.Rename(to, filepath.Join(copyDir, "sentryhub.db")); err != nil {
		t.Fatal(err)
	}
	v := run(t, env("SENTRY_DATA_DIR", copyDir, "SENTRY_ENCRYPTION_KEY", key), "", "audit", "verify")
	if v.code != 0 {
		t.Fatalf("backup copy does not verify: %s", v.stderr)
	}
	if r := run(t, getenv, "", "backup", "--to", filepath.Join(copyDir, "sentryhub.db")); r.code == 0 {
		t.Fatal("backup overwrote an existing file")
	}
}
