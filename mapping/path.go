package mapping

import (
	"errors"
	"strconv"
	"strings"
)

// maxPathSteps bounds a path's length.
const maxPathSteps = 64

// path is a parsed field path such as $.order.items[0].code: a root and
// the steps from it, resolved without reflection.
type path struct {
	text    string
	fromDoc bool // $doc: the whole document even inside a line
	steps   []step
}

// step is one member name or one list index (negative counts from the end).
type step struct {
	key   string
	index int
	isIdx bool
}

// parsePath reads "$", "$.a.b[2]", "$['a key'][-1]" or "$doc.a" ($doc is
// the whole document, $ the current context: the line inside lines).
func parsePath(s string) (path, error) {
	p := path{text: s}
	rest, ok := strings.CutPrefix(s, "$doc")
	if ok {
		p.fromDoc = true
	} else if rest, ok = strings.CutPrefix(s, "$"); !ok {
		return path{}, errors.New("must start with $")
	}
	for rest != "" {
		if len(p.steps) == maxPathSteps {
			return path{}, errors.New("has more than " + strconv.Itoa(maxPathSteps) + " steps")
		}
		switch rest[0] {
		case '.':
			rest = rest[1:]
			end := strings.IndexAny(rest, ".[]")
			if end < 0 {
				end = len(rest)
			}
			if end == 0 {
				return path{}, errors.New("has an empty name after a dot; quote names with ['…']")
			}
			p.steps = append(p.steps, step{key: rest[:end]})
			rest = rest[end:]
		case '[':
			var st step
			var err error
			st, rest, err = parseBracket(rest[1:])
			if err != nil {
				return path{}, err
			}
			p.steps = append(p.steps, st)
		default:
			return path{}, errors.New("expects . or [ after " + strconv.Quote(s[:len(s)-len(rest)]))
		}
	}
	return p, nil
}

// parseBracket reads what follows a '[': a quoted name or an index, and
// the closing bracket.
func parseBracket(s string) (step, string, error) {
	if s != "" && (s[0] == '\'' || s[0] == '"') {
		q := s[0]
		end := strings.IndexByte(s[1:], q)
		if end < 0 || !strings.HasPrefix(s[end+2:], "]") {
			return step{}, "", errors.New("has an unterminated ['name']")
		}
		return step{key: s[1 : end+1]}, s[end+3:], nil
	}
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return step{}, "", errors.New("has a [ without ]")
	}
	n, err := strconv.Atoi(s[:end])
	if err != nil || n > 1<<20 || n < -(1<<20) {
		return step{}, "", errors.New("has " + strconv.Quote("["+s[:end]+"]") + ", which is neither an index nor a quoted name")
	}
	return step{index: n, isIdx: true}, s[end+1:], nil
}

// resolve walks the path from ctx (or from doc for $doc). It returns false
// when a step does not exist or meets a value of another type.
func (p *path) resolve(doc, ctx any) (any, bool) {
	cur := ctx
	if p.fromDoc {
		cur = doc
	}
	for i := range p.steps {
		st := &p.steps[i]
		if st.isIdx {
			a, ok := cur.([]any)
			if !ok {
				return nil, false
			}
			n := st.index
			if n < 0 {
				n += len(a)
			}
			if n < 0 || n >= len(a) {
				return nil, false
			}
			cur = a[n]
			continue
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[st.key]; !ok {
			return nil, false
		}
	}
	return cur, true
}
