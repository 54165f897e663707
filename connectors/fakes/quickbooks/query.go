package quickbooks

import (
	"cmp"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// query is a parsed statement of the QuickBooks query language, the subset
// the fake answers.
type query struct {
	count    bool
	entity   string
	conds    []cond
	orderBy  string
	desc     bool
	start    int // 1-based
	max      int
	activeBy bool // the query names Active, so inactive items are not hidden
}

type cond struct {
	field string
	op    string // = < > <= >= in
	vals  []string
}

// token kinds: words (identifiers, keywords, numbers), quoted strings,
// punctuation.
type tok struct {
	s      string
	quoted bool
}

func lex(s string) ([]tok, error) {
	var out []tok
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case unicode.IsSpace(rune(c)):
			i++
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for ; j < len(s); j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
					b.WriteByte(s[j])
					continue
				}
				if s[j] == '\'' {
					break
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated string at %d", i)
			}
			out = append(out, tok{b.String(), true})
			i = j + 1
		case strings.ContainsRune("(),*", rune(c)):
			out = append(out, tok{string(c), false})
			i++
		case c == '<' || c == '>' || c == '=' || c == '!':
			j := i + 1
			if j < len(s) && s[j] == '=' {
				j++
			}
			out = append(out, tok{s[i:j], false})
			i = j
		default:
			j := i
			for j < len(s) && (unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j])) || s[j] == '.' || s[j] == '_' || s[j] == '-') {
				j++
			}
			if j == i {
				return nil, fmt.Errorf("unexpected %q at %d", c, i)
			}
			out = append(out, tok{s[i:j], false})
			i = j
		}
	}
	return out, nil
}

func parseQuery(s string) (*query, error) {
	ts, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := 0
	peek := func() string {
		if p < len(ts) && !ts[p].quoted {
			return strings.ToLower(ts[p].s)
		}
		return ""
	}
	expect := func(word string) error {
		if peek() != word {
			return fmt.Errorf("expected %s", strings.ToUpper(word))
		}
		p++
		return nil
	}
	q := &query{start: 1, max: 100}
	if err := expect("select"); err != nil {
		return nil, err
	}
	switch {
	case peek() == "*":
		p++
	case peek() == "count":
		p++
		for _, w := range []string{"(", "*", ")"} {
			if err := expect(w); err != nil {
				return nil, err
			}
		}
		q.count = true
	case peek() == "from" || peek() == "":
		return nil, fmt.Errorf("expected * or a field list after SELECT")
	default: // a field list: the fake answers whole objects
		for p < len(ts) && peek() != "from" {
			p++
		}
	}
	if err := expect("from"); err != nil {
		return nil, err
	}
	if p >= len(ts) {
		return nil, fmt.Errorf("expected an entity after FROM")
	}
	switch strings.ToLower(ts[p].s) {
	case "item":
		q.entity = "Item"
	case "salesreceipt":
		q.entity = "SalesReceipt"
	case "invoice":
		q.entity = "Invoice"
	default:
		return nil, fmt.Errorf("entity %q is not queryable here", ts[p].s)
	}
	p++
	if peek() == "where" {
		p++
		for {
			if p+1 >= len(ts) {
				return nil, fmt.Errorf("incomplete condition")
			}
			c := cond{field: strings.ToLower(ts[p].s)}
			p++
			if p >= len(ts) {
				return nil, fmt.Errorf("incomplete condition")
			}
			c.op = strings.ToLower(ts[p].s)
			p++
			switch c.op {
			case "=", "<", ">", "<=", ">=", "like":
				if p >= len(ts) {
					return nil, fmt.Errorf("condition on %s has no value", c.field)
				}
				c.vals = []string{ts[p].s}
				p++
			case "in":
				if err := expect("("); err != nil {
					return nil, err
				}
				for p < len(ts) && peek() != ")" {
					if peek() != "," {
						c.vals = append(c.vals, ts[p].s)
					}
					p++
				}
				if err := expect(")"); err != nil {
					return nil, err
				}
			default:
				return nil, fmt.Errorf("operator %q is not supported", c.op)
			}
			if c.field == "active" {
				q.activeBy = true
			}
			q.conds = append(q.conds, c)
			if peek() != "and" {
				break
			}
			p++
		}
	}
	if peek() == "orderby" || peek() == "order" {
		if peek() == "order" {
			p++
			if err := expect("by"); err != nil {
				return nil, err
			}
		} else {
			p++
		}
		if p >= len(ts) {
			return nil, fmt.Errorf("ORDERBY needs a field")
		}
		q.orderBy = strings.ToLower(ts[p].s)
		p++
		if peek() == "desc" || peek() == "asc" {
			q.desc = peek() == "desc"
			p++
		}
	}
	for p < len(ts) {
		kw := peek()
		if (kw != "startposition" && kw != "maxresults") || p+1 >= len(ts) {
			return nil, fmt.Errorf("unexpected %q", ts[p].s)
		}
		n, err := strconv.Atoi(ts[p+1].s)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%s needs a positive whole number", strings.ToUpper(kw))
		}
		if kw == "startposition" {
			q.start = n
		} else {
			q.max = min(n, 1000)
		}
		p += 2
	}
	return q, nil
}

