package mapping

import (
	"strconv"
	"strings"
	"time"
)

// srcKind is where a spec takes its value from.
type srcKind uint8

const (
	srcPath srcKind = iota + 1
	srcConst
	srcConcat
	srcExpr
	srcIf
	srcObject
)

// unmappedMode is what a lookup does with a value not in its table.
type unmappedMode uint8

const (
	unmappedRefuse  unmappedMode = iota // a field error
	unmappedKeep                        // the value passes through
	unmappedDefault                     // the value counts as empty
)

// transform is one step of a spec's transforms list.
type transform struct {
	op       transformOp
	old, new string // replace
}

type transformOp uint8

const (
	opTrim transformOp = iota + 1
	opUpper
	opLower
	opReplace
)

// timeUnit is how a time step reads its value.
type timeUnit uint8

const (
	timeLayout timeUnit = iota
	timeUnix            // seconds since 1970, possibly with a fraction
	timeUnixMilli
)

type timeFormat struct {
	unit   timeUnit
	layout string
	loc    *time.Location
}

// spec is a compiled value specification: a source and the steps that
// turn it into a field's value, in this order: when, source, split,
// transforms, lookup, number or time, default.
type spec struct {
	when *program

	src     srcKind
	path    path
	konst   val
	parts   []*spec // concat
	sep     string  // concat separator
	prog    *program
	cond    *program // if
	then    *spec
	els     *spec
	members []member // fields of an object

	hasSplit   bool
	splitSep   string
	splitIndex int
	transforms []transform
	lookup     map[string]val
	unmapped   unmappedMode
	number     *numberFormat
	time       *timeFormat
	def        val
	hasDef     bool
	required   bool
}

// member is one field of an object built by a spec's fields.
type member struct {
	name string
	spec *spec
}

// field is a canonical field and the spec that fills it (nil when the
// mapping leaves it out).
type field struct {
	Field
	spec *spec
}

// linesSpec maps the lines of a document.
type linesSpec struct {
	path   path
	filter *program
	fields []field
}

// seg is one step of the name of the field being computed: a key, or
// the index of a line (index >= 0).
type seg struct {
	key   string
	index int
}

// state is one Apply call's working data.
type state struct {
	m       *Mapping
	root    any
	line    int // index of the current line, -1 outside lines
	view    any // root as expressions see it, built on first use
	hasView bool
	lines   []any // the lines in view form, built on first use
	// names is the name of the field being computed, kept as a stack so
	// that the happy path formats nothing.
	names []seg
	errs  FieldErrors
}

func (st *state) push(key string, index int) { st.names = append(st.names, seg{key, index}) }
func (st *state) pop()                       { st.names = st.names[:len(st.names)-1] }

// fail records a problem with the field being computed.
func (st *state) fail(msg string) {
	var b strings.Builder
	for i, n := range st.names {
		switch {
		case n.index >= 0:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(n.index))
			b.WriteByte(']')
		case i > 0:
			b.WriteByte('.')
			fallthrough
		default:
			b.WriteString(n.key)
		}
	}
	st.errs = append(st.errs, FieldError{Field: b.String(), Message: msg})
}

// Apply maps one source document (decoded JSON: map[string]any, []any,
// string, json.Number, bool, nil) to its canonical Document. Problems with
// the data (a required value missing, a number that does not parse, a
// value not in a lookup table) come back as FieldErrors, all of them, with
// a nil Document; Apply never panics and never returns a Go error, and
// many goroutines may call it at once.
func (m *Mapping) Apply(input any) (*Document, FieldErrors) {
	st := state{m: m, root: input, line: -1, names: make([]seg, 0, 6)}
	doc := &Document{Resource: m.schema.Resource, schema: m.schema}

	doc.SourceID = st.field(m.sourceID, input).s
	if m.idemKey != nil {
		doc.IdempotencyKey = st.field(m.idemKey, input).s
	}

	doc.fields = make([]Value, len(m.fields))
	for i := range m.fields {
		if f := &m.fields[i]; f.spec != nil {
			doc.fields[i] = st.field(f, input)
		}
	}
	if m.lines != nil {
		st.applyLines(doc)
	}
	if len(st.errs) > 0 {
		return nil, st.errs
	}
	return doc, nil
}

func (st *state) applyLines(doc *Document) {
	ls := st.m.lines
	st.push("lines", -1)
	defer st.pop()
	raw, _ := ls.path.resolve(st.root, st.root)
	if raw == nil {
		if st.m.schema.LinesRequired {
			st.fail("is required: " + ls.path.text + " has no list")
		}
		return
	}
	list, ok := raw.([]any)
	if !ok {
		st.fail("must be a list: " + ls.path.text + " is " + describeJSON(raw))
		return
	}
	nf := len(ls.fields)
	doc.lines = make([]Value, 0, len(list)*nf)
	for i, ln := range list {
		st.line = i
		st.push("", i)
		keep := true
		if ls.filter != nil {
			b, ok := st.runBool(ls.filter)
			keep = ok && b
		}
		if keep {
			row := len(doc.lines)
			doc.lines = append(doc.lines, make([]Value, nf)...)
			for j := range ls.fields {
				if f := &ls.fields[j]; f.spec != nil {
					doc.lines[row+j] = st.field(f, ln)
				}
			}
		}
		st.pop()
	}
	st.line = -1
	doc.nLines = len(doc.lines) / max(nf, 1)
}

