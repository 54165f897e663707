package connectors

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"

	"sentryhub/store"
	"sentryhub/store/vault"
)

// TestValues runs the connector's connection test with the values an
// admin typed in the form, before saving them: the same validation as
// PutCredentials, then the stored configuration with the submission laid
// over it. Nothing is written: not the values, not a token the test
// obtains, not a record.
func (s *Service) TestValues(ctx context.Context, name string, warehouseID int64, raw map[string]json.RawMessage) (ConnectionResult, error) {
	info, err := s.scope(ctx, name, warehouseID)
	if err != nil {
		return ConnectionResult{}, err
	}
	settings, keys, err := s.stored(ctx, name, warehouseID)
	if err != nil {
		return ConnectionResult{}, err
	}
	have := map[string]bool{}
	for k := range settings.Values {
		have[k] = true
	}
	for _, k := range keys {
		have[k] = true
	}
	sub, bad := info.Schema.ParseSubmission(raw, have)
	if len(bad) > 0 {
		return ConnectionResult{}, &store.ValidationError{Message: "invalid values for connector " + name + ": " + fieldSummary(bad), Fields: bad}
	}
	_, factory, _ := s.cfg.Registry.Lookup(name)
	client := s.cfg.HTTP.Client(name, warehouseID)
	env := Env{Connector: name, WarehouseID: warehouseID, HTTP: client, Clock: s.cfg.Clock, Sink: refusingSink{},
		Log: s.cfg.Log.With(slog.String("connector", name), slog.Int64("warehouse_id", warehouseID)), Settings: Values{}}
	maps.Copy(env.Settings, settings.Values)
	maps.Copy(env.Settings, sub.Settings)
	env.Secrets, err = s.cfg.Vault.Credentials(ctx, name, warehouseID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return ConnectionResult{}, err
	}
	if env.Secrets == nil {
		env.Secrets = map[string]vault.Secret{}
	}
	maps.Copy(env.Secrets, sub.Secrets)
	for _, v := range env.Secrets {
		client.AddSecret(string(v.Reveal()))
	}
	secretNames := map[string]bool{}
	for k := range env.Secrets {
		secretNames[k] = true
	}
	missing := map[string]string{}
	for _, f := range info.Schema.Fields {
		_, set := env.Settings[f.Name]
		if f.Secret {
			set = secretNames[f.Name]
		}
		switch {
		case set:
		case f.Default != "":
			env.Settings[f.Name] = f.Default
		case f.Required:
			missing[f.Name] = "is required"
		}
	}
	if len(missing) > 0 {
		return NewConnectionResult(false, (&ConfigError{Connector: name, Fields: missing}).Error()), nil
	}
	conn := factory(env)
	if v, ok := conn.(SettingsValidator); ok {
		if bad := v.ValidateSettings(env.Settings, secretNames); len(bad) > 0 {
			return ConnectionResult{}, &store.ValidationError{Message: "invalid values for connector " + name + ": " + fieldSummary(bad), Fields: bad}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.TestTimeout)
	defer cancel()
	res, err := testConnection(ctx, conn)
	if err != nil {
		return NewConnectionResult(false, client.Scrub(err.Error())), nil
	}
	return NewConnectionResult(res.OK, client.Scrub(res.Message)), nil
}

// refusingSink is the sink of a connection test: a test reads, it never
// writes records.
type refusingSink struct{}

var errTestWrites = errors.New("a connection test does not write records")

func (refusingSink) UpsertItem(context.Context, Item) error             { return errTestWrites }
func (refusingSink) UpsertOrder(context.Context, Order) error           { return errTestWrites }
func (refusingSink) SetInventory(context.Context, InventoryLevel) error { return errTestWrites }
