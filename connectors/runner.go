package connectors

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"sentryhub/clock"
	"sentryhub/settings"
	"sentryhub/store"
	"sentryhub/store/vault"
	"sentryhub/testsignal"
)

// CredentialVault is the part of *vault.Vault the framework uses.
type CredentialVault interface {
	PutCredentials(ctx context.Context, actor, connector string, warehouseID int64, values map[string]vault.Secret) error
	DeleteCredentials(ctx context.Context, actor, connector string, warehouseID int64) error
	CredentialKeys(ctx context.Context, connector string, warehouseID int64) ([]string, error)
	Credentials(ctx context.Context, connector string, warehouseID int64) (map[string]vault.Secret, error)
}

// RunnerConfig tunes the sync state machine. Zero fields get the defaults
// in parentheses.
type RunnerConfig struct {
	// HeartbeatEvery is how often a running sync proves it is alive (30s).
	HeartbeatEvery time.Duration
	// StaleAfter: a running sync whose heartbeat is older is taken over by
	// the next claim (5m).
	StaleAfter time.Duration
	// MaxRunAge bounds a run: it is cancelled after this long, and a claim
	// takes over a run that started longer ago whatever its heartbeat (1h,
	// the seed's threshold).
	MaxRunAge time.Duration
	// Retries is how many times a run that failed transiently is run again
	// on top of the HTTP helper's own retries (3), RetryDelay apart (30s).
	// Negative means none.
	Retries    int
	RetryDelay time.Duration
	// Overlap is how far before the stored cursor the next incremental
	// sync starts reading (2m), covering upstream clock skew and indexing
	// lag; upserts are idempotent, so re-read records change nothing.
	Overlap time.Duration
	// ErrorThreshold failures in a row show the sync as error (3).
	ErrorThreshold int
	// KeepRuns is the history kept per connector + warehouse + sync type (50).
	KeepRuns int
	// FinishTimeout bounds the final state write of a cancelled run (10s).
	FinishTimeout time.Duration
	// MaxPushAttempts: a fulfillment push still failing transiently after
	// this many attempts is marked failed (12; the first three retries are
	// RetryDelay apart, then backoff from 5 minutes doubling to 6 hours).
	MaxPushAttempts int
}

// withDefaults returns c with every zero field set to its default; a
// negative one is an error naming it (Retries < 0 is documented as "none").
func (c RunnerConfig) withDefaults() (RunnerConfig, error) {
	if err := settings.NonNegative("connectors: RunnerConfig",
		settings.Named("HeartbeatEvery", int64(c.HeartbeatEvery)), settings.Named("StaleAfter", int64(c.StaleAfter)),
		settings.Named("MaxRunAge", int64(c.MaxRunAge)), settings.Named("RetryDelay", int64(c.RetryDelay)),
		settings.Named("Overlap", int64(c.Overlap)), settings.Named("FinishTimeout", int64(c.FinishTimeout)),
		settings.Named("ErrorThreshold", int64(c.ErrorThreshold)), settings.Named("KeepRuns", int64(c.KeepRuns)),
		settings.Named("MaxPushAttempts", int64(c.MaxPushAttempts))); err != nil {
		return c, err
	}
	c.HeartbeatEvery = cmp.Or(c.HeartbeatEvery, 30*time.Second)
	c.StaleAfter = cmp.Or(c.StaleAfter, 5*time.Minute)
	c.MaxRunAge = cmp.Or(c.MaxRunAge, time.Hour)
	c.Retries = max(cmp.Or(c.Retries, 3), 0)
	c.RetryDelay = cmp.Or(c.RetryDelay, 30*time.Second)
	c.Overlap = cmp.Or(c.Overlap, 2*time.Minute)
	c.ErrorThreshold = cmp.Or(c.ErrorThreshold, store.DefaultSyncErrorThreshold)
	c.KeepRuns = cmp.Or(c.KeepRuns, store.DefaultSyncRunsKept)
	c.FinishTimeout = cmp.Or(c.FinishTimeout, 10*time.Second)
	c.MaxPushAttempts = cmp.Or(c.MaxPushAttempts, 12)
	return c, nil
}

