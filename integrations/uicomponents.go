package integrations

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Pages a UI component may appear on, and the variables each offers to a
// link's URI template (and posts, as the record context, to an action).
const (
	PageSalesOrder = "sales_order"
	PageItem       = "item"
	PageWarehouse  = "warehouse"
)

// PageVariables lists the template variables of each page.
var PageVariables = map[string][]string{
	PageSalesOrder: {"order_id", "external_id", "warehouse_id", "status"},
	PageItem:       {"sku", "name"},
	PageWarehouse:  {"warehouse_id", "code", "name"},
}

// uiSchema is the JSON Schema of an integration's UI components document:
// up to 10 elements, each a link (a URI template the admin UI expands with
// the record's fields) or an action (a URL the hub POSTs the record's
// context to, signed, showing the answer as text).
const uiSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["elements"],
  "additionalProperties": false,
  "properties": {
    "elements": {
      "type": "array", "maxItems": 10,
      "items": {
        "type": "object",
        "required": ["type", "label", "uri", "pages"],
        "additionalProperties": false,
        "properties": {
          "type": {"enum": ["link", "action"]},
          "label": {"type": "string", "minLength": 1, "maxLength": 60},
          "uri": {"type": "string", "minLength": 1, "maxLength": 2048},
          "pages": {"type": "array", "minItems": 1, "uniqueItems": true,
            "items": {"enum": ["sales_order", "item", "warehouse"]}}
        }
      }
    }
  }
}`

// UIComponents is a validated UI components document.
type UIComponents struct {
	Elements []UIElement `json:"elements"`
}

// UIElement is one link or action.
type UIElement struct {
	Type  string   `json:"type"`
	Label string   `json:"label"`
	URI   string   `json:"uri"`
	Pages []string `json:"pages"`
}

// On lists the elements shown on page.
func (c UIComponents) On(page string) []UIElement {
	var out []UIElement
	for _, e := range c.Elements {
		for _, p := range e.Pages {
			if p == page {
				out = append(out, e)
			}
		}
	}
	return out
}

// ParseUIComponents validates doc against the schema and the rules the
// schema cannot say (a link's template parses, names only its pages'
// variables and expands to an absolute http(s) URL; an action's URI is an
// absolute https URL) and returns it decoded.
func ParseUIComponents(doc []byte) (UIComponents, error) {
	c := jsonschema.NewCompiler()
	sch, err := jsonschema.UnmarshalJSON(strings.NewReader(uiSchema))
	if err != nil {
		return UIComponents{}, fmt.Errorf("ui components schema: %w", err)
	}
	if err := c.AddResource("ui-components.json", sch); err != nil {
		return UIComponents{}, fmt.Errorf("ui components schema: %w", err)
	}
	compiled, err := c.Compile("ui-components.json")
	if err != nil {
		return UIComponents{}, fmt.Errorf("ui components schema: %w", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return UIComponents{}, errors.New("is not valid JSON")
	}
	if err := compiled.Validate(inst); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return UIComponents{}, errors.New(firstCause(ve))
		}
		return UIComponents{}, err
	}
	var out UIComponents
	if err := json.Unmarshal(doc, &out); err != nil {
		return UIComponents{}, errors.New("is not valid JSON")
	}
	for i, e := range out.Elements {
		where := fmt.Sprintf("elements[%d]", i)
		tmpl, err := ParseTemplate(e.URI)
		if err != nil {
			return UIComponents{}, fmt.Errorf("%s.uri: %v", where, err)
		}
		if e.Type == "action" && len(tmpl.Variables()) > 0 {
			return UIComponents{}, fmt.Errorf("%s.uri: an action's URI is fixed (the record travels in the signed body), not a template", where)
		}
		for _, p := range e.Pages {
			for _, v := range tmpl.Variables() {
				if !contains(PageVariables[p], v) {
					return UIComponents{}, fmt.Errorf("%s.uri: variable %q is not offered on page %s (offered: %s)", where, v, p,
						strings.Join(PageVariables[p], ", "))
				}
			}
		}
		// Expanding with placeholder values shows what the template's
		// fixed part is: it must make an absolute http(s) URL.
		probe := map[string]string{}
		for _, v := range tmpl.Variables() {
			probe[v] = "x"
		}
		u := tmpl.Expand(probe)
		if !(strings.HasPrefix(u, "https://") || (e.Type == "link" && strings.HasPrefix(u, "http://"))) {
			return UIComponents{}, fmt.Errorf("%s.uri: must expand to an absolute https:// URL (links may use http://)", where)
		}
		// The host must be fixed text ending in a '/': a record's value
		// may fill a path or query, never choose the site a link opens.
		if lit := tmpl.literalPrefix(); len(tmpl.Variables()) > 0 && !strings.Contains(strings.SplitN(lit, "://", 2)[1], "/") {
			return UIComponents{}, fmt.Errorf("%s.uri: the scheme and host must be literal text followed by '/' before any {variable}", where)
		}
	}
	return out, nil
}

// ValidateUIComponents reports why doc is not a valid UI components
// document, or nil.
func ValidateUIComponents(doc []byte) error {
	_, err := ParseUIComponents(doc)
	return err
}

// firstCause names the innermost schema failure, at its location.
func firstCause(ve *jsonschema.ValidationError) string {
	for len(ve.Causes) > 0 {
		ve = ve.Causes[0]
	}
	loc := "/" + strings.Join(ve.InstanceLocation, "/")
	return fmt.Sprintf("at %s: %s", loc, ve.ErrorKind.LocalizedString(message.NewPrinter(language.English)))
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
