// Package sink is a reference webhook consumer: an http.Handler that
// receives the hub's deliveries and checks each one by the consumer
// contract's rules (docs/webhooks.md, "Verifying a delivery"; its tests hold
// it to dispatcher/testdata/verify_sentry.py), then shows what arrived on
// an HTML page and as JSON. `sentryhub demo` runs one on 127.0.0.1 with a
// subscription pointing at it, so a newcomer sees signed deliveries
// verified end to end without writing a consumer first.
//
// It is deliberately independent of the dispatcher: it does not import it,
// and it computes signatures from the contract's text, so a signing bug in
// the hub shows up here as an invalid delivery rather than cancelling out.
//
// Verification follows the contract's Python verifier step by step (see
// Verify): the X-Sentry-Signature prefix, the generation and timestamp
// parsed as Python's int() parses a header decoded as Latin-1 (as WSGI
// frameworks deliver it), generation 1 or 2, the ±5-minute replay window,
// the secret of that generation, and a constant-time comparison of the
// lowercase hex digest. A delivery that fails is answered 401, as a
// consumer would, and shown with the reason. Valid deliveries are deduped
// on event_id, never on the delivery id or source_txn_id; a duplicate is
// acknowledged (200) and flagged.
//
// Dedupe uses the set of event ids seen (bounded, oldest forgotten first)
// rather than the contract's single "largest event_id applied" watermark:
// the hub keeps FIFO order per aggregate but sends different aggregates in
// parallel, so a global watermark would discard an event that arrives
// after a later event of another aggregate.
//
// Everything is in memory and bounded: the last Config.Keep deliveries and
// the last Config.Remember event ids. Secrets are looked up per delivery
// through Secrets (the contract's secret_for_generation) and travel as
// vault.Secret, which never prints; neither secrets nor bodies are logged.
package sink
