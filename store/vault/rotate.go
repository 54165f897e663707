package vault

import (
	"context"
	"errors"
	"fmt"

	"github.com/fernet/fernet-go"

	"sentryhub/store"
)

// Tables Rotate re-encrypts; RotateError.Table is one of them.
const (
	TableCredentials    = store.TableCredentials
	TableWebhookSecrets = store.TableWebhookSecrets
)

// RotateResult counts the rows Rotate re-encrypted.
type RotateResult = store.RotateCounts

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

// Rotate re-encrypts every row of the ciphertext stores,
// connector_credentials.encrypted_value, webhook_secrets.secret_ciphertext
// and integrations.client_secret_ciphertext,
// from the vault's key to newKey, in ONE write transaction together with a
// "vault.rotate_key" audit row holding the counts, the new key check value
// and the re-seal of the audit chain under the key derived from newKey (an
// "audit.rekey" row records it); see store.DB.RotateEncryptionKey.
// Everything commits together or nothing does: a deployment half on each key
// could not open its own secrets (or verify its audit log) after the restart
// that picks up the new SENTRY_ENCRYPTION_KEY.
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
	locked := false
	defer func() {
		if locked {
			v.mu.Unlock()
		}
	}()
	begin := func() error {
		// Taken inside the transaction (writer first, then mu) and held
		// through commit; see Vault.mu.
		v.mu.Lock()
		locked = true
		if sameKey(v.key, &nk) {
			return &store.ValidationError{Message: "the new key is the current key",
				Fields: map[string]string{"new_key": "must differ from the current key"}}
		}
		return nil
	}
	now := v.now()
	reseal := func(table, row string, tok []byte) ([]byte, error) {
		// v.key is the old key: mu is held from begin on.
		s, err := decrypt(v.key, tok)
		if err != nil {
			return nil, &RotateError{Table: table, Row: row, Err: ErrDecrypt}
		}
		out, err := encrypt(&nk, s, now)
		if err != nil {
			return nil, &RotateError{Table: table, Row: row, Err: err}
		}
		if v.afterRotateRow != nil {
			if err := v.afterRotateRow(table, row); err != nil {
				return nil, &RotateError{Table: table, Row: row, Err: err}
			}
		}
		return out, nil
	}
	// The audit chain is re-sealed under a key derived from newKey in the
	// same transaction, so the next process, which derives its audit key
	// from the new SENTRY_ENCRYPTION_KEY, verifies and extends it.
	res, err := v.db.RotateEncryptionKey(ctx, actor, store.DeriveAuditKey(nk[:]), keyCheckValue(&nk), begin, reseal)
	if err != nil {
		var re *RotateError
		var ve *store.ValidationError
		var rowErr *store.RowError
		switch {
		case errors.As(err, &re), errors.As(err, &ve):
			return RotateResult{}, err
		case errors.As(err, &rowErr):
			return RotateResult{}, &RotateError{Table: rowErr.Table, Row: rowErr.Row, Err: rowErr.Err}
		}
		return RotateResult{}, &RotateError{Err: err}
	}
	v.key = &nk
	return res, nil
}
