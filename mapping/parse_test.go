package mapping

import (
	"errors"
	"strings"
	"testing"
)

// want is one expected parse error.
type want struct {
	line, col int
	field     string
	msg       string // a prefix of the message
}

func TestParseErrors(t *testing.T) {
	const head = "version: 1\nresource: test\nsource_id: $.id\nfields:\n"
	tests := []struct {
		name string
		src  string
		want []want
	}{
		{"not yaml", "version: 1\nresource: [items\n", []want{{2, 11, "", "YAML: sequence end token ']' not found"}}},
		{"bad indentation", "version: 1\n resource: items\n", []want{{1, 10, "", "YAML: mapping value is not allowed in this context"}}},
		{"duplicate key", "version: 1\nversion: 1\n", []want{{2, 1, "", `YAML: mapping key "version" already defined at [1:1]`}}},
		{"empty", "", []want{{1, 1, "", "mapping is empty"}}},
		{"comment only", "# nothing\n", []want{{1, 1, "", "mapping is empty"}}},
		{"two documents", "version: 1\n---\nversion: 1\n", []want{{3, 1, "", "mapping must be a single YAML document"}}},
		{"not a mapping", "- a\n- b\n", []want{{1, 1, "", "mapping must be a YAML mapping"}}},
		{"missing everything", "version: 1\n", []want{
			{1, 1, "resource", "is required"},
			{1, 1, "source_id", "is required"},
		}},
		{"bad version", "version: 2\nresource: items\nsource_id: $.id\nfields: {sku: $.s, name: $.n}\n", []want{{1, 10, "version", "must be 1"}}},
		{"version text", "version: '1'\nresource: items\nsource_id: $.id\nfields: {sku: $.s, name: $.n}\n", []want{{1, 10, "version", "must be 1"}}},
		{"unknown top key", "version: 1\nresource: items\nsource_id: $.id\nfeilds: {}\n", []want{
			{1, 1, "fields", "is required"},
			{4, 1, "feilds", "unknown key; expected one of version, resource, source_id, idempotency_key, fields, lines"},
		}},
		{"unknown resource", "version: 1\nresource: orders\nsource_id: $.id\n", []want{
			{2, 11, "resource", `unknown resource "orders"; expected one of items, sales_orders, purchase_orders, inventory, transfers, test, test_lines`},
		}},
		{"resource not text", "version: 1\nresource: {a: 1}\nsource_id: $.id\n", []want{{2, 12, "resource", "must be text"}}},
		{"unknown canonical field", head + "  text: $.a\n  colour: $.c\n", []want{
			{6, 3, "fields.colour", "unknown canonical field; expected one of text, int, dec, at, status, obj"},
		}},
		{"missing required canonical field", "version: 1\nresource: items\nsource_id: $.id\nfields:\n  sku: $.sku\n", []want{
			{4, 1, "fields.name", "required canonical field is not mapped"},
		}},
		{"missing required line field", "version: 1\nresource: transfers\nsource_id: $.id\nfields:\n  from_warehouse_id: {const: 1}\n  to_warehouse_id: {const: 2}\nlines:\n  path: $.l\n  fields:\n    qty: $.q\n", []want{
			{9, 3, "lines.fields.sku", "required canonical field is not mapped"},
		}},
		{"lines required", "version: 1\nresource: test_lines\nsource_id: $.id\nfields: {}\n", []want{{1, 1, "lines", "is required: test_lines have lines"}}},
		{"lines not allowed", "version: 1\nresource: items\nsource_id: $.id\nfields: {sku: $.s, name: $.n}\nlines: {path: $.l, fields: {}}\n", []want{{5, 1, "lines", "items have no lines"}}},
		{"lines without path", "version: 1\nresource: test_lines\nsource_id: $.id\nfields: {}\nlines:\n  fields: {sku: $.s}\n  filtre: x\n", []want{
			{5, 1, "lines.path", "is required"},
			{7, 3, "lines.filtre", "unknown key; expected one of path, filter, fields"},
		}},
		{"lines bad filter", "version: 1\nresource: test_lines\nsource_id: $.id\nfields: {}\nlines:\n  path: $.l\n  filter: 'line.qty >'\n  fields: {sku: $.s}\n", []want{
			{7, 21, "lines.filter", "expression does not compile: unexpected token EOF"},
		}},
		{"lines filter not bool", "version: 1\nresource: test_lines\nsource_id: $.id\nfields: {}\nlines:\n  path: $.l\n  filter: '1 + 1'\n  fields: {sku: $.s}\n", []want{
			{7, 11, "lines.filter", "expression does not compile: expected bool, but got int"},
		}},
		{"unknown transform", head + "  text: {path: $.a, transforms: [trim, uper]}\n", []want{
			{5, 40, "fields.text.transforms[1]", `unknown transform "uper"; expected trim, upper, lower or {replace: {old: …, new: …}}`},
		}},
		{"unknown transform block", head + "  text:\n    path: $.a\n    transforms:\n      - trim\n      - titlecase\n", []want{
			{9, 9, "fields.text.transforms[1]", `unknown transform "titlecase"`},
		}},
		{"unknown transform mapping", head + "  text: {path: $.a, transforms: [{strip: x}]}\n", []want{
			{5, 35, "fields.text.transforms[0]", `unknown transform "strip"; expected trim`},
		}},
		{"replace incomplete", head + "  text: {path: $.a, transforms: [{replace: {old: x}}]}\n", []want{
			{5, 45, "fields.text.transforms[0].replace", "must be {old: text, new: text}"},
		}},
		{"transforms not a list", head + "  text: {path: $.a, transforms: trim}\n", []want{
			{5, 33, "fields.text.transforms", "must be a list such as [trim, upper]"},
		}},
		{"unknown spec key", head + "  text: {path: $.a, trnsforms: [trim]}\n", []want{
			{5, 21, "fields.text.trnsforms", "unknown key; expected one of path, const, concat"},
		}},
		{"spec shape", head + "  text: a.b\n", []want{
			{5, 9, "fields.text", "must be a path starting with $, or a mapping such as {path: $.a} or {const: 1}"},
		}},
		{"spec number shape", head + "  int: 5\n", []want{{5, 8, "fields.int", "must be a path starting with $"}}},
		{"no source", head + "  text: {default: x}\n", []want{{5, 10, "fields.text", "needs a source: one of path, const, concat, expr, if, fields"}}},
		{"two sources", head + "  text: {path: $.a, const: x}\n", []want{{5, 21, "fields.text.const", "a value has one source; path is already given"}}},
		{"bad path", head + "  text: $.a[x]\n", []want{{5, 9, "fields.text", `path "$.a[x]" has "[x]", which is neither an index nor a quoted name`}}},
		{"bad path in mapping", head + "  text: {path: 'a.b'}\n", []want{{5, 16, "fields.text.path", `path "a.b" must start with $`}}},
		{"expression syntax", head + "  text: {expr: 'doc.a +* 2'}\n", []want{
			{5, 24, "fields.text.expr", "expression does not compile: unexpected token Operator(\"*\")"},
		}},
		{"expression plain scalar", head + "  text:\n    expr: doc.a ?? ! 2\n", []want{
			{6, 20, "fields.text.expr", "expression does not compile: invalid operation: ! (mismatched type int)"},
		}},
		{"expression unknown name", head + "  text: {expr: 'order.total'}\n", []want{
			{5, 17, "fields.text.expr", "expression does not compile: unknown name order"},
		}},
		{"expression literal block", head + "  text:\n    expr: |\n      doc.rush\n        ? \"high\"\n        : nope\n", []want{
			{9, 11, "fields.text.expr", "expression does not compile: unknown name nope"},
		}},
		{"expression disabled builtin", head + "  text: {expr: 'string(now())'}\n", []want{
			{5, 24, "fields.text.expr", "expression does not compile: unknown name now"},
		}},
		{"expression repeat disabled", head + "  text: {expr: 'repeat(\"a\", 3)'}\n", []want{
			{5, 17, "fields.text.expr", "expression does not compile: unknown name repeat"},
		}},
		{"expression too big", head + "  int: {expr: '" + strings.Repeat("1+", 400) + "1'}\n", []want{
			{5, 317, "fields.int.expr", "expression does not compile: compilation failed: expression exceeds maximum allowed nodes"},
		}},
		{"expression too long", head + "  int: {expr: '" + strings.Repeat(" ", 2001) + "1'}\n", []want{
			{5, 15, "fields.int.expr", "expression does not compile: is longer than 2000 bytes"},
		}},
		{"when not bool", head + "  text: {path: $.a, when: '\"yes\"'}\n", []want{{5, 27, "fields.text.when", "expression does not compile: expected bool, but got string"}}},
		{"if not bool", head + "  text: {if: '1', then: {const: x}}\n", []want{{5, 14, "fields.text.if", "expression does not compile: expected bool, but got int"}}},
		{"if without then", head + "  text: {if: 'true', else: {const: x}}\n", []want{{5, 10, "fields.text.then", "is required with if"}}},
		{"then without if", head + "  text: {path: $.a, then: {const: x}}\n", []want{{5, 21, "fields.text.then", "is only allowed with if"}}},
		{"separator without concat", head + "  text: {path: $.a, separator: ' '}\n", []want{{5, 21, "fields.text.separator", "is only allowed with concat"}}},
		{"concat not a list", head + "  text: {concat: $.a}\n", []want{{5, 18, "fields.text.concat", "must be a list of values"}}},
		{"concat empty", head + "  text: {concat: []}\n", []want{{5, 18, "fields.text.concat", "must be a list of values"}}},
		{"concat bad part", head + "  text: {concat: [$.a, b]}\n", []want{{5, 24, "fields.text.concat[1]", "must be a path starting with $"}}},
		{"required in part", head + "  text: {concat: [{path: $.a, required: true}]}\n", []want{{5, 31, "fields.text.concat[0].required", "applies to fields only"}}},
		{"required not bool", head + "  text: {path: $.a, required: yes}\n", []want{{5, 31, "fields.text.required", "must be true or false"}}},
		{"unmapped without lookup", head + "  text: {path: $.a, unmapped: keep}\n", []want{{5, 21, "fields.text.unmapped", "is only allowed with lookup"}}},
		{"unmapped bad", head + "  text: {path: $.a, lookup: {a: b}, unmapped: drop}\n", []want{{5, 47, "fields.text.unmapped", "must be refuse, keep or default"}}},
		{"lookup empty", head + "  text: {path: $.a, lookup: {}}\n", []want{{5, 29, "fields.text.lookup", "must map source values"}}},
		{"lookup value unfit", head + "  int: {path: $.a, lookup: {a: 1, b: two}}\n", []want{{5, 38, "fields.int.lookup.b", `"two" is not a whole number`}}},
		{"lookup value not enum", head + "  status:\n    path: $.a\n    lookup:\n      new: open\n      done: closed\n", []want{
			{9, 13, "fields.status.lookup.done", `"closed" is not one of: open, shipped`},
		}},
		{"split without separator", head + "  text: {path: $.a, split: {index: 1}}\n", []want{{5, 21, "fields.text.split.separator", "is required"}}},
		{"split bad index", head + "  text: {path: $.a, split: {separator: '-', index: first}}\n", []want{{5, 52, "fields.text.split.index", "must be a whole number"}}},
		{"split empty separator", head + "  text: {path: $.a, split: {separator: ''}}\n", []want{{5, 40, "fields.text.split.separator", "must not be empty"}}},
		{"number and time", head + "  text: {path: $.a, number: {}, time: {}}\n", []want{{5, 33, "fields.text.time", "a value is parsed as a number or as a time, not both"}}},
		{"number for time field", head + "  at: {path: $.a, number: {}}\n", []want{{5, 19, "fields.at.number", "parses a number, but this is a time field"}}},
		{"time for integer field", head + "  int: {path: $.a, time: {layout: unix}}\n", []want{{5, 20, "fields.int.time", "parses a time, but this is a integer field"}}},
		{"bad decimal separator", head + "  dec: {path: $.a, number: {decimal_separator: ',,'}}\n", []want{{5, 48, "fields.dec.number.decimal_separator", "must be one character other than a digit, a sign or a space"}}},
		{"digit separator", head + "  dec: {path: $.a, number: {decimal_separator: '0'}}\n", []want{{5, 48, "fields.dec.number.decimal_separator", "must be one character"}}},
		{"same separators", head + "  dec: {path: $.a, number: {decimal_separator: ',', group_separator: ','}}\n", []want{{5, 70, "fields.dec.number.group_separator", "must differ from the decimal separator"}}},
		{"unknown number key", head + "  dec: {path: $.a, number: {decimal: ','}}\n", []want{{5, 29, "fields.dec.number.decimal", "unknown key; expected one of decimal_separator, group_separator"}}},
		{"unknown zone", head + "  at: {path: $.a, time: {layout: date, zone: Mars/Olympus}}\n", []want{{5, 46, "fields.at.time.zone", `unknown time zone "Mars/Olympus"`}}},
		{"local zone", head + "  at: {path: $.a, time: {zone: Local}}\n", []want{{5, 32, "fields.at.time.zone", `unknown time zone "Local"`}}},
		{"empty layout", head + "  at: {path: $.a, time: {layout: ' '}}\n", []want{{5, 34, "fields.at.time.layout", "must not be empty"}}},
		{"default unfit", head + "  int: {path: $.a, default: many}\n", []want{{5, 29, "fields.int.default", `"many" is not a whole number`}}},
		{"const unfit", head + "  status: {const: lost}\n", []want{{5, 19, "fields.status.const", `"lost" is not one of: open, shipped`}}},
		{"const object for text", head + "  text: {const: {a: 1}}\n", []want{{5, 18, "fields.text.const", "must be text, not an object"}}},
		{"hex constant", head + "  int: {const: 0x1F}\n", []want{{5, 16, "fields.int.const", "write numbers in decimal, such as 12 or 1.5, or quote 0x1F to keep it as text"}}},
		{"fields for text", head + "  text: {fields: {a: $.a}}\n", []want{{5, 10, "fields.text.fields", "builds an object, but this is a string field"}}},
		{"object member bad", head + "  obj: {fields: {a: $.a, b: x}}\n", []want{{5, 29, "fields.obj.fields.b", "must be a path starting with $"}}},
		{"anchor", head + "  text: &a $.x\n  int: *a\n", []want{
			{5, 9, "fields.text", "YAML anchors and aliases are not supported"},
			{6, 8, "fields.int", "YAML anchors and aliases are not supported"},
		}},
		{"tag", head + "  text: !!str $.x\n", []want{{5, 9, "fields.text", "YAML tags are not supported"}}},
		{"nesting", head + "  text: " + strings.Repeat("{if: 'true', then: ", 17) + "$.a" + strings.Repeat("}", 17) + "\n", []want{
			{5, 314, "fields.text" + strings.Repeat(".then", 16), "nests more than 16 levels deep"},
		}},
		{"several problems in order", "version: 1\nresource: items\nsource_id: {path: $.id, transforms: [x]}\nfields:\n  sku: {path: $.s, lookup: 3}\n  name: {expr: 'doc.'}\n", []want{
			{3, 38, "source_id.transforms[0]", `unknown transform "x"`},
			{5, 28, "fields.sku.lookup", "must map source values"},
			{6, 20, "fields.name.expr", "expression does not compile: unexpected end of expression"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := parse([]byte(tt.src), testSchemas)
			if err == nil {
				t.Fatalf("parsed: %+v", m)
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error %T is not an ErrorList: %v", err, err)
			}
			if len(list) != len(tt.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(list), len(tt.want), err)
			}
			for i, w := range tt.want {
				e := list[i]
				if e.Line != w.line || e.Column != w.col || e.Field != w.field || !strings.HasPrefix(e.Message, w.msg) {
					t.Errorf("error %d = %d:%d %q %q\nwant      %d:%d %q %q…", i, e.Line, e.Column, e.Field, e.Message,
						w.line, w.col, w.field, w.msg)
				}
			}
		})
	}
}

