package web

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"sentryhub/clock"
)

// fakeListener hands out the connections pushed to it, and signals each
// Accept call so a test knows when the wrapper asked for the next one.
type fakeListener struct {
	conns   chan net.Conn
	asked   chan struct{}
	closed  chan struct{}
	closeMu sync.Once
}

func newFakeListener() *fakeListener {
	return &fakeListener{conns: make(chan net.Conn, 16), asked: make(chan struct{}, 16), closed: make(chan struct{})}
}

func (f *fakeListener) Accept() (net.Conn, error) {
	select {
	case f.asked <- struct{}{}:
	default: // nobody is counting
	}
	select {
	case c := <-f.conns:
		return c, nil
	case <-f.closed:
		return nil, net.ErrClosed
	}
}

func (f *fakeListener) Close() error   { f.closeMu.Do(func() { close(f.closed) }); return nil }
func (f *fakeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }

// fakeConn is a connection from addr that reports its Close.
type fakeConn struct {
	net.Conn
	addr   net.Addr
	closed chan struct{}
	once   sync.Once
}

func newFakeConn(ip string) *fakeConn {
	return &fakeConn{addr: &net.TCPAddr{IP: net.ParseIP(ip), Port: 40000}, closed: make(chan struct{})}
}

func (c *fakeConn) RemoteAddr() net.Addr { return c.addr }
func (c *fakeConn) Close() error         { c.once.Do(func() { close(c.closed) }); return nil }

// warnLog collects warning messages and signals each.
type warnLog struct {
	mu    sync.Mutex
	msgs  []string
	attrs []map[string]any
	seen  chan string
}

func (w *warnLog) Enabled(context.Context, slog.Level) bool { return true }
func (w *warnLog) Handle(_ context.Context, r slog.Record) error {
	a := map[string]any{}
	r.Attrs(func(at slog.Attr) bool { a[at.Key] = at.Value.Any(); return true })
	w.mu.Lock()
	w.msgs = append(w.msgs, r.Message)
	w.attrs = append(w.attrs, a)
	w.mu.Unlock()
	if w.seen != nil {
		w.seen <- r.Message
	}
	return nil
}
func (w *warnLog) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnLog) WithGroup(string) slog.Handler      { return w }

func (w *warnLog) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.msgs)
}

func acceptOne(t *testing.T, ln net.Listener) net.Conn {
	t.Helper()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestLimitListenerPerAddress: past its cap an address's new connections
// are closed at once, other addresses are not affected, closing one frees
// a slot, and the warning is rate-limited.
func TestLimitListenerPerAddress(t *testing.T) {
	t.Parallel()
	fc := clock.NewFake(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	logs := &warnLog{}
	f := newFakeListener()
	ln := LimitListener(f, ConnLimits{PerAddr: 2}, slog.New(logs), fc)
	defer ln.Close()

	a1, a2, a3, a4 := newFakeConn("10.0.0.1"), newFakeConn("10.0.0.1"), newFakeConn("10.0.0.1"), newFakeConn("10.0.0.1")
	b1 := newFakeConn("10.0.0.2")
	// IPv6 addresses of one /64 count together.
	v6a, v6b, v6c := newFakeConn("2001:db8::1"), newFakeConn("2001:db8::ffff:2"), newFakeConn("2001:db8::3")
	m := newFakeConn("10.0.0.9")
	for _, c := range []net.Conn{a1, a2, a3, a4, b1, v6a, v6b, v6c, m} {
		f.conns <- c
	}
	var got []net.Addr
	var accepted []net.Conn
	for range 6 {
		c := acceptOne(t, ln)
		accepted = append(accepted, c)
		got = append(got, c.RemoteAddr())
	}
	want := []net.Addr{a1.addr, a2.addr, b1.addr, v6a.addr, v6b.addr, m.addr}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("accepted %v, want %v", got, want)
		}
	}
	for _, c := range []*fakeConn{a3, a4, v6c} {
		select {
		case <-c.closed:
		default:
			t.Fatalf("%v past the per-address cap was not closed", c.addr)
		}
	}
	// Closing one of 10.0.0.1's connections frees its slot (twice is once).
	accepted[0].Close()
	accepted[0].Close()
	a5 := newFakeConn("10.0.0.1")
	f.conns <- a5
	if got := acceptOne(t, ln); got.RemoteAddr() != a5.addr {
		t.Fatalf("after a close, accepted %v", got.RemoteAddr())
	}
	// Three refusals (a3, a4, v6c) within 10 s: one warning.
	if n := logs.count(); n != 1 || !strings.Contains(logs.msgs[0], "per address") || logs.attrs[0]["remote"] != "10.0.0.1" {
		t.Fatalf("warnings %v %v", logs.msgs, logs.attrs)
	}
	fc.Advance(limitWarnEvery)
	a6 := newFakeConn("10.0.0.1")
	f.conns <- a6
	f.conns <- newFakeConn("10.0.0.3")
	acceptOne(t, ln)
	<-a6.closed
	if n := logs.count(); n != 2 || logs.attrs[1]["refused_since_last_warning"] != int64(3) {
		t.Fatalf("warnings after the interval %v %v", logs.msgs, logs.attrs)
	}
}

