package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"sentryhub/assets"
	"sentryhub/connectors/shopify"
	"sentryhub/store"
)

// The OpenAPI document (assets/openapi.json) is held to the server three
// ways: it is a well-formed OpenAPI 3.1 document whose every $ref resolves;
// its operations are exactly the /api/ routes the server registers; and
// real responses, success and error, validate against its schemas and use
// only the status codes it documents.

// specBase is the URL the document is compiled under. Its event envelope
// refers to the data schemas by the path the hub serves them at
// (/api/v1/events/schema/{type}/{version}); those resolve against this base
// to the embedded files, which the compiler is given as resources.
const specBase = "https://sentryhub.invalid"

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

type openAPISpec struct {
	doc map[string]any

	mu       sync.Mutex
	compiler *jsonschema.Compiler
	compiled map[string]*jsonschema.Schema
}

var eventSchemaRefRE = regexp.MustCompile(`^/api/v1/events/schema/([^/]+)/([0-9]+)$`)

func loadOpenAPI(t testing.TB) *openAPISpec {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(assets.OpenAPI()))
	if err != nil {
		t.Fatalf("assets/openapi.json is not JSON: %v", err)
	}
	m, ok := doc.(map[string]any)
	if !ok {
		t.Fatal("assets/openapi.json is not a JSON object")
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(specBase+"/api/openapi.json", doc); err != nil {
		t.Fatal(err)
	}
	for _, ce := range embeddedCatalog(t) {
		for _, v := range ce.Versions {
			b, err := fs.ReadFile(assets.Schemas, fmt.Sprintf("schemas/%s/%d.json", ce.Type, v))
			if err != nil {
				t.Fatal(err)
			}
			sch, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if err := c.AddResource(fmt.Sprintf("%s/api/v1/events/schema/%s/%d", specBase, ce.Type, v), sch); err != nil {
				t.Fatal(err)
			}
		}
	}
	return &openAPISpec{doc: m, compiler: c, compiled: map[string]*jsonschema.Schema{}}
}

func embeddedCatalog(t testing.TB) []catalogEntry {
	t.Helper()
	c, err := loadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ptrEscaper escapes a JSON pointer token ("~" first, then "/"). Built
// once: building a Replacer per call was a third of the OpenAPI tests'
// CPU (operation looks up every path each time). A Replacer is safe for
// concurrent use.
var ptrEscaper = strings.NewReplacer("~", "~0", "/", "~1")

// ptrToken escapes one JSON pointer token for use in a URL fragment.
func ptrToken(s string) string {
	return url.PathEscape(ptrEscaper.Replace(s))
}

func pointer(tokens ...string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteString("/" + ptrToken(t))
	}
	return b.String()
}

// lookup resolves a local JSON pointer ("#/a/b") in the document.
func (s *openAPISpec) lookup(ref string) (any, bool) {
	p, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, false
	}
	var cur any = s.doc
	if p == "" {
		return cur, true
	}
	for _, tok := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		tok, err := url.PathUnescape(tok)
		if err != nil {
			return nil, false
		}
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch c := cur.(type) {
		case map[string]any:
			if cur, ok = c[tok]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// deref follows a Reference Object (responses, parameters, headers) to its
// target, returning the target and its pointer.
func (s *openAPISpec) deref(v any, ptr string) (map[string]any, string) {
	for range 10 {
		m, _ := v.(map[string]any)
		r, ok := m["$ref"].(string)
		if !ok {
			return m, ptr
		}
		if v, ok = s.lookup(r); !ok {
			return nil, r
		}
		ptr = strings.TrimPrefix(r, "#")
	}
	return nil, ptr
}

// schema compiles the schema at the document pointer ptr.
func (s *openAPISpec) schema(ptr string) (*jsonschema.Schema, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sch, ok := s.compiled[ptr]; ok {
		return sch, nil
	}
	sch, err := s.compiler.Compile(specBase + "/api/openapi.json#" + ptr)
	if err != nil {
		return nil, err
	}
	s.compiled[ptr] = sch
	return sch, nil
}

type specOp struct {
	method, path string // method upper case, path as in the document
	op           map[string]any
	pathItem     map[string]any
	ptr          string
}

func (s *openAPISpec) operations() []specOp {
	paths, _ := s.doc["paths"].(map[string]any)
	var out []specOp
	for _, p := range slices.Sorted(maps.Keys(paths)) {
		item, _ := paths[p].(map[string]any)
		for _, m := range httpMethods {
			if op, ok := item[m].(map[string]any); ok {
				out = append(out, specOp{method: strings.ToUpper(m), path: p, op: op, pathItem: item, ptr: pointer("paths", p, m)})
			}
		}
	}
	return out
}

func (s *openAPISpec) operation(method, path string) (specOp, bool) {
	for _, o := range s.operations() {
		if o.method == method && o.path == path {
			return o, true
		}
	}
	return specOp{}, false
}

// parameters returns an operation's parameters (path item's and its own,
// references resolved) by "in:name".
func (s *openAPISpec) parameters(o specOp) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, src := range []map[string]any{o.pathItem, o.op} {
		list, _ := src["parameters"].([]any)
		for _, p := range list {
			pm, _ := s.deref(p, "")
			if pm == nil {
				continue
			}
			out[fmt.Sprint(pm["in"])+":"+fmt.Sprint(pm["name"])] = pm
		}
	}
	return out
}