// RunnerDeps are the Runner's collaborators.
type RunnerDeps struct {
	Registry *Registry
	DB       *store.DB
	Vault    CredentialVault
	HTTP     *HTTPPool
	Clock    clock.Clock
	Log      *slog.Logger
	Metrics  *Metrics // optional
	// Finished receives every run's outcome once a test initialises it
	// (before NewRunner); a no-op otherwise.
	Finished testsignal.Signal[Outcome]
}

// Runner executes syncs through the state machine.
type Runner struct {
	cfg  RunnerConfig
	deps RunnerDeps
}

// NewRunner returns a Runner, or an error for a negative setting.
func NewRunner(cfg RunnerConfig, deps RunnerDeps) (*Runner, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	return &Runner{cfg: cfg, deps: deps}, nil
}

// RunOptions describe why and how a run starts.
type RunOptions struct {
	// Trigger is recorded in the history: "manual", "schedule",
	// "fulfillment".
	Trigger string
	// Full ignores the cursor and reads everything.
	Full bool
}

// Outcome is how a run ended.
type Outcome struct {
	RunID    string          `json:"run_id"`
	Key      store.SyncKey   `json:"key"`
	Status   store.RunStatus `json:"status"`
	Result   SyncResult      `json:"result"`
	Attempts int             `json:"attempts"`
	// Error is the failure, sanitized and scrubbed of credentials.
	Error string `json:"error,omitempty"`
	// Err is the failure as returned (for errors.Is); its text may not
	// have been scrubbed by the connector, so never log or show it: use
	// Error.
	Err      error         `json:"-"`
	TookOver string        `json:"took_over,omitempty"`
	Cursor   *time.Time    `json:"cursor,omitempty"`
	Duration time.Duration `json:"duration"`
}

// Run is a claimed sync, ready to execute.
type Run struct {
	r        *Runner
	key      store.SyncKey
	id       string
	opts     RunOptions
	info     Info
	factory  Factory
	claim    store.SyncClaim
	executed atomic.Bool
}

// ID returns the run id.
func (run *Run) ID() string { return run.id }

// TookOver returns the run id of the stale run this one replaced, or "".
func (run *Run) TookOver() string { return run.claim.TookOver }

// Claim is set_running for key: it checks that the connector is registered
// (store.ErrNotFound otherwise) and supports the sync type (a
// *store.ValidationError otherwise), then claims the sync state row. A run
// already in progress makes it fail with a *store.DuplicateRunError, which
// is not retried. The returned Run must be executed (or abandoned).
func (r *Runner) Claim(ctx context.Context, key store.SyncKey, opts RunOptions) (*Run, error) {
	info, factory, ok := r.deps.Registry.Lookup(key.Connector)
	if !ok {
		return nil, fmt.Errorf("connector %q: %w", key.Connector, store.ErrNotFound)
	}
	c, ok := CapabilityOf(key.SyncType)
	if !ok {
		return nil, &store.ValidationError{Message: fmt.Sprintf("unknown sync type %q", key.SyncType),
			Fields: map[string]string{"sync_type": "must be one of orders, items, inventory, fulfillment"}}
	}
	if !info.Supports(c) {
		return nil, &store.ValidationError{Message: fmt.Sprintf("connector %s does not support %s", key.Connector, c),
			Fields: map[string]string{"sync_type": "not supported by this connector (capabilities: " + joinCaps(info.Capabilities) + ")"}}
	}
	id := uuid.NewString()
	claim, err := r.deps.DB.ClaimSync(ctx, key, store.ClaimOptions{RunID: id, StaleAfter: r.cfg.StaleAfter,
		MaxRunAge: r.cfg.MaxRunAge, Trigger: opts.Trigger})
	if err != nil {
		return nil, err
	}
	if claim.TookOver != "" {
		r.deps.Log.Warn("took over stale sync run", slog.String("sync", key.String()),
			slog.String("run_id", id), slog.String("stale_run_id", claim.TookOver))
	}
	return &Run{r: r, key: key, id: id, opts: opts, info: info, factory: factory, claim: claim}, nil
}

func joinCaps(cs []Capability) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}

