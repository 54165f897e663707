// Package app is the hub's composition root: configuration, wiring of the
// store, vault, web server and background workers, the CLI subcommands, and
// the lifecycle (start, graceful stop). It holds no business logic and
// nothing imports it.
package app