func isJSONMediaType(mt string) bool {
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// checkResponse fails t unless the response is one the document describes
// for the operation: a documented status, a documented media type, and a
// body that validates against the schema.
func (s *openAPISpec) checkResponse(t testing.TB, method, tmpl string, code int, hdr http.Header, body []byte) {
	t.Helper()
	o, ok := s.operation(method, tmpl)
	if !ok {
		t.Errorf("%s %s is not in the OpenAPI document", method, tmpl)
		return
	}
	responses, _ := o.op["responses"].(map[string]any)
	raw, ok := responses[strconv.Itoa(code)]
	if !ok {
		t.Errorf("%s %s answered %d, which the OpenAPI document does not list (body %.300s)", method, tmpl, code, body)
		return
	}
	r, ptr := s.deref(raw, o.ptr+pointer("responses", strconv.Itoa(code)))
	if r == nil {
		t.Errorf("%s %s: response %d: unresolvable reference %s", method, tmpl, code, ptr)
		return
	}
	content, _ := r["content"].(map[string]any)
	if len(content) == 0 {
		if len(bytes.TrimSpace(body)) > 0 {
			t.Errorf("%s %s %d: documented without a body, got %.300s", method, tmpl, code, body)
		}
		return
	}
	mt, _, err := mime.ParseMediaType(hdr.Get("Content-Type"))
	if err != nil {
		t.Errorf("%s %s %d: Content-Type %q: %v", method, tmpl, code, hdr.Get("Content-Type"), err)
		return
	}
	if _, ok := content[mt]; !ok {
		t.Errorf("%s %s %d: Content-Type %s, documented %v", method, tmpl, code, mt, slices.Sorted(maps.Keys(content)))
		return
	}
	if !isJSONMediaType(mt) {
		return
	}
	sch, err := s.schema(ptr + pointer("content", mt, "schema"))
	if err != nil {
		t.Errorf("%s %s %d: compile response schema: %v", method, tmpl, code, err)
		return
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Errorf("%s %s %d: body is not JSON: %v: %.300s", method, tmpl, code, err, body)
		return
	}
	if err := sch.Validate(inst); err != nil {
		t.Errorf("%s %s %d: body does not match the OpenAPI document: %#v\nbody: %.2000s", method, tmpl, code, err, body)
	}
}

// checkRequest fails t unless body, which the server accepted, is a
// request the document allows: a documented schema must not refuse what
// the server takes.
func (s *openAPISpec) checkRequest(t testing.TB, method, tmpl, body string) {
	t.Helper()
	o, ok := s.operation(method, tmpl)
	if !ok {
		return // checkResponse reported it
	}
	rb, ptr := s.deref(o.op["requestBody"], o.ptr+pointer("requestBody"))
	if rb == nil {
		if strings.TrimSpace(body) != "" {
			t.Errorf("%s %s took a body, but the document describes none", method, tmpl)
		}
		return
	}
	if strings.TrimSpace(body) == "" {
		if rb["required"] == true {
			t.Errorf("%s %s took an empty body, but the document requires one", method, tmpl)
		}
		return
	}
	sch, err := s.schema(ptr + pointer("content", "application/json", "schema"))
	if err != nil {
		t.Errorf("%s %s: request schema: %v", method, tmpl, err)
		return
	}
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(body))
	if err != nil {
		t.Errorf("%s %s: request is not JSON: %v", method, tmpl, err)
		return
	}
	if err := sch.Validate(inst); err != nil {
		t.Errorf("%s %s: the server accepted a body the document refuses: %#v\nbody: %s", method, tmpl, err, body)
	}
}

