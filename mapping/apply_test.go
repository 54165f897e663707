package mapping

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// testSchemas adds a resource with a field of every kind to the real
// table, since the store's resources have no decimal, time or enum field.
var testSchemas = append(slices.Clone(schemas), Schema{
	Resource: "test",
	Fields: []Field{
		{Name: "text", Kind: KindString},
		{Name: "int", Kind: KindInteger},
		{Name: "dec", Kind: KindDecimal},
		{Name: "at", Kind: KindTime},
		{Name: "status", Kind: KindEnum, Values: []string{"open", "shipped"}},
		{Name: "obj", Kind: KindObject},
	},
	Lines: testLine,
}, Schema{
	Resource:      "test_lines",
	Fields:        []Field{{Name: "text", Kind: KindString}},
	Lines:         testLine,
	LinesRequired: true,
})

var testLine = []Field{
	{Name: "sku", Kind: KindString, Required: true},
	{Name: "qty", Kind: KindInteger},
}

// fieldMapping is a test mapping with one field.
func fieldMapping(field, spec string) string {
	return "version: 1\nresource: test\nsource_id: {const: s1}\nfields:\n  " + field + ": " + spec + "\n"
}

func mustParse(t testing.TB, src string) *Mapping {
	t.Helper()
	m, err := parse([]byte(src), testSchemas)
	if err != nil {
		t.Fatalf("parse:\n%s\n%v", src, err)
	}
	return m
}

func mustDecode(t testing.TB, s string) any {
	t.Helper()
	v, err := Decode([]byte(s))
	if err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}

