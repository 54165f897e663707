package businesscentral

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"sentryhub/connectors/fakes/fakekit"
)

type filter struct {
	field, op string
	value     string // literal text, quotes removed for strings
	quoted    bool
}

// parseFilter reads `field op literal [and field op literal ...]`.
func parseFilter(s string) ([]filter, error) {
	var out []filter
	rest := strings.TrimSpace(s)
	for rest != "" {
		field, after, ok := strings.Cut(rest, " ")
		if !ok {
			return nil, fmt.Errorf("$filter: %q has no operator", rest)
		}
		after = strings.TrimLeft(after, " ")
		op, after, ok := strings.Cut(after, " ")
		if !ok {
			return nil, fmt.Errorf("$filter: %s %s has no value", field, op)
		}
		if !slices.Contains([]string{"eq", "ne", "gt", "ge", "lt", "le"}, op) {
			return nil, fmt.Errorf("$filter: operator %q is not supported", op)
		}
		after = strings.TrimLeft(after, " ")
		f := filter{field: field, op: op}
		if strings.HasPrefix(after, "'") {
			var b strings.Builder
			i := 1
			for ; i < len(after); i++ {
				if after[i] == '\'' {
					if i+1 < len(after) && after[i+1] == '\'' {
						b.WriteByte('\'')
						i++
						continue
					}
					break
				}
				b.WriteByte(after[i])
			}
			if i >= len(after) {
				return nil, fmt.Errorf("$filter: unterminated string for %s", field)
			}
			f.value, f.quoted, rest = b.String(), true, after[i+1:]
		} else {
			f.value, rest, _ = strings.Cut(after, " ")
		}
		out = append(out, f)
		rest = strings.TrimSpace(rest)
		if rest == "" {
			break
		}
		conj, tail, _ := strings.Cut(rest, " ")
		if conj != "and" {
			return nil, fmt.Errorf("$filter: only 'and' joins conditions, found %q", conj)
		}
		rest = strings.TrimSpace(tail)
		if rest == "" {
			return nil, fmt.Errorf("$filter: nothing after 'and'")
		}
	}
	return out, nil
}

// compareTo orders an entity's value against a filter literal.
func compareTo(v any, f filter) (int, error) {
	switch x := v.(type) {
	case string:
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil && !f.quoted {
			lit, err := time.Parse(time.RFC3339Nano, f.value)
			if err != nil {
				return 0, fmt.Errorf("$filter: %s needs a date-time such as 2026-01-01T00:00:00Z, got %q", f.field, f.value)
			}
			return t.Compare(lit), nil
		}
		if _, err := time.Parse(time.DateOnly, x); err == nil && !f.quoted {
			return strings.Compare(x, f.value), nil
		}
		if !f.quoted && !isGUID(f.value) {
			return 0, fmt.Errorf("$filter: %s is text; quote the value", f.field)
		}
		return strings.Compare(x, f.value), nil
	case float64, int:
		n, err := strconv.ParseFloat(f.value, 64)
		if err != nil || f.quoted {
			return 0, fmt.Errorf("$filter: %s is a number, got %q", f.field, f.value)
		}
		xf, _ := strconv.ParseFloat(fmt.Sprint(x), 64)
		return cmp.Compare(xf, n), nil
	case bool:
		if f.value != "true" && f.value != "false" {
			return 0, fmt.Errorf("$filter: %s is true or false, got %q", f.field, f.value)
		}
		return strings.Compare(strconv.FormatBool(x), f.value), nil
	}
	return 0, fmt.Errorf("$filter: %s cannot be filtered on", f.field)
}

func isGUID(s string) bool { return len(s) == 36 && strings.Count(s, "-") == 4 }

func (f filter) keep(row map[string]any) (bool, error) {
	v, ok := row[f.field]
	if !ok {
		return false, fmt.Errorf("$filter: could not find a property named '%s'", f.field)
	}
	n, err := compareTo(v, f)
	if err != nil {
		return false, err
	}
	switch f.op {
	case "eq":
		return n == 0, nil
	case "ne":
		return n != 0, nil
	case "gt":
		return n > 0, nil
	case "ge":
		return n >= 0, nil
	case "lt":
		return n < 0, nil
	}
	return n <= 0, nil
}

// maxPageSize reads "Prefer: odata.maxpagesize=N".
func maxPageSize(r *http.Request) int {
	for _, pref := range strings.Split(r.Header.Get("Prefer"), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(pref), "=")
		if strings.EqualFold(k, "odata.maxpagesize") {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				return n
			}
		}
	}
	return 0
}

// list answers an OData collection: filter, order, skip/top, then one
// server-driven page with a nextLink that carries $skiptoken.
func (f *Fake) list(w http.ResponseWriter, r *http.Request, set string, rows []map[string]any) {
	q := r.URL.Query()
	filters, err := parseFilter(q.Get("$filter"))
	if err != nil {
		writeError(w, 400, "BadRequest", err.Error())
		return
	}
	var kept []map[string]any
	for _, row := range rows {
		ok := true
		for _, flt := range filters {
			k, err := flt.keep(row)
			if err != nil {
				writeError(w, 400, "BadRequest", err.Error())
				return
			}
			ok = ok && k
		}
		if ok {
			kept = append(kept, row)
		}
	}
	if ob := q.Get("$orderby"); ob != "" {
		field, dir, _ := strings.Cut(ob, " ")
		if len(rows) > 0 {
			if _, ok := rows[0][field]; !ok {
				writeError(w, 400, "BadRequest", "$orderby: could not find a property named '"+field+"'")
				return
			}
		}
		slices.SortStableFunc(kept, func(a, b map[string]any) int {
			n := strings.Compare(fmt.Sprint(a[field]), fmt.Sprint(b[field]))
			if fa, ok := a[field].(float64); ok {
				n = cmp.Compare(fa, b[field].(float64))
			}
			if dir == "desc" {
				return -n
			}
			return n
		})
	}
	skip, ok1 := fakekit.IntParam(r, "$skip", 0, 0, 1<<30)
	top, ok2 := fakekit.IntParam(r, "$top", len(kept), 0, 1<<30)
	token, ok3 := fakekit.IntParam(r, "$skiptoken", 0, 0, 1<<30)
	if !ok1 || !ok2 || !ok3 {
		writeError(w, 400, "BadRequest", "$skip, $top and $skiptoken are non-negative whole numbers.")
		return
	}
	lo, hi := fakekit.Window(len(kept), skip, top)
	kept = kept[lo:hi]
	size := f.cfg.PageSize
	if m := maxPageSize(r); m > 0 && m < size {
		size = m
		w.Header().Set("Preference-Applied", "odata.maxpagesize="+strconv.Itoa(m))
	}
	lo, hi = fakekit.Window(len(kept), token, size)
	value := kept[lo:hi]
	if value == nil {
		value = []map[string]any{}
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	root := scheme + "://" + r.Host + "/v2.0/" + f.cfg.Tenant + "/" + f.cfg.Environment + "/api/v2.0/"
	body := map[string]any{"@odata.context": root + "$metadata#" + set, "value": value}
	if hi < len(kept) {
		next := url.Values{}
		for k, vs := range q {
			next[k] = vs
		}
		next.Set("$skiptoken", strconv.Itoa(hi))
		body["@odata.nextLink"] = scheme + "://" + r.Host + r.URL.Path + "?" + next.Encode()
	}
	fakekit.WriteJSON(w, 200, body)
}
