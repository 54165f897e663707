package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// ResetSync forces a sync stuck in running back to idle, for an operator
// who knows its worker is gone and will not wait for the takeover
// threshold. The seed's documented SQL (set sync_status = 'idle') breaks
// this schema's rule that a running row holds a run id and no other row
// does; this clears both together, so the lost worker's late writes, which
// name the old run id, change nothing. It appends "connector.sync.reset"
// to the audit log in the same transaction, naming the run it cut off. A
// row that is not running is a *ConflictError (nothing to reset); no row
// is ErrNotFound.
func (db *DB) ResetSync(ctx context.Context, actor string, k SyncKey) (SyncState, error) {
	if err := k.check(); err != nil {
		return SyncState{}, err
	}
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		var status string
		var runID sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT sync_status, run_id FROM sync_state
			WHERE connector_name = ? AND warehouse_id = ? AND sync_type = ?`, k.Connector, k.WarehouseID, k.SyncType).Scan(&status, &runID)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sync %s: %w", k, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if status != "running" {
			return &ConflictError{Message: "sync " + k.String() + " is " + status + ", not running: nothing to reset",
				Fields: map[string]string{"sync_status": "is " + status}}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sync_state SET sync_status = 'idle', run_id = NULL, heartbeat_at = NULL,
			updated_at = ? WHERE connector_name = ? AND warehouse_id = ? AND sync_type = ?`,
			formatTime(db.now()), k.Connector, k.WarehouseID, k.SyncType); err != nil {
			return err
		}
		return db.appendAuditTx(ctx, tx, Audit{Actor: actor, Action: "connector.sync.reset",
			Target: connectorTarget(k.Connector, k.WarehouseID) + "/" + k.SyncType,
			Diff:   map[string]string{"from": "running", "to": "idle", "run_id": runID.String}})
	})
	if err != nil {
		return SyncState{}, fmt.Errorf("reset sync: %w", err)
	}
	return db.GetSyncState(ctx, k)
}
