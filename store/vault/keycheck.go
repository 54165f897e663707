package vault

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/fernet/fernet-go"

	"sentryhub/store"
)

// ErrKeyMismatch means the database was bound to another encryption key: the
// key check value stored at first start does not match, or (for a database
// from before key checks) a stored secret does not open with the key.
var ErrKeyMismatch = errors.New("the database belongs to a different encryption key")

// keyCheckValue is the value stored for key: an HMAC of a fixed label. It
// identifies the key without revealing it (the label is public, the HMAC
// is one-way), so it can sit next to the ciphertexts.
func keyCheckValue(k *fernet.Key) string {
	m := hmac.New(sha256.New, k[:])
	m.Write([]byte("sentryhub/key-check/v1"))
	return hex.EncodeToString(m.Sum(nil))
}

// BindKey ties the database to the vault's key. The first call on a
// database stores the key check value; later calls compare with it and
// return ErrKeyMismatch for another key. A database created before key
// checks is bound only when its stored secrets open with the key (or it has
// none), so the check never adopts the wrong key.
func (v *Vault) BindKey(ctx context.Context) error {
	k := v.currentKey()
	want := keyCheckValue(k)
	var got string
	err := v.db.Reader().QueryRowContext(ctx, `SELECT mac FROM key_check WHERE id = 1`).Scan(&got)
	switch {
	case err == nil:
		if !hmac.Equal([]byte(got), []byte(want)) {
			return ErrKeyMismatch
		}
		return nil
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("read key check value: %w", err)
	}
	return v.db.WithTx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{
			`SELECT encrypted_value FROM connector_credentials LIMIT 1`,
			`SELECT secret_ciphertext FROM webhook_secrets LIMIT 1`,
		} {
			var tok []byte
			err := tx.QueryRowContext(ctx, q).Scan(&tok)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return fmt.Errorf("probe stored secrets: %w", err)
			}
			if _, err := decrypt(k, tok); err != nil {
				return ErrKeyMismatch
			}
		}
		// INSERT OR IGNORE then compare: a concurrent first start with
		// another key loses instead of overwriting.
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO key_check (id, mac, created_at) VALUES (1, ?, ?)`,
			want, v.now().Format(store.TimeFormat)); err != nil {
			return fmt.Errorf("store key check value: %w", err)
		}
		var stored string
		if err := tx.QueryRowContext(ctx, `SELECT mac FROM key_check WHERE id = 1`).Scan(&stored); err != nil {
			return fmt.Errorf("read key check value: %w", err)
		}
		if stored != want {
			return ErrKeyMismatch
		}
		return nil
	})
}

// CheckKey is BindKey without writing: it returns ErrKeyMismatch when the
// database holds another key's check value, and nil when it holds this
// key's or none (a database from before key checks, or not yet migrated).
func (v *Vault) CheckKey(ctx context.Context) error {
	var tables int
	if err := v.db.Reader().QueryRowContext(ctx,
		`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'key_check'`).Scan(&tables); err != nil {
		return fmt.Errorf("read key check value: %w", err)
	}
	if tables == 0 {
		return nil
	}
	var got string
	err := v.db.Reader().QueryRowContext(ctx, `SELECT mac FROM key_check WHERE id = 1`).Scan(&got)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("read key check value: %w", err)
	case !hmac.Equal([]byte(got), []byte(keyCheckValue(v.currentKey()))):
		return ErrKeyMismatch
	}
	return nil
}

// setKeyCheck replaces the key check value inside rotate's transaction.
func (v *Vault) setKeyCheck(ctx context.Context, tx *sql.Tx, k *fernet.Key) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO key_check (id, mac, created_at) VALUES (1, ?, ?)
		ON CONFLICT (id) DO UPDATE SET mac = excluded.mac, created_at = excluded.created_at`,
		keyCheckValue(k), v.now().Format(store.TimeFormat))
	if err != nil {
		return fmt.Errorf("store the new key check value: %w", err)
	}
	return nil
}