// TestLimitListenerTotal: at the total cap Accept waits (after one
// warning) and resumes when a connection closes; Close ends the wait.
func TestLimitListenerTotal(t *testing.T) {
	t.Parallel()
	fc := clock.NewFake(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	logs := &warnLog{seen: make(chan string, 4)}
	f := newFakeListener()
	ln := LimitListener(f, ConnLimits{Total: 2, PerAddr: 10}, slog.New(logs), fc)
	f.conns <- newFakeConn("10.0.0.1")
	f.conns <- newFakeConn("10.0.0.2")
	c1, _ := acceptOne(t, ln), acceptOne(t, ln)
	<-f.asked
	<-f.asked
	third := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			t.Error(err)
		}
		third <- c
	}()
	if msg := <-logs.seen; !strings.Contains(msg, "connection limit reached") {
		t.Fatalf("warning %q", msg)
	}
	select {
	case <-f.asked:
		t.Fatal("the listener accepted past the total cap")
	default:
	}
	c1.Close()
	f.conns <- newFakeConn("10.0.0.3")
	if c := <-third; c.RemoteAddr().String() != "10.0.0.3:40000" {
		t.Fatalf("after a close, accepted %v", c.RemoteAddr())
	}
	// Waiting again, then Close: Accept returns net.ErrClosed.
	errc := make(chan error, 1)
	go func() {
		_, err := ln.Accept()
		errc <- err
	}()
	fc.Advance(limitWarnEvery)
	<-logs.seen
	ln.Close()
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
}

// TestConnectionCapKeepsHealthzAnswering runs the real server behind the
// limits on loopback: one address opening its cap plus more idle
// connections has the excess closed at once, its admitted ones still
// served, and another address is answered meanwhile.
func TestConnectionCapKeepsHealthzAnswering(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	const perAddr, extra = 4, 6
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := LimitListener(inner, ConnLimits{Total: 64, PerAddr: perAddr}, slog.New(slog.DiscardHandler), clock.Real{})
	srv := NewHTTPServer("", e.s.Handler(), slog.New(slog.DiscardHandler))
	// Long enough that an admitted idle connection stays open for the
	// whole test: a closed connection then means "refused".
	srv.ReadHeaderTimeout = time.Minute
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	addr := inner.Addr().String()
	dialFrom := func(local string) (net.Conn, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
		return d.Dial("tcp", addr)
	}
	healthz := func(c net.Conn) error {
		c.SetDeadline(time.Now().Add(30 * time.Second)) // a guard against hanging, not a measurement
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
	var conns []net.Conn
	for range perAddr + extra {
		c, err := dialFrom("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	// The excess: closed by the server without a byte (the kernel's FIFO
	// accept queue hands the first perAddr to the server first).
	for i, c := range conns[perAddr:] {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		n, err := c.Read(make([]byte, 1))
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("excess connection %d was not closed", i)
		}
		if n != 0 || err == nil {
			t.Fatalf("excess connection %d: read %d, %v; want it closed", i, n, err)
		}
	}
	// Another address is served while 127.0.0.1 is at its cap.
	other, err := dialFrom("127.0.0.2")
	if err != nil {
		t.Skipf("no second loopback address here: %v", err)
	}
	defer other.Close()
	if err := healthz(other); err != nil {
		t.Fatalf("healthz from another address: %v", err)
	}
	// The admitted idle ones were kept, and are served.
	for i, c := range conns[:perAddr] {
		if err := healthz(c); err != nil {
			t.Fatalf("admitted connection %d: %v", i, err)
		}
	}
}