// jsonOf renders a value as the dry run would.
func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestApplyField(t *testing.T) {
	tests := []struct {
		name  string
		field string
		spec  string
		input string
		want  string // the field's JSON, "null" when unset
		err   string // the field error instead, "field: message"
	}{
		// Paths and constants.
		{"path", "text", "$.a.b", `{"a":{"b":"x"}}`, `"x"`, ""},
		{"path mapping form", "text", "{path: '$.a[1]'}", `{"a":["p","q"]}`, `"q"`, ""},
		{"path last", "text", "{path: '$.a[-1]'}", `{"a":["p","q"]}`, `"q"`, ""},
		{"path missing", "text", "$.nope", `{}`, `null`, ""},
		{"path null", "text", "$.a", `{"a":null}`, `null`, ""},
		{"number to text", "text", "$.a", `{"a":12.50}`, `"12.50"`, ""},
		{"bool to text", "text", "$.a", `{"a":true}`, `"true"`, ""},
		{"object to text", "text", "$.a", `{"a":{"b":1}}`, ``, `text: must be text, not an object`},
		{"list to text", "text", "$.a", `{"a":[1]}`, ``, `text: must be text, not a list`},
		{"const text", "text", "{const: hello}", `{}`, `"hello"`, ""},
		{"const number", "int", "{const: 3}", `{}`, `3`, ""},
		{"const object", "obj", "{const: {a: 1, b: [x]}}", `{}`, `{"a":1,"b":["x"]}`, ""},
		{"root is not an object", "text", "$.a", `[1,2]`, `null`, ""},

		// Defaults and required.
		{"default when missing", "text", "{path: $.a, default: none}", `{}`, `"none"`, ""},
		{"default when null", "text", "{path: $.a, default: none}", `{"a":null}`, `"none"`, ""},
		{"default when empty", "text", "{path: $.a, default: none}", `{"a":""}`, `"none"`, ""},
		{"default when trimmed empty", "text", "{path: $.a, transforms: [trim], default: none}", `{"a":"  "}`, `"none"`, ""},
		{"default not used", "text", "{path: $.a, default: none}", `{"a":"x"}`, `"x"`, ""},
		{"required missing", "text", "{path: $.a, required: true}", `{}`, ``, `text: is required`},
		{"required empty", "text", "{path: $.a, required: true}", `{"a":""}`, ``, `text: is required`},
		{"required with default", "text", "{path: $.a, required: true, default: d}", `{}`, `"d"`, ""},
		{"required false", "text", "{path: $.a, required: false}", `{}`, `null`, ""},

		// Transforms.
		{"trim", "text", "{path: $.a, transforms: [trim]}", `{"a":" \t x y \n"}`, `"x y"`, ""},
		{"upper", "text", "{path: $.a, transforms: [upper]}", `{"a":"abc-é"}`, `"ABC-É"`, ""},
		{"lower", "text", "{path: $.a, transforms: [lower]}", `{"a":"ABC"}`, `"abc"`, ""},
		{"transforms in order", "text", "{path: $.a, transforms: [trim, upper]}", `{"a":" so-1 "}`, `"SO-1"`, ""},
		{"replace", "text", "{path: $.a, transforms: [{replace: {old: '-', new: ''}}]}", `{"a":"a-b-c"}`, `"abc"`, ""},
		{"transform a number", "text", "{path: $.a, transforms: [trim]}", `{"a":7}`, `"7"`, ""},
		{"transform an object", "text", "{path: $.a, transforms: [trim]}", `{"a":{}}`, `null`, ""}, // empty object is empty
		{"transform a list", "text", "{path: $.a, transforms: [trim]}", `{"a":[1]}`, ``, `text: cannot transform a list`},

		// Split.
		{"split first", "text", "{path: $.a, split: {separator: ' '}}", `{"a":"Ann Lee"}`, `"Ann"`, ""},
		{"split index", "text", "{path: $.a, split: {separator: '-', index: 2}}", `{"a":"a-b-c-d"}`, `"c"`, ""},
		{"split last", "text", "{path: $.a, split: {separator: '-', index: -1}}", `{"a":"a-b-c"}`, `"c"`, ""},
		{"split second last", "text", "{path: $.a, split: {separator: '::', index: -2}}", `{"a":"a::b::c"}`, `"b"`, ""},
		{"split out of range", "text", "{path: $.a, split: {separator: '-', index: 5}, default: x}", `{"a":"a-b"}`, `"x"`, ""},
		{"split out of range back", "text", "{path: $.a, split: {separator: '-', index: -3}}", `{"a":"a-b"}`, `null`, ""},
		{"split no separator", "text", "{path: $.a, split: {separator: '-'}}", `{"a":"abc"}`, `"abc"`, ""},
		{"split then number", "int", "{path: $.a, split: {separator: 'x', index: 1}}", `{"a":"2x12"}`, `12`, ""},
		{"split object", "text", "{path: $.a, split: {separator: '-'}}", `{"a":{"b":1}}`, ``, `text: cannot split an object`},

		// Lookup.
		{"lookup", "status", "{path: $.a, lookup: {new: open, done: shipped}}", `{"a":"done"}`, `"shipped"`, ""},
		{"lookup after transform", "status", "{path: $.a, transforms: [lower], lookup: {done: shipped}}", `{"a":"DONE"}`, `"shipped"`, ""},
		{"lookup refuses unmapped", "status", "{path: $.a, lookup: {done: shipped}}", `{"a":"lost"}`, ``, `status: "lost" is not in the lookup table`},
		{"lookup keeps unmapped", "status", "{path: $.a, lookup: {done: shipped}, unmapped: keep}", `{"a":"open"}`, `"open"`, ""},
		{"lookup unmapped to default", "status", "{path: $.a, lookup: {done: shipped}, unmapped: default, default: open}", `{"a":"lost"}`, `"open"`, ""},
		{"lookup missing value uses default", "status", "{path: $.a, lookup: {done: shipped}, default: open}", `{}`, `"open"`, ""},
		{"lookup number key", "int", "{path: $.a, lookup: {1: 10, 2: 20}}", `{"a":2}`, `20`, ""},
		{"lookup text key of number", "int", "{path: $.a, lookup: {PAR: 1, LYS: 2}}", `{"a":"LYS"}`, `2`, ""},
		{"lookup bool key", "text", "{path: $.a, lookup: {true: yes, false: no}}", `{"a":false}`, `"no"`, ""},
		{"lookup to null", "text", "{path: $.a, lookup: {none: null}, default: d}", `{"a":"none"}`, `"d"`, ""},
		{"lookup object", "text", "{path: $.a, lookup: {x: y}}", `{"a":[1]}`, ``, `text: cannot look up a list`},

		// Whole numbers.
		{"int from number", "int", "$.a", `{"a":12}`, `12`, ""},
		{"int negative", "int", "$.a", `{"a":-3}`, `-3`, ""},
		{"int from text", "int", "$.a", `{"a":" 12 "}`, `12`, ""},
		{"int from whole decimal", "int", "$.a", `{"a":12.000}`, `12`, ""},
		{"int from exponent", "int", "$.a", `{"a":1.2e3}`, `1200`, ""},
		{"int fraction", "int", "$.a", `{"a":2.5}`, ``, `int: "2.5" is not a whole number`},
		{"int text", "int", "$.a", `{"a":"abc"}`, ``, `int: "abc" is not a whole number`},
		{"int grouped without format", "int", "$.a", `{"a":"1,000"}`, ``, `int: "1,000" is not a whole number`},
		{"long value cut in message", "int", "$.a", `{"a":"` + strings.Repeat("x", 100) + `"}`, ``, `int: "` + strings.Repeat("x", 64) + `…" is not a whole number`},
		{"int too long", "int", "$.a", `{"a":12345678901234567890}`, ``, `int: "12345678901234567890" has more than 18 significant digits or decimal places`},
		{"int from bool", "int", "$.a", `{"a":true}`, ``, `int: must be a number, not "true"`},
		{"int number format", "int", "{path: $.a, number: {decimal_separator: ',', group_separator: '.'}}", `{"a":"1.234"}`, `1234`, ""},
		{"int number format fraction", "int", "{path: $.a, number: {decimal_separator: ','}}", `{"a":"3,5"}`, ``, `int: "3.5" is not a whole number`},

		// Decimals.
		{"decimal", "dec", "$.a", `{"a":19.90}`, `"19.90"`, ""},
		{"decimal from text", "dec", "$.a", `{"a":"-0.5"}`, `"-0.5"`, ""},
		{"decimal exact", "dec", "$.a", `{"a":0.1}`, `"0.1"`, ""},
		{"decimal big", "dec", "$.a", `{"a":"1234567890123456.78"}`, `"1234567890123456.78"`, ""},
		{"decimal european", "dec", "{path: $.a, number: {decimal_separator: ',', group_separator: '.'}}", `{"a":"1.234.567,89"}`, `"1234567.89"`, ""},
		{"decimal french", "dec", "{path: $.a, number: {decimal_separator: ',', group_separator: ' '}}", `{"a":"1 234,5"}`, `"1234.5"`, ""},
		{"decimal format ignores json numbers", "dec", "{path: $.a, number: {decimal_separator: ','}}", `{"a":12.5}`, `"12.5"`, ""},
		{"decimal bad text", "dec", "{path: $.a, number: {decimal_separator: ','}}", `{"a":"12.5"}`, ``, `dec: "12.5" is not a number`},
		{"decimal currency stripped", "dec", "{path: $.a, transforms: [{replace: {old: '€', new: ''}}, trim], number: {decimal_separator: ','}}", `{"a":"12,50 €"}`, `"12.50"`, ""},
		{"decimal from object", "dec", "{path: $.a, number: {}}", `{"a":[1]}`, ``, `dec: must be a number, not a list`},
		{"decimal plain bad", "dec", "$.a", `{"a":"x1"}`, ``, `dec: "x1" is not a number`},
		{"number to text", "text", "{path: $.a, number: {decimal_separator: ','}}", `{"a":"0,50"}`, `"0.50"`, ""},

		// Times.
		{"time rfc3339 default", "at", "$.a", `{"a":"2024-03-01T10:00:00+01:00"}`, `"2024-03-01T09:00:00Z"`, ""},
		{"time rfc3339 bad", "at", "$.a", `{"a":"01/03/2024"}`, ``, `at: "01/03/2024" is not an RFC 3339 time; give the field a time: {layout: …}`},
		{"time layout zone", "at", "{path: $.a, time: {layout: '02/01/2006 15:04', zone: Europe/Paris}}", `{"a":"01/07/2024 14:30"}`, `"2024-07-01T12:30:00Z"`, ""},
		{"time layout winter", "at", "{path: $.a, time: {layout: '02/01/2006 15:04', zone: Europe/Paris}}", `{"a":"01/01/2024 14:30"}`, `"2024-01-01T13:30:00Z"`, ""},
		{"time layout offset wins", "at", "{path: $.a, time: {layout: '2006-01-02 15:04 -0700', zone: Europe/Paris}}", `{"a":"2024-07-01 14:30 +0000"}`, `"2024-07-01T14:30:00Z"`, ""},
		{"time layout utc default", "at", "{path: $.a, time: {layout: date}}", `{"a":"2024-07-01"}`, `"2024-07-01T00:00:00Z"`, ""},
		{"time layout bad", "at", "{path: $.a, time: {layout: '02/01/2006'}}", `{"a":"2024-07-01"}`, ``, `at: "2024-07-01" is not a time in the layout "02/01/2006"`},
		{"time layout number", "at", "{path: $.a, time: {layout: '2006'}}", `{"a":2024}`, ``, `at: must be text in the layout "2006", not "2024"`},
		{"time unix", "at", "{path: $.a, time: {layout: unix}}", `{"a":1700000000}`, `"2023-11-14T22:13:20Z"`, ""},
		{"time unix fraction", "at", "{path: $.a, time: {layout: unix}}", `{"a":"1700000000.25"}`, `"2023-11-14T22:13:20.25Z"`, ""},
		{"time unix sub-nanosecond", "at", "{path: $.a, time: {layout: unix}}", `{"a":"17000.1234567890123"}`, `"1970-01-01T04:43:20.123456789Z"`, ""},
		{"time unix ms fraction", "at", "{path: $.a, time: {layout: unix_ms}}", `{"a":"1700000000123.5"}`, `"2023-11-14T22:13:20.1235Z"`, ""},
		{"time unix ms", "at", "{path: $.a, time: {layout: unix_ms}}", `{"a":1700000000123}`, `"2023-11-14T22:13:20.123Z"`, ""},
		{"time unix negative", "at", "{path: $.a, time: {layout: unix}}", `{"a":-1.5}`, `"1969-12-31T23:59:58.5Z"`, ""},
		{"time unix bad", "at", "{path: $.a, time: {layout: unix}}", `{"a":"soon"}`, ``, `at: "soon" is not a Unix time`},
		{"time unix huge", "at", "{path: $.a, time: {layout: unix}}", `{"a":99999999999999}`, ``, `at: "99999999999999" is not a Unix time`},
		{"time to text", "text", "{path: $.a, time: {layout: date, zone: Asia/Tokyo}}", `{"a":"2024-07-01"}`, `"2024-07-01T00:00:00+09:00"`, ""},
		{"time from object", "at", "$.a", `{"a":{"t":1}}`, ``, `at: must be a time, not an object`},

		// Enums.
		{"enum", "status", "$.a", `{"a":"open"}`, `"open"`, ""},
		{"enum refused", "status", "$.a", `{"a":"lost"}`, ``, `status: "lost" is not one of: open, shipped`},

		// Concatenation.
		{"concat", "text", `{concat: [{path: $.f}, {const: " "}, {path: $.l}]}`, `{"f":"Ann","l":"Lee"}`, `"Ann Lee"`, ""},
		{"concat separator", "text", `{concat: [$.f, $.m, $.l], separator: " "}`, `{"f":"Ann","l":"Lee"}`, `"Ann Lee"`, ""},
		{"concat numbers", "text", `{concat: [{const: "SO-"}, $.n]}`, `{"n":42}`, `"SO-42"`, ""},
		{"concat nothing", "text", `{concat: [$.f, $.l], default: anon}`, `{}`, `"anon"`, ""},
		{"concat part default", "text", `{concat: [{path: $.f, default: "?"}, $.l], separator: " "}`, `{"l":"Lee"}`, `"? Lee"`, ""},
		{"concat then transform", "text", `{concat: [$.f, $.l], separator: "-", transforms: [upper]}`, `{"f":"a","l":"b"}`, `"A-B"`, ""},
		{"concat object", "text", `{concat: [$.f, $.o]}`, `{"f":"a","o":{"x":1}}`, ``, `text: cannot concatenate an object`},
		{"concat part error", "int", `{concat: [{path: $.f, lookup: {a: "1"}}]}`, `{"f":"b"}`, ``, `int: "b" is not in the lookup table`},

		// Conditions.
		{"when true", "text", `{path: $.a, when: 'doc.kind == "x"'}`, `{"a":"v","kind":"x"}`, `"v"`, ""},
		{"when false", "text", `{path: $.a, when: 'doc.kind == "x"'}`, `{"a":"v","kind":"y"}`, `null`, ""},
		{"when false default", "text", `{path: $.a, when: 'doc.kind == "x"', default: other}`, `{"a":"v"}`, `"other"`, ""},
		{"when false required", "text", `{path: $.a, when: 'false', required: true}`, `{"a":"v"}`, ``, `text: is required`},
		{"when on numbers", "text", `{path: $.a, when: 'doc.n > 10'}`, `{"a":"v","n":11}`, `"v"`, ""},
		{"when on decimals", "text", `{path: $.a, when: 'doc.n > 10.5'}`, `{"a":"v","n":"x"}`, ``, `text: expression failed: invalid operation: string > float64`},
		{"if then", "text", `{if: 'doc.rush', then: {const: high}, else: {const: normal}}`, `{"rush":true}`, `"high"`, ""},
		{"if else", "text", `{if: 'doc.rush', then: {const: high}, else: {const: normal}}`, `{"rush":false}`, `"normal"`, ""},
		{"if no else", "text", `{if: 'doc.rush', then: {const: high}, default: low}`, `{"rush":false}`, `"low"`, ""},
		{"if branch path", "text", `{if: 'doc.b != nil', then: $.b, else: $.a}`, `{"a":"A"}`, `"A"`, ""},
		{"if branch steps", "int", `{if: 'true', then: {path: $.a, number: {decimal_separator: ","}}}`, `{"a":"3,0"}`, `3`, ""},
		{"if not boolean at run time", "text", `{if: 'doc.rush', then: {const: x}}`, `{"rush":"yes"}`, ``, `text: expression failed:`},

		// Expressions.
		{"expr text", "text", `{expr: 'doc.rush ? "high" : "normal"'}`, `{"rush":true}`, `"high"`, ""},
		{"expr int", "int", `{expr: 'doc.a * 2'}`, `{"a":21}`, `42`, ""},
		{"expr float whole", "int", `{expr: 'doc.a / 2'}`, `{"a":8}`, `4`, ""},
		{"expr float", "dec", `{expr: 'doc.a / 4'}`, `{"a":1}`, `"0.25"`, ""},
		{"expr nil", "text", `{expr: 'doc.missing', default: d}`, `{}`, `"d"`, ""},
		{"expr builtin", "text", `{expr: 'upper(join(doc.tags, "+"))'}`, `{"tags":["a","b"]}`, `"A+B"`, ""},
		{"expr object", "obj", `{expr: '{"k": doc.a}'}`, `{"a":"v"}`, `{"k":"v"}`, ""},
		{"expr then steps", "status", `{expr: 'doc.s', lookup: {D: shipped}}`, `{"s":"D"}`, `"shipped"`, ""},
		{"expr bool", "text", `{expr: 'doc.a > 1'}`, `{"a":2}`, `"true"`, ""},
		{"expr decimal literal", "dec", `{expr: '1.25'}`, `{}`, `"1.25"`, ""},
		{"expr list", "text", `{expr: '[1, 2]'}`, `{}`, ``, `text: must be text, not a list`},
		{"expr time", "at", `{expr: 'date("2024-01-02T03:04:05Z")'}`, `{}`, `"2024-01-02T03:04:05Z"`, ""},
		{"expr unsupported", "text", `{expr: 'duration("1h")'}`, `{}`, ``, `text: expression returned an unsupported value`},
		{"expr inf", "dec", `{expr: 'doc.a / 0'}`, `{"a":1}`, ``, `dec: expression returned +Inf, not a number`},
		{"expr error", "text", `{expr: 'doc.a.b.c'}`, `{"a":1}`, ``, `text: expression failed:`},
		{"expr memory budget", "int", `{expr: 'len(map(1..1000000, # * 2))'}`, `{}`, ``, `int: expression failed: memory budget exceeded`},
		{"expr nested loops", "int", `{expr: 'sum(map(doc.l, len(map(doc.l, len(map(doc.l, 1))))))'}`, `{"l":[` + strings.Repeat(`1,`, 99) + `1]}`, ``, `int: expression failed: memory budget exceeded`},

		// Objects.
		{"object path", "obj", "$.addr", `{"addr":{"city":"Lyon","zip":"69002"}}`, `{"city":"Lyon","zip":"69002"}`, ""},
		{"object path not object", "obj", "$.addr", `{"addr":"Lyon"}`, ``, `obj: must be an object, not "Lyon"`},
		{"object empty", "obj", "$.addr", `{"addr":{}}`, `null`, ""},
		{"object fields", "obj", "{fields: {city: $.c, zip: {path: $.z, transforms: [trim]}, n: $.n, ok: $.b, gone: $.x}}", `{"c":"Lyon","z":" 69002 ","n":1.50,"b":true}`, `{"city":"Lyon","n":1.50,"ok":true,"zip":"69002"}`, ""},
		{"object fields nested", "obj", "{fields: {a: {fields: {b: {const: 1}}}}}", `{}`, `{"a":{"b":1}}`, ""},
		{"object fields typed", "obj", "{fields: {total: {path: $.t, number: {decimal_separator: ','}}, at: {path: $.d, time: {layout: date}}}}", `{"t":"1,50","d":"2024-01-02"}`, `{"at":"2024-01-02T00:00:00Z","total":1.50}`, ""},
		{"object fields all empty", "obj", "{fields: {a: $.x}}", `{}`, `null`, ""},
		{"object member required", "obj", "{fields: {city: {path: $.c, required: true}, zip: {path: $.z, required: true}}}", `{"c":"Lyon"}`, ``, `obj.zip: is required`},
		{"object member error", "obj", "{fields: {n: {path: $.n, number: {}}}}", `{"n":"x"}`, ``, `obj.n: "x" is not a number`},
		{"object member numeric name", "obj", "{fields: {1: $.a}}", `{"a":"x"}`, `{"1":"x"}`, ""},
		{"object member list", "obj", "{fields: {tags: $.t}}", `{"t":["a"]}`, `{"tags":["a"]}`, ""},

		// Inputs a JSON decoder without UseNumber, or a Go caller, gives.
		{"float64 input", "dec", "$.a", ``, `"19.9"`, ""},
		{"unsupported input", "text", "$.a", ``, ``, `text: has a value of an unsupported type`},
	}
	goInputs := map[string]any{
		"float64 input":     map[string]any{"a": 19.9},
		"unsupported input": map[string]any{"a": struct{}{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustParse(t, fieldMapping(tt.field, tt.spec))
			in, ok := goInputs[tt.name]
			if !ok {
				in = mustDecode(t, tt.input)
			}
			doc, errs := m.Apply(in)
			if tt.err != "" {
				if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), tt.err) {
					t.Fatalf("errors = %v, want %q", errs, tt.err)
				}
				if doc != nil {
					t.Error("a document came back with errors")
				}
				return
			}
			if errs != nil {
				t.Fatalf("errors: %v", errs)
			}
			if got := jsonOf(t, doc.Field(tt.field).JSON()); got != tt.want {
				t.Errorf("%s = %s, want %s", tt.field, got, tt.want)
			}
		})
	}
}

