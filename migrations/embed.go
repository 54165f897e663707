// Package migrations holds the goose SQL migrations of the hub's SQLite
// database, embedded so the binary carries its own schema.
package migrations

import "embed"

// FS holds every migration file; goose reads it through store.Migrate.
//
//go:embed *.sql
var FS embed.FS
