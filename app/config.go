package app

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fernet/fernet-go"
)

// Config is the hub's configuration, loaded once from flags whose defaults
// come from the environment.
type Config struct {
	EncryptionKey       string // SENTRY_ENCRYPTION_KEY (never logged)
	DataDir             string
	Addr                string
	BaseURL             string
	LogLevel            slog.Level
	AllowPrivateTargets []netip.Prefix
	MaxConns            int // open HTTP connections, all clients together
	MaxConnsPerAddr     int // open HTTP connections from one client address

	DispatcherVisibilityFloor time.Duration
	DispatcherConnectTimeout  time.Duration
	DispatcherReadTimeout     time.Duration
	DispatcherHTTPTimeout     time.Duration
	DispatcherSweepInterval   time.Duration
}

// DBPath is the SQLite file inside the data directory.
func (c Config) DBPath() string { return filepath.Join(c.DataDir, "sentryhub.db") }

// Key parses EncryptionKey. Load has already validated it when required.
func (c Config) Key() (*fernet.Key, error) { return parseKey(c.EncryptionKey) }

// SecureCookies reports whether the UI is served over https.
func (c Config) SecureCookies() bool { return strings.HasPrefix(c.BaseURL, "https://") }

// ConfigError lists every invalid setting, each naming its variable.
type ConfigError struct{ Problems []string }

func (e *ConfigError) Error() string {
	return "invalid configuration:\n  - " + strings.Join(e.Problems, "\n  - ")
}

// envVar documents one setting for flags, README and error messages.
type envVar struct {
	env, flag, def, help string
}

var settings = []envVar{
	{"SENTRY_ENCRYPTION_KEY", "", "", "Fernet key (32 bytes, url-safe base64) that encrypts credentials and webhook secrets; required by serve"},
	{"SENTRY_DATA_DIR", "data-dir", "./data", "directory holding the SQLite database"},
	{"SENTRY_ADDR", "addr", "127.0.0.1:8080", "listen address of the HTTP server"},
	{"SENTRY_BASE_URL", "base-url", "", "public URL of the hub (https:// makes cookies Secure); default http://ADDR"},
	{"SENTRY_LOG_LEVEL", "log-level", "info", "debug, info, warn or error"},
	{"SENTRY_ALLOW_PRIVATE_TARGETS", "allow-private-targets", "", "comma-separated CIDRs exempted from the SSRF guard (local development and tests only)"},
	{"SENTRY_MAX_CONNS", "max-conns", "1024", "open HTTP connections allowed in total; at the limit new ones wait"},
	{"SENTRY_MAX_CONNS_PER_ADDR", "max-conns-per-addr", "128", "open HTTP connections allowed from one client address (IPv6: one /64); past it new ones are closed"},
	{"DISPATCHER_VISIBILITY_FLOOR_MS", "dispatcher-visibility-floor-ms", "0", "delay before a committed event is dispatched (ms)"},
	{"DISPATCHER_HTTP_CONNECT_TIMEOUT_MS", "dispatcher-connect-timeout-ms", "5000", "webhook DNS+TCP+TLS timeout (ms)"},
	{"DISPATCHER_HTTP_READ_TIMEOUT_MS", "dispatcher-read-timeout-ms", "8000", "webhook per-read timeout (ms)"},
	{"DISPATCHER_HTTP_TIMEOUT_MS", "dispatcher-http-timeout-ms", "10000", "webhook wall-clock timeout per attempt (ms)"},
	{"DISPATCHER_SWEEP_INTERVAL_MS", "dispatcher-sweep-interval-ms", "2000", "how often the dispatcher looks for events another process appended (ms)"},
}

// loadOptions says what a subcommand needs.
type loadOptions struct {
	requireKey bool // serve, rotate-key: the key must be present and valid
	noServer   bool // commands that do not listen: skip listener flags
}

