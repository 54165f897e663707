package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time zones must resolve on images without /usr/share/zoneinfo
	"unicode/utf8"

	"github.com/expr-lang/expr/file"
	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// MaxSize is the largest mapping document Parse accepts, in bytes.
const MaxSize = 256 << 10

// maxNesting bounds how deeply specs nest (concat parts, if branches,
// object fields), and with it the recursion of Parse and Apply.
const maxNesting = 16

// Mapping is a compiled mapping document: paths split into steps,
// expressions compiled, lookup tables as maps. It is immutable and safe
// for concurrent use.
type Mapping struct {
	schema   *Schema
	sourceID *field
	idemKey  *field
	fields   []field // parallel to schema.Fields
	lines    *linesSpec
	vms      vmPool
}

// Resource returns the resource the mapping produces.
func (m *Mapping) Resource() Resource { return m.schema.Resource }

// Parse compiles a mapping document (YAML, see docs/mapping.md). A
// document that is not valid YAML, names an unknown resource, canonical
// field, key or transform, leaves out a required canonical field, or has
// an expression that does not compile is refused with an ErrorList naming
// the line, column and place of every problem found.
func Parse(src []byte) (*Mapping, error) {
	return parse(src, schemas)
}

// parse compiles src against a table of schemas (tests use their own).
func parse(src []byte, table []Schema) (*Mapping, error) {
	if len(src) > MaxSize {
		return nil, ErrorList{{Line: 1, Column: 1, Message: "mapping is larger than " + strconv.Itoa(MaxSize>>10) + " KiB"}}
	}
	if !utf8.Valid(src) {
		return nil, ErrorList{{Line: 1, Column: 1, Message: "mapping is not valid UTF-8"}}
	}
	f, err := parseYAML(src)
	if err != nil {
		return nil, ErrorList{yamlError(err)}
	}
	p := &compiler{src: src, table: table}
	switch {
	case len(f.Docs) == 0 || f.Docs[0].Body == nil:
		p.errAt(nil, "", "mapping is empty")
	case len(f.Docs) > 1:
		p.errAt(f.Docs[1].Body, "", "mapping must be a single YAML document")
	default:
		p.document(f.Docs[0].Body)
	}
	if len(p.errs) > 0 {
		p.errs.sort()
		return nil, p.errs
	}
	if p.m == nil {
		// Every path that leaves the mapping unbuilt reports why.
		return nil, ErrorList{{Line: 1, Column: 1, Message: "mapping could not be compiled"}}
	}
	return p.m, nil
}

// parseYAML runs the YAML parser, turning a panic in it into an error: a
// mapping comes from a request, and a parser bug must not crash the hub.
func parseYAML(src []byte) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, errors.New("YAML could not be parsed")
		}
	}()
	return parser.ParseBytes(src, 0)
}

// yamlError turns a YAML parser error into an Error at its position.
func yamlError(err error) *Error {
	e := &Error{Line: 1, Column: 1, Message: "YAML: " + err.Error()}
	var ye yaml.Error
	if errors.As(err, &ye) {
		e.Message = "YAML: " + ye.GetMessage()
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			e.Line, e.Column = tk.Position.Line, tk.Position.Column
		}
	}
	return e
}

// compiler walks the YAML tree of a mapping, collecting every problem.
type compiler struct {
	src   []byte
	table []Schema
	errs  ErrorList
	depth int
	m     *Mapping
	// lookupNodes are the values of the lookup being compiled, kept to
	// check them once the spec's later steps are known.
	lookupNodes []lookupNode
}

type lookupNode struct {
	n     ast.Node
	where string
	key   string
}

func (p *compiler) errAt(n ast.Node, where, msg string) {
	line, col := position(n)
	p.errs = append(p.errs, &Error{Line: line, Column: col, Field: where, Message: msg})
}

