package storeinput

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"sentryhub/mapping"
	"sentryhub/store"
)

var update = flag.Bool("update", false, "rewrite testdata/*.json")

// TestSchemaMatchesStore holds the canonical schema table to the store's
// write inputs: every JSON field of an input (but the upsert source, which
// comes from source_id) is a canonical field with a matching kind, and
// nothing else is. A field added to a store input fails here until the
// table (and the Document conversion) learn it.
func TestSchemaMatchesStore(t *testing.T) {
	inputs := map[mapping.Resource]any{
		mapping.Items:          store.ItemInput{},
		mapping.SalesOrders:    store.SalesOrderInput{},
		mapping.PurchaseOrders: store.PurchaseOrderInput{},
		mapping.Inventory:      store.AdjustmentInput{},
		mapping.Transfers:      store.TransferInput{},
	}
	if got := mapping.Resources(); len(got) != len(inputs) {
		t.Fatalf("resources = %v", got)
	}
	for r, in := range inputs {
		s, ok := mapping.Lookup(r)
		if !ok {
			t.Fatalf("no schema for %s", r)
		}
		fields, lines := jsonFields(reflect.TypeOf(in))
		checkFields(t, string(r), s.Fields, fields)
		if lines == nil {
			if s.Lines != nil {
				t.Errorf("%s: schema has lines, the store input does not", r)
			}
			continue
		}
		if !s.LinesRequired {
			t.Errorf("%s: lines are not required", r)
		}
		lf, _ := jsonFields(lines)
		checkFields(t, string(r)+" lines", s.Lines, lf)
	}
}

// jsonFields returns the JSON field names and kinds of a store input, and
// the element type of its lines.
func jsonFields(typ reflect.Type) (map[string]mapping.Kind, reflect.Type) {
	out := map[string]mapping.Kind{}
	var lines reflect.Type
	for f := range typ.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "source":
		case name == "lines":
			lines = f.Type.Elem()
		case f.Type.Kind() == reflect.String:
			out[name] = mapping.KindString
		case f.Type.Kind() == reflect.Int64:
			out[name] = mapping.KindInteger
		case f.Type == reflect.TypeFor[[]byte]() || f.Type.Name() == "RawMessage":
			out[name] = mapping.KindObject
		default:
			out[name] = 0
		}
	}
	return out, lines
}

func checkFields(t *testing.T, what string, schema []mapping.Field, store map[string]mapping.Kind) {
	t.Helper()
	for _, f := range schema {
		k, ok := store[f.Name]
		if !ok {
			t.Errorf("%s: canonical field %s is not in the store input", what, f.Name)
		} else if k != f.Kind {
			t.Errorf("%s: %s is %s, the store input has %s", what, f.Name, f.Kind, k)
		}
		delete(store, f.Name)
	}
	for name := range store {
		t.Errorf("%s: store field %s has no canonical field", what, name)
	}
}

// convert converts doc with the function for its resource.
func convert(doc *mapping.Document, source string) (any, error) {
	switch doc.Resource {
	case mapping.Items:
		return Item(doc)
	case mapping.SalesOrders:
		return SalesOrder(doc, source)
	case mapping.PurchaseOrders:
		return PurchaseOrder(doc, source)
	case mapping.Inventory:
		return Adjustment(doc)
	case mapping.Transfers:
		return Transfer(doc)
	}
	return nil, errors.New("no conversion for " + string(doc.Resource))
}

// TestGolden converts the mapping package's golden example of each
// resource to its store input and compares it with testdata/<resource>.json.
func TestGolden(t *testing.T) {
	for _, r := range mapping.Resources() {
		t.Run(string(r), func(t *testing.T) {
			base := filepath.Join("..", "testdata", "golden", string(r))
			src, err := os.ReadFile(base + ".yaml")
			if err != nil {
				t.Fatal(err)
			}
			m, err := mapping.Parse(src)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(base + ".input.json")
			if err != nil {
				t.Fatal(err)
			}
			in, err := mapping.Decode(raw)
			if err != nil {
				t.Fatal(err)
			}
			doc, errs := m.Apply(in)
			if errs != nil {
				t.Fatal(errs)
			}
			input, err := convert(doc, "erp")
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(input, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			file := filepath.Join("testdata", string(r)+".json")
			if *update {
				if err := os.WriteFile(file, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestWrongResource(t *testing.T) {
	m := mustParse(t, "version: 1\nresource: items\nsource_id: $.id\nfields: {sku: $.s, name: $.n}\n")
	doc, errs := m.Apply(mustDecode(t, `{"id":"i1","s":"A","n":"Apple"}`))
	if errs != nil {
		t.Fatal(errs)
	}
	if src := Source(doc, "erp"); src != (store.SourceRef{Name: "erp", ID: "i1"}) {
		t.Errorf("Source = %+v", src)
	}
	if _, err := SalesOrder(doc, "erp"); !errors.Is(err, ErrWrongResource) {
		t.Errorf("SalesOrderInput err = %v", err)
	}
	for name, conv := range map[string]func() error{
		"purchase order": func() error { _, err := PurchaseOrder(doc, "erp"); return err },
		"adjustment":     func() error { _, err := Adjustment(doc); return err },
		"transfer":       func() error { _, err := Transfer(doc); return err },
	} {
		if err := conv(); !errors.Is(err, ErrWrongResource) || !strings.Contains(err.Error(), "items document as") {
			t.Errorf("%s err = %v", name, err)
		}
	}
	if in, err := Item(doc); err != nil || in != (store.ItemInput{SKU: "A", Name: "Apple"}) {
		t.Errorf("ItemInput = %+v, %v", in, err)
	}
}

func mustParse(t *testing.T, src string) *mapping.Mapping {
	t.Helper()
	m, err := mapping.Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mustDecode(t *testing.T, s string) any {
	t.Helper()
	v, err := mapping.Decode([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return v
}
