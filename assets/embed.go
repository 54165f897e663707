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

//go:embed openapi.json
var openAPI string // a string, so no caller can change the embedded bytes

// OpenAPI returns the OpenAPI 3.1 document of the HTTP API (served at
// GET /api/openapi.json). Its event envelope refers to the event schemas
// by the URL the hub serves them at, /api/v1/events/schema/{type}/{version},
// which are the files of Schemas. Each call returns a fresh copy.
func OpenAPI() []byte { return []byte(openAPI) }