// Run claims key and executes the run, returning its outcome; the error is
// Claim's.
func (r *Runner) Run(ctx context.Context, key store.SyncKey, opts RunOptions) (Outcome, error) {
	run, err := r.Claim(ctx, key, opts)
	if err != nil {
		return Outcome{}, err
	}
	return run.Execute(ctx), nil
}

// Abandon releases a claimed run that will not be executed.
func (run *Run) Abandon(ctx context.Context) {
	if run.executed.Swap(true) {
		return
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), run.r.cfg.FinishTimeout)
	defer cancel()
	_ = run.r.deps.DB.FinishSync(fctx, run.key, run.id, store.SyncRunRecord{Trigger: run.opts.Trigger,
		Status: store.RunInterrupted, StartedAt: *run.claim.State.StartedAt, Notes: "abandoned before it started",
		KeepRuns: run.r.cfg.KeepRuns, ErrorThreshold: run.r.cfg.ErrorThreshold})
}

var errLeaseLost = errors.New("sync run lost its lease to a newer run")

// Execute runs the claimed sync to its end: heartbeats, the connector call
// with run-level retries, and the final state write (set_success or
// set_error). Cancelling ctx interrupts the run, which then releases the row
// as interrupted. Execute runs at most once per Run.
func (run *Run) Execute(parent context.Context) Outcome {
	r := run.r
	out := Outcome{RunID: run.id, Key: run.key, TookOver: run.claim.TookOver}
	if run.executed.Swap(true) {
		out.Status, out.Error = store.RunFailed, "run already executed"
		return out
	}
	start := r.deps.Clock.Now()
	syncStart := *run.claim.State.StartedAt
	log := r.deps.Log.With(slog.String("connector", run.key.Connector), slog.Int64("warehouse_id", run.key.WarehouseID),
		slog.String("sync_type", run.key.SyncType), slog.String("run_id", run.id))

	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	ctx, cancelAge := context.WithTimeout(ctx, r.cfg.MaxRunAge)
	defer cancelAge()

	var lost atomic.Bool
	var wg sync.WaitGroup
	hbCtx, stopHeartbeat := context.WithCancel(ctx)
	wg.Go(func() { r.heartbeat(hbCtx, run, &lost, cancel, log) })

	var since time.Time
	if c := run.claim.Previous.Cursor; c != nil && !run.opts.Full {
		since = c.Add(-r.cfg.Overlap)
	}
	check := func() error {
		if lost.Load() {
			return store.ErrRunSuperseded
		}
		return nil
	}
	env, conn, err := r.build(ctx, run.info, run.factory, run.key.WarehouseID, check)
	scrub := env.HTTP.Scrub
	if s, ok := env.Sink.(*StoreSink); ok {
		s.countFor(run.key, run.id) // live progress for the connector page
	}
	var res SyncResult
	if err != nil && run.key.SyncType == SyncFulfillment {
		// Not configured (yet): the due pushes wait and count an attempt,
		// so they back off instead of being retried every poll.
		k := store.FulfillmentKey{Connector: run.key.Connector, WarehouseID: run.key.WarehouseID}
		if serr := r.settleDue(ctx, k, store.FulfillmentPending, cleanError(scrub, err), 0); serr != nil {
			log.Error("defer fulfillment pushes", slog.Any("error", serr))
		}
	}
	if err == nil {
		retries := r.cfg.Retries
		if run.key.SyncType == SyncFulfillment {
			retries = 0 // each push keeps its own retry schedule
		}
		// The page shows the attempt in progress (or, during the retry
		// delay, the one due next) and the error that ended the last.
		attempt := func(n int, prevErr string) {
			if perr := r.deps.DB.StartSyncAttempt(ctx, run.key, run.id, n, prevErr); perr != nil && ctx.Err() == nil {
				log.Warn("record sync attempt", slog.Any("error", perr)) // only the display suffers
			}
		}
		attempt(1, "")
		for {
			out.Attempts++
			res, err = r.call(ctx, run.key, env, conn, since)
			if err == nil || ctx.Err() != nil || !retryable(err) || out.Attempts > retries {
				break
			}
			prevErr := cleanError(scrub, err)
			log.Warn("sync attempt failed; retrying", slog.Int("attempt", out.Attempts),
				slog.Duration("delay", r.cfg.RetryDelay), slog.String("error", prevErr))
			attempt(out.Attempts+1, prevErr)
			if clock.Sleep(ctx, r.deps.Clock, r.cfg.RetryDelay) != nil {
				break
			}
		}
	}
	stopHeartbeat()
	wg.Wait()

	rec := store.SyncRunRecord{Trigger: run.opts.Trigger, StartedAt: syncStart, Attempts: out.Attempts,
		Synced: res.RecordsSynced, Skipped: res.RecordsSkipped, Failed: res.RecordsFailed,
		Notes: cleanText(scrub, failureNotes(res)), TookOver: run.claim.TookOver,
		ErrorThreshold: r.cfg.ErrorThreshold, KeepRuns: r.cfg.KeepRuns}
	if !since.IsZero() {
		rec.Since = &since
	}
	switch {
	case lost.Load():
		rec.Status = store.RunFailed // dropped by FinishSync: the lease is gone
		out.Err = errLeaseLost
	case parent.Err() != nil:
		rec.Status = store.RunInterrupted
		out.Err = parent.Err()
	case err == nil:
		rec.Status = store.RunSuccess
		cursor := syncStart
		if !res.MaxSeen.IsZero() && res.MaxSeen.Before(cursor) {
			cursor = res.MaxSeen
		}
		rec.Cursor = &cursor
		out.Cursor = &cursor
		res.Success = true
	default:
		rec.Status = store.RunFailed
		out.Err = err
	}
	if out.Err != nil {
		out.Error = cleanError(scrub, out.Err)
		rec.Error = out.Error
	}
	fctx, cancelFinish := context.WithTimeout(context.WithoutCancel(parent), r.cfg.FinishTimeout)
	defer cancelFinish()
	out.Status = rec.Status
	if ferr := r.deps.DB.FinishSync(fctx, run.key, run.id, rec); ferr != nil {
		if errors.Is(ferr, store.ErrRunSuperseded) {
			out.Status = store.RunSuperseded
			log.Warn("sync run was taken over; its late result was dropped")
		} else {
			log.Error("record sync outcome", slog.Any("error", ferr))
			if out.Error == "" {
				out.Error = "record outcome: " + ferr.Error()
			}
		}
	}
	out.Result = res
	out.Duration = r.deps.Clock.Now().Sub(start)
	r.deps.Metrics.run(run.key.Connector, run.key.SyncType, string(out.Status), out.Duration, res)
	attrs := []any{slog.String("status", string(out.Status)), slog.Int("attempts", out.Attempts),
		slog.Int("synced", res.RecordsSynced), slog.Int("skipped", res.RecordsSkipped),
		slog.Int("failed", res.RecordsFailed), slog.Duration("duration", out.Duration)}
	if out.Error != "" {
		log.Warn("sync run finished", append(attrs, slog.String("error", out.Error))...)
	} else {
		log.Info("sync run finished", attrs...)
	}
	r.deps.Finished.Signal(out)
	return out
}