func describeJSON(x any) string {
	v := fromJSON(x)
	return v.describe()
}

// field computes one canonical field: its spec's value, the required
// check, and the conversion to the field's kind.
func (st *state) field(f *field, ctx any) Value {
	st.push(f.Name, -1)
	defer st.pop()
	v, ok := st.eval(f.spec, ctx)
	if !ok {
		return Value{}
	}
	if v.empty() {
		if f.Required || f.spec.required {
			st.fail("is required")
		}
		return Value{}
	}
	out, msg := convert(&v, f.Kind, f.Values)
	if msg != "" {
		st.fail(msg)
	}
	return out
}

// eval computes a spec's value. It returns false after reporting an error.
func (st *state) eval(s *spec, ctx any) (val, bool) {
	if s.when != nil {
		cond, ok := st.runBool(s.when)
		if !ok {
			return val{}, false
		}
		if !cond {
			return s.def, true
		}
	}
	var v val
	switch s.src {
	case srcPath:
		if x, found := s.path.resolve(st.root, ctx); found {
			v = fromJSON(x)
		}
	case srcConst:
		v = s.konst
	case srcConcat:
		var ok bool
		if v, ok = st.concat(s, ctx); !ok {
			return val{}, false
		}
	case srcExpr:
		r, ok := st.run(s.prog)
		if !ok {
			return val{}, false
		}
		var msg string
		if v, msg = fromExpr(r); msg != "" {
			st.fail(msg)
			return val{}, false
		}
	case srcIf:
		cond, ok := st.runBool(s.cond)
		if !ok {
			return val{}, false
		}
		branch := s.then
		if !cond {
			branch = s.els
		}
		if branch != nil {
			if v, ok = st.eval(branch, ctx); !ok {
				return val{}, false
			}
		}
	case srcObject:
		var ok bool
		if v, ok = st.object(s, ctx); !ok {
			return val{}, false
		}
	}
	if v.k == vBad {
		st.fail("has a value of an unsupported type")
		return val{}, false
	}
	if !v.empty() {
		var ok bool
		if v, ok = st.steps(s, v); !ok {
			return val{}, false
		}
	}
	if v.empty() && s.hasDef {
		v = s.def
	}
	return v, true
}

func (st *state) concat(s *spec, ctx any) (val, bool) {
	var b strings.Builder
	joined := false
	for _, p := range s.parts {
		v, ok := st.eval(p, ctx)
		if !ok {
			return val{}, false
		}
		if v.empty() {
			continue
		}
		t, ok := v.text()
		if !ok {
			st.fail("cannot concatenate " + v.describe())
			return val{}, false
		}
		if joined && s.sep != "" {
			b.WriteString(s.sep)
		}
		b.WriteString(t)
		joined = true
	}
	if !joined {
		return val{}, true
	}
	return val{k: vString, s: b.String()}, true
}

func (st *state) object(s *spec, ctx any) (val, bool) {
	out := make(map[string]any, len(s.members))
	ok := true
	for i := range s.members {
		mb := &s.members[i]
		st.push(mb.name, -1)
		v, good := st.eval(mb.spec, ctx)
		switch {
		case !good:
			ok = false
		case v.empty():
			if mb.spec.required {
				st.fail("is required")
				ok = false
			}
		default:
			j, msg := toJSON(&v)
			if msg != "" {
				st.fail(msg)
				ok = false
			} else {
				out[mb.name] = j
			}
		}
		st.pop()
	}
	if !ok {
		return val{}, false
	}
	return val{k: vObject, x: out}, true
}

// steps runs split, transforms, lookup and number or time parsing on a
// non-empty value.
func (st *state) steps(s *spec, v val) (val, bool) {
	if s.hasSplit {
		t, ok := v.text()
		if !ok {
			st.fail("cannot split " + v.describe())
			return val{}, false
		}
		v = val{}
		if piece, found := splitIndex(t, s.splitSep, s.splitIndex); found {
			v = val{k: vString, s: piece}
		}
	}
	for i := range s.transforms {
		tr := &s.transforms[i]
		t, ok := v.text()
		if !ok {
			st.fail("cannot transform " + v.describe())
			return val{}, false
		}
		switch tr.op {
		case opTrim:
			t = strings.TrimSpace(t)
		case opUpper:
			t = strings.ToUpper(t)
		case opLower:
			t = strings.ToLower(t)
		case opReplace:
			t = strings.ReplaceAll(t, tr.old, tr.new)
		}
		v = val{k: vString, s: t}
	}
	if v.empty() {
		return v, true
	}
	if s.lookup != nil {
		key, ok := v.text()
		if !ok {
			st.fail("cannot look up " + v.describe())
			return val{}, false
		}
		if r, found := s.lookup[key]; found {
			v = r
		} else {
			switch s.unmapped {
			case unmappedRefuse:
				st.fail(quote(key) + " is not in the lookup table")
				return val{}, false
			case unmappedDefault:
				return val{}, true
			}
		}
		if v.empty() {
			return v, true
		}
	}
	switch {
	case s.number != nil:
		var d Decimal
		var e numErr
		switch v.k {
		case vNumber:
			d, e = parseJSONNumber(v.s)
		case vString:
			d, e = s.number.parse(v.s)
		case vDecimal:
			d = v.d
		default:
			st.fail("must be a number, not " + v.describe())
			return val{}, false
		}
		switch e {
		case numSyntax:
			st.fail(quote(v.s) + " is not a number")
			return val{}, false
		case numRange:
			st.fail(quote(v.s) + " has more than 18 significant digits or decimal places")
			return val{}, false
		}
		v = val{k: vDecimal, d: d}
	case s.time != nil:
		t, msg := s.time.parse(&v)
		if msg != "" {
			st.fail(msg)
			return val{}, false
		}
		v = val{k: vTime, t: t}
	}
	return v, true
}

