package vault

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/fernet/fernet-go"

	"sentryhub/store"
)

// ErrDecrypt means a ciphertext is not a Fernet token the vault's key opens:
// it was written under another key, or it was altered.
var ErrDecrypt = errors.New("ciphertext cannot be opened with the current encryption key")

// Vault encrypts secrets with one Fernet key and keeps them in the
// connector_credentials and webhook_secrets tables.
type Vault struct {
	db *store.DB

	// mu guards key. Rotate holds it (inside its write transaction) from the
	// moment it reads the old key until the new one is in place after
	// commit, so no reader decrypts new ciphertext with the old key or old
	// ciphertext with the new one. Lock order is always writer connection
	// first, then mu; never begin a write transaction while holding mu.
	mu  sync.RWMutex
	key *fernet.Key

	// afterRotateRow, when set (tests only), runs after each row Rotate
	// re-encrypts; an error from it aborts the rotation like a bad row.
	afterRotateRow func(table, row string) error
}

// New returns a Vault over db's credential tables using key, which must be
// non-nil (New panics otherwise: running without SENTRY_ENCRYPTION_KEY is a
// configuration error caught at startup, never a key made up here).
// Timestamps and Fernet token times come from db.Now.
func New(db *store.DB, key *fernet.Key) *Vault {
	if key == nil {
		panic("vault.New: nil key")
	}
	k := *key
	return &Vault{db: db, key: &k}
}

func (v *Vault) now() time.Time { return v.db.Now().UTC() }

func (v *Vault) currentKey() *fernet.Key {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.key
}

// Encrypt returns s as a Fernet token (URL-safe base64 text, the form every
// Fernet implementation reads) under the vault's key, stamped with the vault
// clock's time. It fails only if the system random source does.
func (v *Vault) Encrypt(s Secret) ([]byte, error) {
	return encrypt(v.currentKey(), s, v.now())
}

// Decrypt opens a Fernet token made under the vault's key. Tokens never
// expire (TTL 0): a stored credential stays valid however old it is. It
// returns an error wrapping ErrDecrypt when the token is malformed, altered,
// or made under another key.
func (v *Vault) Decrypt(token []byte) (Secret, error) {
	return decrypt(v.currentKey(), token)
}

func encrypt(k *fernet.Key, s Secret, at time.Time) ([]byte, error) {
	tok, err := fernet.EncryptAndSignAtTime(s.bytes(), k, at)
	if err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	return tok, nil
}

func decrypt(k *fernet.Key, token []byte) (Secret, error) {
	// fernet-go (like Python's base64) decodes leniently: it verifies
	// whatever prefix decodes, so a token with junk appended would open. A
	// stored token is exactly what Encrypt wrote; anything else is damage.
	if _, err := base64.URLEncoding.DecodeString(string(token)); err != nil {
		return Secret{}, fmt.Errorf("decrypt: %w: not base64", ErrDecrypt)
	}
	msg := fernet.VerifyAndDecrypt(token, 0, []*fernet.Key{k})
	if msg == nil {
		return Secret{}, fmt.Errorf("decrypt: %w", ErrDecrypt)
	}
	return wrap(msg), nil
}

// sameKey compares keys without leaking where they differ.
func sameKey(a, b *fernet.Key) bool { return subtle.ConstantTimeCompare(a[:], b[:]) == 1 }

func credentialsTarget(connector string, warehouseID int64) string {
	return fmt.Sprintf("connector:%s/warehouse:%d", connector, warehouseID)
}

func credentialRow(connector string, warehouseID int64, key string) string {
	return fmt.Sprintf("connector=%s warehouse=%d key=%s", connector, warehouseID, key)
}

const maxNameLen = 128

func validateScope(fields map[string]string, connector string, warehouseID int64) {
	switch {
	case connector == "":
		fields["connector"] = "is required"
	case len(connector) > maxNameLen:
		fields["connector"] = fmt.Sprintf("must be at most %d bytes", maxNameLen)
	}
	if warehouseID <= 0 {
		fields["warehouse_id"] = "must be a positive integer"
	}
}

