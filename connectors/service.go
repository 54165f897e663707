package connectors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"sentryhub/clock"
	"sentryhub/store"
	"sentryhub/store/vault"
)

// ServiceConfig wires a Service.
type ServiceConfig struct {
	Registry *Registry
	DB       *store.DB
	Vault    ServiceVault
	HTTP     *HTTPPool
	Runner   *Runner
	// Scheduler jitters the next run of edited schedules; optional. It,
	// like the fulfillment worker, wakes on the store's commits.
	Scheduler *Scheduler
	Clock     clock.Clock
	Log       *slog.Logger
	// TestTimeout bounds TestConnection (30s).
	TestTimeout time.Duration
	// Grace is how long admin-triggered runs may continue after shutdown (10s).
	Grace time.Duration
}

// ServiceVault is the vault the admin service writes through: besides
// what runs need, it seals a form's secrets for the store, which writes
// them together with the settings (store.DB.PutConnectorCredentials).
type ServiceVault interface {
	CredentialVault
	SealCredentials(connector string, warehouseID int64, values map[string]vault.Secret) (map[string]store.SealFunc, error)
}

// Service is what the admin API calls: credentials, tests, sync status,
// manual syncs, schedules and the fulfillment queue. It owns the goroutines
// of runs triggered from the API (Serve).
type Service struct {
	cfg   ServiceConfig
	group runGroup
}

// NewService returns a Service; Serve must run for TriggerSync to work.
func NewService(cfg ServiceConfig) *Service {
	if cfg.TestTimeout <= 0 {
		cfg.TestTimeout = 30 * time.Second
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 10 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg}
}

// Serve owns admin-triggered runs until ctx ends, then gives them the grace
// period to finish. It returns nil.
func (s *Service) Serve(ctx context.Context) error {
	s.group.open(ctx)
	<-ctx.Done()
	s.group.close(s.cfg.Clock, s.cfg.Grace)
	return nil
}

// ErrNotRunning is returned by TriggerSync when Serve is not running
// (before start, or during shutdown).
var ErrNotRunning = fmt.Errorf("connector service is not running: %w", store.ErrUnavailable)

// List describes every registered connector.
func (s *Service) List(context.Context) []Info { return s.cfg.Registry.Infos() }

// Info describes the connector name; store.ErrNotFound when unknown.
func (s *Service) Info(name string) (Info, error) {
	info, _, ok := s.cfg.Registry.Lookup(name)
	if !ok {
		return Info{}, fmt.Errorf("connector %q: %w", name, store.ErrNotFound)
	}
	return info, nil
}

func (s *Service) scope(ctx context.Context, name string, warehouseID int64) (Info, error) {
	info, err := s.Info(name)
	if err != nil {
		return Info{}, err
	}
	if warehouseID <= 0 {
		return Info{}, &store.ValidationError{Message: "warehouse_id is required",
			Fields: map[string]string{"warehouse_id": "must be a positive integer"}}
	}
	ok, err := s.cfg.DB.WarehouseExists(ctx, warehouseID)
	if err != nil {
		return Info{}, err
	}
	if !ok {
		return Info{}, &store.ValidationError{Message: fmt.Sprintf("unknown warehouse %d", warehouseID),
			Fields: map[string]string{"warehouse_id": fmt.Sprintf("names unknown warehouse %d", warehouseID)}}
	}
	return info, nil
}

// CredentialView is a connector's stored configuration for a warehouse as
// the admin API shows it: non-secret settings as stored, secrets as ****.
type CredentialView struct {
	Connector   string            `json:"connector"`
	WarehouseID int64             `json:"warehouse_id"`
	Values      map[string]string `json:"values"`
	UpdatedAt   *time.Time        `json:"updated_at,omitempty"`
}

// stored returns the settings and the names of stored secrets.
func (s *Service) stored(ctx context.Context, name string, warehouseID int64) (store.ConnectorSettings, []string, error) {
	settings, err := s.cfg.DB.GetConnectorSettings(ctx, name, warehouseID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return settings, nil, err
	}
	keys, err := s.cfg.Vault.CredentialKeys(ctx, name, warehouseID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return settings, nil, err
	}
	return settings, keys, nil
}

// GetCredentials returns the configuration of connector name in warehouseID
// with every secret redacted. It decrypts nothing. It returns
// store.ErrNotFound when nothing is stored.
func (s *Service) GetCredentials(ctx context.Context, name string, warehouseID int64) (CredentialView, error) {
	if _, err := s.scope(ctx, name, warehouseID); err != nil {
		return CredentialView{}, err
	}
	settings, keys, err := s.stored(ctx, name, warehouseID)
	if err != nil {
		return CredentialView{}, err
	}
	if len(settings.Values) == 0 && len(keys) == 0 {
		return CredentialView{}, fmt.Errorf("no credentials for connector %s in warehouse %d: %w", name, warehouseID, store.ErrNotFound)
	}
	v := CredentialView{Connector: name, WarehouseID: warehouseID, Values: map[string]string{}}
	maps.Copy(v.Values, settings.Values)
	for _, k := range keys {
		v.Values[k] = Redacted
	}
	if !settings.UpdatedAt.IsZero() {
		t := settings.UpdatedAt
		v.UpdatedAt = &t
	}
	return v, nil
}