// loadConfig parses args (flags after the subcommand) with defaults from
// getenv, and validates everything, reporting all problems together.
func loadConfig(fs *flag.FlagSet, args []string, getenv func(string) string, opt loadOptions) (Config, error) {
	vals := map[string]*string{}
	for _, s := range settings {
		v := getenv(s.env)
		if v == "" {
			v = s.def
		}
		if s.flag == "" || (opt.noServer && s.env != "SENTRY_DATA_DIR") {
			vals[s.env] = &v
			continue
		}
		vals[s.env] = fs.String(s.flag, v, s.help+" ("+s.env+")")
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	get := func(env string) string { return strings.TrimSpace(*vals[env]) }

	var c Config
	var problems []string
	bad := func(env, format string, a ...any) {
		problems = append(problems, env+": "+fmt.Sprintf(format, a...))
	}

	c.EncryptionKey = get("SENTRY_ENCRYPTION_KEY")
	if c.EncryptionKey == "" {
		if opt.requireKey {
			bad("SENTRY_ENCRYPTION_KEY", "is required (generate one with `sentryhub keygen` or `python3 -c \"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())\"`); the hub never generates one for serve")
		}
	} else if _, err := parseKey(c.EncryptionKey); err != nil {
		bad("SENTRY_ENCRYPTION_KEY", "%v", err)
	}

	c.DataDir = get("SENTRY_DATA_DIR")
	if c.DataDir == "" {
		bad("SENTRY_DATA_DIR", "must not be empty")
	}

	c.Addr = get("SENTRY_ADDR")
	if _, port, err := net.SplitHostPort(c.Addr); err != nil {
		bad("SENTRY_ADDR", "must be host:port, got %q", c.Addr)
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		bad("SENTRY_ADDR", "port must be 0-65535, got %q", port)
	}

	c.BaseURL = strings.TrimRight(get("SENTRY_BASE_URL"), "/")
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			bad("SENTRY_BASE_URL", "must be an absolute http:// or https:// URL without credentials, got %q", c.BaseURL)
		}
	} else {
		c.BaseURL = "http://" + c.Addr
	}

	if err := c.LogLevel.UnmarshalText([]byte(get("SENTRY_LOG_LEVEL"))); err != nil {
		bad("SENTRY_LOG_LEVEL", "must be debug, info, warn or error, got %q", get("SENTRY_LOG_LEVEL"))
	}

	for _, s := range strings.Split(get("SENTRY_ALLOW_PRIVATE_TARGETS"), ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			bad("SENTRY_ALLOW_PRIVATE_TARGETS", "%q is not a CIDR prefix (e.g. 127.0.0.0/8)", s)
			continue
		}
		c.AllowPrivateTargets = append(c.AllowPrivateTargets, p.Masked())
	}

	count := func(env string, min, max int) int {
		n, err := strconv.Atoi(get(env))
		if err != nil || n < min || n > max {
			bad(env, "must be an integer between %d and %d, got %q", min, max, get(env))
			return 0
		}
		return n
	}
	c.MaxConns = count("SENTRY_MAX_CONNS", 1, 1_000_000)
	c.MaxConnsPerAddr = count("SENTRY_MAX_CONNS_PER_ADDR", 1, 1_000_000)

	ms := func(env string, min, max int) time.Duration {
		n, err := strconv.Atoi(get(env))
		if err != nil || n < min || n > max {
			bad(env, "must be an integer number of milliseconds between %d and %d, got %q", min, max, get(env))
			return 0
		}
		return time.Duration(n) * time.Millisecond
	}
	c.DispatcherVisibilityFloor = ms("DISPATCHER_VISIBILITY_FLOOR_MS", 0, 60_000)
	c.DispatcherConnectTimeout = ms("DISPATCHER_HTTP_CONNECT_TIMEOUT_MS", 1, 120_000)
	c.DispatcherReadTimeout = ms("DISPATCHER_HTTP_READ_TIMEOUT_MS", 1, 120_000)
	c.DispatcherHTTPTimeout = ms("DISPATCHER_HTTP_TIMEOUT_MS", 1, 300_000)
	c.DispatcherSweepInterval = ms("DISPATCHER_SWEEP_INTERVAL_MS", 10, 600_000)

	if len(problems) > 0 {
		return Config{}, &ConfigError{Problems: problems}
	}
	return c, nil
}

// parseKey validates a Fernet key without ever echoing it.
func parseKey(s string) (*fernet.Key, error) {
	k, err := fernet.DecodeKey(strings.TrimSpace(s))
	if err != nil {
		return nil, errors.New("is not a valid Fernet key (expected 32 bytes in url-safe base64, 44 characters)")
	}
	return k, nil
}
