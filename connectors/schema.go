package connectors

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"sentryhub/store/vault"
)

// FieldType is the type of a settings field.
type FieldType string

// Field types the admin form knows how to render.
const (
	TypeString  FieldType = "string"
	TypeInteger FieldType = "integer"
	TypeBoolean FieldType = "boolean"
	// TypeURL is an absolute http(s) URL; the connector must still send
	// through Env.HTTP, whose SSRF guard checks it at dial time.
	TypeURL FieldType = "url"
	// TypeEnum is one of Options.
	TypeEnum FieldType = "enum"
)

// Field is one setting of a connector's configuration form.
type Field struct {
	Name        string    `json:"name"`
	Type        FieldType `json:"type"`
	Required    bool      `json:"required"`
	Label       string    `json:"label"`
	Help        string    `json:"help,omitempty"`
	Secret      bool      `json:"secret"`
	Placeholder string    `json:"placeholder,omitempty"`
	Default     string    `json:"default,omitempty"`
	Options     []string  `json:"options,omitempty"`
	// MaxLength caps a string value in bytes; zero means 1024.
	MaxLength int `json:"max_length,omitempty"`
	// ShowWhen, when set, says the field matters only while another field
	// (an auth mode) has one of some values: forms hide it otherwise.
	ShowWhen *FieldCondition `json:"show_when,omitempty"`
}

// FieldCondition is "field Field has one of Values".
type FieldCondition struct {
	Field  string   `json:"field"`
	Values []string `json:"values"`
}

// Schema is the configuration form of a connector: its fields in display
// order. Secret fields go to the vault and are only ever shown as ****.
type Schema struct {
	Fields []Field `json:"fields"`
}

// Field returns the field called name.
func (s Schema) Field(name string) (Field, bool) {
	for _, f := range s.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// Redacted is what a secret value is shown as, and what a client must never
// send back as a new value.
const Redacted = "****"

const defaultMaxLength = 1024

var fieldNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// Validate reports every problem of a malformed schema: bad or repeated
// field names, unknown types, missing labels, enums without options,
// defaults that do not fit their type, secret fields that are not strings or
// that have defaults.
func (s Schema) Validate() []string {
	var problems []string
	seen := map[string]bool{}
	for i, f := range s.Fields {
		at := fmt.Sprintf("field %d (%q)", i, f.Name)
		if !fieldNameRE.MatchString(f.Name) {
			problems = append(problems, at+": name must match "+fieldNameRE.String())
		}
		if seen[f.Name] {
			problems = append(problems, at+": name repeated")
		}
		seen[f.Name] = true
		if strings.TrimSpace(f.Label) == "" {
			problems = append(problems, at+": label is required")
		}
		switch f.Type {
		case TypeString, TypeInteger, TypeBoolean, TypeURL:
			if len(f.Options) > 0 {
				problems = append(problems, at+": options are only for enum fields")
			}
		case TypeEnum:
			if len(f.Options) == 0 {
				problems = append(problems, at+": enum needs options")
			}
			for j, o := range f.Options {
				if o == "" || slices.Index(f.Options, o) != j {
					problems = append(problems, at+": options must be non-empty and distinct")
					break
				}
			}
		default:
			problems = append(problems, at+fmt.Sprintf(": unknown type %q", f.Type))
		}
		if f.Secret && f.Type != TypeString {
			problems = append(problems, at+": only string fields can be secret")
		}
		if f.Secret && f.Default != "" {
			problems = append(problems, at+": a secret field cannot have a default")
		}
		if f.MaxLength < 0 {
			problems = append(problems, at+": max_length must not be negative")
		}
		if f.Default != "" && !f.Secret {
			if _, msg := f.normalize(f.Default); msg != "" {
				problems = append(problems, at+": default "+msg)
			}
		}
	}
	return problems
}

// normalize checks one textual value against f and returns its stored form,
// or a message saying what is wrong.
func (f Field) normalize(v string) (string, string) {
	maxLen := f.MaxLength
	if maxLen == 0 {
		maxLen = defaultMaxLength
	}
	switch {
	case len(v) > maxLen:
		return "", fmt.Sprintf("must be at most %d bytes", maxLen)
	case !utf8.ValidString(v):
		return "", "must be valid UTF-8"
	case strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "", "must not contain control characters"
	}
	switch f.Type {
	case TypeString:
		return v, ""
	case TypeInteger:
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return "", "must be an integer"
		}
		return strconv.FormatInt(n, 10), ""
	case TypeBoolean:
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return "", "must be true or false"
		}
		return strconv.FormatBool(b), ""
	case TypeURL:
		u, err := url.Parse(strings.TrimSpace(v))
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return "", "must be an absolute http(s) URL"
		}
		if u.User != nil {
			return "", "must not contain credentials; use the secret fields"
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return "", "must not have a query or fragment"
		}
		return strings.TrimRight(u.String(), "/"), ""
	case TypeEnum:
		if !slices.Contains(f.Options, v) {
			return "", "must be one of " + strings.Join(f.Options, ", ")
		}
		return v, ""
	}
	return "", "has an unknown type"
}