// position returns where a node starts; 1:1 when it has no token.
func position(n ast.Node) (int, int) {
	switch n := n.(type) {
	case nil:
		return 1, 1
	case *ast.MappingNode:
		if len(n.Values) > 0 {
			return position(n.Values[0])
		}
		return tokenPosition(n.Start)
	case *ast.MappingValueNode:
		if n.Key != nil {
			return position(n.Key)
		}
	case *ast.SequenceNode:
		return tokenPosition(n.Start)
	}
	return tokenPosition(n.GetToken())
}

func tokenPosition(tk *token.Token) (int, int) {
	if tk == nil || tk.Position == nil {
		return 1, 1
	}
	return tk.Position.Line, max(tk.Position.Column, 1)
}

// entries returns the key/value pairs of a mapping node.
func entries(n ast.Node) ([]*ast.MappingValueNode, bool) {
	switch n := n.(type) {
	case *ast.MappingNode:
		return n.Values, true
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{n}, true
	}
	return nil, false
}

// unsupported names YAML features mappings do not use; aliases in
// particular could expand a small document into a huge one.
func unsupported(n ast.Node) string {
	switch n.(type) {
	case *ast.AnchorNode, *ast.AliasNode:
		return "YAML anchors and aliases are not supported; write the value out"
	case *ast.TagNode:
		return "YAML tags are not supported; quote a value to keep it as text"
	case *ast.MergeKeyNode:
		return "YAML merge keys are not supported"
	}
	return ""
}

// scalarText returns the text of a scalar node as written (numbers and
// booleans in their source spelling), and false for other nodes.
func scalarText(n ast.Node) (string, bool) {
	switch n := n.(type) {
	case *ast.StringNode:
		return n.Value, true
	case *ast.LiteralNode:
		if n.Value == nil {
			return "", false
		}
		return n.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode:
		if tk := n.GetToken(); tk != nil {
			return tk.Value, true
		}
	}
	return "", false
}

// str returns a node that must be a string.
func (p *compiler) str(n ast.Node, where string) (string, bool) {
	switch n.(type) {
	case *ast.StringNode, *ast.LiteralNode:
		s, _ := scalarText(n)
		return s, true
	}
	p.notA(n, where, "must be text")
	return "", false
}

func (p *compiler) notA(n ast.Node, where, msg string) {
	if u := unsupported(n); u != "" {
		msg = u
	}
	p.errAt(n, where, msg)
}

// keyed reads a mapping node into its entries by key name, refusing
// unknown keys; allowed lists the known keys in the order error messages
// give them.
func (p *compiler) keyed(n ast.Node, where string, allowed []string) (map[string]*ast.MappingValueNode, bool) {
	ents, ok := entries(n)
	if !ok {
		return nil, false
	}
	out := make(map[string]*ast.MappingValueNode, len(ents))
	for _, e := range ents {
		name, isStr := e.Key.(*ast.StringNode)
		if !isStr {
			p.notA(e.Key, where, "keys here must be names")
			continue
		}
		known := false
		for _, a := range allowed {
			if a == name.Value {
				known = true
				break
			}
		}
		if !known {
			p.errAt(e.Key, join(where, name.Value), "unknown key; expected one of "+strings.Join(allowed, ", "))
			continue
		}
		out[name.Value] = e
	}
	return out, true
}

func join(where, key string) string {
	if where == "" {
		return key
	}
	return where + "." + key
}

var topKeys = []string{"version", "resource", "source_id", "idempotency_key", "fields", "lines"}