// lookup finds a dotted, case-insensitive path in a rendered object.
func lookup(m map[string]any, path string) (any, bool) {
	var cur any = m
	for _, part := range strings.Split(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		found := false
		for k, v := range obj {
			if strings.EqualFold(k, part) {
				cur, found = v, true
				break
			}
		}
		if !found {
			return nil, false
		}
	}
	return cur, true
}

// compare orders a field value against a literal: times as times, numbers
// as numbers, booleans and strings as case-insensitive text.
func compare(v any, lit string) int {
	switch x := v.(type) {
	case float64:
		if n, err := strconv.ParseFloat(lit, 64); err == nil {
			return cmp.Compare(x, n)
		}
	case bool:
		return strings.Compare(strconv.FormatBool(x), strings.ToLower(lit))
	case string:
		if a, err := parseQBTime(x); err == nil && len(x) > 10 {
			if b, err := parseQBTime(lit); err == nil {
				return a.Compare(b)
			}
		}
		if a, err := strconv.ParseFloat(x, 64); err == nil {
			if b, err := strconv.ParseFloat(lit, 64); err == nil {
				return cmp.Compare(a, b)
			}
		}
		return strings.Compare(strings.ToLower(x), strings.ToLower(lit))
	}
	return strings.Compare(fmt.Sprint(v), lit)
}

func (c cond) match(m map[string]any) (bool, error) {
	v, ok := lookup(m, c.field)
	if !ok {
		return false, fmt.Errorf("property %s is not queryable", c.field)
	}
	switch c.op {
	case "=":
		return compare(v, c.vals[0]) == 0, nil
	case "<":
		return compare(v, c.vals[0]) < 0, nil
	case ">":
		return compare(v, c.vals[0]) > 0, nil
	case "<=":
		return compare(v, c.vals[0]) <= 0, nil
	case ">=":
		return compare(v, c.vals[0]) >= 0, nil
	case "like": // % is the only wildcard QuickBooks documents
		s, _ := v.(string)
		pat := strings.ToLower(c.vals[0])
		s = strings.ToLower(s)
		switch {
		case strings.HasPrefix(pat, "%") && strings.HasSuffix(pat, "%") && len(pat) > 1:
			return strings.Contains(s, pat[1:len(pat)-1]), nil
		case strings.HasPrefix(pat, "%"):
			return strings.HasSuffix(s, pat[1:]), nil
		case strings.HasSuffix(pat, "%"):
			return strings.HasPrefix(s, pat[:len(pat)-1]), nil
		}
		return s == pat, nil
	default: // in
		return slices.ContainsFunc(c.vals, func(l string) bool { return compare(v, l) == 0 }), nil
	}
}

func (f *Fake) query(r *http.Request) (any, *fault) {
	text := r.URL.Query().Get("query")
	if r.Method == http.MethodPost && text == "" {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16)) // sent as application/text
		text = string(b)
	}
	q, err := parseQuery(text)
	if err != nil {
		return nil, badRequest("4000", "Error parsing query", "QueryParserError: "+err.Error())
	}
	f.mu.Lock()
	var rows []map[string]any
	switch q.entity {
	case "Item":
		for _, it := range f.items {
			if it.Active || q.activeBy {
				rows = append(rows, renderItem(it))
			}
		}
	default:
		for _, s := range f.sales {
			if s.Kind == q.entity {
				rows = append(rows, renderSale(s))
			}
		}
	}
	f.mu.Unlock()
	var kept []map[string]any
	for _, row := range rows {
		ok := true
		for _, c := range q.conds {
			m, err := c.match(row)
			if err != nil {
				return nil, badRequest("4001", "Invalid query", "QueryValidationError: "+err.Error())
			}
			ok = ok && m
		}
		if ok {
			kept = append(kept, row)
		}
	}
	if q.count {
		return map[string]any{"QueryResponse": map[string]any{"totalCount": len(kept)}}, nil
	}
	sortBy := cmp.Or(q.orderBy, "id")
	var sortErr error
	slices.SortStableFunc(kept, func(a, b map[string]any) int {
		va, ok1 := lookup(a, sortBy)
		vb, ok2 := lookup(b, sortBy)
		if !ok1 || !ok2 {
			sortErr = fmt.Errorf("property %s cannot be sorted on", sortBy)
			return 0
		}
		c := compare(va, fmt.Sprint(vb))
		if s, ok := vb.(float64); ok {
			c = compare(va, strconv.FormatFloat(s, 'f', -1, 64))
		}
		if sortBy == "id" { // Ids are numeric strings
			ia, _ := strconv.Atoi(fmt.Sprint(va))
			ib, _ := strconv.Atoi(fmt.Sprint(vb))
			c = cmp.Compare(ia, ib)
		}
		if q.desc {
			return -c
		}
		return c
	})
	if sortErr != nil {
		return nil, badRequest("4001", "Invalid query", "QueryValidationError: "+sortErr.Error())
	}
	lo := min(q.start-1, len(kept))
	hi := min(lo+q.max, len(kept))
	page := kept[lo:hi]
	if len(page) == 0 { // QuickBooks answers an empty object past the end
		return map[string]any{"QueryResponse": map[string]any{}}, nil
	}
	return map[string]any{"QueryResponse": map[string]any{q.entity: page, "startPosition": q.start, "maxResults": len(page)}}, nil
}
