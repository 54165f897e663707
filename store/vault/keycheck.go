package vault

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"

	"github.com/fernet/fernet-go"
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
	got, err := v.db.ReadKeyCheck(ctx)
	switch {
	case err != nil:
		return err
	case got != "":
		if !hmac.Equal([]byte(got), []byte(want)) {
			return ErrKeyMismatch
		}
		return nil
	}
	stored, err := v.db.BindKeyCheck(ctx, want, func(tok []byte) error {
		if _, err := decrypt(k, tok); err != nil {
			return ErrKeyMismatch
		}
		return nil
	})
	if err != nil {
		return err
	}
	if stored != want {
		return ErrKeyMismatch
	}
	return nil
}

// CheckKey is BindKey without writing: it returns ErrKeyMismatch when the
// database holds another key's check value, and nil when it holds this
// key's or none (a database from before key checks, or not yet migrated).
func (v *Vault) CheckKey(ctx context.Context) error {
	got, err := v.db.ReadKeyCheck(ctx)
	switch {
	case err != nil:
		return err
	case got == "":
		return nil
	case !hmac.Equal([]byte(got), []byte(keyCheckValue(v.currentKey()))):
		return ErrKeyMismatch
	}
	return nil
}