func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	s := loadOpenAPI(t)
	if v, _ := s.doc["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Fatalf("openapi is %q, want 3.1.x", v)
	}
	info, _ := s.doc["info"].(map[string]any)
	if info["title"] == nil || info["version"] == nil {
		t.Errorf("info lacks title or version: %v", info)
	}
	components, _ := s.doc["components"].(map[string]any)
	schemes, _ := components["securitySchemes"].(map[string]any)
	if h, _ := schemes["apiToken"].(map[string]any); h["in"] != "header" || h["name"] != "X-WMS-Token" {
		t.Errorf("apiToken scheme: %v", h)
	}
	if c, _ := schemes["sessionCookie"].(map[string]any); c["in"] != "cookie" || c["name"] != sessionName {
		t.Errorf("sessionCookie scheme: %v", c)
	}
	tags := map[string]bool{}
	for _, tg := range s.doc["tags"].([]any) {
		tags[fmt.Sprint(tg.(map[string]any)["name"])] = true
	}

	// Operations: unique operationId, explicit security naming defined
	// schemes and real scopes, responses, declared path parameters.
	ids := map[string]string{}
	wildcard := regexp.MustCompile(`\{([^}]+)\}`)
	for _, o := range s.operations() {
		name := o.method + " " + o.path
		id, _ := o.op["operationId"].(string)
		switch {
		case id == "":
			t.Errorf("%s has no operationId", name)
		case ids[id] != "":
			t.Errorf("operationId %s is used by %s and %s", id, ids[id], name)
		}
		ids[id] = name
		if rs, _ := o.op["responses"].(map[string]any); len(rs) == 0 {
			t.Errorf("%s has no responses", name)
		}
		for _, tg := range o.op["tags"].([]any) {
			if !tags[fmt.Sprint(tg)] {
				t.Errorf("%s: tag %v is not declared", name, tg)
			}
		}
		sec, ok := o.op["security"].([]any)
		if !ok {
			t.Errorf("%s does not state its security (use [] for public)", name)
		}
		for _, req := range sec {
			for scheme, scopes := range req.(map[string]any) {
				if schemes[scheme] == nil {
					t.Errorf("%s: unknown security scheme %s", name, scheme)
				}
				for _, sc := range scopes.([]any) {
					if scheme == "apiToken" && !slices.Contains(store.Scopes, fmt.Sprint(sc)) {
						t.Errorf("%s: unknown scope %v", name, sc)
					}
				}
			}
		}
		params := s.parameters(o)
		inPath := map[string]bool{}
		for _, m := range wildcard.FindAllStringSubmatch(o.path, -1) {
			inPath[m[1]] = true
			if p := params["path:"+m[1]]; p == nil || p["required"] != true {
				t.Errorf("%s: path parameter %s is not declared (required)", name, m[1])
			}
		}
		for k := range params {
			if n, ok := strings.CutPrefix(k, "path:"); ok && !inPath[n] {
				t.Errorf("%s declares path parameter %s that is not in the path", name, n)
			}
		}
		// Every request and response schema compiles.
		if rb, ok := o.op["requestBody"]; ok {
			rbm, ptr := s.deref(rb, o.ptr+pointer("requestBody"))
			for mt := range rbm["content"].(map[string]any) {
				if _, err := s.schema(ptr + pointer("content", mt, "schema")); err != nil {
					t.Errorf("%s request %s: %v", name, mt, err)
				}
			}
		}
		for code, r := range o.op["responses"].(map[string]any) {
			rm, ptr := s.deref(r, o.ptr+pointer("responses", code))
			if rm == nil {
				t.Errorf("%s response %s: unresolvable %s", name, code, ptr)
				continue
			}
			if rm["description"] == nil {
				t.Errorf("%s response %s has no description", name, code)
			}
			content, _ := rm["content"].(map[string]any)
			for mt := range content {
				if _, err := s.schema(ptr + pointer("content", mt, "schema")); err != nil {
					t.Errorf("%s response %s %s: %v", name, code, mt, err)
				}
			}
		}
	}

	// Every $ref resolves: local ones in the document, the event data ones
	// to an embedded event schema.
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch x := v.(type) {
		case map[string]any:
			if r, ok := x["$ref"].(string); ok {
				if m := eventSchemaRefRE.FindStringSubmatch(r); m != nil {
					if _, err := fs.Stat(assets.Schemas, "schemas/"+m[1]+"/"+m[2]+".json"); err != nil {
						t.Errorf("%s: $ref %s names no embedded event schema", at, r)
					}
				} else if _, ok := s.lookup(r); !ok {
					t.Errorf("%s: $ref %s does not resolve", at, r)
				}
			}
			for k, e := range x {
				walk(e, at+"/"+k)
			}
		case []any:
			for i, e := range x {
				walk(e, at+"/"+strconv.Itoa(i))
			}
		}
	}
	walk(s.doc, "#")
	for name := range components["schemas"].(map[string]any) {
		if _, err := s.schema(pointer("components", "schemas", name)); err != nil {
			t.Errorf("schema %s: %v", name, err)
		}
	}

	// The envelope has one branch per event type and version of the catalog,
	// each pinning its aggregate type and referring to its data schema.
	env, _ := s.lookup("#/components/schemas/EventEnvelope")
	want := map[string]string{}
	for _, ce := range embeddedCatalog(t) {
		for _, v := range ce.Versions {
			want[fmt.Sprintf("%s/%d", ce.Type, v)] = ce.AggregateType
		}
	}
	got := map[string]string{}
	for _, br := range env.(map[string]any)["oneOf"].([]any) {
		b, _ := s.deref(br, "")
		props, _ := b["properties"].(map[string]any)
		c := func(k string) string {
			p, _ := props[k].(map[string]any)
			return fmt.Sprint(p["const"])
		}
		key := c("event_type") + "/" + c("event_version")
		got[key] = c("aggregate_type")
		data, _ := props["data"].(map[string]any)
		if data["$ref"] != "/api/v1/events/schema/"+key {
			t.Errorf("envelope branch %s: data $ref %v, want /api/v1/events/schema/%s", key, data["$ref"], key)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("envelope branches %v, catalog %v", got, want)
	}
	mapping := env.(map[string]any)["discriminator"].(map[string]any)["mapping"].(map[string]any)
	if len(mapping) != len(embeddedCatalog(t)) {
		t.Errorf("discriminator mapping %v does not cover the catalog", mapping)
	}
}

// newOpenAPIEnv is the web test env with every area registered: the
// connector framework (as newConnectorEnv wires it) and a real webhook
// dispatcher (as newWebhookEnv wires it).
func newOpenAPIEnv(t *testing.T) *connectorEnv {
	t.Helper()
	return newIntegrationEnv(t).connectorEnv
}

