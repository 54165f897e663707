package netsuite

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"sentryhub/connectors/fakes/fakekit"
)

// stmt is a parsed SuiteQL statement, the subset the fake answers.
type stmt struct {
	cols  []column // empty means *
	table string
	alias string // the FROM table's alias (its name when none is given)
	join  *join
	conds []condition
	order []orderKey
}

// orderKey is one ORDER BY column.
type orderKey struct {
	col  string
	desc bool
}

// join is one "JOIN table alias ON a.col = b.col" (an inner join).
type join struct {
	table, alias string
	left, right  string
}

type column struct {
	name, alias string
	layout      string // TO_CHAR format as a Go layout, or ""
}

type condition struct {
	col    string
	layout string // TO_CHAR(col, fmt) on the left: compare the text
	op     string
	vals   []any // string, float64 or time.Time
	// set holds an IN list of only numbers or only strings, as rendered,
	// so a long list (a page's ids) is one lookup per row.
	set     map[string]bool
	setKind string // "number" or "text"
}

// indexIn fills c.set for an IN list whose literals are all numbers or all
// strings.
func (c *condition) indexIn() {
	kind := ""
	for _, v := range c.vals {
		k := ""
		switch v.(type) {
		case float64:
			k = "number"
		case string:
			k = "text"
		}
		if k == "" || kind != "" && k != kind {
			return
		}
		kind = k
	}
	c.set, c.setKind = map[string]bool{}, kind
	for _, v := range c.vals {
		c.set[render(v, "")] = true
	}
}

type token struct {
	s      string
	quoted bool
}

func tokenize(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case unicode.IsSpace(rune(c)):
			i++
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for ; j < len(s); j++ {
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' { // '' is a quote
						b.WriteByte('\'')
						j++
						continue
					}
					break
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated string literal at character %d", i+1)
			}
			out = append(out, token{b.String(), true})
			i = j + 1
		case strings.IndexByte("(),*", c) >= 0:
			out = append(out, token{string(c), false})
			i++
		case strings.IndexByte("<>=!", c) >= 0:
			j := i + 1
			if j < len(s) && (s[j] == '=' || c == '<' && s[j] == '>') {
				j++
			}
			out = append(out, token{s[i:j], false})
			i = j
		default:
			j := i
			for j < len(s) && (unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j])) || strings.IndexByte("._-", s[j]) >= 0) {
				j++
			}
			if j == i {
				return nil, fmt.Errorf("unexpected character %q at %d", c, i+1)
			}
			out = append(out, token{s[i:j], false})
			i = j
		}
	}
	return out, nil
}

// oracleLayout turns the date format elements SuiteQL takes into a Go
// layout; a double-quoted run is literal text.
func oracleLayout(f string) (string, error) {
	var b strings.Builder
	up := strings.ToUpper(f)
	for i := 0; i < len(f); {
		switch {
		case f[i] == '"':
			j := strings.IndexByte(f[i+1:], '"')
			if j < 0 {
				return "", fmt.Errorf("unterminated quoted text in format %q", f)
			}
			b.WriteString(f[i+1 : i+1+j])
			i += j + 2
		case strings.HasPrefix(up[i:], "YYYY"):
			b.WriteString("2006")
			i += 4
		case strings.HasPrefix(up[i:], "HH24"):
			b.WriteString("15")
			i += 4
		case strings.HasPrefix(up[i:], "MM"):
			b.WriteString("01")
			i += 2
		case strings.HasPrefix(up[i:], "DD"):
			b.WriteString("02")
			i += 2
		case strings.HasPrefix(up[i:], "MI"):
			b.WriteString("04")
			i += 2
		case strings.HasPrefix(up[i:], "SS"):
			b.WriteString("05")
			i += 2
		case strings.IndexByte("-/:. T", f[i]) >= 0:
			b.WriteByte(f[i])
			i++
		default:
			return "", fmt.Errorf("format element at %q is not supported", f[i:])
		}
	}
	return b.String(), nil
}

// keywords end a FROM clause (anything else there is the table's alias).
var keywords = map[string]bool{"where": true, "order": true, "join": true, "inner": true, "left": true}

// unqualified is a column name without its table ("tl.item" -> "item").
func unqualified(name string) string {
	if _, col, ok := strings.Cut(name, "."); ok {
		return col
	}
	return name
}

