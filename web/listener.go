package web

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"sentryhub/clock"
)

// ConnLimits caps the connections the server holds open. Without them one
// host opening connections and sending nothing (~22k half-open ones) made
// even /healthz fail; ReadHeaderTimeout alone frees each after seconds, not
// before the next thousand arrive.
type ConnLimits struct {
	// Total caps connections from all addresses together. At the cap the
	// listener stops accepting until one closes, so new connections wait in
	// the kernel's backlog rather than being refused.
	Total int
	// PerAddr caps connections from one client address (one IPv4 address,
	// or one IPv6 /64, which a single host usually holds whole). Past it a
	// new connection from that address is closed at once, so one host can
	// never hold the Total cap against everyone else.
	PerAddr int
}

// limitWarnEvery is how often, at most, each kind of cap is logged.
const limitWarnEvery = 10 * time.Second

// LimitListener wraps ln with lim; a zero field is no cap. Each cap logs a
// warning when hit, at most once per 10 s per kind, with how many
// connections it refused or delayed since the last warning.
func LimitListener(ln net.Listener, lim ConnLimits, log *slog.Logger, c clock.Clock) net.Listener {
	l := &limitListener{Listener: ln, lim: lim, log: log, clock: c,
		perAddr: map[netip.Addr]int{}, done: make(chan struct{})}
	if lim.Total > 0 {
		l.sem = make(chan struct{}, lim.Total)
	}
	return l
}

type limitListener struct {
	net.Listener
	lim       ConnLimits
	log       *slog.Logger
	clock     clock.Clock
	sem       chan struct{} // one token per open connection; nil: no total cap
	done      chan struct{} // closed by Close, ends a wait for a token
	closeOnce sync.Once

	mu      sync.Mutex
	perAddr map[netip.Addr]int
	total   warnState
	addr    warnState
}

// warnState rate-limits one kind of warning.
type warnState struct {
	last  time.Time
	count int // events since the last warning
}

// note counts an event and reports whether to log now, with the count.
func (w *warnState) note(now time.Time) (int, bool) {
	w.count++
	if !w.last.IsZero() && now.Sub(w.last) < limitWarnEvery {
		return 0, false
	}
	n := w.count
	w.last, w.count = now, 0
	return n, true
}

// Accept returns the next connection within the caps. It waits while the
// total cap is reached and closes, without returning, connections past
// their address's cap.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		if !l.acquire() {
			return nil, net.ErrClosed
		}
		c, err := l.Listener.Accept()
		if err != nil {
			l.release()
			return nil, err
		}
		key := connAddrKey(c.RemoteAddr())
		if !l.admit(key) {
			c.Close()
			l.release()
			continue
		}
		return &limitConn{Conn: c, l: l, key: key}, nil
	}
}

// acquire takes a total-cap token, waiting (after one rate-limited
// warning) when none is free; false when the listener closed meanwhile.
func (l *limitListener) acquire() bool {
	if l.sem == nil {
		return true
	}
	select {
	case l.sem <- struct{}{}:
		return true
	default:
	}
	l.mu.Lock()
	n, warn := l.total.note(l.clock.Now())
	l.mu.Unlock()
	if warn {
		l.log.Warn("connection limit reached: new connections wait until one closes",
			slog.Int("max_conns", l.lim.Total), slog.Int("waits_since_last_warning", n))
	}
	select {
	case l.sem <- struct{}{}:
		return true
	case <-l.done:
		return false
	}
}

func (l *limitListener) release() {
	if l.sem != nil {
		<-l.sem
	}
}

// admit counts a connection from key, or refuses it past the per-address
// cap (logging at most once per interval).
func (l *limitListener) admit(key netip.Addr) bool {
	if l.lim.PerAddr <= 0 || !key.IsValid() {
		return true
	}
	l.mu.Lock()
	if l.perAddr[key] < l.lim.PerAddr {
		l.perAddr[key]++
		l.mu.Unlock()
		return true
	}
	n, warn := l.addr.note(l.clock.Now())
	l.mu.Unlock()
	if warn {
		l.log.Warn("connection limit per address reached: closing its new connections",
			slog.String("remote", key.String()), slog.Int("max_conns_per_addr", l.lim.PerAddr),
			slog.Int("refused_since_last_warning", n))
	}
	return false
}

func (l *limitListener) forget(key netip.Addr) {
	if l.lim.PerAddr <= 0 || !key.IsValid() {
		return
	}
	l.mu.Lock()
	if l.perAddr[key]--; l.perAddr[key] <= 0 {
		delete(l.perAddr, key)
	}
	l.mu.Unlock()
}

// Close stops the listener and ends any wait for a free slot.
func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// connAddrKey is the address a connection counts against: the IPv4 address, or
// the IPv6 /64. It is invalid (no per-address cap) for non-IP connections.
func connAddrKey(a net.Addr) netip.Addr {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.Addr{}
	}
	ip := ta.AddrPort().Addr().Unmap()
	if ip.Is6() {
		if p, err := ip.Prefix(64); err == nil {
			return p.Addr()
		}
	}
	return ip
}

// limitConn gives its slots back when closed, once.
type limitConn struct {
	net.Conn
	l    *limitListener
	key  netip.Addr
	once sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.forget(c.key)
		c.l.release()
	})
	return err
}
