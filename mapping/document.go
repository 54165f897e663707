package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Document is a source document mapped to the canonical shape of its
// resource: the source's id for it, an optional idempotency key, the
// resource's fields and, for resources with lines, its lines.
type Document struct {
	Resource Resource
	// SourceID is the document's id in the source system; together with
	// the source's name it identifies the record for upserts.
	SourceID string
	// IdempotencyKey is the mapping's idempotency_key value, "" when the
	// mapping declares none.
	IdempotencyKey string

	schema *Schema
	fields []Value // in schema.Fields order
	lines  []Value // nLines rows of len(schema.Lines) values
	nLines int
}

// Field returns the value of the canonical field name; unset when the
// mapping left it empty or the resource has no such field.
func (d *Document) Field(name string) Value {
	if i := fieldIndex(d.schema.Fields, name); i >= 0 {
		return d.fields[i]
	}
	return Value{}
}

// NumLines returns the number of lines.
func (d *Document) NumLines() int { return d.nLines }

// LineField returns the value of field name of line i (0-based).
func (d *Document) LineField(i int, name string) Value {
	j := fieldIndex(d.schema.Lines, name)
	if i < 0 || i >= d.nLines || j < 0 {
		return Value{}
	}
	return d.lines[i*len(d.schema.Lines)+j]
}

// Map returns the document as JSON-ready data: source_id, idempotency_key
// (when set), every set field, and lines. It is what a dry run shows.
func (d *Document) Map() map[string]any {
	out := make(map[string]any, len(d.fields)+3)
	out["source_id"] = d.SourceID
	if d.IdempotencyKey != "" {
		out["idempotency_key"] = d.IdempotencyKey
	}
	for i, f := range d.schema.Fields {
		if v := d.fields[i]; v.IsSet() {
			out[f.Name] = v.JSON()
		}
	}
	if d.schema.Lines != nil {
		lines := make([]map[string]any, d.nLines)
		for i := range lines {
			ln := make(map[string]any, len(d.schema.Lines))
			for j, f := range d.schema.Lines {
				if v := d.lines[i*len(d.schema.Lines)+j]; v.IsSet() {
					ln[f.Name] = v.JSON()
				}
			}
			lines[i] = ln
		}
		out["lines"] = lines
	}
	return out
}

// MarshalJSON writes Map as JSON.
func (d *Document) MarshalJSON() ([]byte, error) {
	return json.Marshal(d.Map())
}

// Decode reads one JSON document for Apply, keeping numbers as
// json.Number so that no digit is lost. It refuses trailing data.
func Decode(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode document: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("decode document: data after the JSON value")
	}
	return v, nil
}