// get reads a column: by its qualified name in a joined row, else by its
// plain name.
func get(r row, name string) (any, bool) {
	if v, ok := r[name]; ok {
		return v, true
	}
	v, ok := r[unqualified(name)]
	return v, ok
}

// joinRows is an inner join of two tables' rows: each joined row holds
// every column as alias.column, and by its plain name too (the FROM
// table's column when both have one).
func joinRows(s *stmt, left, right []row) ([]row, error) {
	// Index the joined table on whichever ON side is its own column.
	rightKey, leftKey := s.join.left, s.join.right
	if !strings.HasPrefix(rightKey, s.join.alias+".") {
		rightKey, leftKey = leftKey, rightKey
	}
	if len(right) > 0 {
		if _, ok := right[0][unqualified(rightKey)]; !ok {
			return nil, fmt.Errorf("join: field %q was not found", rightKey)
		}
	}
	byKey := map[string][]row{}
	for _, r := range right {
		if v, ok := r[unqualified(rightKey)]; ok && v != nil {
			k := render(v, "")
			byKey[k] = append(byKey[k], r)
		}
	}
	var out []row
	for _, l := range left {
		v, ok := l[unqualified(leftKey)]
		if !ok && len(right) > 0 {
			return nil, fmt.Errorf("join: field %q was not found", leftKey)
		}
		if v == nil {
			continue
		}
		for _, r := range byKey[render(v, "")] {
			m := row{}
			for k, v := range r {
				m[s.join.alias+"."+k] = v
				m[k] = v
			}
			for k, v := range l {
				m[s.alias+"."+k] = v
				m[k] = v
			}
			out = append(out, m)
		}
	}
	return out, nil
}

var tables = map[string]bool{"item": true, "transaction": true, "transactionline": true, "inventoryitemlocations": true}

