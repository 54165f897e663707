package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"sentryhub/store"
)

// Version is set at build time with -ldflags "-X sentryhub/app.Version=...".
var Version = "dev"

// Main runs one CLI invocation with explicit streams and environment, so
// tests drive every subcommand in-process.
type Main struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// Ready, when set, receives the server's base URL once it listens
	// (tests use it instead of polling).
	Ready func(url string)
	// connectors points first-party connectors at fakes in tests; the
	// zero value is production.
	connectors connectorOptions
	// passwords is the argon2id cost of new password hashes; the zero
	// value is production's (store.DefaultPasswordHashing). In-process
	// tests lower it: they test logins, not how hard a hash is to guess.
	passwords store.PasswordHashing
	// retries shortens the webhook dispatcher's retry schedule and
	// dead-letter delay for in-process tests that watch a delivery go
	// dead in real time; the zero value is the consumer contract's.
	retries retrySchedule
}

// retrySchedule overrides dispatcher.Config's RetryDelay and
// DeadLetterDelay when set.
type retrySchedule struct {
	delay      func(attempt int) time.Duration
	deadLetter time.Duration
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, m Main, args []string) error
}

func (m Main) commands() []command {
	return []command{
		{"serve", "run the hub (HTTP API, admin UI, dispatcher, scheduler)", runServe},
		{"demo", "run the hub with a generated key, demo data and a local webhook sink", runDemo},
		{"migrate", "apply (up) or list (status) database migrations", runMigrate},
		{"admin", "manage admin UI users (create)", runAdmin},
		{"token", "manage API tokens (create, list, revoke)", runToken},
		{"rotate-key", "re-encrypt every stored secret with a new SENTRY_ENCRYPTION_KEY", runRotateKey},
		{"audit", "check the audit log (verify) or print its head to anchor elsewhere (head)", runAudit},
		{"backup", "write a consistent copy of the database while serve runs", runBackup},
		{"connector", "validate connector manifests (check) or reset a stuck sync (reset-sync)", runConnector},
		{"keygen", "print a new random Fernet key for SENTRY_ENCRYPTION_KEY", runKeygen},
		{"healthcheck", "exit 0 when a local serve answers /healthz (for container health checks)", runHealthcheck},
		{"bench", "measure the webhook dispatcher end to end (dispatch)", runBench},
		{"version", "print the version", runVersion},
	}
}

// exitUsage marks errors that already printed usage.
var errUsage = errors.New("usage")

// Run executes args and returns the process exit code: 0 success, 1 failure,
// 2 bad usage.
func (m Main) Run(ctx context.Context, args []string) int {
	if m.Getenv == nil {
		m.Getenv = os.Getenv
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		m.usage()
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range m.commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, m, args[1:])
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		}
		fmt.Fprintf(m.Stderr, "sentryhub %s: %v\n", c.name, err)
		var ce *ConfigError
		if errors.As(err, &ce) {
			return 2
		}
		return 1
	}
	fmt.Fprintf(m.Stderr, "sentryhub: unknown command %q\n\n", args[0])
	m.usage()
	return 2
}

func (m Main) usage() {
	fmt.Fprintln(m.Stderr, "Usage: sentryhub <command> [flags]\n\nCommands:")
	cmds := m.commands()
	for _, c := range cmds {
		fmt.Fprintf(m.Stderr, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(m.Stderr, "\nRun 'sentryhub <command> -h' for a command's flags. Settings come from flags or")
	fmt.Fprintln(m.Stderr, "environment variables (SENTRY_*); see README.md.")
}

// flagSet makes a FlagSet for a subcommand whose -h prints to stderr.
func (m Main) flagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("sentryhub "+name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(m.Stderr, "Usage: sentryhub %s\n\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// newLogger writes JSON lines to stderr at level.
func (m Main) newLogger(level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(m.Stderr, &slog.HandlerOptions{Level: level}))
}

func subcommand(args []string, valid ...string) (string, []string, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return "", nil, fmt.Errorf("missing subcommand (one of: %s)", strings.Join(valid, ", "))
	}
	for _, v := range valid {
		if args[0] == v {
			return v, args[1:], nil
		}
	}
	return "", nil, fmt.Errorf("unknown subcommand %q (one of: %s)", args[0], strings.Join(valid, ", "))
}
