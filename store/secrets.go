package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// The store keeps ciphertexts (connector_credentials.encrypted_value,
// webhook_secrets.secret_ciphertext) and never sees a key or a plaintext:
// sealing and opening belong to the vault (store/vault), which imports the
// store, never the other way round.

// SealFunc returns the ciphertext of one secret. The store calls it inside
// the write transaction that stores the result: a key rotation holds the
// writer for its whole transaction, so a secret is sealed and stored either
// entirely before a rotation (which then re-seals it) or entirely after it
// (under the new key), never half on each side.
type SealFunc func() ([]byte, error)

// Reseal opens a ciphertext under the old key and seals it under the new
// one, for key rotation. row names the row (ids and names, never a value).
type Reseal func(table, row string, ciphertext []byte) ([]byte, error)

// Tables holding ciphertexts; RotateCounts and the vault's RotateError name them.
const (
	TableCredentials        = "connector_credentials"
	TableWebhookSecrets     = "webhook_secrets"
	TableIntegrationSecrets = "integrations"
)

// CredentialRow names one credential row in errors and logs (never its value).
func CredentialRow(connector string, warehouseID int64, key string) string {
	return fmt.Sprintf("connector=%s warehouse=%d key=%s", connector, warehouseID, key)
}

// CredentialsTarget is the audit target of a connector's credentials.
func CredentialsTarget(connector string, warehouseID int64) string {
	return fmt.Sprintf("connector:%s/warehouse:%d", connector, warehouseID)
}

// PutCredentials stores sealed secrets as the credentials of one connector
// in one warehouse, in one transaction with a "credentials.put" audit row
// naming the keys created and updated (never their values). Keys not in
// secrets are left as they are. Plaintext validation is the vault's; this
// checks the scope and names.
func (db *DB) PutCredentials(ctx context.Context, actor, connector string, warehouseID int64, secrets map[string]SealFunc) error {
	return db.PutConnectorCredentials(ctx, actor, connector, warehouseID, secrets, nil)
}

