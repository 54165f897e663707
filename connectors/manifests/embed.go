// Package manifests holds the declarative connectors built into the
// binary: Catalog is registered at start, Examples (the Tiny Shop
// connector of docs/connectors.md, against tinyshopfake) only by tests.
// Each connector is a directory holding its manifest.yaml and the mapping
// documents its streams name. Package manifest parses and runs them.
package manifests

import "embed"

// Catalog holds catalog/<key>/manifest.yaml and its mapping documents.
//
//go:embed catalog
var Catalog embed.FS

// Root is the directory of Catalog that holds the connectors.
const Root = "catalog"

// Examples holds examples/<key>/: connectors written for the docs and
// tests, never registered by the hub.
//
//go:embed examples
var Examples embed.FS