func (p *compiler) document(body ast.Node) {
	keys, ok := p.keyed(body, "", topKeys)
	if !ok {
		p.notA(body, "", "mapping must be a YAML mapping with version, resource, source_id and fields")
		return
	}
	if e := keys["version"]; e == nil {
		p.errAt(body, "version", "is required; write version: 1")
	} else if n, ok := e.Value.(*ast.IntegerNode); !ok || n.GetToken().Value != "1" {
		p.errAt(e.Value, "version", "must be 1, the only version of the mapping format")
	}

	var schema *Schema
	if e := keys["resource"]; e == nil {
		p.errAt(body, "resource", "is required")
	} else if name, ok := p.str(e.Value, "resource"); ok {
		if schema = findSchema(p.table, Resource(name)); schema == nil {
			names := make([]string, len(p.table))
			for i, s := range p.table {
				names[i] = string(s.Resource)
			}
			p.errAt(e.Value, "resource", "unknown resource "+strconv.Quote(name)+"; expected one of "+strings.Join(names, ", "))
		}
	}

	m := &Mapping{schema: schema}
	text := Field{Name: "source_id", Kind: KindString, Required: true}
	if e := keys["source_id"]; e == nil {
		p.errAt(body, "source_id", "is required: the path to the document's id in the source")
	} else {
		m.sourceID = &field{Field: text, spec: p.spec(e.Value, "source_id", target{kind: KindString, field: true})}
	}
	if e := keys["idempotency_key"]; e != nil {
		text.Name, text.Required = "idempotency_key", false
		m.idemKey = &field{Field: text, spec: p.spec(e.Value, "idempotency_key", target{kind: KindString, field: true})}
	}
	if schema == nil {
		return // without a resource, fields cannot be checked
	}

	fe := keys["fields"]
	if fe == nil {
		p.errAt(body, "fields", "is required")
	} else {
		m.fields = p.fields(fe, "fields", schema.Fields)
	}

	le := keys["lines"]
	switch {
	case le == nil && schema.Lines != nil && schema.LinesRequired:
		p.errAt(body, "lines", "is required: "+string(schema.Resource)+" have lines")
	case le != nil && schema.Lines == nil:
		p.errAt(le.Key, "lines", string(schema.Resource)+" have no lines")
	case le != nil:
		m.lines = p.lines(le, schema.Lines)
	}
	p.m = m
}

// fields compiles the specs of a fields block against the canonical
// fields it may fill.
func (p *compiler) fields(e *ast.MappingValueNode, where string, schema []Field) []field {
	out := make([]field, len(schema))
	for i, f := range schema {
		out[i].Field = f
	}
	ents, ok := entries(e.Value)
	if !ok {
		p.notA(e.Value, where, "must map canonical field names to their values")
		return out
	}
	for _, fe := range ents {
		name, isStr := fe.Key.(*ast.StringNode)
		if !isStr {
			p.notA(fe.Key, where, "keys here must be canonical field names")
			continue
		}
		i := fieldIndex(schema, name.Value)
		if i < 0 {
			names := make([]string, len(schema))
			for j, f := range schema {
				names[j] = f.Name
			}
			p.errAt(fe.Key, join(where, name.Value), "unknown canonical field; expected one of "+strings.Join(names, ", "))
			continue
		}
		f := &out[i]
		f.spec = p.spec(fe.Value, join(where, name.Value), target{kind: f.Kind, values: f.Values, field: true})
	}
	for _, f := range out {
		if f.Required && f.spec == nil && fieldIndexOfKey(ents, f.Name) < 0 {
			p.errAt(e.Key, join(where, f.Name), "required canonical field is not mapped")
		}
	}
	return out
}

func fieldIndexOfKey(ents []*ast.MappingValueNode, name string) int {
	for i, e := range ents {
		if k, ok := e.Key.(*ast.StringNode); ok && k.Value == name {
			return i
		}
	}
	return -1
}

var linesKeys = []string{"path", "filter", "fields"}

func (p *compiler) lines(e *ast.MappingValueNode, schema []Field) *linesSpec {
	keys, ok := p.keyed(e.Value, "lines", linesKeys)
	if !ok {
		p.notA(e.Value, "lines", "must be a mapping with path and fields")
		return nil
	}
	ls := &linesSpec{}
	if pe := keys["path"]; pe == nil {
		p.errAt(e.Key, "lines.path", "is required: the path to the list of lines")
	} else if s, ok := p.str(pe.Value, "lines.path"); ok {
		var err error
		if ls.path, err = parsePath(s); err != nil {
			p.errAt(pe.Value, "lines.path", "path "+strconv.Quote(s)+" "+err.Error())
		}
	}
	if fe := keys["filter"]; fe != nil {
		ls.filter = p.expr(fe.Value, "lines.filter", true)
	}
	if fe := keys["fields"]; fe == nil {
		p.errAt(e.Key, "lines.fields", "is required")
	} else {
		ls.fields = p.fields(fe, "lines.fields", schema)
	}
	return ls
}

