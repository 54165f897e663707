// Package manifests is the catalogue of declarative connectors built into
// the binary: one directory per connector under catalog/, holding its
// manifest.yaml and the mapping documents its streams name. The format is
// documented in docs/connectors.md; package manifest parses and runs it.
package manifests

import "embed"

// Catalog holds catalog/<key>/manifest.yaml and its mapping documents.
//
//go:embed catalog
var Catalog embed.FS

// Root is the directory of Catalog that holds the connectors.
const Root = "catalog"
