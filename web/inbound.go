package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/go-json-experiment/json/jsontext"

	"sentryhub/mapping"
	"sentryhub/mapping/storeinput"
	"sentryhub/store"
)

// The inbound push API: a source system POSTs its own documents to
// /api/v1/inbound/{resource}; the source's mapping for the resource turns
// each into a canonical record, and the batch is written in one store
// transaction (store.Push). The admin API manages sources, their tokens and
// their versioned mappings. docs/inbound.md describes both for users.

// Limits of one push.
const (
	maxPushDocs  = 1000
	maxPushBytes = 5 << 20
	// maxIdempotencyKey bounds an Idempotency-Key header.
	maxIdempotencyKey = 255
	// pushesPerSource is how many recent pushes the sources listing shows.
	pushesPerSource = 5
)

// inboundState is the server's cache of compiled mappings: parsing YAML
// and compiling expressions costs far more than mapping a document, so
// each (source, resource) keeps its current version compiled. A push
// still reads the current version number, so a save takes effect at once.
type inboundState struct {
	mu       sync.Mutex
	compiled map[string]compiledMapping // by source + "/" + resource
}

type compiledMapping struct {
	version int
	m       *mapping.Mapping
}

// inboundRoutes registers the push API and the admin API of inbound
// sources and mappings.
func (s *Server) inboundRoutes() {
	s.inbound = &inboundState{compiled: map[string]compiledMapping{}}
	s.inboundUIRoutes()
	m := s.mux
	m.Handle("POST /api/v1/inbound/{resource}", s.api(store.ScopeInboundWrite, s.inboundPush))

	a := store.ScopeAdmin
	m.Handle("GET /api/admin/inbound/sources", s.api(a, s.listInboundSources))
	m.Handle("POST /api/admin/inbound/sources", s.api(a, s.createInboundSource))
	m.Handle("POST /api/admin/inbound/sources/{source}/tokens", s.api(a, s.createSourceToken))
	m.Handle("GET /api/admin/inbound/sources/{source}/pushes", s.api(a, s.listSourcePushes))
	m.Handle("GET /api/admin/inbound/mappings", s.api(a, s.listInboundMappings))
	m.Handle("GET /api/admin/inbound/mappings/{source}/{resource}", s.api(a, s.getInboundMapping))
	m.Handle("PUT /api/admin/inbound/mappings/{source}/{resource}", s.api(a, s.putInboundMapping))
	m.Handle("GET /api/admin/inbound/mappings/{source}/{resource}/versions", s.api(a, s.listInboundMappingVersions))
	m.Handle("POST /api/admin/inbound/mappings/{source}/{resource}/test", s.api(a, s.testInboundMapping))
}

// bodyLimit is the body size limit of r: pushes may carry up to
// maxPushBytes, everything else the configured limit.
func (s *Server) bodyLimit(r *http.Request) int64 {
	if r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/api/v1/inbound/") {
		return max(s.cfg.MaxBodyBytes, maxPushBytes)
	}
	return s.cfg.MaxBodyBytes
}

// yamlBody reports whether r may send its body as YAML instead of JSON:
// only a mapping save does.
func yamlBody(r *http.Request) bool {
	if r.Method != http.MethodPut || !strings.HasPrefix(r.URL.Path, "/api/admin/inbound/mappings/") {
		return false
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && slices.Contains([]string{"application/yaml", "application/x-yaml", "text/yaml"}, mt)
}

// resourceParam returns the {resource} path value, or a 404 naming the
// resources there are.
func resourceParam(r *http.Request) (mapping.Resource, error) {
	res := mapping.Resource(r.PathValue("resource"))
	if _, ok := mapping.Lookup(res); ok {
		return res, nil
	}
	names := make([]string, 0, 5)
	for _, n := range mapping.Resources() {
		names = append(names, string(n))
	}
	return "", &Error{Status: http.StatusNotFound, Code: "not_found",
		Message: "unknown resource " + strconv.Quote(truncate(string(res), 100)) + ": use one of " + strings.Join(names, ", "),
		Fields:  map[string]string{"resource": "must be one of " + strings.Join(names, ", ")}}
}

// sourceParam returns the {source} path value of an existing source, or a
// 404.
func (s *Server) sourceParam(r *http.Request) (string, error) {
	name := r.PathValue("source")
	if err := store.CheckSourceName(name); err != nil {
		return "", &Error{Status: http.StatusNotFound, Code: "not_found",
			Message: "unknown source " + strconv.Quote(truncate(name, 100)), Fields: map[string]string{"source": "no such source"}}
	}
	if _, err := s.db.GetInboundSource(r.Context(), name); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return "", &Error{Status: http.StatusNotFound, Code: "not_found",
				Message: "unknown source " + strconv.Quote(name) + ": create it first (POST /api/admin/inbound/sources)",
				Fields:  map[string]string{"source": "no such source"}}
		}
		return "", err
	}
	return name, nil
}

