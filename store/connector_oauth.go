package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// OAuthState is a pending OAuth 2.0 authorization-code consent: who
// started it (the admin session), for which connection, the sealed PKCE
// verifier, and until when the callback may complete it.
type OAuthState struct {
	StateHash          string
	Connector          string
	WarehouseID        int64
	SessionHash        string
	VerifierCiphertext []byte
	ExpiresAt          time.Time
}

// ErrOAuthStateUnknown: no pending consent has this state (never issued,
// already used, or expired and swept).
var ErrOAuthStateUnknown = errors.New("unknown or already used OAuth state")

// PutOAuthState records a pending consent, sweeping expired ones.
func (db *DB) PutOAuthState(ctx context.Context, st OAuthState) error {
	f := fieldErrs{}
	f.checkText("connector", st.Connector, maxNameLen, true)
	f.checkWarehouseID("warehouse_id", st.WarehouseID)
	if st.StateHash == "" || st.SessionHash == "" || len(st.VerifierCiphertext) == 0 {
		f.add("state", "is incomplete")
	}
	if err := f.invalid("invalid OAuth state"); err != nil {
		return err
	}
	now := db.now()
	return db.withTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM connector_oauth_states WHERE expires_at < ?`, formatTime(now)); err != nil {
			return fmt.Errorf("sweep OAuth states: %w", err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO connector_oauth_states
			(state_hash, connector, warehouse_id, session_hash, verifier_ciphertext, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, st.StateHash, st.Connector, st.WarehouseID, st.SessionHash,
			st.VerifierCiphertext, formatTime(now), formatTime(st.ExpiresAt))
		if err != nil {
			return fmt.Errorf("put OAuth state: %w", err)
		}
		return nil
	})
}

// TakeOAuthState removes and returns the pending consent with stateHash:
// a state completes at most one consent. Expiry is the caller's to check
// (it says "expired" rather than "unknown").
func (db *DB) TakeOAuthState(ctx context.Context, stateHash string) (OAuthState, error) {
	var st OAuthState
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		var exp string
		err := tx.QueryRowContext(ctx, `DELETE FROM connector_oauth_states WHERE state_hash = ?
			RETURNING connector, warehouse_id, session_hash, verifier_ciphertext, expires_at`, stateHash).
			Scan(&st.Connector, &st.WarehouseID, &st.SessionHash, &st.VerifierCiphertext, &exp)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrOAuthStateUnknown
		}
		if err != nil {
			return fmt.Errorf("take OAuth state: %w", err)
		}
		st.StateHash = stateHash
		st.ExpiresAt, err = parseTime(exp)
		return err
	})
	return st, err
}