func TestApplyValueTypes(t *testing.T) {
	m := mustParse(t, `version: 1
resource: test
source_id: $.id
fields:
  text: $.t
  int: $.i
  dec: $.d
  at: $.at
  status: $.s
  obj: $.o
`)
	doc, errs := m.Apply(mustDecode(t, `{"id":9,"t":"x","i":-4,"d":"2.50","at":"2024-01-02T03:04:05Z","s":"open","o":{"k":"v"}}`))
	if errs != nil {
		t.Fatal(errs)
	}
	if doc.SourceID != "9" || doc.IdempotencyKey != "" || doc.Resource != "test" {
		t.Errorf("doc = %+v", doc)
	}
	if v := doc.Field("text"); v.Kind() != KindString || v.Text() != "x" {
		t.Errorf("text = %+v", v)
	}
	if v := doc.Field("int"); v.Kind() != KindInteger || v.Int() != -4 {
		t.Errorf("int = %+v", v)
	}
	if v := doc.Field("dec"); v.Kind() != KindDecimal || v.Decimal().Coefficient() != 250 || v.Decimal().Scale() != 2 {
		t.Errorf("dec = %+v", v)
	}
	if v := doc.Field("at"); v.Kind() != KindTime || !v.Time().Equal(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("at = %+v", v)
	}
	if v := doc.Field("status"); v.Kind() != KindEnum || v.Text() != "open" {
		t.Errorf("status = %+v", v)
	}
	if v := doc.Field("obj"); v.Kind() != KindObject || v.Object()["k"] != "v" {
		t.Errorf("obj = %+v", v)
	}
	if v := doc.Field("nope"); v.IsSet() {
		t.Errorf("unknown field = %+v", v)
	}
}