func TestParseErrorText(t *testing.T) {
	_, err := Parse([]byte("version: 1\nresource: items\nsource_id: $.id\nfields:\n  sku: $.s\n  nme: $.n\n"))
	const want = "invalid mapping: 2 problems: line 4, column 1: fields.name: required canonical field is not mapped; " +
		"line 6, column 3: fields.nme: unknown canonical field; expected one of sku, name, barcode"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant    %s", err, want)
	}
	_, err = Parse([]byte("version: 2\nresource: items\nsource_id: $.id\nfields: {sku: $.s, name: $.n}\n"))
	if err == nil || err.Error() != "invalid mapping: line 1, column 10: version: must be 1, the only version of the mapping format" {
		t.Errorf("error = %v", err)
	}
}

func TestParseLimits(t *testing.T) {
	big := "version: 1\n#" + strings.Repeat("x", MaxSize) + "\n"
	_, err := Parse([]byte(big))
	if err == nil || !strings.Contains(err.Error(), "larger than 256 KiB") {
		t.Errorf("big mapping: %v", err)
	}
	_, err = Parse([]byte("version: 1\nresource: \xff\n"))
	if err == nil || !strings.Contains(err.Error(), "not valid UTF-8") {
		t.Errorf("invalid UTF-8: %v", err)
	}
}

