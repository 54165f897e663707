package web

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Every JSON request body is read by decodeJSON (or decodeJSONBytes, for a
// body already in hand). It decodes with the encoding/json v2 semantics of
// github.com/go-json-experiment/json, which refuse what encoding/json v1
// quietly accepts: bytes after the value, a key given twice (v1 kept the
// last), a key that matches a field only when case is ignored (v1 matched
// "Code" to "code"), and invalid UTF-8 or lone surrogates (v1 turned them
// into U+FFFD and stored that). Unknown fields are refused as before. Only
// decoding uses v2: responses are still written by encoding/json (v1), whose
// output (null for nil slices, time format, omitempty) clients rely on.

// decodeJSON reads the request body, which must be one JSON object of v's
// fields, into v. Every problem is a 400 naming it; a body over the limit
// stays a *http.MaxBytesError (413). (That the body is declared JSON was
// checked before routing, by jsonBodies.)
func decodeJSON(r *http.Request, v any) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return badRequest("cannot read request body", nil)
	}
	return decodeJSONBytes(b, v)
}

// decodeJSONBytes decodes body, one JSON object, strictly into v.
func decodeJSONBytes(body []byte, v any) error {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	switch {
	case len(trimmed) == 0:
		return badRequest("request body is empty: send one JSON object", nil)
	case trimmed[0] != '{':
		return badRequest("request body must be one JSON object ({...})", nil)
	}
	err := jsonv2.Unmarshal(body, v, jsonv2.RejectUnknownMembers(true))
	if err == nil {
		return nil
	}
	return jsonProblem(err)
}

// jsonProblem turns a decode error into a 400 whose message names the
// problem and, where there is one, the field (in the notation of
// validation errors, like lines[0].sku) in fields.
func jsonProblem(err error) error {
	var se *jsontext.SyntacticError
	var me *jsonv2.SemanticError
	switch {
	case errors.As(err, &se):
		where := fieldPath(se.JSONPointer)
		switch {
		case errors.Is(se.Err, jsontext.ErrDuplicateName):
			name := truncate(se.JSONPointer.LastToken(), 100)
			return badRequest("request body has a duplicate key "+strconv.Quote(name)+inField(fieldPath(se.JSONPointer.Parent()))+
				": each key may appear only once", field(where, "appears more than once"))
		case strings.Contains(se.Err.Error(), "invalid UTF-8"):
			return badRequest("request body is not valid UTF-8"+inField(where)+
				": JSON text must be UTF-8", field(where, "is not valid UTF-8"))
		case strings.Contains(se.Err.Error(), "surrogate"):
			return badRequest("request body has an invalid \\u escape (a lone UTF-16 surrogate)"+inField(where)+
				": text must be valid Unicode", field(where, "has an invalid \\u escape"))
		case strings.Contains(se.Err.Error(), "after top-level value"):
			return badRequest("request body has data after the JSON object (at byte "+
				strconv.FormatInt(se.ByteOffset, 10)+"): send exactly one JSON object", nil)
		}
		return badRequest("request body is not valid JSON: "+strings.TrimPrefix(se.Error(), "jsontext: "), nil)
	case errors.As(err, &me):
		where := fieldPath(me.JSONPointer)
		if errors.Is(me.Err, jsonv2.ErrUnknownName) {
			return badRequest("request body has an unknown field "+strconv.Quote(truncate(me.JSONPointer.LastToken(), 100))+
				inField(fieldPath(me.JSONPointer.Parent()))+": field names are exact and case-sensitive", field(where, "is not a field of this endpoint"))
		}
		want := describeType(me.GoType)
		msg := "request body does not fit this endpoint"
		if where != "" {
			msg = "request body field " + where + " must be " + want
		}
		if me.JSONKind != 0 {
			got := "JSON " + me.JSONKind.String()
			if len(me.JSONValue) > 0 && me.JSONKind != '"' {
				got += " " + truncate(string(me.JSONValue), 40)
			}
			msg += ", got " + got
		}
		return badRequest(msg, field(where, "must be "+want))
	}
	return badRequest("request body is not valid JSON", nil)
}

// fieldPath writes a JSON pointer (/lines/0/sku) as the field names of
// validation errors do (lines[0].sku), cut to a readable length.
func fieldPath(p jsontext.Pointer) string {
	var b strings.Builder
	for tok := range p.Tokens() {
		if _, err := strconv.ParseUint(tok, 10, 32); err == nil && b.Len() > 0 {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return truncate(b.String(), 100)
}

// describeType names what a Go type accepts, in JSON terms.
func describeType(t reflect.Type) string {
	if t == nil {
		return "of another type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number in range"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "of another type"
}

// inField says where in the body a problem is, unless it is the top level.
func inField(where string) string {
	if where == "" {
		return ""
	}
	return " in " + where
}

func field(pointer, msg string) map[string]string {
	if pointer == "" {
		return nil
	}
	return map[string]string{pointer: msg}
}

// jsonBodies refuses, with 415, a request under /api/ whose body is not
// declared as application/json. A request without a body passes whatever
// it declares: there is nothing to type, and a bodiless POST (pick, pause)
// needs no Content-Type. A charset other than UTF-8 is refused, since
// bodies are decoded as UTF-8. It runs before routing and authentication,
// so every API endpoint answers alike.
func (s *Server) jsonBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") && !yamlBody(r) {
			if err := checkJSONContentType(r); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// checkJSONContentType is jsonBodies' test of one request.
func checkJSONContentType(r *http.Request) error {
	if r.ContentLength == 0 {
		return nil
	}
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err == nil && mt == "application/json" {
		if cs, ok := params["charset"]; !ok || strings.EqualFold(cs, "utf-8") {
			return nil
		}
	}
	got := "no Content-Type"
	if ct != "" {
		got = "Content-Type " + strconv.Quote(truncate(ct, 100))
	}
	return &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type",
		Message: "request body must be JSON sent with Content-Type: application/json (charset utf-8 if any); got " + got}
}

// truncate cuts s to at most n bytes, for echoing client input.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
