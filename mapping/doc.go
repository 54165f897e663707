// Package mapping is the declarative mapping language of the inbound API
// and of declarative connectors: a YAML document per source and resource
// that turns a source system's JSON document into the canonical shape of
// a warehouse resource (items, sales_orders, purchase_orders, inventory,
// transfers).
//
// Parse compiles a mapping once: it checks every key, canonical field,
// transform, path and expression and reports all problems with their line
// and column (ErrorList). Apply then maps documents with the compiled
// form: paths are pre-split, lookups are maps and expressions are
// pre-compiled, so no YAML, reflection or formatting happens per document
// on the happy path. Data problems come back as FieldErrors naming the
// canonical field ("lines[2].qty"), never as panics.
//
// Numbers are exact: quantities become int64 and money a Decimal, parsed
// from text with configurable decimal and group separators, never through
// float64. The canonical shapes are the table in schema.go, which mirrors
// the store's write inputs; package storeinput converts a Document to
// those inputs, so that this package does not depend on the store.
//
// The package does no I/O: storing and versioning mappings, and the HTTP
// API, belong to its callers. The format is documented for users in
// docs/mapping.md.
package mapping