// TestParseValid compiles mappings using every feature, block and flow
// styles alike.
func TestParseValid(t *testing.T) {
	src := `# A mapping for a shop's order webhook.
version: 1
resource: sales_orders
source_id: $.order.id
idempotency_key: {path: $.event_id, transforms: [trim]}
fields:
  order_number:
    concat: [{const: "SHOP-"}, {path: $.order.number}]
    transforms: [trim, upper, {replace: {old: " ", new: ""}}]
  warehouse_id:
    path: $.order.site
    lookup:
      PAR: 1
      "LYS": 2
      3: 3
    unmapped: refuse
    default: 1
  ship_to:
    if: 'doc.order.pickup == true'
    then: {const: {pickup: true}}
    else:
      fields:
        name: {path: $.customer.name, split: {separator: ",", index: -1}, transforms: [trim]}
        city: {path: "$['shipping address'].city", required: true}
        paid: {path: $.paid_at, time: {layout: "02/01/2006 15:04", zone: Europe/Paris}}
        total: {path: $.total, number: {decimal_separator: ",", group_separator: "."}}
        note: {expr: 'doc.note ?? ""', when: 'doc.note != nil'}
lines:
  path: $.order.items
  filter: 'line.qty != 0'
  fields:
    sku: {path: $.code, required: true}
    qty: {path: $.qty, number: {}}
`
	m, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if m.Resource() != SalesOrders {
		t.Errorf("resource = %s", m.Resource())
	}
}
