package manifest

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"sentryhub/connectors"
	"sentryhub/mapping"
)

// budgetReader reads the manifest's rate_limit: named headers, a budget in
// the response body, or a Go hook.
func (c *Conn) budgetReader() connectors.BudgetReader {
	r := c.m.Rate
	switch {
	case r == nil:
		return nil // the client's default, X-RateLimit-Remaining
	case r.Hook != "":
		return c.d.opts.Hooks.Budgets[r.Hook]
	case r.RemainingPath != "":
		remaining, restore := splitPath(r.RemainingPath), []string(nil)
		if r.RestorePath != "" {
			restore = splitPath(r.RestorePath)
		}
		return func(resp *connectors.Response, _ time.Time) (connectors.Budget, bool) {
			doc := parsed(resp)
			rem, ok := number(lookup(doc, remaining))
			if !ok {
				return connectors.Budget{}, false
			}
			b := connectors.Budget{Remaining: rem}
			if restore != nil {
				b.RestorePerSecond, _ = number(lookup(doc, restore))
			}
			return b, true
		}
	}
	return func(resp *connectors.Response, _ time.Time) (connectors.Budget, bool) {
		rem, err := strconv.ParseFloat(strings.TrimSpace(resp.Header.Get(r.RemainingHeader)), 64)
		if err != nil || rem < 0 {
			return connectors.Budget{}, false
		}
		b := connectors.Budget{Remaining: rem}
		if reset, err := strconv.ParseFloat(strings.TrimSpace(resp.Header.Get(r.ResetHeader)), 64); r.ResetHeader != "" && err == nil && reset > 0 {
			unit := time.Second
			if r.ResetUnit == "ms" {
				unit = time.Millisecond
			}
			b.ResetIn = time.Duration(reset * float64(unit))
		}
		return b, true
	}
}

// parsed decodes a response body once, keeping it in resp.Parsed for the
// stream that reads the same page.
func parsed(resp *connectors.Response) any {
	if resp.Parsed == nil {
		doc, err := mapping.Decode(resp.Body)
		if err != nil {
			return nil
		}
		resp.Parsed = doc
	}
	return resp.Parsed
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil && f >= 0
	case float64:
		return x, x >= 0
	}
	return 0, false
}

// errorFields reads the fields a 400/422 body names, per the manifest's
// errors block; nil keeps the client's default shapes.
func (c *Conn) errorFields() func([]byte) map[string]string {
	e := c.m.Errors
	if e == nil {
		return nil
	}
	p := splitPath(e.FieldsPath)
	fieldKey, msgKey := cmpOr(e.FieldKey, "field"), cmpOr(e.MessageKey, "message")
	return func(body []byte) map[string]string {
		doc, err := mapping.Decode(body)
		if err != nil {
			return nil
		}
		out := map[string]string{}
		switch x := lookup(doc, p).(type) {
		case []any:
			for _, it := range x {
				if f := text(lookup(it, []string{fieldKey})); f != "" {
					out[f] = text(lookup(it, []string{msgKey}))
				}
			}
		case map[string]any:
			for k, v := range x {
				out[k] = text(v)
				if l, ok := v.([]any); ok && len(l) > 0 {
					out[k] = text(l[0])
				}
			}
		}
		if len(out) == 0 {
			return connectors.DefaultErrorFields(body)
		}
		return out
	}
}