// PutCredentials validates values against the connector's schema and stores
// them for warehouseID: secrets in the vault, the rest as settings. Fields
// left out keep their stored values. Unknown fields, missing required
// fields, wrong types, "****" sent as a secret, and combinations the
// connector refuses (SettingsValidator) give a *store.ValidationError naming
// each field; nothing is written then. Both writes are audited by key name,
// never by value.
func (s *Service) PutCredentials(ctx context.Context, actor, name string, warehouseID int64, raw map[string]json.RawMessage) (CredentialView, error) {
	info, err := s.scope(ctx, name, warehouseID)
	if err != nil {
		return CredentialView{}, err
	}
	settings, keys, err := s.stored(ctx, name, warehouseID)
	if err != nil {
		return CredentialView{}, err
	}
	have := map[string]bool{}
	for k := range settings.Values {
		have[k] = true
	}
	for _, k := range keys {
		have[k] = true
	}
	sub, bad := info.Schema.ParseSubmission(raw, have)
	if len(bad) == 0 {
		_, factory, _ := s.cfg.Registry.Lookup(name)
		if v, ok := factory(Env{Connector: name, WarehouseID: warehouseID}).(SettingsValidator); ok {
			merged := Values{}
			maps.Copy(merged, settings.Values)
			maps.Copy(merged, sub.Settings)
			secrets := map[string]bool{}
			for _, k := range keys {
				secrets[k] = true
			}
			for k := range sub.Secrets {
				secrets[k] = true
			}
			bad = v.ValidateSettings(merged, secrets)
		}
	}
	if len(bad) > 0 {
		return CredentialView{}, &store.ValidationError{Message: "invalid credentials for connector " + name + ": " + fieldSummary(bad), Fields: bad}
	}
	// One transaction: a form's secrets and settings land together or not
	// at all, each with its audit row.
	var sealed map[string]store.SealFunc
	if len(sub.Secrets) > 0 {
		if sealed, err = s.cfg.Vault.SealCredentials(name, warehouseID, sub.Secrets); err != nil {
			return CredentialView{}, err
		}
	}
	if err := s.cfg.DB.PutConnectorCredentials(ctx, actor, name, warehouseID, sealed, sub.Settings); err != nil {
		return CredentialView{}, err
	}
	return s.GetCredentials(ctx, name, warehouseID)
}

func fieldSummary(bad map[string]string) string {
	var out string
	for i, k := range slices.Sorted(maps.Keys(bad)) {
		if i > 0 {
			out += "; "
		}
		out += k + " " + bad[k]
	}
	return out
}

// DeleteCredentials removes the settings and secrets of connector name in
// warehouseID (each audited). It returns store.ErrNotFound when there were
// none.
func (s *Service) DeleteCredentials(ctx context.Context, actor, name string, warehouseID int64) error {
	if _, err := s.scope(ctx, name, warehouseID); err != nil {
		return err
	}
	// One transaction, like PutCredentials: secrets and settings go together.
	return s.cfg.DB.DeleteConnectorCredentials(ctx, actor, name, warehouseID)
}

// Test runs the connector's TestConnection for warehouseID. Configuration
// problems, blocked destinations, open circuits and upstream failures are
// reported in the result (OK false) with a sanitized, scrubbed message; the
// error is for unknown connectors and warehouses and for the hub's own
// failures.
func (s *Service) Test(ctx context.Context, name string, warehouseID int64) (ConnectionResult, error) {
	info, err := s.scope(ctx, name, warehouseID)
	if err != nil {
		return ConnectionResult{}, err
	}
	_, factory, _ := s.cfg.Registry.Lookup(name)
	ctx, cancel := context.WithTimeout(ctx, s.cfg.TestTimeout)
	defer cancel()
	env, conn, err := s.cfg.Runner.build(ctx, info, factory, warehouseID, nil)
	if err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			return NewConnectionResult(false, env.HTTP.Scrub(err.Error())), nil
		}
		return ConnectionResult{}, err
	}
	res, err := testConnection(ctx, conn)
	if err != nil {
		return NewConnectionResult(false, env.HTTP.Scrub(err.Error())), nil
	}
	return NewConnectionResult(res.OK, env.HTTP.Scrub(res.Message)), nil
}

func testConnection(ctx context.Context, conn Connector) (res ConnectionResult, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("connector panicked: %v", v)
		}
	}()
	return conn.TestConnection(ctx)
}

