package app

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestConnectionCapSettings(t *testing.T) {
	t.Parallel()
	load := func(kv ...string) (Config, error) {
		return loadConfig(Main{Stderr: io.Discard}.flagSet("serve", "serve"), nil, env(kv...), loadOptions{})
	}
	cfg, err := load()
	if err != nil || cfg.MaxConns != 1024 || cfg.MaxConnsPerAddr != 128 {
		t.Fatalf("defaults: %d, %d, %v", cfg.MaxConns, cfg.MaxConnsPerAddr, err)
	}
	if cfg, err := load("SENTRY_MAX_CONNS", "50", "SENTRY_MAX_CONNS_PER_ADDR", "5"); err != nil || cfg.MaxConns != 50 || cfg.MaxConnsPerAddr != 5 {
		t.Fatalf("set: %+v, %v", cfg, err)
	}
	_, err = load("SENTRY_MAX_CONNS", "0", "SENTRY_MAX_CONNS_PER_ADDR", "lots")
	if err == nil || !strings.Contains(err.Error(), "SENTRY_MAX_CONNS:") || !strings.Contains(err.Error(), "SENTRY_MAX_CONNS_PER_ADDR:") {
		t.Fatalf("invalid caps: %v", err)
	}
}

// TestServeCapsConnectionsPerAddress: serve wraps its listener with the
// caps. Once one address holds its SENTRY_MAX_CONNS_PER_ADDR connections,
// its next one is closed at once, while another address is still served.
func TestServeCapsConnectionsPerAddress(t *testing.T) {
	t.Parallel()
	// Stopping serve while its dispatcher is still starting fails the run,
	// so the test ends only after the dispatcher has started.
	started := &lineSignal{want: "webhook dispatcher started", seen: make(chan struct{})}
	base := startServeMain(t, env("SENTRY_ENCRYPTION_KEY", testKey(t), "SENTRY_DATA_DIR", t.TempDir(),
		"SENTRY_LOG_LEVEL", "info", "SENTRY_MAX_CONNS_PER_ADDR", "2"),
		func(m *Main) { m.Stderr = io.MultiWriter(m.Stderr, started) })
	t.Cleanup(func() { // runs before startServeMain's, which stops serve
		select {
		case <-started.seen:
		case <-time.After(30 * time.Second):
			t.Error("the dispatcher did not start")
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	dial := func(local string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
		c, err := d.Dial("tcp", u.Host)
		if err != nil {
			t.Skipf("cannot dial from %s: %v", local, err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(30 * time.Second)) // a guard against hanging, not a measurement
		return c
	}
	healthz := func(c net.Conn) error {
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: hub\r\n\r\n"); err != nil {
			return err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return errors.New(resp.Status)
		}
		return nil
	}
	// Two kept-alive connections from 127.0.0.1 fill its cap.
	for range 2 {
		if err := healthz(dial("127.0.0.1")); err != nil {
			t.Fatal(err)
		}
	}
	extra := dial("127.0.0.1")
	n, err := extra.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); ok && ne.Timeout() || n != 0 || err == nil {
		t.Fatalf("third connection from one address: read %d, %v; want it closed", n, err)
	}
	if err := healthz(dial("127.0.0.2")); err != nil {
		t.Fatalf("another address while the first is at its cap: %v", err)
	}
}

// lineSignal closes seen the first time a write contains want.
type lineSignal struct {
	want string
	seen chan struct{}
	once sync.Once
}

func (l *lineSignal) Write(p []byte) (int, error) {
	if strings.Contains(string(p), l.want) {
		l.once.Do(func() { close(l.seen) })
	}
	return len(p), nil
}