// target is what a spec's value is for: a canonical field's kind, a part
// of a concat (text), or a member of an object (any JSON value).
type target struct {
	kind   Kind
	values []string
	field  bool // a field or object member: required is allowed
}

var specKeys = []string{"path", "const", "concat", "separator", "expr", "if", "then", "else", "fields",
	"when", "split", "transforms", "lookup", "unmapped", "number", "time", "default", "required"}

var sourceKeys = []string{"path", "const", "concat", "expr", "if", "fields"}

// spec compiles a value specification: a path string ("$.a.b") or a
// mapping of the keys in specKeys.
func (p *compiler) spec(n ast.Node, where string, tg target) *spec {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxNesting {
		p.errAt(n, where, "nests more than "+strconv.Itoa(maxNesting)+" levels deep")
		return nil
	}
	const shape = "must be a path starting with $, or a mapping such as {path: $.a} or {const: 1}"
	if sn, ok := n.(*ast.StringNode); ok {
		if !strings.HasPrefix(sn.Value, "$") {
			p.errAt(n, where, shape)
			return nil
		}
		s := &spec{src: srcPath}
		var err error
		if s.path, err = parsePath(sn.Value); err != nil {
			p.errAt(n, where, "path "+strconv.Quote(sn.Value)+" "+err.Error())
		}
		return s
	}
	keys, ok := p.keyed(n, where, specKeys)
	if !ok {
		p.notA(n, where, shape)
		return nil
	}
	s := &spec{}
	p.source(s, keys, n, where, tg)
	p.modifiers(s, keys, where, tg)
	return s
}

func (p *compiler) source(s *spec, keys map[string]*ast.MappingValueNode, n ast.Node, where string, tg target) {
	var src string
	for _, k := range sourceKeys {
		e := keys[k]
		if e == nil {
			continue
		}
		if src != "" {
			p.errAt(e.Key, join(where, k), "a value has one source; "+src+" is already given")
			continue
		}
		src = k
	}
	if src == "" {
		p.errAt(n, where, "needs a source: one of "+strings.Join(sourceKeys, ", "))
	}
	if e := keys["separator"]; e != nil && src != "concat" {
		p.errAt(e.Key, join(where, "separator"), "is only allowed with concat")
	}
	for _, k := range []string{"then", "else"} {
		if e := keys[k]; e != nil && src != "if" {
			p.errAt(e.Key, join(where, k), "is only allowed with if")
		}
	}
	switch src {
	case "path":
		s.src = srcPath
		e := keys["path"]
		if text, ok := p.str(e.Value, join(where, "path")); ok {
			var err error
			if s.path, err = parsePath(text); err != nil {
				p.errAt(e.Value, join(where, "path"), "path "+strconv.Quote(text)+" "+err.Error())
			}
		}
	case "const":
		s.src = srcConst
		s.konst, _ = p.constant(keys["const"].Value, join(where, "const"))
	case "concat":
		s.src = srcConcat
		e := keys["concat"]
		seq, ok := e.Value.(*ast.SequenceNode)
		if !ok || len(seq.Values) == 0 {
			p.notA(e.Value, join(where, "concat"), "must be a list of values, such as [{path: $.first}, {const: \" \"}, {path: $.last}]")
			break
		}
		for i, part := range seq.Values {
			ps := p.spec(part, join(where, "concat")+"["+strconv.Itoa(i)+"]", target{kind: KindString})
			if ps != nil {
				s.parts = append(s.parts, ps)
			}
		}
		if e := keys["separator"]; e != nil {
			s.sep, _ = p.str(e.Value, join(where, "separator"))
		}
	case "expr":
		s.src = srcExpr
		s.prog = p.expr(keys["expr"].Value, join(where, "expr"), false)
	case "if":
		s.src = srcIf
		s.cond = p.expr(keys["if"].Value, join(where, "if"), true)
		branch := target{kind: tg.kind, values: tg.values}
		if e := keys["then"]; e == nil {
			p.errAt(keys["if"].Key, join(where, "then"), "is required with if")
		} else {
			s.then = p.spec(e.Value, join(where, "then"), branch)
		}
		if e := keys["else"]; e != nil {
			s.els = p.spec(e.Value, join(where, "else"), branch)
		}
	case "fields":
		s.src = srcObject
		e := keys["fields"]
		if tg.kind != KindObject && tg.kind != kindAny {
			p.errAt(e.Key, join(where, "fields"), "builds an object, but this is a "+tg.kind.String()+" field")
			break
		}
		s.members = p.members(e, join(where, "fields"))
	}
}

