package store

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"time"
)

const maxSettingLen = 4096

// ConnectorSettings is the non-secret configuration of one connector in one
// warehouse (secrets are in the vault).
type ConnectorSettings struct {
	Values    map[string]string
	UpdatedAt time.Time
}

func connectorTarget(connector string, warehouseID int64) string {
	return fmt.Sprintf("connector:%s/warehouse:%d", connector, warehouseID)
}

// GetConnectorSettings returns the settings of connector in warehouseID, or
// ErrNotFound when none are stored.
func (db *DB) GetConnectorSettings(ctx context.Context, connector string, warehouseID int64) (ConnectorSettings, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT key, value, updated_at FROM connector_settings
		WHERE connector_name = ? AND warehouse_id = ?`, connector, warehouseID)
	if err != nil {
		return ConnectorSettings{}, fmt.Errorf("connector settings %s: %w", connectorTarget(connector, warehouseID), err)
	}
	defer rows.Close()
	out := ConnectorSettings{Values: map[string]string{}}
	for rows.Next() {
		var k, v, updated string
		if err := rows.Scan(&k, &v, &updated); err != nil {
			return ConnectorSettings{}, fmt.Errorf("connector settings: %w", err)
		}
		t, err := parseTime(updated)
		if err != nil {
			return ConnectorSettings{}, fmt.Errorf("connector settings: %w", err)
		}
		if t.After(out.UpdatedAt) {
			out.UpdatedAt = t
		}
		out.Values[k] = v
	}
	if err := rows.Err(); err != nil {
		return ConnectorSettings{}, fmt.Errorf("connector settings: %w", err)
	}
	if len(out.Values) == 0 {
		return ConnectorSettings{}, fmt.Errorf("connector settings %s: %w", connectorTarget(connector, warehouseID), ErrNotFound)
	}
	return out, nil
}

// PutConnectorSettings upserts values as settings of connector in
// warehouseID (keys not in values are kept) and appends a
// "connector.settings.put" audit row naming the keys, never the values, in
// one transaction. Bad names or values give a *ValidationError.
func (db *DB) PutConnectorSettings(ctx context.Context, actor, connector string, warehouseID int64, values map[string]string) error {
	if err := validateSettings(connector, warehouseID, values); err != nil {
		return err
	}
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		return db.putConnectorSettings(ctx, tx, actor, connector, warehouseID, values)
	})
	if err != nil {
		return fmt.Errorf("put connector settings %s: %w", connectorTarget(connector, warehouseID), err)
	}
	return nil
}

func validateSettings(connector string, warehouseID int64, values map[string]string) error {
	f := fieldErrs{}
	f.checkText("connector", connector, maxNameLen, true)
	f.checkWarehouseID("warehouse_id", warehouseID)
	if len(values) == 0 {
		f.add("values", "at least one setting is required")
	}
	for k, v := range values {
		f.checkText("values", k, maxNameLen, true)
		if len(v) > maxSettingLen {
			f.add("values."+k, fmt.Sprintf("must be at most %d bytes", maxSettingLen))
		}
	}
	return f.invalid("invalid connector settings")
}

func (db *DB) putConnectorSettings(ctx context.Context, tx *sql.Tx, actor, connector string, warehouseID int64, values map[string]string) error {
	keys := slices.Sorted(maps.Keys(values))
	ts := formatTime(db.now())
	for _, k := range keys {
		if _, err := tx.ExecContext(ctx, `INSERT INTO connector_settings
			(connector_name, warehouse_id, key, value, updated_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (connector_name, warehouse_id, key)
			DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
			connector, warehouseID, k, values[k], ts); err != nil {
			return fmt.Errorf("store setting %s: %w", k, interpretError(err))
		}
	}
	return db.appendAuditTx(ctx, tx, Audit{Actor: actor, Action: "connector.settings.put",
		Target: connectorTarget(connector, warehouseID), Diff: map[string][]string{"keys": keys}})
}

// DeleteConnectorSettings removes every setting of connector in
// warehouseID with a "connector.settings.delete" audit row. It returns
// ErrNotFound when there were none.
func (db *DB) DeleteConnectorSettings(ctx context.Context, actor, connector string, warehouseID int64) error {
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		deleted, err := db.deleteConnectorSettings(ctx, tx, actor, connector, warehouseID)
		if err == nil && !deleted {
			err = ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete connector settings %s: %w", connectorTarget(connector, warehouseID), err)
	}
	return nil
}

// deleteConnectorSettings is DeleteConnectorSettings inside tx; it reports
// whether there was anything to delete (and so an audit row) instead of
// returning ErrNotFound.
func (db *DB) deleteConnectorSettings(ctx context.Context, tx *sql.Tx, actor, connector string, warehouseID int64) (bool, error) {
	res, err := tx.ExecContext(ctx, `DELETE FROM connector_settings
		WHERE connector_name = ? AND warehouse_id = ?`, connector, warehouseID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil || n == 0 {
		return false, err
	}
	return true, db.appendAuditTx(ctx, tx, Audit{Actor: actor, Action: "connector.settings.delete",
		Target: connectorTarget(connector, warehouseID)})
}

// WarehouseExists reports whether a warehouse with id exists.
func (db *DB) WarehouseExists(ctx context.Context, id int64) (bool, error) {
	var one int
	err := db.r.QueryRowContext(ctx, `SELECT 1 FROM warehouses WHERE id = ?`, id).Scan(&one)
	switch {
	case err == sql.ErrNoRows:
		return false, nil
	case err != nil:
		return false, fmt.Errorf("warehouse %d: %w", id, err)
	}
	return true, nil
}