func TestApplyLines(t *testing.T) {
	const mapping = `version: 1
resource: test_lines
source_id: $.id
fields:
  text: $.ref
lines:
  path: $.items
  filter: 'line.kind != "shipping"'
  fields:
    sku: {concat: [$doc.prefix, $.code], separator: "-"}
    qty: {path: $.n, number: {decimal_separator: ","}}
`
	m := mustParse(t, mapping)
	doc, errs := m.Apply(mustDecode(t, `{"id":"o1","prefix":"P","items":[
		{"code":"A","n":"2"},
		{"code":"S","n":1,"kind":"shipping"},
		{"code":"B","n":"3,0"}]}`))
	if errs != nil {
		t.Fatal(errs)
	}
	if got := jsonOf(t, doc); got != `{"lines":[{"qty":2,"sku":"P-A"},{"qty":3,"sku":"P-B"}],"source_id":"o1"}` {
		t.Errorf("doc = %s", got)
	}
	if doc.NumLines() != 2 || doc.LineField(1, "sku").Text() != "P-B" || doc.LineField(2, "sku").IsSet() ||
		doc.LineField(0, "nope").IsSet() || doc.LineField(-1, "sku").IsSet() {
		t.Errorf("line accessors wrong: %d lines", doc.NumLines())
	}

	tests := []struct {
		name, input string
		errs        []string
	}{
		{"no lines", `{"id":"o1"}`, []string{"lines: is required: $.items has no list"}},
		{"null lines", `{"id":"o1","items":null}`, []string{"lines: is required: $.items has no list"}},
		{"not a list", `{"id":"o1","items":{"a":1}}`, []string{"lines: must be a list: $.items is an object"}},
		{"empty list", `{"id":"o1","items":[]}`, nil},
		{"errors name the source index", `{"id":"o1","items":[
			{"code":"S","kind":"shipping","n":"x"},
			{"code":"A","n":"x"},
			{"code":"C","n":"1,5"}]}`, []string{
			`lines[1].qty: "x" is not a number`,
			`lines[2].qty: "1.5" is not a whole number`,
		}},
		{"required line field", `{"id":"o1","prefix":null,"items":[{"n":1}]}`, []string{"lines[0].sku: is required"}},
		{"all errors at once", `{"items":[{"code":"A","n":"?"}],"ref":{"x":1}}`, []string{
			"source_id: is required",
			"text: must be text, not an object",
			`lines[0].qty: "?" is not a number`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, errs := m.Apply(mustDecode(t, tt.input))
			if len(errs) != len(tt.errs) {
				t.Fatalf("errors = %v, want %q", errs, tt.errs)
			}
			for i, e := range errs {
				if !strings.HasPrefix(e.Error(), tt.errs[i]) {
					t.Errorf("error %d = %q, want %q", i, e.Error(), tt.errs[i])
				}
			}
			if (doc == nil) != (len(tt.errs) > 0) {
				t.Errorf("doc = %v with %d errors", doc, len(errs))
			}
		})
	}
}

