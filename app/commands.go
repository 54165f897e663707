package app

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fernet/fernet-go"
	"golang.org/x/term"

	"sentryhub/store"
	"sentryhub/store/vault"
)

// openStore opens and migrates the database of cfg. With an encryption key
// (see cliKey) it also hands the store the audit chain's key and binds the
// database to the key (vault.BindKey), so a command run with the wrong key
// stops here, before it writes anything.
func (m Main) openStore(ctx context.Context, cfg Config) (*store.DB, error) {
	key, err := cliKey(cfg)
	if err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, cfg.DBPath(), append(auditKeyOption(key), store.WithPasswordHashing(m.passwords))...)
	if err != nil {
		return nil, err
	}
	// Schema first, then the key check, and only then Migrate's sealing of
	// an unkeyed audit log: a wrong key must not seal it.
	if err := db.MigrateSchema(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if key != nil {
		if err := keyError(cfg, vault.New(db, key).BindKey(ctx)); err != nil {
			db.Close()
			return nil, err
		}
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// keyError names the data directory in a key mismatch.
func keyError(cfg Config, err error) error {
	if errors.Is(err, vault.ErrKeyMismatch) {
		return &KeyMismatchError{Dir: cfg.DataDir}
	}
	return err
}

// KeyMismatchError says the data directory was created with another
// encryption key than the one configured.
type KeyMismatchError struct{ Dir string }

func (e *KeyMismatchError) Error() string {
	return fmt.Sprintf("data directory %s belongs to a different encryption key than SENTRY_ENCRYPTION_KEY: "+
		"start with the key it was created with (after rotate-key, the new one), or point SENTRY_DATA_DIR (--data-dir) at another directory. "+
		"Nothing was changed", e.Dir)
}

// demoKeyFile is the key file demo keeps in its data directory.
const demoKeyFile = "demo-encryption.key"

// cliKey is the encryption key a command runs with: SENTRY_ENCRYPTION_KEY,
// or, when that is unset, the key file of a demo data directory, so `token
// create` and `audit verify` keep working on the demo's ./data. It is nil
// when there is neither: the store can then read the audit log but neither
// extend nor verify it, and says so.
func cliKey(cfg Config) (*fernet.Key, error) {
	if cfg.EncryptionKey != "" {
		return cfg.Key()
	}
	b, err := os.ReadFile(filepath.Join(cfg.DataDir, demoKeyFile))
	if err != nil {
		return nil, nil
	}
	k, err := parseKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("demo key file %s: %v", filepath.Join(cfg.DataDir, demoKeyFile), err)
	}
	return k, nil
}

// auditKeyOption hands the store the audit chain's key, derived from the
// encryption key; none without a key.
func auditKeyOption(key *fernet.Key) []store.Option {
	if key == nil {
		return nil
	}
	return []store.Option{store.WithAuditKey(store.DeriveAuditKey(key[:]))}
}

// cliActor names the operator in audit entries written from the CLI.
func (m Main) cliActor() string { return cliActorFrom(m.Getenv, user.Current) }

// cliActorFrom is "cli:" and $USER, else the OS account's name (cron and
// systemd units often run without $USER), else plain "cli".
func cliActorFrom(getenv func(string) string, current func() (*user.User, error)) string {
	if u := strings.TrimSpace(getenv("USER")); u != "" {
		return "cli:" + u
	}
	if u, err := current(); err == nil && strings.TrimSpace(u.Username) != "" {
		return "cli:" + strings.TrimSpace(u.Username)
	}
	return "cli"
}

func runMigrate(ctx context.Context, m Main, args []string) error {
	sub, rest, err := subcommand(args, "up", "status")
	if err != nil {
		fmt.Fprintln(m.Stderr, "Usage: sentryhub migrate up|status [--data-dir DIR]")
		return err
	}
	fs := m.flagSet("migrate "+sub, "migrate "+sub+" [flags]")
	cfg, err := loadConfig(fs, rest, m.Getenv, loadOptions{noServer: true})
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, cfg.DBPath())
	if err != nil {
		return err
	}
	defer db.Close()
	if sub == "up" {
		if err := db.Migrate(ctx); err != nil {
			return err
		}
	}
	st, err := db.MigrationStatuses(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tSTATE\tAPPLIED AT\tFILE")
	for _, s := range st {
		state, at := "pending", "-"
		if s.Applied {
			state, at = "applied", s.AppliedAt.UTC().Format("2006-01-02 15:04:05")
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", s.Version, state, at, s.Source)
	}
	return tw.Flush()
}

func runAdmin(ctx context.Context, m Main, args []string) error {
	_, rest, err := subcommand(args, "create")
	if err != nil {
		fmt.Fprintln(m.Stderr, "Usage: sentryhub admin create --email E [--role admin|viewer]")
		return err
	}
	fs := m.flagSet("admin create", "admin create --email E [--role admin|viewer] [flags]\n\nThe password is read from a prompt, or from the first line of stdin when stdin is\nnot a terminal (never from the command line, where it would land in shell history).")
	email := fs.String("email", "", "email address to log in with (required)")
	role := fs.String("role", store.RoleAdmin, "admin (can change settings) or viewer (read-only)")
	cfg, err := loadConfig(fs, rest, m.Getenv, loadOptions{noServer: true})
	if err != nil {
		return err
	}
	if *email == "" {
		fs.Usage()
		return errors.New("--email is required")
	}
	pw, err := m.readPassword()
	if err != nil {
		return err
	}
	db, err := m.openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	u, err := db.CreateUser(ctx, m.cliActor(), *email, *role, pw)
	if err != nil {
		var ve *store.ValidationError
		if errors.As(err, &ve) {
			return fmt.Errorf("%s: %s", ve.Message, formatFields(ve.Fields))
		}
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("a user with email %s already exists", *email)
		}
		return err
	}
	fmt.Fprintf(m.Stderr, "created %s user %s (id %d)\n", u.Role, u.Email, u.ID)
	return nil
}

func formatFields(f map[string]string) string {
	var parts []string
	for k, v := range f {
		parts = append(parts, k+" "+v)
	}
	return strings.Join(parts, "; ")
}

// readPassword prompts twice on a terminal, or reads one line from a pipe.
func (m Main) readPassword() (string, error) {
	if f, ok := m.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(m.Stderr, "Password: ")
		p1, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(m.Stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		fmt.Fprint(m.Stderr, "Repeat password: ")
		p2, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(m.Stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if string(p1) != string(p2) {
			return "", errors.New("passwords do not match")
		}
		return string(p1), nil
	}
	line, err := bufio.NewReader(io.LimitReader(m.Stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password on stdin")
	}
	return line, nil
}

func runToken(ctx context.Context, m Main, args []string) error {
	sub, rest, err := subcommand(args, "create", "list", "revoke")
	if err != nil {
		fmt.Fprintln(m.Stderr, "Usage: sentryhub token create --name N --scope S[,S...] | list | revoke --id N")
		return err
	}
	fs := m.flagSet("token "+sub, "token "+sub+" [flags]")
	var name, scopes *string
	var id *int64
	switch sub {
	case "create":
		name = fs.String("name", "", "what the token is for, e.g. erp-sync (required)")
		scopes = fs.String("scope", "", "comma-separated scopes: "+strings.Join(store.Scopes, ", ")+" (required; admin implies all)")
	case "revoke":
		id = fs.Int64("id", 0, "id of the token to revoke (see token list)")
	}
	cfg, err := loadConfig(fs, rest, m.Getenv, loadOptions{noServer: true})
	if err != nil {
		return err
	}
	db, err := m.openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	switch sub {
	case "create":
		sc, err := store.ParseScopes(*scopes)
		if err != nil {
			var ve *store.ValidationError
			errors.As(err, &ve)
			return fmt.Errorf("--scope: %s", ve.Fields["scopes"])
		}
		plain, t, err := db.CreateToken(ctx, m.cliActor(), *name, sc)
		if err != nil {
			var ve *store.ValidationError
			if errors.As(err, &ve) {
				return fmt.Errorf("--name: %s", ve.Fields["name"])
			}
			return err
		}
		// The token alone goes to stdout so scripts can capture it.
		fmt.Fprintln(m.Stdout, plain)
		fmt.Fprintf(m.Stderr, "created token %d %q with scopes %s; it is shown only once\n", t.ID, t.Name, strings.Join(t.Scopes, ","))
	case "list":
		toks, err := db.ListTokens(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tSCOPES\tCREATED\tLAST USED\tSTATE")
		for _, t := range toks {
			last, state := "never", "active"
			if t.LastUsedAt != nil {
				last = *t.LastUsedAt
			}
			if t.RevokedAt != nil {
				state = "revoked " + *t.RevokedAt
			}
			fmt.Fprintf(tw, "%d\t%s\t%s…\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Prefix, strings.Join(t.Scopes, ","), t.CreatedAt, last, state)
		}
		return tw.Flush()
	case "revoke":
		if *id <= 0 && fs.NArg() == 0 {
			return errors.New("--id is required")
		}
		if err := db.RevokeToken(ctx, m.cliActor(), *id); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no active token with id %d", *id)
			}
			return err
		}
		fmt.Fprintf(m.Stderr, "revoked token %d\n", *id)
	}
	return nil
}

func runRotateKey(ctx context.Context, m Main, args []string) error {
	fs := m.flagSet("rotate-key", "rotate-key --new-key-file FILE [flags]\n\nRe-encrypts every connector credential and webhook secret with the new key in one\ntransaction, then tells you to restart with SENTRY_ENCRYPTION_KEY set to the new key.\nStop serve first so no secret is written during the rotation.")
	keyFile := fs.String("new-key-file", "", "file holding the new Fernet key (required)")
	cfg, err := loadConfig(fs, args, m.Getenv, loadOptions{requireKey: true, noServer: true})
	if err != nil {
		return err
	}
	if *keyFile == "" {
		fs.Usage()
		return errors.New("--new-key-file is required")
	}
	raw, err := os.ReadFile(*keyFile)
	if err != nil {
		return fmt.Errorf("read new key: %w", err)
	}
	newKey, err := parseKey(string(raw))
	if err != nil {
		return fmt.Errorf("%s %v", *keyFile, err)
	}
	oldKey, err := cfg.Key()
	if err != nil {
		return err
	}
	if *oldKey == *newKey {
		return errors.New("the new key is the current key")
	}
	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return rotateWhileRunning(err)
	}
	defer lock.release()
	db, err := m.openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := vault.New(db, oldKey).Rotate(ctx, m.cliActor(), newKey)
	var re *vault.RotateError
	switch {
	case errors.As(err, &re) && errors.Is(re.Err, vault.ErrDecrypt):
		return fmt.Errorf("%s row %s does not open with SENTRY_ENCRYPTION_KEY (is it this data directory's key?); rolled back, nothing was changed", re.Table, re.Row)
	case errors.As(err, &re) && re.Table != "":
		return fmt.Errorf("%s row %s: %w; rolled back, nothing was changed", re.Table, re.Row, re.Err)
	case errors.As(err, &re):
		return fmt.Errorf("%w; rolled back, nothing was changed", re.Err)
	case err != nil:
		return err
	}
	fmt.Fprintf(m.Stderr, "re-encrypted %d connector credentials, %d webhook secrets and %d integration client secrets and re-sealed the audit log.\n",
		res.Credentials, res.WebhookSecrets, res.IntegrationSecrets)
	// The chain's MACs all changed: an anchor kept outside the hub must be
	// replaced by the new head (the audit.rekey entry records the old one).
	if rep, err := db.CheckAudit(ctx); err != nil {
		fmt.Fprintf(m.Stderr, "warning: %v; the problem was carried over unchanged, see `sentryhub audit verify`\n", err)
	} else {
		fmt.Fprintf(m.Stderr, "new audit head (store it in place of your previous anchor): %s\n", rep.Head)
	}
	fmt.Fprintln(m.Stderr, "Now restart serve with SENTRY_ENCRYPTION_KEY set to the new key.")
	return nil
}

// rotateWhileRunning explains why rotate-key refuses while serve runs: the
// running hub would keep sealing new secrets with the old key.
func rotateWhileRunning(err error) error {
	var busy *DataDirBusyError
	if errors.As(err, &busy) {
		return fmt.Errorf("%w. rotate-key needs the hub stopped: a running hub keeps encrypting with the old key", err)
	}
	return err
}

func runAudit(ctx context.Context, m Main, args []string) error {
	sub, rest, err := subcommand(args, "verify", "head")
	if err != nil {
		fmt.Fprintln(m.Stderr, "Usage: sentryhub audit verify [--head ID:MAC] | head [--data-dir DIR]")
		return err
	}
	var fs *flag.FlagSet
	var anchor *string
	switch sub {
	case "verify":
		fs = m.flagSet("audit verify", "audit verify [--head ID:MAC] [flags]\n\nChecks every link and MAC of the audit log, and that its newest row is the last\nid ever used, then names the first problem. With --head, also checks that the log\nstill holds a head printed earlier by `audit head`. Needs SENTRY_ENCRYPTION_KEY\n(in a demo data directory, its key file is used when that is unset).")
		anchor = fs.String("head", "", "an ID:MAC printed earlier by 'sentryhub audit head' and kept outside this host")
	case "head":
		fs = m.flagSet("audit head", "audit head [flags]\n\nVerifies the audit log, then prints its newest row as ID:MAC on stdout. Keep it\noutside this host and check it later with `sentryhub audit verify --head ID:MAC`.\nNeeds SENTRY_ENCRYPTION_KEY (in a demo data directory, its key file is used when\nthat is unset).")
	}
	cfg, err := loadConfig(fs, rest, m.Getenv, loadOptions{noServer: true})
	if err != nil {
		return err
	}
	var want store.AuditHead
	if anchor != nil && *anchor != "" {
		if want, err = store.ParseAuditHead(*anchor); err != nil {
			return fmt.Errorf("--head: %w", err)
		}
	}
	if _, err := os.Stat(cfg.DBPath()); err != nil {
		return fmt.Errorf("no database at %s: %w", cfg.DBPath(), err)
	}
	key, err := cliKey(cfg)
	if err != nil {
		return err
	}
	// Not migrated: checking a log (or a backup's) must not change it.
	db, err := store.Open(ctx, cfg.DBPath(), auditKeyOption(key)...)
	if err != nil {
		return err
	}
	defer db.Close()
	if key != nil {
		// A wrong key would show every MAC as broken; say what is wrong.
		if err := keyError(cfg, vault.New(db, key).CheckKey(ctx)); err != nil {
			return err
		}
	}
	rep, err := db.CheckAudit(ctx)
	if err != nil {
		return err
	}
	if sub == "head" {
		switch {
		case !rep.Keyed:
			return errors.New("the audit log is still on the unkeyed chain of an older version; start serve once with this key to seal it, then take its head")
		case rep.Head.ID == 0:
			return errors.New("the audit log is empty: nothing to anchor yet")
		}
		fmt.Fprintln(m.Stdout, rep.Head)
		fmt.Fprintf(m.Stderr, "head of %d audit entries; keep it outside this host and check it with: sentryhub audit verify --head %s\n", rep.Entries, rep.Head)
		return nil
	}
	if !rep.Keyed {
		fmt.Fprintf(m.Stdout, "audit log OK: %d entries, unkeyed hash chain of an older version intact (anyone with the file could recompute it); the next start of serve (or admin or token command) with this key seals it\n", rep.Entries)
	} else {
		fmt.Fprintf(m.Stdout, "audit log OK: %d entries, hash chain intact, head %s\n", rep.Entries, rep.Head)
	}
	if want.ID == 0 {
		return nil
	}
	via, err := db.VerifyAuditAnchor(ctx, want)
	if err != nil {
		return err
	}
	if via > 0 {
		fmt.Fprintf(m.Stdout, "anchored head %d holds: the key rotation recorded at row %d re-sealed the log from it\n", want.ID, via)
	} else {
		fmt.Fprintf(m.Stdout, "anchored head %d holds: rows 1 to %d are unchanged\n", want.ID, want.ID)
	}
	return nil
}

func runBackup(ctx context.Context, m Main, args []string) error {
	fs := m.flagSet("backup", "backup --to FILE [flags]\n\nWrites a consistent copy of the database (VACUUM INTO); safe while serve runs.")
	to := fs.String("to", "", "file to write (must not exist; its directory must)")
	cfg, err := loadConfig(fs, args, m.Getenv, loadOptions{noServer: true})
	if err != nil {
		return err
	}
	if *to == "" {
		fs.Usage()
		return errors.New("--to is required")
	}
	// SQLite would only say "unable to open database file".
	switch fi, err := os.Stat(filepath.Dir(*to)); {
	case errors.Is(err, iofs.ErrNotExist):
		return fmt.Errorf("--to %s: directory %s does not exist; create it first", *to, filepath.Dir(*to))
	case err != nil:
		return fmt.Errorf("--to %s: %w", *to, err)
	case !fi.IsDir():
		return fmt.Errorf("--to %s: %s is not a directory", *to, filepath.Dir(*to))
	}
	if _, err := os.Stat(cfg.DBPath()); err != nil {
		return fmt.Errorf("no database at %s: %w", cfg.DBPath(), err)
	}
	db, err := store.Open(ctx, cfg.DBPath())
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Backup(ctx, *to); err != nil {
		return err
	}
	fi, err := os.Stat(*to)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stderr, "backup written to %s (%s bytes)\n", *to, strconv.FormatInt(fi.Size(), 10))
	return nil
}

func runKeygen(ctx context.Context, m Main, args []string) error {
	fs := m.flagSet("keygen", "keygen\n\nPrints a new random Fernet key. Store it in a secret manager and pass it as SENTRY_ENCRYPTION_KEY.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var k fernet.Key
	if err := k.Generate(); err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	fmt.Fprintln(m.Stdout, k.Encode())
	return nil
}

func runVersion(ctx context.Context, m Main, args []string) error {
	fs := m.flagSet("version", "version")
	if err := fs.Parse(args); err != nil {
		return err
	}
	fmt.Fprintln(m.Stdout, "sentryhub", Version)
	return nil
}

// runHealthcheck probes /healthz of a local serve; the Docker HEALTHCHECK
// uses it because the runtime image has no curl.
func runHealthcheck(ctx context.Context, m Main, args []string) error {
	fs := m.flagSet("healthcheck", "healthcheck [--addr HOST:PORT]")
	addr := fs.String("addr", m.Getenv("SENTRY_ADDR"), "address serve listens on (SENTRY_ADDR)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	a := *addr
	if a == "" {
		a = "127.0.0.1:8080"
	}
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("bad address %q: %w", a, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthz: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthz answered %s", resp.Status)
	}
	return nil
}