// PutCredentials encrypts values and upserts them as the credentials of one
// connector in one warehouse, all in one transaction with an audit row
// ("credentials.put") whose diff names the keys created and updated, never
// their values. Keys not in values are left as they are. It returns a
// *store.ValidationError (wrapping store.ErrInvalid) for an empty connector
// name, a warehouse id below 1, no values, an empty key name or an empty value.
func (v *Vault) PutCredentials(ctx context.Context, actor, connector string, warehouseID int64, values map[string]Secret) error {
	if err := validatePut(connector, warehouseID, values); err != nil {
		return err
	}
	err := v.db.WithTx(ctx, func(tx *sql.Tx) error {
		return v.putCredentials(ctx, tx, actor, connector, warehouseID, values)
	})
	if err != nil {
		return fmt.Errorf("put credentials %s: %w", credentialsTarget(connector, warehouseID), err)
	}
	return nil
}

// PutCredentialsTx is PutCredentials inside the caller's write transaction,
// for writes that must commit together with the credentials (a
// connector's non-secret settings). tx must come from the same store.DB.
func (v *Vault) PutCredentialsTx(ctx context.Context, tx *sql.Tx, actor, connector string, warehouseID int64, values map[string]Secret) error {
	if err := validatePut(connector, warehouseID, values); err != nil {
		return err
	}
	if err := v.putCredentials(ctx, tx, actor, connector, warehouseID, values); err != nil {
		return fmt.Errorf("put credentials %s: %w", credentialsTarget(connector, warehouseID), err)
	}
	return nil
}

func validatePut(connector string, warehouseID int64, values map[string]Secret) error {
	fields := map[string]string{}
	validateScope(fields, connector, warehouseID)
	if len(values) == 0 {
		fields["values"] = "at least one credential is required"
	}
	for k, s := range values {
		switch {
		case k == "":
			fields["values"] = "credential names must not be empty"
		case len(k) > maxNameLen:
			fields["values."+k[:maxNameLen]] = fmt.Sprintf("name must be at most %d bytes", maxNameLen)
		case s.IsZero():
			fields["values."+k] = "must not be empty"
		}
	}
	if len(fields) > 0 {
		return &store.ValidationError{Message: "invalid credentials", Fields: fields}
	}
	return nil
}