func TestApplyLinesFilterFailure(t *testing.T) {
	m := mustParse(t, `version: 1
resource: test_lines
source_id: {const: x}
fields: {}
lines: {path: $, filter: 'line.n > 0', fields: {sku: $.sku}}
`)
	_, errs := m.Apply(mustDecode(t, `[{"sku":"A","n":1},{"sku":"B","n":"x"}]`))
	if len(errs) != 1 || errs[0].Field != "lines[1]" || !strings.HasPrefix(errs[0].Message, "expression failed: invalid operation") {
		t.Errorf("errors = %v", errs)
	}
}

func TestApplyFieldErrorsMap(t *testing.T) {
	m := mustParse(t, fieldMapping("int", "{path: $.a}"))
	_, errs := m.Apply(mustDecode(t, `{"a":"x"}`))
	if got := errs.Map(); len(got) != 1 || got["int"] != `"x" is not a whole number` {
		t.Errorf("Map = %v", got)
	}
	if got := errs.Error(); got != `document does not map: int: "x" is not a whole number` {
		t.Errorf("Error = %q", got)
	}
}

func TestApplyIdempotencyKey(t *testing.T) {
	m := mustParse(t, "version: 1\nresource: test\nsource_id: $.id\nidempotency_key: {path: $.event, transforms: [lower]}\nfields: {}\n")
	doc, errs := m.Apply(mustDecode(t, `{"id":1,"event":"EVT-1"}`))
	if errs != nil || doc.IdempotencyKey != "evt-1" {
		t.Fatalf("doc = %+v, %v", doc, errs)
	}
	doc, errs = m.Apply(mustDecode(t, `{"id":1}`))
	if errs != nil || doc.IdempotencyKey != "" {
		t.Fatalf("without key: doc = %+v, %v", doc, errs)
	}
	if got := jsonOf(t, doc); got != `{"lines":[],"source_id":"1"}` {
		t.Errorf("doc = %s", got)
	}
	_, errs = m.Apply(mustDecode(t, `{"id":{"x":1}}`))
	if len(errs) != 1 || errs[0].Field != "source_id" {
		t.Errorf("object source id: %v", errs)
	}
}

// TestApplyConcurrent runs one mapping from many goroutines: the compiled
// form and its VM pool must be safe to share (go test -race checks it).
func TestApplyConcurrent(t *testing.T) {
	m := mustParse(t, fieldMapping("text", `{expr: 'doc.a + "!"', when: 'doc.a != ""'}`))
	in := mustDecode(t, `{"a":"x"}`)
	done := make(chan string)
	for range 8 {
		go func() {
			var got string
			for range 100 {
				doc, errs := m.Apply(in)
				if errs != nil {
					got = errs.Error()
					break
				}
				got = doc.Field("text").Text()
			}
			done <- got
		}()
	}
	for range 8 {
		if got := <-done; got != "x!" {
			t.Errorf("got %q", got)
		}
	}
}