// currentMapping returns the current mapping of (source, resource),
// compiled, and its version.
func (s *Server) currentMapping(ctx context.Context, source string, res mapping.Resource) (*mapping.Mapping, int, error) {
	v, err := s.db.CurrentMappingVersion(ctx, source, string(res))
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, &Error{Status: http.StatusUnprocessableEntity, Code: "no_mapping",
			Message: "source " + strconv.Quote(source) + " has no mapping for " + string(res) +
				": an admin saves one with PUT /api/admin/inbound/mappings/" + source + "/" + string(res)}
	} else if err != nil {
		return nil, 0, err
	}
	key := source + "/" + string(res)
	st := s.inbound
	st.mu.Lock()
	c, ok := st.compiled[key]
	st.mu.Unlock()
	if ok && c.version == v {
		return c.m, v, nil
	}
	mv, err := s.db.GetMapping(ctx, source, string(res), v)
	if err != nil {
		return nil, 0, err
	}
	m, err := mapping.Parse([]byte(mv.YAML))
	if err != nil {
		// Saved mappings parsed when saved; one that no longer does (the
		// language changed) is the admin's to fix.
		return nil, 0, &Error{Status: http.StatusUnprocessableEntity, Code: "mapping_invalid",
			Message: "the saved mapping of " + key + " (version " + strconv.Itoa(v) + ") no longer compiles: " + err.Error()}
	}
	st.mu.Lock()
	if cur, ok := st.compiled[key]; !ok || cur.version < v {
		st.compiled[key] = compiledMapping{version: v, m: m}
	}
	st.mu.Unlock()
	return m, v, nil
}

// pushBody is a parsed push: its documents, and whether it was a batch.
type pushBody struct {
	docs  []jsontext.Value
	batch bool
}

// parsePushBody reads a push: one JSON object (a document) or a JSON array
// of at most maxPushDocs objects (a batch). The JSON must be valid UTF-8
// with no key given twice in any object, and nothing may follow the value.
func parsePushBody(body []byte) (pushBody, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return pushBody{}, badRequest("request body is empty: send one JSON document ({...}) or a batch ([{...}, ...])", nil)
	}
	dec := jsontext.NewDecoder(bytes.NewReader(body))
	var out pushBody
	switch trimmed[0] {
	case '{':
		v, err := dec.ReadValue()
		if err != nil {
			return pushBody{}, pushJSONProblem(err, -1)
		}
		out.docs = []jsontext.Value{bytes.Clone(v)} // v is only valid until the next read
	case '[':
		out.batch = true
		if _, err := dec.ReadToken(); err != nil {
			return pushBody{}, pushJSONProblem(err, -1)
		}
		for dec.PeekKind() != ']' {
			i := len(out.docs)
			if i == maxPushDocs {
				return pushBody{}, badRequest("batch has more than "+strconv.Itoa(maxPushDocs)+" documents: split it",
					map[string]string{"documents": "at most " + strconv.Itoa(maxPushDocs)})
			}
			if k := dec.PeekKind(); k != '{' {
				if k == 0 {
					_, err := dec.ReadValue()
					return pushBody{}, pushJSONProblem(err, i)
				}
				return pushBody{}, badRequest("document "+strconv.Itoa(i)+" of the batch is not a JSON object",
					map[string]string{"documents[" + strconv.Itoa(i) + "]": "must be a JSON object"})
			}
			v, err := dec.ReadValue()
			if err != nil {
				return pushBody{}, pushJSONProblem(err, i)
			}
			out.docs = append(out.docs, bytes.Clone(v))
		}
		if _, err := dec.ReadToken(); err != nil {
			return pushBody{}, pushJSONProblem(err, -1)
		}
		if len(out.docs) == 0 {
			return pushBody{}, badRequest("batch is empty: send at least one document", map[string]string{"documents": "must not be empty"})
		}
	default:
		return pushBody{}, badRequest("request body must be one JSON document ({...}) or a batch of documents ([{...}, ...])", nil)
	}
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		return pushBody{}, badRequest("request body has data after the JSON value: send one document or one array", nil)
	}
	return out, nil
}