func parseSuiteQL(q string) (*stmt, error) {
	ts, err := tokenize(q)
	if err != nil {
		return nil, err
	}
	p := 0
	word := func() string {
		if p < len(ts) && !ts[p].quoted {
			return strings.ToLower(ts[p].s)
		}
		return ""
	}
	expect := func(w string) error {
		if word() != w {
			got := "the end"
			if p < len(ts) {
				got = strconv.Quote(ts[p].s)
			}
			return fmt.Errorf("expected %s, found %s", strings.ToUpper(w), got)
		}
		p++
		return nil
	}
	name := func() (string, error) {
		w := word()
		if w == "" || strings.IndexByte("(),*<>=!", w[0]) >= 0 {
			return "", fmt.Errorf("expected a column name at token %d", p+1)
		}
		p++
		return w, nil // "table.column" is resolved against the row (get)
	}
	s := &stmt{}
	if err := expect("select"); err != nil {
		return nil, err
	}
	if word() == "*" {
		p++
	} else {
		for {
			var c column
			if word() == "to_char" {
				p++
				if err := expect("("); err != nil {
					return nil, err
				}
				if c.name, err = name(); err != nil {
					return nil, err
				}
				if err := expect(","); err != nil {
					return nil, err
				}
				if p >= len(ts) || !ts[p].quoted {
					return nil, fmt.Errorf("TO_CHAR needs a quoted format")
				}
				if c.layout, err = oracleLayout(ts[p].s); err != nil {
					return nil, err
				}
				p++
				if err := expect(")"); err != nil {
					return nil, err
				}
			} else if c.name, err = name(); err != nil {
				return nil, err
			}
			c.alias = unqualified(c.name) // SuiteQL answers plain lower-case names
			if word() == "as" {
				p++
				if c.alias, err = name(); err != nil {
					return nil, err
				}
			}
			s.cols = append(s.cols, c)
			if word() != "," {
				break
			}
			p++
		}
	}
	if err := expect("from"); err != nil {
		return nil, err
	}
	if s.table = word(); !tables[s.table] {
		return nil, fmt.Errorf("Invalid search query: table %q is not available", cmp.Or(s.table, "(none)"))
	}
	p++
	s.alias = s.table
	if w := word(); w != "" && !keywords[w] && w != "," {
		s.alias = w
		p++
	}
	if w := word(); w == "join" || w == "inner" {
		if w == "inner" {
			p++
		}
		if err := expect("join"); err != nil {
			return nil, err
		}
		j := &join{table: word()}
		if !tables[j.table] {
			return nil, fmt.Errorf("Invalid search query: table %q is not available", cmp.Or(j.table, "(none)"))
		}
		p++
		j.alias = j.table
		if w := word(); w != "" && w != "on" {
			j.alias = w
			p++
		}
		if err := expect("on"); err != nil {
			return nil, err
		}
		if j.left, err = name(); err != nil {
			return nil, err
		}
		if err := expect("="); err != nil {
			return nil, err
		}
		if j.right, err = name(); err != nil {
			return nil, err
		}
		s.join = j
	}
	literal := func() (any, error) {
		if p >= len(ts) {
			return nil, fmt.Errorf("a condition has no value")
		}
		t := ts[p]
		p++
		if t.quoted {
			return t.s, nil
		}
		switch strings.ToLower(t.s) {
		case "to_date", "to_timestamp":
			if err := expect("("); err != nil {
				return nil, err
			}
			if p+2 >= len(ts) || !ts[p].quoted || ts[p+1].s != "," || !ts[p+2].quoted {
				return nil, fmt.Errorf("%s needs a quoted value and a quoted format", strings.ToUpper(t.s))
			}
			layout, err := oracleLayout(ts[p+2].s)
			if err != nil {
				return nil, err
			}
			at, err := time.Parse(layout, ts[p].s)
			if err != nil {
				return nil, fmt.Errorf("%q does not match format %q", ts[p].s, ts[p+2].s)
			}
			p += 3
			return at, expect(")")
		}
		n, err := strconv.ParseFloat(t.s, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a literal", t.s)
		}
		return n, nil
	}
	if word() == "where" {
		p++
		for {
			var c condition
			if word() == "to_char" {
				p++
				if err := expect("("); err != nil {
					return nil, err
				}
				if c.col, err = name(); err != nil {
					return nil, err
				}
				if err := expect(","); err != nil {
					return nil, err
				}
				if p >= len(ts) || !ts[p].quoted {
					return nil, fmt.Errorf("TO_CHAR needs a quoted format")
				}
				if c.layout, err = oracleLayout(ts[p].s); err != nil {
					return nil, err
				}
				p++
				if err := expect(")"); err != nil {
					return nil, err
				}
			} else if c.col, err = name(); err != nil {
				return nil, err
			}
			c.op = word()
			p++
			switch c.op {
			case "=", "!=", "<>", "<", ">", "<=", ">=":
				v, err := literal()
				if err != nil {
					return nil, err
				}
				c.vals = []any{v}
			case "in":
				if err := expect("("); err != nil {
					return nil, err
				}
				for {
					v, err := literal()
					if err != nil {
						return nil, err
					}
					c.vals = append(c.vals, v)
					if word() != "," {
						break
					}
					p++
				}
				if err := expect(")"); err != nil {
					return nil, err
				}
				if c.layout == "" {
					c.indexIn()
				}
			default:
				return nil, fmt.Errorf("operator %q is not supported", c.op)
			}
			s.conds = append(s.conds, c)
			if word() != "and" {
				break
			}
			p++
		}
	}
	if word() == "order" {
		p++
		if err := expect("by"); err != nil {
			return nil, err
		}
		for {
			var k orderKey
			if k.col, err = name(); err != nil {
				return nil, err
			}
			if w := word(); w == "asc" || w == "desc" {
				k.desc = w == "desc"
				p++
			}
			s.order = append(s.order, k)
			if word() != "," {
				break
			}
			p++
		}
	}
	if p < len(ts) {
		return nil, fmt.Errorf("unexpected %q after the statement", ts[p].s)
	}
	return s, nil
}

// row values are string, int64, float64, bool, time.Time or nil (omitted
// from the answer, as NetSuite omits null columns).
type row map[string]any