// splitIndex returns the index-th piece of s split by sep (negative
// counts from the end) without building the list of pieces.
func splitIndex(s, sep string, index int) (string, bool) {
	if index < 0 {
		index += strings.Count(s, sep) + 1
		if index < 0 {
			return "", false
		}
	}
	for ; index > 0; index-- {
		i := strings.Index(s, sep)
		if i < 0 {
			return "", false
		}
		s = s[i+len(sep):]
	}
	if i := strings.Index(s, sep); i >= 0 {
		s = s[:i]
	}
	return s, true
}

func (f *timeFormat) parse(v *val) (time.Time, string) {
	if f.unit == timeLayout {
		if v.k != vString {
			return time.Time{}, "must be text in the layout " + strconv.Quote(f.layout) + ", not " + v.describe()
		}
		t, err := time.ParseInLocation(f.layout, strings.TrimSpace(v.s), f.loc)
		if err != nil {
			return time.Time{}, quote(v.s) + " is not a time in the layout " + strconv.Quote(f.layout)
		}
		return t, ""
	}
	var d Decimal
	var e numErr
	switch v.k {
	case vNumber:
		d, e = parseJSONNumber(v.s)
	case vString:
		d, e = plainNumber.parse(v.s)
	default:
		return time.Time{}, "must be a Unix time, not " + v.describe()
	}
	if e != numOK {
		return time.Time{}, quote(v.s) + " is not a Unix time"
	}
	// Split d into whole units and a fraction.
	p := pow10[d.scale]
	whole, frac := d.coef/p, d.coef%p
	// Beyond ±10^12 seconds (about 31,700 years from 1970) is not a
	// timestamp; the bound also keeps the arithmetic below in range.
	if whole > 1e15 || whole < -1e15 || (f.unit == timeUnix && (whole > 1e12 || whole < -1e12)) {
		return time.Time{}, quote(v.s) + " is not a Unix time"
	}
	sec, rem := whole, scaleNanos(frac, int(d.scale), int64(time.Second))
	if f.unit == timeUnixMilli {
		sec = whole / 1000
		rem = whole%1000*int64(time.Millisecond) + scaleNanos(frac, int(d.scale), int64(time.Millisecond))
	}
	return time.Unix(sec, rem).In(f.loc), ""
}

// scaleNanos returns frac/10^scale units of unitNanos nanoseconds, cut to
// whole nanoseconds.
func scaleNanos(frac int64, scale int, unitNanos int64) int64 {
	// unitNanos is at most 10^9 and frac < 10^scale; reduce the scale
	// first so the product cannot overflow.
	for scale > 9 {
		frac /= 10
		scale--
	}
	return frac * unitNanos / pow10[scale]
}

// run evaluates an expression in the current context.
func (st *state) run(p *program) (any, bool) {
	env := exprEnv{Doc: st.exprDoc()}
	if st.line >= 0 {
		env.Line = st.exprLine()
	}
	out, err := st.m.vms.run(p, env)
	if err != nil {
		st.fail("expression failed: " + exprMessage(err))
		return nil, false
	}
	return out, true
}

func (st *state) runBool(p *program) (bool, bool) {
	out, ok := st.run(p)
	if !ok {
		return false, false
	}
	b, isBool := out.(bool)
	if !isBool {
		st.fail("condition did not return true or false")
		return false, false
	}
	return b, true
}

func (st *state) exprDoc() any {
	if !st.hasView {
		st.view = exprView(st.root)
		st.hasView = true
	}
	return st.view
}

func (st *state) exprLine() any {
	if st.lines == nil {
		// The view has the same shape as the document, so the lines
		// path finds the same list in it.
		doc := st.exprDoc()
		raw, _ := st.m.lines.path.resolve(doc, doc)
		st.lines, _ = raw.([]any)
		if st.lines == nil {
			st.lines = []any{}
		}
	}
	if st.line < len(st.lines) {
		return st.lines[st.line]
	}
	return nil
}