// members compiles the fields of an object value: any names, any JSON
// values.
func (p *compiler) members(e *ast.MappingValueNode, where string) []member {
	ents, ok := entries(e.Value)
	if !ok {
		p.notA(e.Value, where, "must map member names to their values")
		return nil
	}
	out := make([]member, 0, len(ents))
	for _, me := range ents {
		name, ok := scalarText(me.Key)
		if !ok || name == "" {
			p.notA(me.Key, where, "member names must be non-empty text")
			continue
		}
		ms := p.spec(me.Value, join(where, name), target{kind: kindAny, field: true})
		if ms != nil {
			out = append(out, member{name: name, spec: ms})
		}
	}
	return out
}

func (p *compiler) modifiers(s *spec, keys map[string]*ast.MappingValueNode, where string, tg target) {
	if e := keys["when"]; e != nil {
		s.when = p.expr(e.Value, join(where, "when"), true)
	}
	if e := keys["split"]; e != nil {
		p.split(s, e, join(where, "split"))
	}
	if e := keys["transforms"]; e != nil {
		p.transforms(s, e, join(where, "transforms"))
	}
	if e := keys["lookup"]; e != nil {
		p.lookup(s, e, join(where, "lookup"))
	}
	if e := keys["unmapped"]; e != nil {
		w := join(where, "unmapped")
		if s.lookup == nil {
			p.errAt(e.Key, w, "is only allowed with lookup")
		} else if mode, ok := p.str(e.Value, w); ok {
			switch mode {
			case "refuse":
				s.unmapped = unmappedRefuse
			case "keep":
				s.unmapped = unmappedKeep
			case "default":
				s.unmapped = unmappedDefault
			default:
				p.errAt(e.Value, w, "must be refuse, keep or default")
			}
		}
	}
	num, tm := keys["number"], keys["time"]
	if num != nil && tm != nil {
		p.errAt(tm.Key, join(where, "time"), "a value is parsed as a number or as a time, not both")
	} else if num != nil {
		w := join(where, "number")
		if tg.kind == KindTime || tg.kind == KindObject {
			p.errAt(num.Key, w, "parses a number, but this is a "+tg.kind.String()+" field")
		}
		s.number = p.numberFormat(num, w)
	} else if tm != nil {
		w := join(where, "time")
		if tg.kind != KindTime && tg.kind != KindString && tg.kind != kindAny {
			p.errAt(tm.Key, w, "parses a time, but this is a "+tg.kind.String()+" field")
		}
		s.time = p.timeFormat(tm, w)
	}
	// Lookup results that no step parses must already fit the field.
	if s.lookup != nil && s.number == nil && s.time == nil {
		for _, ln := range p.lookupNodes {
			if v := s.lookup[ln.key]; !v.empty() {
				p.check(ln.n, ln.where, &v, tg)
			}
		}
	}
	if e := keys["default"]; e != nil {
		w := join(where, "default")
		if v, ok := p.constant(e.Value, w); ok && !v.empty() {
			s.def, s.hasDef = v, true
			p.check(e.Value, w, &v, tg)
		}
	}
	if e := keys["required"]; e != nil {
		w := join(where, "required")
		b, ok := e.Value.(*ast.BoolNode)
		switch {
		case !tg.field:
			p.errAt(e.Key, w, "applies to fields only, not to parts of concat or if")
		case !ok:
			p.notA(e.Value, w, "must be true or false")
		default:
			s.required = b.Value
		}
	}
	// A constant that no step changes must already fit the field.
	if s.src == srcConst && !s.hasSplit && s.transforms == nil && s.lookup == nil &&
		s.number == nil && s.time == nil && !s.konst.empty() {
		p.check(keys["const"].Value, join(where, "const"), &s.konst, tg)
	}
}

