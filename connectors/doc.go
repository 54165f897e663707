// Package connectors is the integration layer between the hub and external
// systems of record (Shopify, ERPs, any HTTP API): the contract every
// connector implements, the registry the app fills at startup, the HTTP
// helper every upstream call goes through, the sync runner (the state
// machine of connector-framework.txt), the scheduler and the fulfillment
// loop.
//
// # Shape
//
// A connector is a Factory registered by name on a Registry. For each run
// the Runner loads the warehouse's settings and vault credentials, builds an
// Env (settings, secrets, an HTTP Client, a Sink, a clock, a logger) and
// asks the factory for a Connector bound to it. Connectors write canonical
// records only through the Sink, whose store implementation upserts by
// source reference, so a re-sync never duplicates anything.
//
// # Runs
//
// Every sync of a connector + warehouse + sync type claims the sync_state
// row with a new run id (a second concurrent run is refused), heartbeats
// while it works, reads from its cursor minus an overlap window, retries
// transient failures three times 30 seconds apart, and finishes by storing
// min(run start, newest record seen) as the next cursor. A run whose
// heartbeat stops is taken over by the next claim; its late writes are
// dropped because they name a run id that no longer holds the row.
//
// # HTTP
//
// Client retries 429/503 (and, for idempotent requests, timeouts, broken
// connections and other 5xx) with exponential backoff and jitter, honours
// Retry-After, slows down before the upstream's budget runs out, caps
// concurrency per connector, opens a circuit breaker per connector +
// warehouse after five failed calls, dials only through the SSRF guard,
// caps response sizes, and returns errors that never contain credentials.
// Errors follow one taxonomy: ErrTransient, ErrPermanent, ErrData.
//
// Writing a connector: copy connectors/example, and test it with
// connectors/connectortest, whose conformance suite every registered
// connector must pass. See docs/connectors.md.
package connectors