// pushJSONProblem turns a syntax error in a push into a 400 naming the
// document (doc < 0: the body as a whole).
func pushJSONProblem(err error, doc int) error {
	where := "request body"
	var fields map[string]string
	if doc >= 0 {
		where = "document " + strconv.Itoa(doc) + " of the batch"
		fields = map[string]string{"documents[" + strconv.Itoa(doc) + "]": "is not valid JSON"}
	}
	var se *jsontext.SyntacticError
	switch {
	case errors.As(err, &se) && errors.Is(se.Err, jsontext.ErrDuplicateName):
		return badRequest(where+" has a duplicate key "+strconv.Quote(truncate(se.JSONPointer.LastToken(), 100))+
			": each key may appear only once", fields)
	case errors.As(err, &se) && strings.Contains(se.Err.Error(), "invalid UTF-8"):
		return badRequest(where+" is not valid UTF-8: JSON text must be UTF-8", fields)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return badRequest(where+" ends before its JSON value is complete", fields)
	case errors.As(err, &se):
		return badRequest(where+" is not valid JSON (at byte "+strconv.FormatInt(se.ByteOffset, 10)+")", fields)
	}
	return badRequest(where+" is not valid JSON", fields)
}

// idempotencyKey returns the push's idempotency key: the Idempotency-Key
// header, else an X-Request-ID the client sent (checked by the
// middleware), else "".
func idempotencyKey(r *http.Request) (string, error) {
	vals := r.Header.Values("Idempotency-Key")
	switch {
	case len(vals) > 1:
		return "", badRequest("Idempotency-Key was sent more than once; send it once", map[string]string{"Idempotency-Key": "sent more than once"})
	case len(vals) == 1:
		k := vals[0]
		if k == "" || len(k) > maxIdempotencyKey || strings.TrimSpace(k) != k ||
			strings.IndexFunc(k, func(c rune) bool { return c > unicode.MaxASCII || !unicode.IsPrint(c) }) >= 0 {
			return "", badRequest("Idempotency-Key must be 1 to "+strconv.Itoa(maxIdempotencyKey)+" printable ASCII characters",
				map[string]string{"Idempotency-Key": "must be 1 to " + strconv.Itoa(maxIdempotencyKey) + " printable ASCII characters"})
		}
		return "idem:" + k, nil
	}
	if r.Header.Get("X-Request-ID") != "" {
		return requestID(r.Context()), nil
	}
	return "", nil
}