func (r *Runner) heartbeat(ctx context.Context, run *Run, lost *atomic.Bool, cancel context.CancelCauseFunc, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.deps.Clock.After(r.cfg.HeartbeatEvery):
		}
		err := r.deps.DB.HeartbeatSync(ctx, run.key, run.id)
		switch {
		case errors.Is(err, store.ErrRunSuperseded):
			lost.Store(true)
			log.Warn("sync run lost its lease; stopping")
			cancel(errLeaseLost)
			return
		case err != nil && ctx.Err() == nil:
			log.Warn("sync heartbeat failed", slog.Any("error", err))
		}
	}
}

// retryable reports whether a failed run is worth running again: transient
// upstream failures, but not an open circuit (it fails fast until the
// cooldown, far longer than the retry delay).
func retryable(err error) bool {
	return errors.Is(err, ErrTransient) && !errors.Is(err, ErrCircuitOpen)
}

// call runs the operation of the sync type.
func (r *Runner) call(ctx context.Context, key store.SyncKey, env Env, conn Connector, since time.Time) (res SyncResult, err error) {
	defer func() {
		if v := recover(); v != nil {
			r.deps.Log.Error("connector panicked", slog.String("connector", key.Connector), slog.String("panic", fmt.Sprint(v)))
			err = fmt.Errorf("connector %s panicked", key.Connector)
		}
	}()
	switch key.SyncType {
	case SyncOrders:
		return conn.SyncOrders(ctx, since)
	case SyncItems:
		return conn.SyncItems(ctx, since)
	case SyncInventory:
		return conn.SyncInventory(ctx, since)
	case SyncFulfillment:
		return r.pushDue(ctx, key, env, conn)
	}
	return SyncResult{}, fmt.Errorf("unknown sync type %q", key.SyncType)
}

