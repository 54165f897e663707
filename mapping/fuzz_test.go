package mapping

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary text to Parse: it must return a mapping or an
// ErrorList whose positions lie inside the document, never panic. Every
// mapping it accepts must also apply to a document without panicking.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/golden/*.yaml")
	files = append(files, "testdata/bench_order.yaml")
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(src))
	}
	for _, s := range []string{
		"",
		"version: 1\nresource: test\nsource_id: $.id\nfields:\n  text: {path: $.a, transforms: [trim, upper], lookup: {a: b}, unmapped: keep}\n",
		"version: 1\nresource: test\nsource_id: {expr: 'doc.id'}\nfields:\n  at: {path: $.t, time: {layout: unix_ms, zone: Asia/Tokyo}}\n  dec: {path: $.d, number: {decimal_separator: ',', group_separator: ' '}}\n",
		"version: 1\nresource: test\nsource_id: $.id\nfields:\n  obj: {fields: {a: {if: 'doc.x > 1', then: {concat: [$.a, $.b], separator: '-'}}}}\n",
		"version: 1\nresource: test_lines\nsource_id: $.id\nfields: {}\nlines: {path: $.l, filter: 'line.q != 0', fields: {sku: {path: $.s, split: {separator: '/', index: -1}}}}\n",
		"a: &x [*x]\n",
		"{a: [b, {c: d}], e: |\n  f\n}\n",
		"version: 1\n--- \n...\n",
		"\t- ? : !tag\n",
	} {
		f.Add(s)
	}
	input := mustDecode(f, `{"id":"1","a":" x ","t":1700000000000,"d":"1 234,5","x":2,"l":[{"s":"a/b","q":1}]}`)
	f.Fuzz(func(t *testing.T, src string) {
		m, err := parse([]byte(src), testSchemas)
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %T %v is not a non-empty ErrorList", err, err)
			}
			// YAML breaks lines at \n, \r\n and a lone \r.
			lines := strings.Count(strings.ReplaceAll(src, "\r\n", "\n"), "\n") + strings.Count(src, "\r") -
				strings.Count(src, "\r\n") + 1
			for _, e := range list {
				if e.Line < 1 || e.Line > lines || e.Column < 1 || e.Message == "" {
					t.Fatalf("error outside the document (%d lines): %+v", lines, e)
				}
			}
			return
		}
		if m == nil {
			t.Fatal("nil mapping without an error")
		}
		doc, errs := m.Apply(input)
		if (doc == nil) == (errs == nil) {
			t.Fatalf("Apply returned doc %v and errors %v", doc, errs)
		}
		if doc != nil {
			if _, err := json.Marshal(doc); err != nil {
				t.Fatalf("document does not marshal: %v", err)
			}
		}
	})
}

// fuzzMapping uses every kind of step, so arbitrary input reaches them all.
const fuzzMapping = `version: 1
resource: test_lines
source_id: {concat: [$.id, {path: $.alt, default: "-"}], separator: ":"}
idempotency_key: {path: $.key, transforms: [trim, lower]}
fields:
  text:
    if: 'doc.kind == "a" || len(string(doc.kind)) > 3'
    then: {path: $.name, split: {separator: " ", index: -1}, transforms: [upper, {replace: {old: "X", new: "Y"}}]}
    else: {expr: 'string(doc.name) + "!"', when: 'doc.name != nil'}
lines:
  path: $.lines
  filter: 'line == nil || type(line) != "map" || line.skip != true'
  fields:
    sku: {path: $.sku, lookup: {a: A, b: B}, unmapped: keep, required: true}
    qty: {path: $.qty, number: {decimal_separator: ",", group_separator: "."}}
`

const fuzzMappingKinds = `version: 1
resource: test
source_id: $.id
fields:
  text: {path: '$.t[0]', default: none}
  int: $.i
  dec: {path: $.d, number: {decimal_separator: ",", group_separator: " ."}}
  at: {path: $.at, time: {layout: "02/01/2006 15:04", zone: Europe/Paris}}
  status: {path: $.s, lookup: {o: open, s: shipped}, unmapped: default, default: open}
  obj: {fields: {a: $.o.a, u: {path: $.o.u, time: {layout: unix}}, n: {path: $.o.n, number: {}}, x: {expr: 'doc.o'}}}
`

// FuzzApply feeds arbitrary JSON documents to fixed mappings: Apply must
// return a document or field errors, never panic.
func FuzzApply(f *testing.F) {
	for _, s := range []string{
		`{"id":"1","name":"a b","kind":"a","lines":[{"sku":"a","qty":"1.234"}]}`,
		`{"id":1,"alt":2,"key":" K ","kind":"long kind","name":null,"lines":[null,{"skip":true},{"sku":{},"qty":[1]}]}`,
		`{"id":"x","t":["v"],"i":"12","d":"1 234,50","at":"01/02/2024 10:00","s":"q","o":{"a":1,"u":"1.5","n":"x"}}`,
		`{"i":1e400,"d":-0.0000000000000000000001,"at":17,"o":{"u":-99999999999999999}}`,
		`[]`, `"text"`, `12`, `null`, `true`,
	} {
		f.Add(s)
	}
	maps := []*Mapping{mustParse(f, fuzzMapping), mustParse(f, fuzzMappingKinds)}
	f.Fuzz(func(t *testing.T, data string) {
		in, err := Decode([]byte(data))
		if err != nil {
			return
		}
		for _, m := range maps {
			doc, errs := m.Apply(in)
			if (doc == nil) == (errs == nil) {
				t.Fatalf("Apply returned doc %v and errors %v", doc, errs)
			}
			for _, e := range errs {
				if e.Field == "" || e.Message == "" {
					t.Fatalf("empty field error %+v", e)
				}
			}
			if doc != nil {
				if _, err := json.Marshal(doc); err != nil {
					t.Fatalf("document does not marshal: %v", err)
				}
			}
		}
	})
}