// PutConnectorCredentials stores a connector's sealed secrets and its
// non-secret settings for warehouseID in one transaction, each kind with
// its audit row, so a credentials form lands together or not at all.
// Either map may be empty (that kind is left alone). Bad names give a
// *ValidationError.
func (db *DB) PutConnectorCredentials(ctx context.Context, actor, connector string, warehouseID int64, secrets map[string]SealFunc, settings map[string]string) error {
	if len(secrets) > 0 {
		if err := validateCredentialNames(connector, warehouseID, secrets); err != nil {
			return err
		}
	}
	if len(settings) > 0 {
		if err := validateSettings(connector, warehouseID, settings); err != nil {
			return err
		}
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("put credentials %s: begin: %w", CredentialsTarget(connector, warehouseID), err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if len(secrets) > 0 {
		if err := db.putCredentials(ctx, tx, actor, connector, warehouseID, secrets); err != nil {
			return fmt.Errorf("put credentials %s: %w", CredentialsTarget(connector, warehouseID), err)
		}
	}
	if len(settings) > 0 {
		if err := db.putConnectorSettings(ctx, tx, actor, connector, warehouseID, settings); err != nil {
			return fmt.Errorf("put connector settings %s: %w", connectorTarget(connector, warehouseID), err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("put credentials %s: commit: %w", CredentialsTarget(connector, warehouseID), interpretError(err))
	}
	return nil
}

func validateCredentialNames(connector string, warehouseID int64, secrets map[string]SealFunc) error {
	fields := map[string]string{}
	switch {
	case connector == "":
		fields["connector"] = "is required"
	case len(connector) > maxCredentialName:
		fields["connector"] = fmt.Sprintf("must be at most %d bytes", maxCredentialName)
	}
	if warehouseID <= 0 {
		fields["warehouse_id"] = "must be a positive integer"
	}
	for k := range secrets {
		switch {
		case k == "":
			fields["values"] = "credential names must not be empty"
		case len(k) > maxCredentialName:
			fields["values."+k[:maxCredentialName]] = fmt.Sprintf("name must be at most %d bytes", maxCredentialName)
		}
	}
	if len(fields) > 0 {
		return &ValidationError{Message: "invalid credentials", Fields: fields}
	}
	return nil
}

// maxCredentialName bounds connector and credential names (the vault's limit).
const maxCredentialName = 128

func (db *DB) putCredentials(ctx context.Context, tx *sql.Tx, actor, connector string, warehouseID int64, secrets map[string]SealFunc) error {
	names := slices.Sorted(maps.Keys(secrets))
	existing, err := credentialKeys(ctx, tx, connector, warehouseID)
	if err != nil {
		return err
	}
	ts := formatTime(db.now())
	created, updated := []string{}, []string{}
	for _, name := range names {
		tok, err := secrets[name]()
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
	return db.appendAuditTx(ctx, tx, Audit{
		Actor:  actor,
		Action: "credentials.put",
		Target: CredentialsTarget(connector, warehouseID),
		Diff:   map[string][]string{"keys_created": created, "keys_updated": updated},
	})
}

// DeleteCredentials removes every credential of connector in warehouseID
// with a "credentials.delete" audit row naming the removed keys, in one
// transaction. It returns ErrNotFound when there were none.
func (db *DB) DeleteCredentials(ctx context.Context, actor, connector string, warehouseID int64) error {
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		deleted, err := db.deleteCredentials(ctx, tx, actor, connector, warehouseID)
		if err == nil && !deleted {
			err = ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete credentials %s: %w", CredentialsTarget(connector, warehouseID), err)
	}
	return nil
}

// DeleteConnectorCredentials removes the secrets and the settings of
// connector in warehouseID in one transaction, each kind audited. It
// returns ErrNotFound when there were neither.
func (db *DB) DeleteConnectorCredentials(ctx context.Context, actor, connector string, warehouseID int64) error {
	return db.withTx(ctx, func(tx *sql.Tx) error {
		secrets, err := db.deleteCredentials(ctx, tx, actor, connector, warehouseID)
		if err != nil {
			return err
		}
		settings, err := db.deleteConnectorSettings(ctx, tx, actor, connector, warehouseID)
		if err != nil {
			return err
		}
		if !secrets && !settings {
			return fmt.Errorf("no credentials for connector %s in warehouse %d: %w", connector, warehouseID, ErrNotFound)
		}
		return nil
	})
}

// deleteCredentials reports whether there was anything to delete (and so
// an audit row).
func (db *DB) deleteCredentials(ctx context.Context, tx *sql.Tx, actor, connector string, warehouseID int64) (bool, error) {
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
	return true, db.appendAuditTx(ctx, tx, Audit{
		Actor:  actor,
		Action: "credentials.delete",
		Target: CredentialsTarget(connector, warehouseID),
		Diff:   map[string][]string{"keys_deleted": keys},
	})
}

func credentialKeys(ctx context.Context, q querier, connector string, warehouseID int64) ([]string, error) {
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
// connector in warehouseID, reading no ciphertext. It returns ErrNotFound
// when there are none.
func (db *DB) CredentialKeys(ctx context.Context, connector string, warehouseID int64) ([]string, error) {
	keys, err := credentialKeys(ctx, db.r, connector, warehouseID)
	if err != nil {
		return nil, fmt.Errorf("credential keys %s: %w", CredentialsTarget(connector, warehouseID), err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("credential keys %s: %w", CredentialsTarget(connector, warehouseID), ErrNotFound)
	}
	return keys, nil
}

// SealedCredentials returns the ciphertexts of the credentials of connector
// in warehouseID by key. It returns ErrNotFound when there are none.
func (db *DB) SealedCredentials(ctx context.Context, connector string, warehouseID int64) (map[string][]byte, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT key, encrypted_value FROM connector_credentials
		WHERE connector_name = ? AND warehouse_id = ?`, connector, warehouseID)
	if err != nil {
		return nil, fmt.Errorf("credentials %s: %w", CredentialsTarget(connector, warehouseID), err)
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var key string
		var tok []byte
		if err := rows.Scan(&key, &tok); err != nil {
			return nil, fmt.Errorf("credentials %s: %w", CredentialsTarget(connector, warehouseID), err)
		}
		out[key] = tok
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("credentials %s: %w", CredentialsTarget(connector, warehouseID), err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("credentials %s: %w", CredentialsTarget(connector, warehouseID), ErrNotFound)
	}
	return out, nil
}

// SealedWebhookSecret is one stored generation of a subscription's secret.
type SealedWebhookSecret struct {
	Generation int
	Ciphertext []byte
	ExpiresAt  *time.Time // nil: no expiry
}

// SealedWebhookSecrets returns the stored generations of a subscription's
// secret, leaving out a generation 2 whose expires_at is not after now. It
// returns ErrNotFound when there is no generation 1.
func (db *DB) SealedWebhookSecrets(ctx context.Context, subscriptionID int64, now time.Time) ([]SealedWebhookSecret, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT generation, secret_ciphertext, expires_at
		FROM webhook_secrets WHERE subscription_id = ?`, subscriptionID)
	if err != nil {
		return nil, fmt.Errorf("webhook secrets subscription=%d: %w", subscriptionID, err)
	}
	defer rows.Close()
	var out []SealedWebhookSecret
	var found bool
	for rows.Next() {
		var s SealedWebhookSecret
		var exp sql.NullString
		if err := rows.Scan(&s.Generation, &s.Ciphertext, &exp); err != nil {
			return nil, fmt.Errorf("webhook secrets subscription=%d: %w", subscriptionID, err)
		}
		if exp.Valid {
			t, err := time.Parse(time.RFC3339Nano, exp.String)
			if err != nil {
				return nil, fmt.Errorf("webhook secrets subscription=%d generation=%d: expires_at: %w", subscriptionID, s.Generation, err)
			}
			if s.Generation == 2 && !t.After(now) {
				continue // expired: no longer accepted, not worth opening
			}
			s.ExpiresAt = &t
		}
		found = found || s.Generation == 1
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("webhook secrets subscription=%d: %w", subscriptionID, err)
	}
	if !found {
		return nil, fmt.Errorf("webhook secrets subscription=%d: %w", subscriptionID, ErrNotFound)
	}
	return out, nil
}

// PutWebhookSecret stores a sealed secret as generation 1 (the signing
// secret) or 2 (the previous secret, accepted until expiresAt; nil means no
// expiry) of a subscription, replacing what that generation held, in its
// own transaction. The dispatcher's writes (CreateSubscription,
// RotateWebhookSecret) store theirs inside their own transactions; this is
// for tools and tests. A generation other than 1 or 2 is a *ValidationError.
func (db *DB) PutWebhookSecret(ctx context.Context, subscriptionID int64, generation int, secret SealFunc, expiresAt *time.Time) error {
	return db.withTx(ctx, func(tx *sql.Tx) error {
		return db.putWebhookSecret(ctx, tx, subscriptionID, generation, secret, expiresAt)
	})
}

func (db *DB) putWebhookSecret(ctx context.Context, tx *sql.Tx, subscriptionID int64, generation int, secret SealFunc, expiresAt *time.Time) error {
	if generation != 1 && generation != 2 {
		return &ValidationError{Message: "invalid webhook secret", Fields: map[string]string{"generation": "must be 1 or 2"}}
	}
	tok, err := secret()
	if err != nil {
		return fmt.Errorf("put webhook secret subscription=%d generation=%d: %w", subscriptionID, generation, err)
	}
	var exp any // NULL when nil
	if expiresAt != nil {
		exp = formatTime(*expiresAt)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO webhook_secrets
		(subscription_id, generation, secret_ciphertext, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (subscription_id, generation) DO UPDATE SET
		secret_ciphertext = excluded.secret_ciphertext, created_at = excluded.created_at,
		expires_at = excluded.expires_at`,
		subscriptionID, generation, tok, formatTime(db.now()), exp)
	if err != nil {
		return fmt.Errorf("put webhook secret subscription=%d generation=%d: %w", subscriptionID, generation, err)
	}
	return nil
}

// ReadKeyCheck returns the stored key check value, "" when there is none
// (or the key_check table does not exist yet: a database not yet migrated).
func (db *DB) ReadKeyCheck(ctx context.Context) (string, error) {
	var tables int
	if err := db.r.QueryRowContext(ctx,
		`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'key_check'`).Scan(&tables); err != nil {
		return "", fmt.Errorf("read key check value: %w", err)
	}
	if tables == 0 {
		return "", nil
	}
	var got string
	err := db.r.QueryRowContext(ctx, `SELECT mac FROM key_check WHERE id = 1`).Scan(&got)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("read key check value: %w", err)
	}
	return got, nil
}

// BindKeyCheck stores want as the key check value when there is none and
// returns the value stored afterwards (want, or what a concurrent first
// start stored). Before storing, it hands probe one ciphertext of each
// table (when there is one): an error from probe (a secret the key does not
// open) is returned and nothing is stored, so a database from before key
// checks is never bound to the wrong key.
func (db *DB) BindKeyCheck(ctx context.Context, want string, probe func(ciphertext []byte) error) (string, error) {
	var stored string
	err := db.withTx(ctx, func(tx *sql.Tx) error {
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
			if err := probe(tok); err != nil {
				return err
			}
		}
		// INSERT OR IGNORE then read back: a concurrent first start with
		// another key loses instead of overwriting.
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO key_check (id, mac, created_at) VALUES (1, ?, ?)`,
			want, formatTime(db.now())); err != nil {
			return fmt.Errorf("store key check value: %w", err)
		}
		if err := tx.QueryRowContext(ctx, `SELECT mac FROM key_check WHERE id = 1`).Scan(&stored); err != nil {
			return fmt.Errorf("read key check value: %w", err)
		}
		return nil
	})
	return stored, err
}

// RotateCounts counts the rows a key rotation re-sealed.
type RotateCounts struct {
	Credentials    int `json:"credentials"`
	WebhookSecrets int `json:"webhook_secrets"`
	// IntegrationSecrets counts integrations' client secrets (omitted
	// when there are none, so the record of a hub without integrations
	// reads as before).
	IntegrationSecrets int `json:"integration_secrets,omitempty"`
}

// RotateEncryptionKey re-seals every ciphertext with reseal, stores
// keyCheck as the new key check value and appends a "vault.rotate_key"
// audit row with the counts, inside the transaction of rotateAuditKey (so
// the audit chain moves to auditKey with them). begin runs first inside the
// transaction (the vault takes its key lock there: writer first, then the
// vault's lock); an error from it, from reseal or from the database rolls
// everything back.
func (db *DB) RotateEncryptionKey(ctx context.Context, actor string, auditKey []byte, keyCheck string, begin func() error, reseal Reseal) (RotateCounts, error) {
	var res RotateCounts
	_, err := db.rotateAuditKey(ctx, actor, auditKey, func(tx *sql.Tx) error {
		if err := begin(); err != nil {
			return err
		}
		var err error
		if res.Credentials, err = resealCredentials(ctx, tx, reseal); err != nil {
			return err
		}
		if res.WebhookSecrets, err = resealWebhookSecrets(ctx, tx, reseal); err != nil {
			return err
		}
		if res.IntegrationSecrets, err = resealIntegrationSecrets(ctx, tx, reseal); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO key_check (id, mac, created_at) VALUES (1, ?, ?)
			ON CONFLICT (id) DO UPDATE SET mac = excluded.mac, created_at = excluded.created_at`,
			keyCheck, formatTime(db.now())); err != nil {
			return fmt.Errorf("store the new key check value: %w", err)
		}
		return db.appendAuditTx(ctx, tx, Audit{Actor: actor, Action: "vault.rotate_key", Target: "vault", Diff: res})
	})
	if err != nil {
		return RotateCounts{}, err
	}
	return res, nil
}

type resealRow struct {
	id, id2 any // primary key values for the UPDATE; id2 nil for one column
	label   string
	tok     []byte
}

func resealCredentials(ctx context.Context, tx *sql.Tx, reseal Reseal) (int, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, connector_name, warehouse_id, key, encrypted_value
		FROM connector_credentials ORDER BY id`)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", TableCredentials, err)
	}
	var all []resealRow
	for rows.Next() {
		var id, wh int64
		var connector, key string
		var tok []byte
		if err := rows.Scan(&id, &connector, &wh, &key, &tok); err != nil {
			rows.Close()
			return 0, fmt.Errorf("read %s: %w", TableCredentials, err)
		}
		all = append(all, resealRow{id: id, label: CredentialRow(connector, wh, key), tok: tok})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("read %s: %w", TableCredentials, err)
	}
	return resealRows(ctx, tx, TableCredentials,
		`UPDATE connector_credentials SET encrypted_value = ? WHERE id = ?`, all, reseal)
}

func resealWebhookSecrets(ctx context.Context, tx *sql.Tx, reseal Reseal) (int, error) {
	// Expired generation-2 rows are re-sealed too: every ciphertext must
	// open under the new key, whatever the cleanup has not reaped yet.
	rows, err := tx.QueryContext(ctx, `SELECT subscription_id, generation, secret_ciphertext
		FROM webhook_secrets ORDER BY subscription_id, generation`)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", TableWebhookSecrets, err)
	}
	var all []resealRow
	for rows.Next() {
		var sub, gen int64
		var tok []byte
		if err := rows.Scan(&sub, &gen, &tok); err != nil {
			rows.Close()
			return 0, fmt.Errorf("read %s: %w", TableWebhookSecrets, err)
		}
		all = append(all, resealRow{id: sub, id2: gen,
			label: fmt.Sprintf("subscription=%d generation=%d", sub, gen), tok: tok})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("read %s: %w", TableWebhookSecrets, err)
	}
	return resealRows(ctx, tx, TableWebhookSecrets,
		`UPDATE webhook_secrets SET secret_ciphertext = ? WHERE subscription_id = ? AND generation = ?`,
		all, reseal)
}

// resealRows re-seals each row and updates it in place. Rows are read in
// full before the first UPDATE so no cursor is open on the connection while
// it writes. updated_at is left alone: the value did not change, only its
// envelope. An error from reseal is returned as is (it names the row).
func resealRows(ctx context.Context, tx *sql.Tx, table, update string, all []resealRow, reseal Reseal) (int, error) {
	stmt, err := tx.PrepareContext(ctx, update)
	if err != nil {
		return 0, fmt.Errorf("prepare %s update: %w", table, err)
	}
	defer stmt.Close()
	for i, r := range all {
		tok, err := reseal(table, r.label, r.tok)
		if err != nil {
			return i, err
		}
		args := []any{tok, r.id}
		if r.id2 != nil {
			args = append(args, r.id2)
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return i, &RowError{Table: table, Row: r.label, Err: err}
		}
	}
	return len(all), nil
}

// RowError is a database failure on one named row during a key rotation.
type RowError struct {
	Table, Row string
	Err        error
}

func (e *RowError) Error() string { return fmt.Sprintf("%s row %s: %v", e.Table, e.Row, e.Err) }

// Unwrap returns the cause.
func (e *RowError) Unwrap() error { return e.Err }
