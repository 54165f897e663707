package vault

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/fernet/fernet-go"

	"sentryhub/store"
)

// Tables Rotate re-encrypts; RotateError.Table is one of them.
const (
	TableCredentials    = "connector_credentials"
	TableWebhookSecrets = "webhook_secrets"
)

// RotateResult counts the rows Rotate re-encrypted.
type RotateResult struct {
	Credentials    int `json:"credentials"`
	WebhookSecrets int `json:"webhook_secrets"`
}

// RotateError is why a rotation stopped, naming the row when one did. The
// rotation was rolled back: every ciphertext is as it was and the old key
// still opens it. Row identifies the row by its names and ids, e.g.
// "connector=shopify warehouse=1 key=api_key" or
// "subscription=3 generation=1"; it never holds a value. Table and Row are
// empty for a failure not tied to a row (the database, the audit re-seal).
type RotateError struct {
	Table string
	Row   string
	Err   error
}

func (e *RotateError) Error() string {
	if e.Table == "" {
		return fmt.Sprintf("rotate key: %v (rolled back, nothing changed)", e.Err)
	}
	return fmt.Sprintf("rotate key: %s row %s: %v (rolled back, nothing changed)", e.Table, e.Row, e.Err)
}

// Unwrap returns the cause, typically ErrDecrypt.
func (e *RotateError) Unwrap() error { return e.Err }

// Rotate re-encrypts every row of both ciphertext stores,
// connector_credentials.encrypted_value and webhook_secrets.secret_ciphertext,
// from the vault's key to newKey, in ONE write transaction together with a
// "vault.rotate_key" audit row holding the counts and the re-seal of the
// audit chain under the key derived from newKey (an "audit.rekey" row
// records it; see store.RotateAuditKey). Everything commits together or
// nothing does: a deployment half on each key could not open its own secrets
// (or verify its audit log) after the restart that picks up the new
// SENTRY_ENCRYPTION_KEY.
// After commit the vault itself uses newKey.
//
// A row the old key cannot open (or any other failure) rolls everything back
// and returns a *RotateError naming the table and row (wrapping ErrDecrypt
// for an unreadable row; no row for a failure elsewhere). Rotating to the current key is a
// *store.ValidationError. Run it with dispatch and syncs stopped, as the
// operator procedure says; within this process, concurrent vault calls wait.
func (v *Vault) Rotate(ctx context.Context, actor string, newKey *fernet.Key) (RotateResult, error) {
	if newKey == nil {
		return RotateResult{}, errors.New("rotate key: nil new key")
	}
	nk := *newKey
	var res RotateResult
	locked := false
	defer func() {
		if locked {
			v.mu.Unlock()
		}
	}()
	// The audit chain is re-sealed under a key derived from newKey in the
	// same transaction (store.RotateAuditKey), so the next process, which
	// derives its audit key from the new SENTRY_ENCRYPTION_KEY, verifies
	// and extends it.
	_, err := v.db.RotateAuditKey(ctx, actor, store.DeriveAuditKey(nk[:]), func(tx *sql.Tx) error {
		// Taken inside the transaction (writer first, then mu) and held
		// through commit; see Vault.mu.
		v.mu.Lock()
		locked = true
		if sameKey(v.key, &nk) {
			return &store.ValidationError{Message: "the new key is the current key",
				Fields: map[string]string{"new_key": "must differ from the current key"}}
		}
		var err error
		if res.Credentials, err = v.rotateCredentials(ctx, tx, v.key, &nk); err != nil {
			return err
		}
		if res.WebhookSecrets, err = v.rotateWebhookSecrets(ctx, tx, v.key, &nk); err != nil {
			return err
		}
		if err := v.setKeyCheck(ctx, tx, &nk); err != nil {
			return err
		}
		return v.db.AppendAudit(ctx, tx, store.Audit{
			Actor:  actor,
			Action: "vault.rotate_key",
			Target: "vault",
			Diff:   res,
		})
	})
	if err != nil {
		var re *RotateError
		var ve *store.ValidationError
		if errors.As(err, &re) || errors.As(err, &ve) {
			return RotateResult{}, err
		}
		return RotateResult{}, &RotateError{Err: err}
	}
	v.key = &nk
	return res, nil
}