// check reports a constant that cannot become a value of tg's kind.
func (p *compiler) check(n ast.Node, where string, v *val, tg target) {
	var msg string
	switch tg.kind {
	case kindAny:
		_, msg = toJSON(v)
	case 0:
		return
	default:
		_, msg = convert(v, tg.kind, tg.values)
	}
	if msg != "" {
		p.errAt(n, where, msg)
	}
}

func (p *compiler) split(s *spec, e *ast.MappingValueNode, where string) {
	keys, ok := p.keyed(e.Value, where, []string{"separator", "index"})
	if !ok {
		p.notA(e.Value, where, "must be a mapping such as {separator: \" \", index: 0}")
		return
	}
	s.hasSplit = true
	if se := keys["separator"]; se == nil {
		p.errAt(e.Key, join(where, "separator"), "is required")
	} else if sep, ok := p.str(se.Value, join(where, "separator")); ok {
		if sep == "" {
			p.errAt(se.Value, join(where, "separator"), "must not be empty")
		}
		s.splitSep = sep
	}
	if ie := keys["index"]; ie != nil {
		in, ok := ie.Value.(*ast.IntegerNode)
		n, err := 0, error(nil)
		if ok {
			n, err = strconv.Atoi(in.GetToken().Value)
		}
		if !ok || err != nil || n > 10000 || n < -10000 {
			p.notA(ie.Value, join(where, "index"), "must be a whole number: 0 for the first piece, -1 for the last")
		}
		s.splitIndex = n
	}
}

var transformNames = "trim, upper, lower or {replace: {old: …, new: …}}"

func (p *compiler) transforms(s *spec, e *ast.MappingValueNode, where string) {
	seq, ok := e.Value.(*ast.SequenceNode)
	if !ok {
		p.notA(e.Value, where, "must be a list such as [trim, upper]")
		return
	}
	s.transforms = make([]transform, 0, len(seq.Values))
	for i, tn := range seq.Values {
		w := where + "[" + strconv.Itoa(i) + "]"
		if name, ok := tn.(*ast.StringNode); ok {
			var op transformOp
			switch name.Value {
			case "trim":
				op = opTrim
			case "upper":
				op = opUpper
			case "lower":
				op = opLower
			default:
				p.errAt(tn, w, "unknown transform "+strconv.Quote(name.Value)+"; expected "+transformNames)
				continue
			}
			s.transforms = append(s.transforms, transform{op: op})
			continue
		}
		ents, ok := entries(tn)
		if !ok || len(ents) != 1 {
			p.notA(tn, w, "unknown transform; expected "+transformNames)
			continue
		}
		if k, _ := scalarText(ents[0].Key); k != "replace" {
			p.errAt(ents[0].Key, w, "unknown transform "+strconv.Quote(k)+"; expected "+transformNames)
			continue
		}
		re := ents[0]
		rk, ok := p.keyed(re.Value, join(w, "replace"), []string{"old", "new"})
		if !ok || rk["old"] == nil || rk["new"] == nil {
			p.notA(re.Value, join(w, "replace"), "must be {old: text, new: text}")
			continue
		}
		old, ok1 := p.str(rk["old"].Value, join(w, "replace.old"))
		nw, ok2 := p.str(rk["new"].Value, join(w, "replace.new"))
		if ok1 && old == "" {
			p.errAt(rk["old"].Value, join(w, "replace.old"), "must not be empty")
		}
		if ok1 && ok2 {
			s.transforms = append(s.transforms, transform{op: opReplace, old: old, new: nw})
		}
	}
}