// nilIfEmpty is an empty text column: NetSuite leaves null columns out.
func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (f *Fake) rows(table string) []row {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []row
	switch table {
	case "item":
		for _, it := range f.items {
			out = append(out, row{"id": int64(it.ID), "itemid": it.ItemID, "displayname": it.DisplayName, "itemtype": "InvtPart",
				"isinactive": it.Inactive, "createddate": it.Created, "lastmodifieddate": it.Modified, "totalquantityonhand": it.OnHand})
		}
	case "inventoryitemlocations":
		for _, it := range f.items {
			out = append(out, row{"item": int64(it.ID), "location": int64(1), "quantityonhand": it.OnHand, "quantityavailable": it.OnHand})
		}
	case "transaction":
		for _, o := range f.orders {
			var total float64
			for _, l := range o.Lines {
				total += float64(l.Qty) * l.Rate
			}
			out = append(out, row{"id": int64(o.ID), "tranid": o.TranID, "type": "SalesOrd", "trandate": o.Date,
				"lastmodifieddate": o.Modified, "status": o.status(), "email": o.Email, "foreigntotal": total, "createdfrom": nil, "memo": nil})
		}
		for _, x := range f.fulfillments {
			out = append(out, row{"id": int64(x.ID), "tranid": x.TranID, "type": "ItemShip", "trandate": x.Modified,
				"lastmodifieddate": x.Modified, "status": "C", "createdfrom": int64(x.OrderID), "memo": nilIfEmpty(x.Memo)})
		}
	case "transactionline":
		for _, o := range f.orders {
			out = append(out, row{"transaction": int64(o.ID), "id": int64(0), "mainline": true, "item": nil})
			for _, l := range o.Lines {
				// Sales order lines carry negative quantities here: stock leaves.
				out = append(out, row{"transaction": int64(o.ID), "id": int64(l.Line), "linesequencenumber": int64(l.Line), "mainline": false,
					"item": int64(l.ItemID), "quantity": -l.Qty, "rate": l.Rate, "quantityshiprecv": l.Fulfilled})
			}
		}
	}
	return out
}

func compareValue(v, lit any) (int, error) {
	switch x := v.(type) {
	case time.Time:
		t, ok := lit.(time.Time)
		if !ok {
			return 0, fmt.Errorf("a date column is compared with TO_DATE or TO_TIMESTAMP")
		}
		return x.Compare(t), nil
	case int64:
		return compareNumber(float64(x), lit)
	case float64:
		return compareNumber(x, lit)
	case bool:
		s, ok := lit.(string)
		if !ok {
			return 0, fmt.Errorf("a boolean column is compared with 'T' or 'F'")
		}
		return cmp.Compare(map[bool]string{true: "T", false: "F"}[x], strings.ToUpper(s)), nil
	case string:
		s, ok := lit.(string)
		if !ok {
			return 0, fmt.Errorf("a text column is compared with a quoted string")
		}
		return strings.Compare(x, s), nil
	}
	return 0, fmt.Errorf("column is null")
}

func compareNumber(x float64, lit any) (int, error) {
	switch l := lit.(type) {
	case float64:
		return cmp.Compare(x, l), nil
	case string:
		n, err := strconv.ParseFloat(l, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number", l)
		}
		return cmp.Compare(x, n), nil
	}
	return 0, fmt.Errorf("a number column is compared with a number")
}

// orderValues orders two values of one column, nulls first.
func orderValues(a, b any) int {
	switch x := a.(type) {
	case nil:
		if b == nil {
			return 0
		}
		return -1
	case time.Time:
		if y, ok := b.(time.Time); ok {
			return x.Compare(y)
		}
	case int64:
		if y, ok := b.(int64); ok {
			return cmp.Compare(x, y)
		}
	case float64:
		if y, ok := b.(float64); ok {
			return cmp.Compare(x, y)
		}
	}
	if b == nil {
		return 1
	}
	return strings.Compare(render(a, ""), render(b, ""))
}

func (c condition) match(r row) (bool, error) {
	v, ok := get(r, c.col)
	if !ok {
		return false, fmt.Errorf("field %q was not found", c.col)
	}
	if v == nil {
		return false, nil // SQL: a comparison with NULL is never true
	}
	if c.layout != "" {
		v = render(v, c.layout)
	}
	if c.set != nil {
		switch v.(type) {
		case int64, float64:
			if c.setKind == "number" {
				return c.set[render(v, "")], nil
			}
		case string:
			if c.setKind == "text" {
				return c.set[v.(string)], nil
			}
		}
	}
	for _, lit := range c.vals {
		n, err := compareValue(v, lit)
		if err != nil {
			return false, fmt.Errorf("column %s: %w", c.col, err)
		}
		var hit bool
		switch c.op {
		case "=", "in":
			hit = n == 0
		case "!=", "<>":
			hit = n != 0
		case "<":
			hit = n < 0
		case ">":
			hit = n > 0
		case "<=":
			hit = n <= 0
		case ">=":
			hit = n >= 0
		}
		if hit {
			return true, nil
		}
	}
	return false, nil
}