type rotateRow struct {
	id    any // primary key values for the UPDATE
	id2   any
	label string
	tok   []byte
}

func (v *Vault) rotateCredentials(ctx context.Context, tx *sql.Tx, oldKey, newKey *fernet.Key) (int, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, connector_name, warehouse_id, key, encrypted_value
		FROM connector_credentials ORDER BY id`)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", TableCredentials, err)
	}
	var all []rotateRow
	for rows.Next() {
		var id, wh int64
		var connector, key string
		var tok []byte
		if err := rows.Scan(&id, &connector, &wh, &key, &tok); err != nil {
			rows.Close()
			return 0, fmt.Errorf("read %s: %w", TableCredentials, err)
		}
		all = append(all, rotateRow{id: id, label: credentialRow(connector, wh, key), tok: tok})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("read %s: %w", TableCredentials, err)
	}
	return v.reencrypt(ctx, tx, TableCredentials,
		`UPDATE connector_credentials SET encrypted_value = ? WHERE id = ?`, all, oldKey, newKey)
}

func (v *Vault) rotateWebhookSecrets(ctx context.Context, tx *sql.Tx, oldKey, newKey *fernet.Key) (int, error) {
	// Expired generation-2 rows are rotated too: every ciphertext must open
	// under the new key, whatever the cleanup has not reaped yet.
	rows, err := tx.QueryContext(ctx, `SELECT subscription_id, generation, secret_ciphertext
		FROM webhook_secrets ORDER BY subscription_id, generation`)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", TableWebhookSecrets, err)
	}
	var all []rotateRow
	for rows.Next() {
		var sub, gen int64
		var tok []byte
		if err := rows.Scan(&sub, &gen, &tok); err != nil {
			rows.Close()
			return 0, fmt.Errorf("read %s: %w", TableWebhookSecrets, err)
		}
		all = append(all, rotateRow{id: sub, id2: gen,
			label: fmt.Sprintf("subscription=%d generation=%d", sub, gen), tok: tok})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("read %s: %w", TableWebhookSecrets, err)
	}
	return v.reencrypt(ctx, tx, TableWebhookSecrets,
		`UPDATE webhook_secrets SET secret_ciphertext = ? WHERE subscription_id = ? AND generation = ?`,
		all, oldKey, newKey)
}

// reencrypt opens each row's token with oldKey, seals it with newKey and
// updates it in place. Rows are read in full before the first UPDATE so no
// cursor is open on the connection while it writes. updated_at is left
// alone: the value did not change, only its envelope.
func (v *Vault) reencrypt(ctx context.Context, tx *sql.Tx, table, update string, all []rotateRow, oldKey, newKey *fernet.Key) (int, error) {
	stmt, err := tx.PrepareContext(ctx, update)
	if err != nil {
		return 0, fmt.Errorf("prepare %s update: %w", table, err)
	}
	defer stmt.Close()
	now := v.now()
	for i, r := range all {
		s, err := decrypt(oldKey, r.tok)
		if err != nil {
			return i, &RotateError{Table: table, Row: r.label, Err: ErrDecrypt}
		}
		tok, err := encrypt(newKey, s, now)
		if err != nil {
			return i, &RotateError{Table: table, Row: r.label, Err: err}
		}
		args := []any{tok, r.id}
		if r.id2 != nil {
			args = append(args, r.id2)
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return i, &RotateError{Table: table, Row: r.label, Err: err}
		}
		if v.afterRotateRow != nil {
			if err := v.afterRotateRow(table, r.label); err != nil {
				return i, &RotateError{Table: table, Row: r.label, Err: err}
			}
		}
	}
	return len(all), nil
}
