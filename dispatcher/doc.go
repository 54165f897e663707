// Package dispatcher delivers integration events to webhook subscribers
// under the consumer contract documented in docs/webhooks.md:
// signed POSTs in commit order (ordering "global", the default) or, for
// subscriptions that opt in, per-aggregate FIFO order ("aggregate"),
// retried on a fixed schedule, dead-lettered, paused when stuck at a
// ceiling, replayable.
//
// The shape follows from two facts: SQLite has one writer, and consumers
// are slow and unreliable in ways the hub must not amplify.
//
// One goroutine, the engine, owns every write the dispatcher makes. It fans
// new events out to deliveries and records attempt outcomes in the same
// transaction, a batch at a time (group commit), with statements that take
// the whole batch as one JSON parameter. The number of SQL statements per
// delivery therefore falls as load rises instead of staying at several per
// delivery, and the writer is free for warehouse operations most of the
// time. Admin changes (create, pause, rotate, replay) run on the same
// goroutine between batches, so the engine's in-memory view never drifts
// from the rows.
//
// Each subscription has an actor goroutine that holds its lanes in memory:
// one FIFO queue per (aggregate_type, aggregate_id), of which only the head
// may be in flight (head-of-line blocking), many lanes in parallel up to
// max_in_flight and a token bucket. A subscription with ordering "global"
// (the default) has a single lane instead, so its deliveries go out
// strictly in id (commit) order, one at a time, the seed contract's "in
// commit order". A lane advances as soon as its head's
// response arrives, without waiting for the outcome to commit: outcomes are
// queued to the engine in order, so the database never shows a later
// delivery of a lane finished before an earlier one, and a crash between
// send and commit only means those deliveries are sent again, in order
// (at-least-once, which consumers must absorb anyway).
//
// pending_ceiling bounds the open deliveries, not the backlog: fan-out
// tops a subscription up to its ceiling as deliveries finish, and the rest
// waits in the event log behind its cursor. The actor counts the lanes
// whose head has failed; when every lane is held by one (it is stuck) and
// the open deliveries are at the ceiling, the engine pauses the
// subscription instead of retrying a consumer that takes nothing.
//
// Nothing polls on the hot path. The store wakes the engine after each
// commit that appended events (store.DB.Changed); a slow sweep that compares
// the log's head with what was seen covers events appended by another
// process. State survives restarts because the rows are the truth: at
// start-up in_flight rows go back to pending, and every open delivery is
// loaded into its lane, with its retry time, in id order.
//
// Every request leaves through the SSRF guard's dialer, pinned to the
// address it checked, with a connect budget covering DNS, TCP and TLS, a
// per-read deadline and a wall-clock cap; the body is the canonical envelope
// serialized once, and a check at the transport boundary fails the attempt
// loudly if the bytes sent are not the bytes signed.
package dispatcher
