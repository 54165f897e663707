package vault

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/fernet/fernet-go"

	"sentryhub/store"
)

// ErrDecrypt means a ciphertext is not a Fernet token the vault's key opens:
// it was written under another key, or it was altered.
var ErrDecrypt = errors.New("ciphertext cannot be opened with the current encryption key")

// Vault seals and opens secrets with one Fernet key. It runs no SQL: the
// store reads and writes the ciphertexts (connector_credentials,
// webhook_secrets) and calls back into the vault (store.SealFunc,
// store.Reseal) to seal inside its write transactions; the vault's
// methods that take a context pair a store call with sealing or opening.
type Vault struct {
	db *store.DB

	// mu guards key. Rotate holds it (inside its write transaction) from the
	// moment it reads the old key until the new one is in place after
	// commit, so no reader opens new ciphertext with the old key or old
	// ciphertext with the new one. Readers hold it across the store read
	// and the opening; writers take it inside the store's write
	// transaction (SealFunc). Lock order is always writer connection
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

// Seal returns s as a Fernet token (URL-safe base64 text, the form every
// Fernet implementation reads) under the vault's key, stamped with the vault
// clock's time. It fails only if the system random source does.
func (v *Vault) Seal(s Secret) ([]byte, error) {
	return encrypt(v.currentKey(), s, v.now())
}

// Open opens a Fernet token made under the vault's key. Tokens never
// expire (TTL 0): a stored credential stays valid however old it is. It
// returns an error wrapping ErrDecrypt when the token is malformed, altered,
// or made under another key.
func (v *Vault) Open(token []byte) (Secret, error) {
	return decrypt(v.currentKey(), token)
}

// SealFunc returns s sealed lazily, for a store write: the store calls it
// inside its write transaction, where a rotation cannot interleave.
func (v *Vault) SealFunc(s Secret) store.SealFunc {
	return func() ([]byte, error) { return v.Seal(s) }
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
	return store.CredentialsTarget(connector, warehouseID)
}

func credentialRow(connector string, warehouseID int64, key string) string {
	return store.CredentialRow(connector, warehouseID, key)
}

// SealCredentials validates values as the credentials of one connector in
// one warehouse and returns them as SealFuncs for a store write
// (store.DB.PutConnectorCredentials). It returns a *store.ValidationError
// (wrapping store.ErrInvalid) for no values or an empty value; the store's
// write refuses bad names (connector, warehouse id, key).
func (v *Vault) SealCredentials(connector string, warehouseID int64, values map[string]Secret) (map[string]store.SealFunc, error) {
	if err := validatePut(values); err != nil {
		return nil, err
	}
	out := make(map[string]store.SealFunc, len(values))
	for k, s := range values {
		out[k] = v.SealFunc(s)
	}
	return out, nil
}

// PutCredentials seals values and stores them as the credentials of one
// connector in one warehouse, with an audit row ("credentials.put") whose
// diff names the keys created and updated, never their values (see
// store.DB.PutCredentials). Keys not in values are left as they are.
// Validation errors are SealCredentials's.
func (v *Vault) PutCredentials(ctx context.Context, actor, connector string, warehouseID int64, values map[string]Secret) error {
	sealed, err := v.SealCredentials(connector, warehouseID, values)
	if err != nil {
		return err
	}
	return v.db.PutCredentials(ctx, actor, connector, warehouseID, sealed)
}

// validatePut checks what only the vault sees, the plaintext values: there
// is at least one and none is empty. Names and scope are the store's to
// check, where the rows are written (store.DB.PutConnectorCredentials).
func validatePut(values map[string]Secret) error {
	fields := map[string]string{}
	if len(values) == 0 {
		fields["values"] = "at least one credential is required"
	}
	for k, s := range values {
		if s.IsZero() {
			fields["values."+k] = "must not be empty"
		}
	}
	if len(fields) > 0 {
		return &store.ValidationError{Message: "invalid credentials", Fields: fields}
	}
	return nil
}

// DeleteCredentials removes every credential of connector in warehouseID
// with a "credentials.delete" audit row (store.DB.DeleteCredentials). It
// returns store.ErrNotFound when there were none.
func (v *Vault) DeleteCredentials(ctx context.Context, actor, connector string, warehouseID int64) error {
	return v.db.DeleteCredentials(ctx, actor, connector, warehouseID)
}

// CredentialKeys returns the sorted names of the credentials stored for
// connector in warehouseID, without opening anything. It returns
// store.ErrNotFound when there are none.
func (v *Vault) CredentialKeys(ctx context.Context, connector string, warehouseID int64) ([]string, error) {
	return v.db.CredentialKeys(ctx, connector, warehouseID)
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

// Credentials opens the credentials of connector in warehouseID. It is the
// vault's one plaintext path for connector credentials, internal to the
// process: only the sync runner (to build a connector) and the dispatcher
// call it; no API handler may. It returns store.ErrNotFound when there are
// none, and an error wrapping ErrDecrypt naming the key (never the value)
// when a row does not open under the current key.
func (v *Vault) Credentials(ctx context.Context, connector string, warehouseID int64) (map[string]Secret, error) {
	// Held across the read and the opening so a concurrent Rotate is
	// seen entirely or not at all.
	v.mu.RLock()
	defer v.mu.RUnlock()
	sealed, err := v.db.SealedCredentials(ctx, connector, warehouseID)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Secret, len(sealed))
	for key, tok := range sealed {
		s, err := decrypt(v.key, tok)
		if err != nil {
			return nil, fmt.Errorf("credentials %s: %w", credentialRow(connector, warehouseID, key), err)
		}
		out[key] = s
	}
	return out, nil
}

// PutWebhookSecret seals s and stores it as generation 1 (the signing
// secret) or 2 (the previous secret, accepted until expiresAt; nil means no
// expiry) of a subscription, replacing what that generation held
// (store.DB.PutWebhookSecret). The dispatcher's own writes go through
// store.DB.CreateSubscription and RotateWebhookSecret. It returns a
// *store.ValidationError for a generation other than 1 or 2 or an empty
// secret.
func (v *Vault) PutWebhookSecret(ctx context.Context, subscriptionID int64, generation int, s Secret, expiresAt *time.Time) error {
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
	return v.db.PutWebhookSecret(ctx, subscriptionID, generation, v.SealFunc(s), expiresAt)
}

// WebhookSecrets opens a subscription's signing secret (generation 1) and
// its previous secret (generation 2), which is nil when absent or when its
// expires_at is not after the vault clock's now. Like Credentials it is an
// internal plaintext path, for the dispatcher only. It returns
// store.ErrNotFound when the subscription has no generation 1, and an error
// wrapping ErrDecrypt when generation 1 does not open under the current key.
// A generation 2 that does not open is left out (gen2 nil): it is only
// offered to consumers, never used to sign, and rotating a secret the key
// cannot open (the way out of that state) makes it generation 2 for the
// rotation window, which must not hold the new generation 1 back.
func (v *Vault) WebhookSecrets(ctx context.Context, subscriptionID int64) (gen1 Secret, gen2 *Secret, err error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	sealed, err := v.db.SealedWebhookSecrets(ctx, subscriptionID, v.now())
	if err != nil {
		return Secret{}, nil, err
	}
	for _, row := range sealed {
		s, err := decrypt(v.key, row.Ciphertext)
		if err != nil && row.Generation == 2 {
			continue
		}
		if err != nil {
			return Secret{}, nil, fmt.Errorf("webhook secrets subscription=%d generation=%d: %w", subscriptionID, row.Generation, err)
		}
		switch row.Generation {
		case 1:
			gen1 = s
		case 2:
			gen2 = &s
		}
	}
	return gen1, gen2, nil
}
