// Package dispatchbench measures the webhook dispatcher end to end: a real
// hub database, the real dispatcher, and an in-process loopback consumer
// that verifies every signature, checks per-lane order (the whole
// subscription's under ordering "global") and counts
// duplicates. `sentryhub bench dispatch` and the dispatcher's Go benchmarks
// both run it, so the figures quoted in notes come from one harness rather
// than from a microbenchmark that skips the database or the network.
package dispatchbench
