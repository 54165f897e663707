package store

import (
	"context"
	"fmt"
)

// SyncProgress is how far a running sync has come, for the connector page
// while it runs. The run history has the outcome once it ends.
type SyncProgress struct {
	Trigger string `json:"trigger,omitempty"`
	// Attempt is the attempt in progress (1 is the first; 0 before the
	// first starts). A run that failed transiently runs again.
	Attempt int `json:"attempt"`
	// RecordsSynced and RecordsFailed count the records the attempt in
	// progress has written (or found unchanged) and had refused so far.
	RecordsSynced int `json:"records_synced"`
	RecordsFailed int `json:"records_failed"`
	// Error ended the previous attempt of this run, sanitized; "" on the
	// first.
	Error string `json:"error,omitempty"`
}

// StartSyncAttempt records that runID starts attempt number attempt of k,
// after the previous attempt failed with prevErr (sanitized by the caller;
// "" for the first): the record counts start again from zero, as the
// attempt reads from the same cursor. It returns ErrRunSuperseded when
// runID no longer holds the lease.
func (db *DB) StartSyncAttempt(ctx context.Context, k SyncKey, runID string, attempt int, prevErr string) error {
	res, err := db.w.ExecContext(ctx, `UPDATE sync_state SET run_attempt = ?, run_records_synced = 0,
		run_records_failed = 0, run_error = ?
		WHERE connector_name = ? AND warehouse_id = ? AND sync_type = ? AND run_id = ? AND sync_status = 'running'`,
		attempt, capText(prevErr, maxSyncMessage), k.Connector, k.WarehouseID, k.SyncType, runID)
	if err != nil {
		return fmt.Errorf("start attempt %d of sync %s: %w", attempt, k, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("start attempt %d of sync %s: %w", attempt, k, err)
	} else if n == 0 {
		return fmt.Errorf("start attempt %d of sync %s run %s: %w", attempt, k, runID, ErrRunSuperseded)
	}
	return nil
}

// UpsertSyncPage is UpsertRecords for a page of run runID of sync k: in the
// same transaction it adds the page's outcome to the run's progress (one
// small UPDATE per page), so the count shown while the sync runs is never
// ahead of the data written. A run that lost its lease meanwhile counts
// nothing; its records are still written (the caller checks the lease
// before each page).
func (db *DB) UpsertSyncPage(ctx context.Context, meta OpMeta, k SyncKey, runID string, recs []SourceRecord) ([]RecordResult, error) {
	out, pending, err := checkRecords(recs)
	if err != nil {
		return nil, err
	}
	txnID, err := normalizeRequestID(meta.RequestID)
	if err != nil {
		return nil, err
	}
	_, err = db.update(ctx, func(w *writeTx) error {
		if len(pending) > 0 {
			if err := upsertRecords(ctx, opCtx{writeTx: w, txnID: txnID}, pending, out); err != nil {
				return err
			}
		}
		synced, failed := 0, 0
		for _, r := range out {
			if r.Outcome == OutcomeRefused {
				failed++
			} else {
				synced++
			}
		}
		_, err := w.ExecContext(ctx, `UPDATE sync_state SET run_records_synced = run_records_synced + ?,
			run_records_failed = run_records_failed + ?
			WHERE connector_name = ? AND warehouse_id = ? AND sync_type = ? AND run_id = ? AND sync_status = 'running'`,
			synced, failed, k.Connector, k.WarehouseID, k.SyncType, runID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("upsert records: %w", err)
	}
	return out, nil
}
