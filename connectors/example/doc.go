// Package example is the template connector: copy this directory, rename
// the package and Name, and fill in the methods. It talks to a small REST
// API (described below, and implemented for tests by Fake in fake.go) and
// shows every convention of the framework:
//
//   - settings come from ConfigSchema, with secrets marked Secret so the
//     vault keeps them and the admin API only ever shows ****;
//   - every request goes through env.HTTP (retries, rate limits, circuit
//     breaker, SSRF guard, scrubbed errors) — never net/http directly;
//   - records are written through env.Sink, keyed by the upstream id, and
//     counted with SyncResult.Track, so one bad record does not fail a sync;
//   - operations outside Capabilities return connectors.Unsupported;
//   - the fulfillment push is idempotent (it sends the idempotency key);
//   - nothing a connector returns or logs contains a credential.
//
// The upstream API:
//
//	GET  /ping                                   -> 200 {"ok": true}
//	GET  /items?updated_since=T&cursor=C&limit=N -> {"items": [...], "next_cursor": "..."}
//	GET  /orders?updated_since=T&cursor=C&limit=N -> {"orders": [...], "next_cursor": "..."}
//	POST /orders/{id}/fulfillments (Idempotency-Key header) -> 201 {"id": "..."} (200 on replay)
//
// authenticated with "Authorization: Bearer <api_key>".
package example