// inboundPush maps and writes a push. The token must be bound to a source
// (store.CreateSourceToken): the source comes from the token, never from
// the request, so a token can only write its own source's records.
func (s *Server) inboundPush(w http.ResponseWriter, r *http.Request) error {
	p := principal(r.Context())
	if p.Token == nil || p.Token.InboundSource == "" {
		return &Error{Status: http.StatusForbidden, Code: "forbidden",
			Message: "pushes need a token bound to an inbound source: create one with POST /api/admin/inbound/sources/{source}/tokens"}
	}
	source := p.Token.InboundSource
	res, err := resourceParam(r)
	if err != nil {
		return err
	}
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &Error{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large",
				Message: "push exceeds " + strconv.Itoa(maxPushBytes>>20) + " MiB: split the batch"}
		}
		return badRequest("cannot read request body", nil)
	}
	pb, err := parsePushBody(body)
	if err != nil {
		return err
	}
	m, version, err := s.currentMapping(r.Context(), source, res)
	if err != nil {
		return err
	}
	in := store.PushInput{Source: source, Resource: string(res), MappingVersion: version, Actor: p.Actor(),
		Scope: idempotencyScope(p), RequestKey: key, SourceTxnID: requestID(r.Context()),
		Docs: make([]store.PushDoc, len(pb.docs))}
	if key != "" {
		sum := sha256.Sum256(append([]byte(string(res)+"\x00"), body...))
		in.Fingerprint = hex.EncodeToString(sum[:])
	}
	mapDocuments(m, source, pb.docs, in.Docs)
	out, err := s.db.Push(r.Context(), in)
	if err != nil {
		var ie *store.IdempotencyConflictError
		if errors.As(err, &ie) {
			return &Error{Status: http.StatusUnprocessableEntity, Code: "idempotency_key_reused",
				Message: "this idempotency key was already used for a different push: a key may only be reused to retry the identical request",
				Fields:  map[string]string{"Idempotency-Key": "already used with a different request"}}
		}
		return err
	}
	if out.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	status := http.StatusOK
	if !pb.batch {
		switch out.Results[0].Outcome {
		case store.OutcomeCreated:
			status = http.StatusCreated
		case store.OutcomeRefused:
			status = http.StatusUnprocessableEntity
		}
	}
	writeJSON(w, status, out)
	return nil
}

// parallelMapMin is the smallest batch worth mapping on several cores.
const parallelMapMin = 64

// mapDocuments maps docs into out (same length). A large batch is split
// over the available cores: mapping is CPU work of its own, and the
// compiled mapping is safe for concurrent use. The goroutines end before
// it returns.
func mapDocuments(m *mapping.Mapping, source string, docs []jsontext.Value, out []store.PushDoc) {
	workers := min(runtime.GOMAXPROCS(0), len(docs)/parallelMapMin+1)
	if workers <= 1 {
		for i, raw := range docs {
			out[i] = mapDocument(m, source, raw)
		}
		return
	}
	var wg sync.WaitGroup
	per := (len(docs) + workers - 1) / workers
	for start := 0; start < len(docs); start += per {
		end := min(start+per, len(docs))
		wg.Go(func() {
			for i := start; i < end; i++ {
				out[i] = mapDocument(m, source, docs[i])
			}
		})
	}
	wg.Wait()
}

// mapDocument maps one raw document to the record the store writes, or to
// its refusal.
func mapDocument(m *mapping.Mapping, source string, raw []byte) store.PushDoc {
	v, err := mapping.Decode(raw)
	if err != nil {
		r := store.Refused("document is not valid JSON", nil)
		return store.PushDoc{Refused: &r}
	}
	d, errs := m.Apply(v)
	if errs != nil {
		r := store.Refused("document does not map: "+errs.Error(), errs.Map())
		return store.PushDoc{Refused: &r}
	}
	rec, err := sourceRecord(d, source)
	if err != nil {
		r := store.Refused(err.Error(), nil)
		return store.PushDoc{SourceID: d.SourceID, Refused: &r}
	}
	return store.PushDoc{SourceID: d.SourceID, Record: &rec}
}

// sourceRecord converts a mapped document to the store's record, keyed
// by the source (prefixed, see store.InboundSourcePrefix) and the
// document's source id.
func sourceRecord(d *mapping.Document, source string) (store.SourceRecord, error) {
	name := store.InboundSourcePrefix + source
	rec := store.SourceRecord{Source: store.SourceRef{Name: name, ID: d.SourceID}, IdempotencyKey: d.IdempotencyKey}
	switch d.Resource {
	case mapping.Items:
		in, err := storeinput.Item(d)
		rec.Item = &in
		return rec, err
	case mapping.SalesOrders:
		in, err := storeinput.SalesOrder(d, name)
		rec.SalesOrder = &in
		return rec, err
	case mapping.PurchaseOrders:
		in, err := storeinput.PurchaseOrder(d, name)
		rec.PurchaseOrder = &in
		return rec, err
	case mapping.Inventory:
		in, err := storeinput.Adjustment(d)
		rec.Adjustment = &in
		return rec, err
	case mapping.Transfers:
		in, err := storeinput.Transfer(d)
		rec.Transfer = &in
		return rec, err
	}
	return rec, errors.New("resource " + string(d.Resource) + " cannot be pushed")
}
