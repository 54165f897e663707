// Package assets holds the files embedded in the binary: the UI's static
// files and the event JSON schemas.
package assets

import "embed"

// Schemas holds the event catalog, schemas/catalog.json (a list of
// {type, versions, aggregate_type}), and the JSON Schema (2020-12) of each
// event type's data payload at schemas/<event_type>/<version>.json.
//
//go:embed schemas
var Schemas embed.FS