// SyncStatus is the health of one connector in one warehouse.
type SyncStatus struct {
	Connector   string                    `json:"connector"`
	WarehouseID int64                     `json:"warehouse_id"`
	States      []store.SyncState         `json:"states"`
	Runs        []store.SyncRun           `json:"recent_runs"`
	Schedules   []store.ConnectorSchedule `json:"schedules"`
	Circuit     BreakerStatus             `json:"circuit"`
	// Streams are the poll streams of a connector made of streams, with
	// the timing of their own schedules in this connection.
	Streams []StreamStatus `json:"streams,omitempty"`
}

// SyncStatus returns the sync state of every sync type the connector
// supports (never-run types show as idle), its recent runs, schedules and
// circuit breaker.
func (s *Service) SyncStatus(ctx context.Context, name string, warehouseID int64) (SyncStatus, error) {
	info, err := s.scope(ctx, name, warehouseID)
	if err != nil {
		return SyncStatus{}, err
	}
	states, err := s.cfg.DB.ListSyncStates(ctx, name, warehouseID)
	if err != nil {
		return SyncStatus{}, err
	}
	out := SyncStatus{Connector: name, WarehouseID: warehouseID, States: []store.SyncState{}}
	for _, st := range info.SyncTypes {
		i := slices.IndexFunc(states, func(x store.SyncState) bool { return x.SyncType == st })
		if i >= 0 {
			out.States = append(out.States, states[i])
			continue
		}
		out.States = append(out.States, store.SyncState{SyncKey: store.SyncKey{Connector: name, WarehouseID: warehouseID, SyncType: st},
			Status: store.SyncIdle})
	}
	if out.Runs, err = s.cfg.DB.ListSyncRuns(ctx, store.SyncRunFilter{Connector: name, WarehouseID: warehouseID, Limit: 20}); err != nil {
		return SyncStatus{}, err
	}
	if out.Schedules, err = s.cfg.DB.ListSchedules(ctx, name, warehouseID); err != nil {
		return SyncStatus{}, err
	}
	out.Circuit = s.cfg.HTTP.Breaker(name, warehouseID)
	if out.Streams, err = streamStatus(ctx, s.cfg.DB, info, warehouseID, out.Schedules); err != nil {
		return SyncStatus{}, err
	}
	return out, nil
}

// RunTicket acknowledges a triggered run.
type RunTicket struct {
	RunID       string `json:"run_id"`
	Connector   string `json:"connector"`
	WarehouseID int64  `json:"warehouse_id"`
	SyncType    string `json:"sync_type"`
	Status      string `json:"status"`
	TookOver    string `json:"took_over,omitempty"`
}

// TriggerSync claims a sync of syncType now and runs it in the background
// (Serve owns it). A run in progress makes it fail with a
// *store.DuplicateRunError (409); an unknown connector with
// store.ErrNotFound; an unsupported sync type or unknown warehouse with a
// *store.ValidationError. full ignores the cursor.
func (s *Service) TriggerSync(ctx context.Context, actor, name string, warehouseID int64, syncType string, full bool) (RunTicket, error) {
	if _, err := s.scope(ctx, name, warehouseID); err != nil {
		return RunTicket{}, err
	}
	key := store.SyncKey{Connector: name, WarehouseID: warehouseID, SyncType: syncType}
	run, err := s.cfg.Runner.Claim(ctx, key, RunOptions{Trigger: "manual", Full: full})
	if err != nil {
		return RunTicket{}, err
	}
	if !s.group.spawn(func(ctx context.Context) { run.Execute(ctx) }) {
		run.Abandon(ctx)
		return RunTicket{}, ErrNotRunning
	}
	if err := s.cfg.DB.Audit(ctx, store.Audit{Actor: actor, Action: "connector.sync.trigger",
		Target: fmt.Sprintf("connector:%s/warehouse:%d", name, warehouseID),
		Diff:   map[string]any{"sync_type": syncType, "run_id": run.ID(), "full": full}}); err != nil {
		s.cfg.Log.Error("audit sync trigger", slog.Any("error", err))
	}
	return RunTicket{RunID: run.ID(), Connector: name, WarehouseID: warehouseID, SyncType: syncType,
		Status: string(store.SyncRunning), TookOver: run.TookOver()}, nil
}

// ScheduleRequest is one schedule as the admin API takes it.
type ScheduleRequest struct {
	SyncType        string `json:"sync_type"`
	IntervalSeconds int64  `json:"interval_seconds,omitempty"`
	Cron            string `json:"cron,omitempty"`
	// Enabled defaults to true.
	Enabled *bool `json:"enabled,omitempty"`
}