func (p *compiler) lookup(s *spec, e *ast.MappingValueNode, where string) {
	ents, ok := entries(e.Value)
	if !ok || len(ents) == 0 {
		p.notA(e.Value, where, "must map source values to canonical values, such as {done: shipped}")
		return
	}
	s.lookup = make(map[string]val, len(ents))
	p.lookupNodes = p.lookupNodes[:0]
	for _, le := range ents {
		key, ok := scalarText(le.Key)
		if !ok {
			p.notA(le.Key, where, "keys must be text, numbers or booleans")
			continue
		}
		v, ok := p.constant(le.Value, join(where, key))
		if ok {
			s.lookup[key] = v
			p.lookupNodes = append(p.lookupNodes, lookupNode{le.Value, join(where, key), key})
		}
	}
}

func (p *compiler) numberFormat(e *ast.MappingValueNode, where string) *numberFormat {
	f := &numberFormat{point: '.'}
	if _, null := e.Value.(*ast.NullNode); null {
		return f
	}
	keys, ok := p.keyed(e.Value, where, []string{"decimal_separator", "group_separator"})
	if !ok {
		p.notA(e.Value, where, "must be a mapping such as {decimal_separator: \",\", group_separator: \".\"}")
		return f
	}
	if de := keys["decimal_separator"]; de != nil {
		w := join(where, "decimal_separator")
		if s, ok := p.str(de.Value, w); ok {
			r, size := utf8.DecodeRuneInString(s)
			if size == 0 || size != len(s) || !separatorRune(r) {
				p.errAt(de.Value, w, "must be one character other than a digit, a sign or a space")
			}
			f.point = r
		}
	}
	if ge := keys["group_separator"]; ge != nil {
		w := join(where, "group_separator")
		if s, ok := p.str(ge.Value, w); ok {
			for _, r := range s {
				if r != ' ' && r != '\u00a0' && r != '\u202f' && !separatorRune(r) {
					p.errAt(ge.Value, w, "must be characters other than digits and signs")
					break
				}
			}
			if strings.ContainsRune(s, f.point) {
				p.errAt(ge.Value, w, "must differ from the decimal separator")
			}
			f.groups = s
		}
	}
	return f
}

func separatorRune(r rune) bool {
	return r != utf8.RuneError && !(r >= '0' && r <= '9') && r != '-' && r != '+' && !strings.ContainsRune(" \t\r\n", r)
}

var timeLayouts = map[string]string{
	"rfc3339": time.RFC3339,
	"date":    time.DateOnly,
}

func (p *compiler) timeFormat(e *ast.MappingValueNode, where string) *timeFormat {
	f := &timeFormat{layout: time.RFC3339, loc: time.UTC}
	if _, null := e.Value.(*ast.NullNode); null {
		return f
	}
	keys, ok := p.keyed(e.Value, where, []string{"layout", "zone"})
	if !ok {
		p.notA(e.Value, where, "must be a mapping such as {layout: \"02/01/2006 15:04\", zone: Europe/Paris}")
		return f
	}
	if le := keys["layout"]; le != nil {
		if s, ok := p.str(le.Value, join(where, "layout")); ok {
			switch {
			case s == "unix":
				f.unit = timeUnix
			case s == "unix_ms":
				f.unit = timeUnixMilli
			case timeLayouts[s] != "":
				f.layout = timeLayouts[s]
			case strings.TrimSpace(s) == "":
				p.errAt(le.Value, join(where, "layout"), "must not be empty")
			default:
				f.layout = s
			}
		}
	}
	if ze := keys["zone"]; ze != nil {
		w := join(where, "zone")
		if s, ok := p.str(ze.Value, w); ok {
			loc, err := time.LoadLocation(s)
			if err != nil || s == "" || s == "Local" {
				p.errAt(ze.Value, w, "unknown time zone "+strconv.Quote(s)+"; name an IANA zone such as Europe/Paris or UTC")
			} else {
				f.loc = loc
			}
		}
	}
	return f
}