// render writes a value the way SuiteQL does: always a string.
func render(v any, layout string) string {
	switch x := v.(type) {
	case time.Time:
		if layout != "" {
			return x.UTC().Format(layout)
		}
		return x.UTC().Format("1/2/2006") // the account's date preference
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		if x {
			return "T"
		}
		return "F"
	}
	return fmt.Sprint(v)
}

func (f *Fake) suiteql(r *http.Request) (reply, *problem) {
	if !strings.EqualFold(r.Header.Get("Prefer"), "transient") {
		return reply{}, &problem{400, "INVALID_PARAMETER", "SuiteQL requests need the header Prefer: transient."}
	}
	limit, ok1 := fakekit.IntParam(r, "limit", 1000, 1, 1000)
	offset, ok2 := fakekit.IntParam(r, "offset", 0, 0, 1<<30)
	if !ok1 || !ok2 {
		return reply{}, &problem{400, "INVALID_PARAMETER", "limit must be 1 to 1000 and offset a non-negative number."}
	}
	if offset >= 100_000 {
		return reply{}, &problem{400, "INVALID_PARAMETER", "SuiteQL pages past 100,000 results; narrow the query instead."}
	}
	var body struct {
		Q string `json:"q"`
	}
	if p := decodeBody(r, &body); p != nil {
		return reply{}, p
	}
	s, err := parseSuiteQL(body.Q)
	if err != nil {
		return reply{}, &problem{400, "INVALID_PARAMETER", "Invalid search query. Detailed unprocessed description follows. " + err.Error()}
	}
	all := f.rows(s.table)
	if s.join != nil {
		// Conditions on the FROM table's own columns are applied before the
		// join, so only the rows that can match are joined (they are all
		// checked again on the joined rows below).
		var early []row
		for _, rw := range all {
			ok := true
			for _, c := range s.conds {
				if strings.HasPrefix(c.col, s.alias+".") {
					m, err := c.match(rw)
					if err != nil {
						return reply{}, &problem{400, "INVALID_PARAMETER", "Invalid search query. " + err.Error()}
					}
					ok = ok && m
				}
			}
			if ok {
				early = append(early, rw)
			}
		}
		var err error
		if all, err = joinRows(s, early, f.rows(s.join.table)); err != nil {
			return reply{}, &problem{400, "INVALID_PARAMETER", "Invalid search query. " + err.Error()}
		}
	}
	var kept []row
	for _, rw := range all {
		ok := true
		for _, c := range s.conds {
			m, err := c.match(rw)
			if err != nil {
				return reply{}, &problem{400, "INVALID_PARAMETER", "Invalid search query. " + err.Error()}
			}
			ok = ok && m
		}
		if ok {
			kept = append(kept, rw)
		}
	}
	for _, k := range s.order {
		if len(all) > 0 {
			if _, ok := get(all[0], k.col); !ok {
				return reply{}, &problem{400, "INVALID_PARAMETER", fmt.Sprintf("Invalid search query. Field %q was not found.", k.col)}
			}
		}
	}
	slices.SortStableFunc(kept, func(a, b row) int {
		for _, k := range s.order {
			x, _ := get(a, k.col)
			y, _ := get(b, k.col)
			if n := orderValues(x, y); n != 0 {
				if k.desc {
					return -n
				}
				return n
			}
		}
		return 0
	})
	for _, c := range s.cols {
		if len(all) > 0 {
			if _, ok := get(all[0], c.name); !ok {
				return reply{}, &problem{400, "INVALID_PARAMETER", fmt.Sprintf("Invalid search query. Field %q for table %q was not found.", c.name, s.table)}
			}
		}
	}
	lo, hi := fakekit.Window(len(kept), offset, limit)
	var items []any
	for _, rw := range kept[lo:hi] {
		out := map[string]any{"links": []any{}}
		if len(s.cols) == 0 {
			for k, v := range rw {
				if v != nil {
					out[k] = render(v, "")
				}
			}
		}
		for _, c := range s.cols {
			if v, _ := get(rw, c.name); v != nil {
				out[c.alias] = render(v, c.layout)
			}
		}
		items = append(items, out)
	}
	return reply{body: collection(baseURL(r)+"/services/rest/query/v1/suiteql", items, offset, limit, len(kept))}, nil
}