// failureNotes summarizes refused records for the run history.
func failureNotes(res SyncResult) string {
	if res.RecordsFailed == 0 {
		return ""
	}
	s := fmt.Sprintf("%d record(s) refused", res.RecordsFailed)
	if len(res.Failures) > 0 {
		f := res.Failures[0]
		s += fmt.Sprintf("; first: %s: %s", f.SourceID, f.Message)
	}
	return s
}

// maxStoredError caps error messages kept in sync_state and the history.
const maxStoredError = 1000

// cleanError renders err for storage and logs: secrets scrubbed, one line,
// capped.
func cleanError(scrub func(string) string, err error) string {
	if err == nil {
		return ""
	}
	return cleanText(scrub, err.Error())
}

func cleanText(scrub func(string) string, msg string) string {
	if scrub != nil {
		msg = scrub(msg)
	}
	return SanitizeMessage(msg, maxStoredError)
}

// build loads the warehouse's settings and credentials and binds a
// connector to them. The returned Env always has an HTTP client (with every
// stored secret registered for scrubbing), even when err is not nil.
func (r *Runner) build(ctx context.Context, info Info, factory Factory, warehouseID int64, check func() error) (Env, Connector, error) {
	client := r.deps.HTTP.Client(info.Name, warehouseID)
	env := Env{Connector: info.Name, WarehouseID: warehouseID, HTTP: client, Clock: r.deps.Clock,
		Log:  r.deps.Log.With(slog.String("connector", info.Name), slog.Int64("warehouse_id", warehouseID)),
		Sink: NewStoreSink(r.deps.DB, info.Name, warehouseID, check), Settings: Values{}, Secrets: map[string]vault.Secret{}}
	settings, err := r.deps.DB.GetConnectorSettings(ctx, info.Name, warehouseID)
	switch {
	case err == nil:
		for k, v := range settings.Values {
			env.Settings[k] = v
		}
	case !errors.Is(err, store.ErrNotFound):
		return env, nil, fmt.Errorf("load settings: %w", err)
	}
	secrets, err := r.deps.Vault.Credentials(ctx, info.Name, warehouseID)
	switch {
	case err == nil:
		env.Secrets = secrets
		for _, s := range secrets {
			client.AddSecret(string(s.Reveal()))
		}
	case !errors.Is(err, store.ErrNotFound):
		return env, nil, fmt.Errorf("load credentials: %w", err)
	}
	missing := map[string]string{}
	for _, f := range info.Schema.Fields {
		_, set := env.Settings[f.Name]
		if f.Secret {
			_, set = env.Secrets[f.Name]
		}
		switch {
		case set:
		case f.Default != "":
			env.Settings[f.Name] = f.Default
		case f.Required:
			missing[f.Name] = "is required but not stored for this warehouse"
		}
	}
	if len(missing) > 0 {
		return env, nil, &ConfigError{Connector: info.Name, Fields: missing}
	}
	env.Credentials = &vaultSaver{vault: r.deps.Vault, connector: info.Name, warehouseID: warehouseID, client: client}
	return env, factory(env), nil
}

// vaultSaver is the CredentialSaver of one connector instance.
type vaultSaver struct {
	vault       CredentialVault
	connector   string
	warehouseID int64
	client      *Client
}