// expr compiles an expression node, reporting a compile error at its
// place inside the YAML source.
func (p *compiler) expr(n ast.Node, where string, asBool bool) *program {
	src, ok := p.str(n, where)
	if !ok {
		return nil
	}
	prog, err := compileExpr(src, asBool)
	if err != nil {
		line, col := p.exprPosition(n, err)
		p.errs = append(p.errs, &Error{Line: line, Column: col, Field: where, Message: "expression does not compile: " + exprMessage(err)})
		return nil
	}
	return prog
}

// exprPosition maps a compile error's place inside an expression to the
// YAML source: exactly for one-line scalars and literal blocks, the
// scalar's start otherwise.
func (p *compiler) exprPosition(n ast.Node, err error) (int, int) {
	line, col := position(n)
	var fe *file.Error
	if !errors.As(err, &fe) || fe.Line < 1 {
		return line, col
	}
	tk := n.GetToken()
	if _, isLit := n.(*ast.LiteralNode); isLit {
		// The block's text starts on the line after the | indicator, and
		// its first line sets the indentation YAML strips from every line.
		return line + fe.Line, indentOf(p.src, line+1) + fe.Column + 1
	}
	if fe.Line > 1 || tk == nil {
		return line, col
	}
	if tk.Type == token.SingleQuoteType || tk.Type == token.DoubleQuoteType {
		col++
	}
	return line, col + fe.Column
}

// indentOf returns the number of leading spaces of a 1-based line of src.
func indentOf(src []byte, line int) int {
	for l := 1; l < line; l++ {
		i := bytes.IndexByte(src, '\n')
		if i < 0 {
			return 0
		}
		src = src[i+1:]
	}
	n := 0
	for n < len(src) && src[n] == ' ' {
		n++
	}
	return n
}

// constant reads a YAML value as a JSON value: text, a number (kept as
// written), a boolean, null, or lists and mappings of those.
func (p *compiler) constant(n ast.Node, where string) (val, bool) {
	x, ok := p.constJSON(n, where, 0)
	if !ok {
		return val{}, false
	}
	return fromJSON(x), true
}

func (p *compiler) constJSON(n ast.Node, where string, depth int) (any, bool) {
	if depth > maxNesting {
		p.errAt(n, where, "nests more than "+strconv.Itoa(maxNesting)+" levels deep")
		return nil, false
	}
	switch n := n.(type) {
	case *ast.StringNode:
		return n.Value, true
	case *ast.LiteralNode:
		s, _ := scalarText(n)
		return s, true
	case *ast.BoolNode:
		return n.Value, true
	case *ast.NullNode:
		return nil, true
	case *ast.IntegerNode, *ast.FloatNode:
		text := n.GetToken().Value
		if !isJSONNumber(text) {
			p.errAt(n, where, "write numbers in decimal, such as 12 or 1.5, or quote "+text+" to keep it as text")
			return nil, false
		}
		return json.Number(text), true
	case *ast.SequenceNode:
		out := make([]any, 0, len(n.Values))
		for i, v := range n.Values {
			x, ok := p.constJSON(v, where+"["+strconv.Itoa(i)+"]", depth+1)
			if !ok {
				return nil, false
			}
			out = append(out, x)
		}
		return out, true
	case *ast.MappingNode, *ast.MappingValueNode:
		ents, _ := entries(n)
		out := make(map[string]any, len(ents))
		for _, e := range ents {
			k, ok := scalarText(e.Key)
			if !ok {
				p.notA(e.Key, where, "keys must be text")
				return nil, false
			}
			x, ok := p.constJSON(e.Value, join(where, k), depth+1)
			if !ok {
				return nil, false
			}
			out[k] = x
		}
		return out, true
	}
	p.notA(n, where, "must be a constant value")
	return nil, false
}