// Schedules returns the schedules of connector name in warehouseID.
func (s *Service) Schedules(ctx context.Context, name string, warehouseID int64) ([]store.ConnectorSchedule, error) {
	if _, err := s.scope(ctx, name, warehouseID); err != nil {
		return nil, err
	}
	return s.cfg.DB.ListSchedules(ctx, name, warehouseID)
}

// PutSchedules replaces the schedules of connector name in warehouseID. Each
// names a supported sync type once, with an interval (60 s to 7 days) or a
// 5-field cron expression (UTC); problems give a *store.ValidationError
// naming the entry. A schedule whose timing did not change keeps its next
// run; others get a fresh, jittered one.
func (s *Service) PutSchedules(ctx context.Context, actor, name string, warehouseID int64, in []ScheduleRequest) ([]store.ConnectorSchedule, error) {
	info, err := s.scope(ctx, name, warehouseID)
	if err != nil {
		return nil, err
	}
	existing, err := s.cfg.DB.ListSchedules(ctx, name, warehouseID)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Clock.Now()
	bad := map[string]string{}
	var out []store.ScheduleInput
	for i, r := range in {
		p := fmt.Sprintf("schedules[%d].", i)
		if c, ok := CapabilityOf(r.SyncType); !ok || !info.Supports(c) {
			bad[p+"sync_type"] = "must be one of " + fmt.Sprint(info.SyncTypes)
			continue
		}
		spec, problems := ParseSchedule(r.IntervalSeconds, r.Cron)
		for k, v := range problems {
			bad[p+k] = v
		}
		if problems != nil {
			continue
		}
		enabled := r.Enabled == nil || *r.Enabled
		si := store.ScheduleInput{SyncType: r.SyncType, IntervalSeconds: r.IntervalSeconds, Cron: r.Cron, Enabled: enabled}
		j := slices.IndexFunc(existing, func(e store.ConnectorSchedule) bool {
			return e.SyncType == r.SyncType && e.IntervalSeconds == r.IntervalSeconds && e.Cron == r.Cron
		})
		if j >= 0 {
			si.NextRunAt = existing[j].NextRunAt
		} else {
			si.NextRunAt = s.nextRun(spec, now)
		}
		out = append(out, si)
	}
	if len(bad) > 0 {
		return nil, &store.ValidationError{Message: "invalid schedules: " + fieldSummary(bad), Fields: bad}
	}
	return s.cfg.DB.ReplaceSchedules(ctx, actor, name, warehouseID, out)
}

func (s *Service) nextRun(spec ScheduleSpec, now time.Time) time.Time {
	if s.cfg.Scheduler != nil {
		return s.cfg.Scheduler.NextRun(spec, now)
	}
	return spec.Next(now)
}

// Runs returns recent runs of connector name in warehouseID, optionally of
// one sync type.
func (s *Service) Runs(ctx context.Context, name string, warehouseID int64, syncType string, limit int) ([]store.SyncRun, error) {
	info, err := s.scope(ctx, name, warehouseID)
	if err != nil {
		return nil, err
	}
	if syncType != "" && !slices.Contains(info.SyncTypes, syncType) {
		return nil, &store.ValidationError{Message: "unknown sync type " + syncType + " for connector " + name,
			Fields: map[string]string{"sync_type": "must be one of " + strings.Join(info.SyncTypes, ", ")}}
	}
	return s.cfg.DB.ListSyncRuns(ctx, store.SyncRunFilter{Connector: name, WarehouseID: warehouseID, SyncType: syncType, Limit: limit})
}

// Fulfillments returns the fulfillment pushes of connector name in
// warehouseID, optionally with one status, newest first.
func (s *Service) Fulfillments(ctx context.Context, name string, warehouseID int64, status string, limit int) ([]store.FulfillmentPush, error) {
	if _, err := s.scope(ctx, name, warehouseID); err != nil {
		return nil, err
	}
	switch store.FulfillmentStatus(status) {
	case "", store.FulfillmentPending, store.FulfillmentSucceeded, store.FulfillmentFailed, store.FulfillmentSkipped:
	default:
		return nil, &store.ValidationError{Message: "unknown status " + status,
			Fields: map[string]string{"status": "must be pending, succeeded, failed or skipped"}}
	}
	return s.cfg.DB.ListFulfillmentPushes(ctx, store.FulfillmentFilter{Connector: name, WarehouseID: warehouseID,
		Status: store.FulfillmentStatus(status), Limit: limit})
}

// RetryFulfillment requeues a failed or skipped push of connector name
// (audited) and wakes the fulfillment worker.
func (s *Service) RetryFulfillment(ctx context.Context, actor, name string, id int64) (store.FulfillmentPush, error) {
	if _, err := s.Info(name); err != nil {
		return store.FulfillmentPush{}, err
	}
	return s.cfg.DB.RetryFulfillmentPush(ctx, actor, name, id)
}