func TestOpenAPIRouteParity(t *testing.T) {
	t.Parallel()
	s := loadOpenAPI(t)
	e := newOpenAPIEnv(t)

	registered := map[string]bool{}
	for _, p := range e.s.mux.registered() {
		method, path, ok := strings.Cut(p, " ")
		if !ok {
			method, path = "", p
		}
		if !strings.HasPrefix(path, "/api/") {
			continue
		}
		if path == "/api/" && method == "" {
			continue // the JSON 404 for every unknown API path
		}
		if method == "" {
			t.Errorf("route %q serves every method: give it one so it can be documented", p)
			continue
		}
		registered[method+" "+path] = true
	}
	documented := map[string]bool{}
	for _, o := range s.operations() {
		documented[o.method+" "+o.path] = true
		if !strings.HasPrefix(o.path, "/api/") {
			// Documented routes outside /api/ (health, readiness, metrics)
			// must exist too.
			if !slices.Contains(e.s.mux.registered(), o.method+" "+o.path) {
				t.Errorf("assets/openapi.json documents %s %s, which the server does not register", o.method, o.path)
			}
		}
	}
	for _, r := range slices.Sorted(maps.Keys(registered)) {
		if !documented[r] {
			t.Errorf("route %s is not documented in assets/openapi.json", r)
		}
	}
	for _, d := range slices.Sorted(maps.Keys(documented)) {
		if strings.Contains(d, " /api/") && !registered[d] {
			t.Errorf("assets/openapi.json documents %s, which the server does not register", d)
		}
	}
	for _, area := range []string{"GET /api/admin/webhooks", "GET /api/admin/connectors", "GET /api/v1/events", "GET /api/v1/warehouses"} {
		if !registered[area] {
			t.Errorf("%s is not registered: the test server lacks an area", area)
		}
	}
}

// concrete fills an operation's path template with values that name
// nothing: every request below is refused before it could change anything.
func (s *openAPISpec) concrete(o specOp) string {
	params := s.parameters(o)
	return regexp.MustCompile(`\{([^}]+)\}`).ReplaceAllStringFunc(o.path, func(w string) string {
		p := params["path:"+w[1:len(w)-1]]
		sch, _ := p["schema"].(map[string]any)
		switch {
		case sch["enum"] != nil:
			return fmt.Sprint(sch["enum"].([]any)[0])
		case sch["type"] == "integer":
			return "999999"
		case sch["format"] == "uuid":
			return "00000000-0000-4000-8000-000000000000"
		}
		return "nope"
	})
}

// TestOpenAPISecurityAndErrors calls every documented operation without
// credentials (401), with a token lacking the documented scope (403) and
// with one holding exactly that scope but a request that names nothing or
// has no body: each answer must be a status the document lists for the
// operation, with a body matching its schema.
func TestOpenAPISecurityAndErrors(t *testing.T) {
	t.Parallel()
	s := loadOpenAPI(t)
	e := newOpenAPIEnv(t)
	tokens := map[string]string{}
	tok := func(scopes ...string) string {
		k := strings.Join(scopes, ",")
		if tokens[k] == "" && k == store.ScopeInboundWrite {
			tokens[k] = e.sourceToken("openapi") // pushes need a token bound to a source
		}
		if tokens[k] == "" {
			tokens[k] = e.token(scopes...)
		}
		return tokens[k]
	}
	nonAdmin := []string{store.ScopeEventsRead, store.ScopeInboundWrite, store.ScopeWarehouseWrite}
	for _, o := range s.operations() {
		name := o.method + " " + o.path
		path := s.concrete(o)
		call := func(token string) (int, http.Header, []byte) {
			h := map[string]string{"Content-Type": "application/json"}
			if token != "" {
				h["X-WMS-Token"] = token
			}
			resp := e.do(nil, o.method, path, h, nil)
			b, _ := io.ReadAll(resp.Body)
			if resp.Header.Get("X-Request-ID") == "" {
				t.Errorf("%s: no X-Request-ID in the response", name)
			}
			return resp.StatusCode, resp.Header, b
		}
		sec, _ := o.op["security"].([]any)
		if len(sec) == 0 {
			code, hdr, b := call("")
			s.checkResponse(t, o.method, o.path, code, hdr, b)
			continue
		}
		var scope string
		var cookie bool
		for _, req := range sec {
			for scheme, scopes := range req.(map[string]any) {
				switch scheme {
				case "apiToken":
					if l := scopes.([]any); len(l) == 1 {
						scope = fmt.Sprint(l[0])
					}
				case "sessionCookie":
					cookie = true
				}
			}
		}
		if scope == "" || !cookie {
			t.Errorf("%s: security must name one apiToken scope and allow the session cookie: %v", name, sec)
			continue
		}

		code, hdr, b := call("")
		if code != http.StatusUnauthorized || hdr.Get("WWW-Authenticate") == "" {
			t.Errorf("%s without credentials: %d %s", name, code, b)
		}
		s.checkResponse(t, o.method, o.path, code, hdr, b)

		var others []string
		for _, sc := range nonAdmin {
			if sc != scope {
				others = append(others, sc)
			}
		}
		code, hdr, b = call(tok(others...))
		if code != http.StatusForbidden {
			t.Errorf("%s with scopes %v but not the documented %s: %d %s", name, others, scope, code, b)
		}
		s.checkResponse(t, o.method, o.path, code, hdr, b)

		code, hdr, b = call(tok(scope))
		if code == http.StatusUnauthorized || code == http.StatusForbidden {
			t.Errorf("%s with the documented scope %s: %d %s", name, scope, code, b)
		}
		s.checkResponse(t, o.method, o.path, code, hdr, b)
	}
}

