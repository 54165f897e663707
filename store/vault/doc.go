// Package vault keeps the hub's secrets encrypted at rest: connector
// credentials (API keys, consumer secrets, OAuth tokens), scoped per
// connector + warehouse + key, and the HMAC secrets that sign outbound
// webhooks.
//
// Values are Fernet tokens under the master key from SENTRY_ENCRYPTION_KEY.
// Fernet because the seed contract and existing deployments use it: a key
// from Python cryptography's Fernet.generate_key() works here unchanged, and
// tokens are interchangeable with every other Fernet implementation. Tokens
// are decrypted without a TTL; a stored credential does not age out.
//
// Plaintext stays inside this package and the two callers that must put it
// on the wire. Values travel as Secret, which prints, marshals and logs as
// "****", so a stray log line, error message or JSON response cannot leak
// one. The admin API reads RedactedCredentials or CredentialKeys, which
// decrypt nothing. Credentials and WebhookSecrets are the only paths that
// return decrypted values, and Secret.Reveal the only way to the bytes; they
// are for the connector sync runner and the dispatcher's signer, never for
// an HTTP handler. Audit rows name credential keys, never values.
//
// The key protects two ciphertext stores, connector_credentials and
// webhook_secrets. Rotate re-encrypts both in one SQLite write transaction:
// if any row cannot be opened with the old key nothing is changed, because a
// deployment left half on each key could not read its own secrets after the
// restart that picks up the new key.
package vault