func (s *vaultSaver) SaveCredentials(ctx context.Context, values map[string]vault.Secret) error {
	for _, v := range values {
		s.client.AddSecret(string(v.Reveal()))
	}
	if err := s.vault.PutCredentials(ctx, "connector:"+s.connector, s.connector, s.warehouseID, values); err != nil {
		return fmt.Errorf("save runtime credentials: %w", err)
	}
	return nil
}

// pushDue pushes the due fulfillments of key's connector and warehouse. Each
// push records its own outcome: success, a retry time for a transient
// failure, or failed for a permanent one. The run fails when any push
// failed, so the sync state shows the loop's health.
func (r *Runner) pushDue(ctx context.Context, key store.SyncKey, env Env, conn Connector) (SyncResult, error) {
	var res SyncResult
	pushes, err := r.deps.DB.ListFulfillmentPushes(ctx, store.FulfillmentFilter{Connector: key.Connector,
		WarehouseID: key.WarehouseID, DueOnly: true, Limit: 100})
	if err != nil {
		return res, err
	}
	var firstErr error
	for _, p := range pushes {
		if ctx.Err() != nil {
			break
		}
		lines := make([]Line, len(p.Lines))
		for i, l := range p.Lines {
			lines[i] = Line{SKU: l.SKU, Qty: l.Qty}
		}
		pr, err := r.pushOne(ctx, conn, FulfillmentRequest{OrderID: p.OrderID, SourceID: p.SourceID,
			OrderNumber: p.OrderNumber, Carrier: p.Carrier, Tracking: p.Tracking, Lines: lines,
			IdempotencyKey: p.IdempotencyKey})
		a := store.FulfillmentAttempt{Counted: true}
		now := r.deps.Clock.Now()
		switch {
		case err == nil:
			a.Status, a.UpstreamRef = store.FulfillmentSucceeded, pr.UpstreamRef
			res.RecordsSynced++
		case ctx.Err() != nil || errors.Is(err, store.ErrRunSuperseded):
			a.Status, a.Counted = store.FulfillmentPending, false
		case errors.Is(err, ErrUnsupported):
			a.Status, a.Error = store.FulfillmentSkipped, cleanError(env.HTTP.Scrub, err)
			res.Skip()
		case errors.Is(err, ErrTransient) || errors.Is(err, ErrCircuitOpen):
			a.Error = cleanError(env.HTTP.Scrub, err)
			if p.Attempts+1 >= r.cfg.MaxPushAttempts {
				a.Status = store.FulfillmentFailed
			} else {
				a.Status, a.NextAttemptAt = store.FulfillmentPending, now.Add(r.pushDelay(p.Attempts+1))
			}
			res.Fail(p.OrderID, a.Error)
			firstErr = cmpErr(firstErr, err)
		default:
			a.Status, a.Error = store.FulfillmentFailed, cleanError(env.HTTP.Scrub, err)
			res.Fail(p.OrderID, a.Error)
			firstErr = cmpErr(firstErr, err)
		}
		r.deps.Metrics.push(key.Connector, string(a.Status))
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.FinishTimeout)
		rerr := r.deps.DB.RecordFulfillmentAttempt(fctx, p.ID, a)
		cancel()
		if rerr != nil {
			return res, fmt.Errorf("record fulfillment push %d: %w", p.ID, rerr)
		}
		if !a.Counted {
			break
		}
	}
	if firstErr != nil {
		return res, fmt.Errorf("%d of %d fulfillment push(es) failed; first: %w", res.RecordsFailed, len(pushes), firstErr)
	}
	return res, nil
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

func (r *Runner) pushOne(ctx context.Context, conn Connector, req FulfillmentRequest) (pr PushResult, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("connector panicked pushing fulfillment: %v", v)
		}
	}()
	return conn.PushFulfillment(ctx, req)
}

// pushDelay is the wait before attempt n+1 of a push that failed
// transiently n times: RetryDelay for the first three, then 5 minutes
// doubling, capped at 6 hours.
func (r *Runner) pushDelay(n int) time.Duration {
	if n <= 3 {
		return r.cfg.RetryDelay
	}
	d := 5 * time.Minute << min(n-4, 10)
	return min(d, 6*time.Hour)
}