// oaClient sends requests and checks every answer against the document.
type oaClient struct {
	t     *testing.T
	e     *connectorEnv
	s     *openAPISpec
	token string
}

// call sends method path (whose template in the document is tmpl) and
// fails unless the status is want; the answer is checked against the
// document and returned.
func (c oaClient) call(method, tmpl, path, body string, want int, hdr ...string) (http.Header, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	h := map[string]string{"X-WMS-Token": c.token, "Content-Type": "application/json"}
	for i := 0; i+1 < len(hdr); i += 2 {
		h[hdr[i]] = hdr[i+1]
	}
	resp := c.e.do(nil, method, path, h, rd)
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
	}
	c.s.checkResponse(c.t, method, tmpl, resp.StatusCode, resp.Header, b)
	if resp.StatusCode < 300 {
		c.s.checkRequest(c.t, method, tmpl, body)
	}
	return resp.Header, b
}

func (c oaClient) id(b []byte, field string) string {
	c.t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatal(err)
	}
	switch v := m[field].(type) {
	case string:
		return v
	case float64:
		return strconv.FormatInt(int64(v), 10)
	}
	c.t.Fatalf("no %s in %s", field, b)
	return ""
}

// TestOpenAPIResponses runs the main flows of every area and checks each
// answer, success or error, against the document.
func TestOpenAPIResponses(t *testing.T) {
	t.Parallel()
	s := loadOpenAPI(t)
	e := newOpenAPIEnv(t)
	w := oaClient{t, e, s, e.token(store.ScopeWarehouseWrite)}
	r := oaClient{t, e, s, e.token(store.ScopeEventsRead)}
	a := oaClient{t, e, s, e.admin}

	t.Run("openapi document", func(t *testing.T) {
		resp := e.do(nil, "GET", "/api/openapi.json", nil, nil)
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || !bytes.Equal(b, assets.OpenAPI()) ||
			!strings.Contains(resp.Header.Get("Cache-Control"), "public") || resp.Header.Get("ETag") == "" {
			t.Fatalf("GET /api/openapi.json: %d %v", resp.StatusCode, resp.Header)
		}
		s.checkResponse(t, "GET", "/api/openapi.json", resp.StatusCode, resp.Header, b)
		again := e.do(nil, "GET", "/api/openapi.json", map[string]string{"If-None-Match": resp.Header.Get("ETag")}, nil)
		if again.StatusCode != http.StatusNotModified {
			t.Fatalf("revalidation: %d", again.StatusCode)
		}
		s.checkResponse(t, "GET", "/api/openapi.json", again.StatusCode, again.Header, nil)
		for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
			resp := e.do(nil, "GET", p, nil, nil)
			b, _ := io.ReadAll(resp.Body)
			s.checkResponse(t, "GET", p, resp.StatusCode, resp.Header, b)
		}
	})

	// Warehouse operations; the connector env already made warehouse 1.
	_, b := w.call("POST", "/api/v1/warehouses", "/api/v1/warehouses", `{"code":"MAIN","name":"Main"}`, 201)
	main := w.id(b, "id")
	_, b = w.call("POST", "/api/v1/warehouses", "/api/v1/warehouses", `{"code":"B","name":"Second"}`, 201)
	second := w.id(b, "id")
	w.call("POST", "/api/v1/warehouses", "/api/v1/warehouses", `{"code":"MAIN","name":"Again"}`, 409)
	w.call("POST", "/api/v1/warehouses", "/api/v1/warehouses", `{"code":"","name":"x"}`, 422)
	w.call("POST", "/api/v1/warehouses", "/api/v1/warehouses", `{"code":"X","name":"x","extra":1}`, 400)
	w.call("GET", "/api/v1/warehouses", "/api/v1/warehouses", "", 200)
	w.call("PUT", "/api/v1/items/{sku}", "/api/v1/items/WIDGET-1", `{"name":"Widget","barcode":"0001"}`, 201)
	w.call("PUT", "/api/v1/items/{sku}", "/api/v1/items/WIDGET-1", `{"sku":"WIDGET-1","name":"Blue widget"}`, 200)
	w.call("PUT", "/api/v1/items/{sku}", "/api/v1/items/WIDGET-1", `{"sku":"OTHER","name":"x"}`, 400)
	w.call("GET", "/api/v1/items/{sku}", "/api/v1/items/WIDGET-1", "", 200)
	w.call("GET", "/api/v1/items/{sku}", "/api/v1/items/NOPE", "", 404)

	const adjust = "/api/v1/inventory/adjustments"
	rid := uuid.NewString()
	body := `{"warehouse_id":` + main + `,"sku":"WIDGET-1","delta":10,"reason":"initial"}`
	h, _ := w.call("POST", adjust, adjust, body, 200, "X-Request-ID", rid)
	if h.Get("X-Request-ID") != rid || h.Get("X-Sentry-Event-Ids") == "" {
		t.Fatalf("adjustment headers %v", h)
	}
	h, _ = w.call("POST", adjust, adjust, body, 200, "X-Request-ID", rid)
	if h.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replayed adjustment headers %v", h)
	}
	w.call("POST", adjust, adjust, strings.Replace(body, "10", "11", 1), 422, "X-Request-ID", rid)
	w.call("POST", adjust, adjust, body, 400, "X-Request-ID", "not-a-uuid")
	w.call("POST", adjust, adjust, `{"warehouse_id":`+main+`,"sku":"WIDGET-1","delta":-100,"reason":"x"}`, 409)
	w.call("POST", adjust, adjust, `{"warehouse_id":`+main+`,"sku":"NOPE","delta":1,"reason":"x"}`, 422)
	w.call("GET", "/api/v1/inventory", "/api/v1/inventory?warehouse_id="+main, "", 200)
	w.call("GET", "/api/v1/inventory", "/api/v1/inventory?warehouse_id=0", "", 400)

	_, b = w.call("POST", "/api/v1/cycle-counts", "/api/v1/cycle-counts", `{"warehouse_id":`+main+`,"sku":"WIDGET-1","counted_qty":12}`, 201)
	w.call("GET", "/api/v1/cycle-counts/{id}", "/api/v1/cycle-counts/"+w.id(b, "id"), "", 200)

	_, b = w.call("POST", "/api/v1/sales-orders", "/api/v1/sales-orders",
		`{"order_number":"SO-1","warehouse_id":`+main+`,"ship_to":{"name":"Ada"},"lines":[{"sku":"WIDGET-1","qty":2}]}`, 201)
	so := "/api/v1/sales-orders/" + w.id(b, "id")
	w.call("GET", "/api/v1/sales-orders/{id}", so, "", 200)
	w.call("POST", "/api/v1/sales-orders/{id}/ship", so+"/ship", `{"carrier":"UPS"}`, 409)
	w.call("POST", "/api/v1/sales-orders/{id}/pick", so+"/pick", "", 200)
	w.call("POST", "/api/v1/sales-orders/{id}/pack", so+"/pack", "{}", 200)
	w.call("POST", "/api/v1/sales-orders/{id}/ship", so+"/ship", `{"carrier":""}`, 422)
	w.call("POST", "/api/v1/sales-orders/{id}/ship", so+"/ship", `{"carrier":"UPS","tracking":"1Z999"}`, 200)
	w.call("GET", "/api/v1/sales-orders/{id}", so, "", 200)

	_, b = w.call("POST", "/api/v1/purchase-orders", "/api/v1/purchase-orders",
		`{"po_number":"PO-1","warehouse_id":`+main+`,"supplier":"Acme","lines":[{"sku":"WIDGET-1","qty":5}]}`, 201)
	po := "/api/v1/purchase-orders/" + w.id(b, "id")
	w.call("POST", "/api/v1/purchase-orders/{id}/receive", po+"/receive", `{"lines":[{"sku":"WIDGET-1","qty":9}]}`, 409)
	w.call("POST", "/api/v1/purchase-orders/{id}/receive", po+"/receive", `{"lines":[{"sku":"WIDGET-1","qty":5}]}`, 200)
	w.call("GET", "/api/v1/purchase-orders/{id}", po, "", 200)

	_, b = w.call("POST", "/api/v1/transfers", "/api/v1/transfers",
		`{"from_warehouse_id":`+main+`,"to_warehouse_id":`+second+`,"lines":[{"sku":"WIDGET-1","qty":1}]}`, 201)
	tr := "/api/v1/transfers/" + w.id(b, "id")
	w.call("POST", "/api/v1/transfers/{id}/complete", tr+"/complete", "", 200)
	w.call("POST", "/api/v1/transfers/{id}/complete", tr+"/complete", "", 409)
	w.call("GET", "/api/v1/transfers/{id}", tr, "", 200)

	inboundOpenAPIFlow(t, e, s, main) // inbound_test.go

	// Events: the page holds every type of the catalog, each validated
	// against its data schema through the envelope's reference.
	_, b = r.call("GET", "/api/v1/events", "/api/v1/events?limit=1000", "", 200)
	var page struct {
		Events []struct {
			EventType string `json:"event_type"`
		} `json:"events"`
	}
	if err := json.Unmarshal(b, &page); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, ev := range page.Events {
		seen[ev.EventType] = true
	}
	for _, ce := range embeddedCatalog(t) {
		if !seen[ce.Type] {
			t.Errorf("the flow made no %s event to validate", ce.Type)
		}
	}
	r.call("GET", "/api/v1/events", "/api/v1/events?limit=0", "", 400)
	r.call("GET", "/api/v1/events/types", "/api/v1/events/types", "", 200)
	r.call("GET", "/api/v1/events/schema/{type}/{version}", "/api/v1/events/schema/ship.confirmed/1", "", 200)

	// Tokens and audit.
	a.call("GET", "/api/admin/tokens", "/api/admin/tokens", "", 200)
	_, b = a.call("POST", "/api/admin/tokens", "/api/admin/tokens", `{"name":"erp","scopes":["events:read"]}`, 201)
	a.call("POST", "/api/admin/tokens", "/api/admin/tokens", `{"name":"erp","scopes":["root"]}`, 422)
	a.call("DELETE", "/api/admin/tokens/{id}", "/api/admin/tokens/"+a.id(b, "id"), "", 204)
	a.call("DELETE", "/api/admin/tokens/{id}", "/api/admin/tokens/"+a.id(b, "id"), "", 404)
	a.call("DELETE", "/api/admin/tokens/{id}", "/api/admin/tokens/x", "", 400)
	_, b = a.call("GET", "/api/admin/audit", "/api/admin/audit?limit=1", "", 200)
	if !strings.Contains(string(b), `"next_before"`) {
		t.Errorf("audit page without next_before: %s", b)
	}

	// Webhooks.
	hook := okServer(t, nil)
	const wh = "/api/admin/webhooks"
	a.call("POST", wh, wh, `{"name":"erp","url":"ftp://example.com"}`, 422)
	_, b = a.call("POST", wh, wh, `{"name":"erp","url":"`+hook.URL+`/hook","standard_webhooks":true,
		"subscription_filter":{"event_types":["adjustment.applied"]}}`, 201)
	sub := wh + "/" + a.id(b, "id")
	a.call("GET", wh, wh, "", 200)
	a.call("GET", wh+"/{id}", sub, "", 200)
	a.call("PATCH", wh+"/{id}", sub, `{"status":"paused"}`, 200)
	a.call("PATCH", wh+"/{id}", sub, `{"status":"active","name":"erp2"}`, 200)
	a.call("PATCH", wh+"/{id}", sub, `{}`, 422)
	a.call("POST", wh+"/{id}/rotate-secret", sub+"/rotate-secret", "", 200)
	a.call("GET", wh+"/{id}", sub, "", 200)
	w.call("POST", adjust, adjust, `{"warehouse_id":`+main+`,"sku":"WIDGET-1","delta":1,"reason":"hook"}`, 200)
	var deliveries struct {
		Deliveries []store.Delivery `json:"deliveries"`
	}
	waitFor(t, "a successful delivery", func() bool {
		_, b := a.call("GET", wh+"/{id}/deliveries", sub+"/deliveries?status=succeeded", "", 200)
		json.Unmarshal(b, &deliveries)
		return len(deliveries.Deliveries) > 0
	})
	a.call("GET", wh+"/{id}/deliveries", sub+"/deliveries?limit=1", "", 200)
	a.call("GET", wh+"/{id}/deliveries", sub+"/deliveries?status=bogus", "", 422)
	d := fmt.Sprintf("%s/deliveries/%d", sub, deliveries.Deliveries[0].ID)
	a.call("GET", wh+"/{id}/deliveries/{delivery}", d, "", 200)
	a.call("POST", wh+"/{id}/deliveries/{delivery}/replay", d+"/replay", "", 202)
	a.call("GET", wh+"/{id}/dlq", sub+"/dlq", "", 200)
	a.call("POST", wh+"/{id}/replay-batch", sub+"/replay-batch", `{}`, 422)
	a.call("POST", wh+"/{id}/replay-batch", sub+"/replay-batch", `{"from_event_id":1,"to_event_id":1}`, 202)
	a.call("GET", wh+"/{id}/stats", sub+"/stats", "", 200)
	a.call("GET", wh+"/errors", wh+"/errors?kind=bogus", "", 422)
	a.call("DELETE", wh+"/{id}", sub, "", 204)
	a.call("GET", wh+"/{id}", sub, "", 404)

	// A failing consumer: the error listing, the failed attempt and the
	// stats' last failure.
	var failing atomic.Int32
	failing.Store(503)
	bad := okServer(t, &failing)
	_, b = a.call("POST", wh, wh, `{"name":"down","url":"`+bad.URL+`/hook"}`, 201)
	down := wh + "/" + a.id(b, "id")
	w.call("POST", adjust, adjust, `{"warehouse_id":`+main+`,"sku":"WIDGET-1","delta":1,"reason":"fail"}`, 200)
	waitFor(t, "a failing delivery", func() bool {
		_, b := a.call("GET", wh+"/errors", wh+"/errors", "", 200)
		return strings.Contains(string(b), `"delivery_id"`)
	})
	a.call("GET", wh+"/errors", wh+"/errors?subscription_id="+a.id(b, "id")+"&kind=5xx", "", 200)
	a.call("GET", wh+"/{id}/deliveries", down+"/deliveries", "", 200)
	a.call("GET", wh+"/{id}/stats", down+"/stats", "", 200)
	a.call("DELETE", wh+"/{id}", down, "", 204)

	// Connectors (Shopify against its fake, warehouse 1).
	t0 := e.clock.Now().Add(-time.Hour)
	e.fake.AddVariant(shopify.FakeVariant{SKU: "SHOP-1", ProductTitle: "Shop item", Title: "Default Title", UpdatedAt: t0})
	e.fake.SetLevel(shopify.FakeLevel{LocationID: shopLoc, SKU: "SHOP-1", Tracked: true, OnHand: 9, UpdatedAt: t0})
	e.fake.AddOrder(shopify.FakeOrder{Name: "#1001", UpdatedAt: t0, LocationID: shopLoc,
		Lines: []shopify.FakeLine{{SKU: "SHOP-1", Qty: 2, RequiresShipping: true}}, Address: map[string]string{"name": "Ada"}})
	const cn = "/api/admin/connectors"
	const shop = cn + "/shopify"
	a.call("GET", cn, cn, "", 200)
	a.call("GET", cn+"/{name}/config-schema", shop+"/config-schema", "", 200)
	a.call("GET", cn+"/{name}/config-schema", cn+"/nope/config-schema", "", 404)
	a.call("GET", cn+"/{name}/credentials", shop+"/credentials?warehouse_id=1", "", 404)
	a.call("POST", cn+"/{name}/credentials", shop+"/credentials", `{"warehouse_id":1,"values":{"shop_domain":"acme.myshopify.com"}}`, 422)
	a.call("POST", cn+"/{name}/credentials", shop+"/credentials",
		`{"warehouse_id":1,"values":{"shop_domain":"acme.myshopify.com","access_token":"`+shopToken+`","location_id":"`+shopLoc+`"}}`, 200)
	a.call("GET", cn+"/{name}/credentials", shop+"/credentials?warehouse_id=1", "", 200)
	a.call("GET", cn+"/{name}/credentials", shop+"/credentials", "", 400)
	a.call("POST", cn+"/{name}/test", shop+"/test", `{"warehouse_id":1}`, 200)
	a.call("PUT", cn+"/{name}/schedules", shop+"/schedules",
		`{"warehouse_id":1,"schedules":[{"sync_type":"orders","interval_seconds":300},{"sync_type":"items","cron":"0 3 * * *","enabled":false}]}`, 200)
	a.call("PUT", cn+"/{name}/schedules", shop+"/schedules", `{"warehouse_id":1,"schedules":[{"sync_type":"orders"}]}`, 422)
	a.call("GET", cn+"/{name}/schedules", shop+"/schedules?warehouse_id=1", "", 200)
	for _, st := range []string{"items", "inventory", "orders"} {
		a.call("POST", cn+"/{name}/sync/{sync_type}", shop+"/sync/"+st, `{"warehouse_id":1}`, 202)
		if o := <-e.done; o.Status != store.RunSuccess {
			t.Fatalf("%s sync: %+v", st, o)
		}
	}
	a.call("POST", cn+"/{name}/sync/{sync_type}", shop+"/sync/bogus?warehouse_id=1", "", 422)
	a.call("GET", cn+"/{name}/sync-status", shop+"/sync-status?warehouse_id=1", "", 200)
	a.call("GET", cn+"/{name}/sync-status", shop+"/sync-status?warehouse_id=99", "", 422)
	a.call("GET", cn+"/{name}/runs", shop+"/runs?warehouse_id=1&sync_type=orders&limit=5", "", 200)
	w.call("GET", "/api/v1/items/{sku}", "/api/v1/items/SHOP-1", "", 200)

	// Ship the synced order: its fulfillment push shows on the order and
	// in the queue, pending and then pushed.
	var orderID string
	if err := e.db.Reader().QueryRow(`SELECT id FROM sales_orders WHERE source_name = 'shopify'`).Scan(&orderID); err != nil {
		t.Fatal(err)
	}
	synced := "/api/v1/sales-orders/" + orderID
	w.call("POST", "/api/v1/sales-orders/{id}/pick", synced+"/pick", "", 200)
	w.call("POST", "/api/v1/sales-orders/{id}/pack", synced+"/pack", "", 200)
	w.call("POST", "/api/v1/sales-orders/{id}/ship", synced+"/ship", `{"carrier":"UPS","tracking":"1ZWEB"}`, 200)
	w.call("GET", "/api/v1/sales-orders/{id}", synced, "", 200)
	_, b = a.call("GET", cn+"/{name}/fulfillments", shop+"/fulfillments?warehouse_id=1&status=pending", "", 200)
	var queue struct {
		Fulfillments []store.FulfillmentPush `json:"fulfillments"`
	}
	if json.Unmarshal(b, &queue); len(queue.Fulfillments) != 1 {
		t.Fatalf("fulfillment queue: %s", b)
	}
	if err := e.worker.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-e.done
	_, b = w.call("GET", "/api/v1/sales-orders/{id}", synced, "", 200)
	if !strings.Contains(string(b), `"fulfillment":{"connector":"shopify","status":"succeeded"`) {
		t.Errorf("order after the push: %s", b)
	}
	a.call("GET", cn+"/{name}/fulfillments", shop+"/fulfillments?warehouse_id=1", "", 200)
	a.call("GET", cn+"/{name}/fulfillments", shop+"/fulfillments?warehouse_id=1&status=bogus", "", 422)
	a.call("POST", cn+"/{name}/fulfillments/{id}/retry", fmt.Sprintf("%s/fulfillments/%d/retry", shop, queue.Fulfillments[0].ID), "", 409)
	a.call("POST", cn+"/{name}/fulfillments/{id}/retry", shop+"/fulfillments/999/retry", "", 404)
	a.call("DELETE", cn+"/{name}/credentials", shop+"/credentials?warehouse_id=1", "", 204)
	a.call("DELETE", cn+"/{name}/credentials", shop+"/credentials?warehouse_id=1", "", 404)
}