// Submission is a validated credentials form, split by destination.
type Submission struct {
	Settings map[string]string
	Secrets  map[string]vault.Secret
}

// ParseSubmission validates raw (a JSON object of field -> value) against
// s. stored lists the keys already stored for the warehouse (settings and
// secrets): a required field may be left out when it is stored, and is
// then kept. Unknown fields, missing required fields, values of the wrong
// JSON type or form, and "****" sent as a secret all fail, each named in the
// returned map (field -> message). Non-secret fields left out that have a
// default and are not stored get the default.
func (s Schema) ParseSubmission(raw map[string]json.RawMessage, stored map[string]bool) (Submission, map[string]string) {
	sub := Submission{Settings: map[string]string{}, Secrets: map[string]vault.Secret{}}
	bad := map[string]string{}
	for name := range raw {
		if _, ok := s.Field(name); !ok {
			bad[name] = "is not a field of this connector"
		}
	}
	for _, f := range s.Fields {
		r, present := raw[f.Name]
		if present && isJSONNull(r) {
			present = false
		}
		if !present {
			switch {
			case stored[f.Name]:
			case f.Default != "":
				sub.Settings[f.Name] = f.Default
			case f.Required:
				bad[f.Name] = "is required"
			}
			continue
		}
		text, msg := jsonText(f, r)
		if msg == "" && text == "" {
			if f.Required {
				msg = "is required"
			} else {
				continue
			}
		}
		if msg == "" && f.Secret && text == Redacted {
			msg = "is the redacted placeholder " + Redacted + "; send the real value, or leave the field out to keep the stored one"
		}
		var v string
		if msg == "" {
			v, msg = f.normalize(text)
		}
		if msg != "" {
			bad[f.Name] = msg
			continue
		}
		if f.Secret {
			sub.Secrets[f.Name] = vault.NewSecret(v)
		} else {
			sub.Settings[f.Name] = v
		}
	}
	return sub, bad
}

func isJSONNull(r json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(r), []byte("null")) }

// jsonText turns a JSON value into the field's text form, checking its JSON
// type: strings for text fields, numbers (or numeric strings) for integers,
// booleans (or "true"/"false") for booleans.
func jsonText(f Field, r json.RawMessage) (string, string) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(r))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return "", "is not valid JSON"
	}
	switch x := v.(type) {
	case string:
		return x, ""
	case json.Number:
		if f.Type == TypeInteger {
			return x.String(), ""
		}
		return "", "must be a string"
	case bool:
		if f.Type == TypeBoolean {
			return strconv.FormatBool(x), ""
		}
		return "", "must be a string"
	}
	switch f.Type {
	case TypeInteger:
		return "", "must be an integer"
	case TypeBoolean:
		return "", "must be true or false"
	}
	return "", "must be a string"
}

// SettingsValidator is implemented by connectors whose settings depend on
// each other (an auth mode that needs different secrets). The framework
// calls it with the settings as they would be after a submission, and the
// names of the secrets that would be stored; it returns field -> message.
type SettingsValidator interface {
	ValidateSettings(settings Values, secrets map[string]bool) map[string]string
}