func (v *Vault) putCredentials(ctx context.Context, tx *sql.Tx, actor, connector string, warehouseID int64, values map[string]Secret) error {
	names := slices.Sorted(maps.Keys(values))
	existing, err := credentialKeys(ctx, tx, connector, warehouseID)
	if err != nil {
		return err
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	now := v.now()
	ts := now.Format(store.TimeFormat)
	created, updated := []string{}, []string{}
	for _, name := range names {
		tok, err := encrypt(v.key, values[name], now)
		if err != nil {
			return err
		}
		// created_at survives an update: it says when the credential
		// was first set, updated_at when its value last changed.
		_, err = tx.ExecContext(ctx, `INSERT INTO connector_credentials
			(connector_name, warehouse_id, key, encrypted_value, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (connector_name, warehouse_id, key)
			DO UPDATE SET encrypted_value = excluded.encrypted_value, updated_at = excluded.updated_at`,
			connector, warehouseID, name, tok, ts, ts)
		if err != nil {
			return fmt.Errorf("store credential %s: %w", name, err)
		}
		if slices.Contains(existing, name) {
			updated = append(updated, name)
		} else {
			created = append(created, name)
		}
	}
	return v.db.AppendAudit(ctx, tx, store.Audit{
		Actor:  actor,
		Action: "credentials.put",
		Target: credentialsTarget(connector, warehouseID),
		Diff:   map[string][]string{"keys_created": created, "keys_updated": updated},
	})
}

// DeleteCredentials removes every credential of connector in warehouseID and
// appends a "credentials.delete" audit row naming the removed keys, in one
// transaction. It returns store.ErrNotFound when there were none.
func (v *Vault) DeleteCredentials(ctx context.Context, actor, connector string, warehouseID int64) error {
	err := v.db.WithTx(ctx, func(tx *sql.Tx) error {
		deleted, err := v.DeleteCredentialsTx(ctx, tx, actor, connector, warehouseID)
		if err == nil && !deleted {
			err = store.ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete credentials %s: %w", credentialsTarget(connector, warehouseID), err)
	}
	return nil
}

// DeleteCredentialsTx is DeleteCredentials inside the caller's write
// transaction; it reports whether there was anything to delete (and so an
// audit row) instead of returning store.ErrNotFound.
func (v *Vault) DeleteCredentialsTx(ctx context.Context, tx *sql.Tx, actor, connector string, warehouseID int64) (bool, error) {
	rows, err := tx.QueryContext(ctx, `DELETE FROM connector_credentials
		WHERE connector_name = ? AND warehouse_id = ? RETURNING key`, connector, warehouseID)
	if err != nil {
		return false, err
	}
	keys, err := scanStrings(rows)
	if err != nil || len(keys) == 0 {
		return false, err
	}
	slices.Sort(keys)
	return true, v.db.AppendAudit(ctx, tx, store.Audit{
		Actor:  actor,
		Action: "credentials.delete",
		Target: credentialsTarget(connector, warehouseID),
		Diff:   map[string][]string{"keys_deleted": keys},
	})
}

// queryer is satisfied by *sql.DB and *sql.Tx.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func credentialKeys(ctx context.Context, q queryer, connector string, warehouseID int64) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT key FROM connector_credentials
		WHERE connector_name = ? AND warehouse_id = ? ORDER BY key`, connector, warehouseID)
	if err != nil {
		return nil, err
	}
	return scanStrings(rows)
}

func scanStrings(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// CredentialKeys returns the sorted names of the credentials stored for
// connector in warehouseID, without decrypting anything. It returns
// store.ErrNotFound when there are none.
func (v *Vault) CredentialKeys(ctx context.Context, connector string, warehouseID int64) ([]string, error) {
	keys, err := credentialKeys(ctx, v.db.Reader(), connector, warehouseID)
	if err != nil {
		return nil, fmt.Errorf("credential keys %s: %w", credentialsTarget(connector, warehouseID), err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("credential keys %s: %w", credentialsTarget(connector, warehouseID), store.ErrNotFound)
	}
	return keys, nil
}

// RedactedCredentials returns the credentials of connector in warehouseID
// with every value "****": what the admin API shows. It decrypts nothing.
// It returns store.ErrNotFound when there are none.
func (v *Vault) RedactedCredentials(ctx context.Context, connector string, warehouseID int64) (map[string]string, error) {
	keys, err := v.CredentialKeys(ctx, connector, warehouseID)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		out[k] = redacted
	}
	return out, nil
}

// Credentials decrypts the credentials of connector in warehouseID. It is the
// vault's one plaintext path for connector credentials, internal to the
// process: only the sync runner (to build a connector) and the dispatcher
// call it; no API handler may. It returns store.ErrNotFound when there are
// none, and an error wrapping ErrDecrypt naming the key (never the value)
// when a row does not open under the current key.
func (v *Vault) Credentials(ctx context.Context, connector string, warehouseID int64) (map[string]Secret, error) {
	// Held across the read and the decryption so a concurrent Rotate is
	// seen entirely or not at all.
	v.mu.RLock()
	defer v.mu.RUnlock()
	rows, err := v.db.Reader().QueryContext(ctx, `SELECT key, encrypted_value FROM connector_credentials
		WHERE connector_name = ? AND warehouse_id = ?`, connector, warehouseID)
	if err != nil {
		return nil, fmt.Errorf("credentials %s: %w", credentialsTarget(connector, warehouseID), err)
	}
	defer rows.Close()
	out := map[string]Secret{}
	for rows.Next() {
		var key string
		var tok []byte
		if err := rows.Scan(&key, &tok); err != nil {
			return nil, fmt.Errorf("credentials %s: %w", credentialsTarget(connector, warehouseID), err)
		}
		s, err := decrypt(v.key, tok)
		if err != nil {
			return nil, fmt.Errorf("credentials %s: %w", credentialRow(connector, warehouseID, key), err)
		}
		out[key] = s
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("credentials %s: %w", credentialsTarget(connector, warehouseID), err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("credentials %s: %w", credentialsTarget(connector, warehouseID), store.ErrNotFound)
	}
	return out, nil
}

// PutWebhookSecret encrypts s and stores it as generation 1 (the signing
// secret) or 2 (the previous secret, accepted until expiresAt; nil means no
// expiry) of a subscription, replacing what that generation held. It writes
// inside tx, the caller's transaction, so the dispatcher can move generations
// and append its own audit row atomically; rotation policy is the
// dispatcher's. It returns a *store.ValidationError for a generation other
// than 1 or 2 or an empty secret.
func (v *Vault) PutWebhookSecret(ctx context.Context, tx *sql.Tx, subscriptionID int64, generation int, s Secret, expiresAt *time.Time) error {
	fields := map[string]string{}
	if generation != 1 && generation != 2 {
		fields["generation"] = "must be 1 or 2"
	}
	if s.IsZero() {
		fields["secret"] = "must not be empty"
	}
	if len(fields) > 0 {
		return &store.ValidationError{Message: "invalid webhook secret", Fields: fields}
	}
	var exp any // NULL when nil
	if expiresAt != nil {
		exp = expiresAt.UTC().Format(store.TimeFormat)
	}
	// The caller's tx holds the writer, so taking mu here keeps the lock
	// order (writer, then mu) that Rotate uses.
	v.mu.RLock()
	defer v.mu.RUnlock()
	now := v.now()
	tok, err := encrypt(v.key, s, now)
	if err != nil {
		return fmt.Errorf("put webhook secret subscription=%d generation=%d: %w", subscriptionID, generation, err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO webhook_secrets
		(subscription_id, generation, secret_ciphertext, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (subscription_id, generation) DO UPDATE SET
		secret_ciphertext = excluded.secret_ciphertext, created_at = excluded.created_at,
		expires_at = excluded.expires_at`,
		subscriptionID, generation, tok, now.Format(store.TimeFormat), exp)
	if err != nil {
		return fmt.Errorf("put webhook secret subscription=%d generation=%d: %w", subscriptionID, generation, err)
	}
	return nil
}

// WebhookSecrets decrypts a subscription's signing secret (generation 1) and
// its previous secret (generation 2), which is nil when absent or when its
// expires_at is not after the vault clock's now. Like Credentials it is an
// internal plaintext path, for the dispatcher only. It returns
// store.ErrNotFound when the subscription has no generation 1, and an error
// wrapping ErrDecrypt when a row does not open under the current key.
func (v *Vault) WebhookSecrets(ctx context.Context, subscriptionID int64) (gen1 Secret, gen2 *Secret, err error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	rows, err := v.db.Reader().QueryContext(ctx, `SELECT generation, secret_ciphertext, expires_at
		FROM webhook_secrets WHERE subscription_id = ?`, subscriptionID)
	if err != nil {
		return Secret{}, nil, fmt.Errorf("webhook secrets subscription=%d: %w", subscriptionID, err)
	}
	defer rows.Close()
	var found bool
	now := v.now()
	for rows.Next() {
		var gen int
		var tok []byte
		var exp sql.NullString
		if err := rows.Scan(&gen, &tok, &exp); err != nil {
			return Secret{}, nil, fmt.Errorf("webhook secrets subscription=%d: %w", subscriptionID, err)
		}
		if gen == 2 && exp.Valid {
			t, err := time.Parse(time.RFC3339Nano, exp.String)
			if err != nil {
				return Secret{}, nil, fmt.Errorf("webhook secrets subscription=%d generation=2: expires_at: %w", subscriptionID, err)
			}
			if !t.After(now) {
				continue // expired: no longer accepted, not worth decrypting
			}
		}
		s, err := decrypt(v.key, tok)
		if err != nil {
			return Secret{}, nil, fmt.Errorf("webhook secrets subscription=%d generation=%d: %w", subscriptionID, gen, err)
		}
		switch gen {
		case 1:
			gen1, found = s, true
		case 2:
			gen2 = &s
		}
	}
	if err := rows.Err(); err != nil {
		return Secret{}, nil, fmt.Errorf("webhook secrets subscription=%d: %w", subscriptionID, err)
	}
	if !found {
		return Secret{}, nil, fmt.Errorf("webhook secrets subscription=%d: %w", subscriptionID, store.ErrNotFound)
	}
	return gen1, gen2, nil
}
