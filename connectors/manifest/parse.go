package manifest

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"sentryhub/connectors"
	"sentryhub/mapping"
)

// MaxSize is the largest manifest accepted, in bytes.
const MaxSize = 256 << 10

// FileName is the manifest's file name inside its directory.
const FileName = "manifest.yaml"

// Load reads dir/manifest.yaml from fsys with the mapping documents it
// names, and validates it. The error is an ErrorList naming file, line,
// column and field of every problem.
func Load(fsys fs.FS, dir string) (*Manifest, error) {
	name := path.Join(dir, FileName)
	src, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, ErrorList{{File: name, Line: 1, Column: 1, Message: "cannot read: " + errText(err)}}
	}
	return Parse(name, src, fsys, dir)
}

func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// Parse validates the manifest src (read from file) with the same
// refusals as the registry applies to Go connectors, plus the manifest's
// own: unknown keys, bad templates, unknown kinds, mapping documents that
// do not compile. Mapping files are read from fsys relative to dir.
func Parse(file string, src []byte, fsys fs.FS, dir string) (*Manifest, error) {
	p := &problems{file: file}
	if len(src) > MaxSize {
		p.addf("", "manifest is larger than %d KiB", MaxSize>>10)
		return nil, p.errs
	}
	if !utf8.Valid(src) {
		p.add("", "manifest is not valid UTF-8")
		return nil, p.errs
	}
	a, err := parseYAML(src)
	if err != nil {
		p.yamlError(err)
		return nil, p.errs
	}
	p.ast = a
	var f manifestFile
	if err := yaml.UnmarshalWithOptions(src, &f, yaml.Strict()); err != nil {
		p.yamlError(err)
		return nil, p.errs
	}
	v := &validator{p: p, fsys: fsys, dir: dir}
	m := v.manifest(&f)
	m.File, m.ast = file, a
	if len(p.errs) > 0 {
		return nil, p.errs.sorted()
	}
	return m, nil
}

// parseYAML turns a parser panic into an error: an operator's file must
// not crash the hub.
func parseYAML(src []byte) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, errors.New("YAML could not be parsed")
		}
	}()
	return parser.ParseBytes(src, 0)
}

type validator struct {
	p    *problems
	fsys fs.FS
	dir  string
	m    *Manifest
}

var (
	keyRE    = regexp.MustCompile(`^[a-z][a-z0-9_]{1,31}$`)
	streamRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	hookRE   = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	semverRE = regexp.MustCompile(`^\d+\.\d+\.\d+$`)
	headerRE = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
)

func (v *validator) manifest(f *manifestFile) *Manifest {
	p := v.p
	m := &Manifest{Key: f.Key, Name: strings.TrimSpace(f.Name), Provider: strings.TrimSpace(f.Provider),
		Version: f.Version, Docs: f.Docs, Setup: strings.TrimSpace(f.Setup), BaseURL: f.BaseURL,
		Auth: f.Auth, Rate: f.RateLimit, Errors: f.Errors, Test: f.Test}
	v.m = m
	if !keyRE.MatchString(f.Key) {
		p.add("key", "must match "+keyRE.String())
	}
	if m.Name == "" {
		p.add("name", "is required")
	}
	if m.Provider == "" {
		p.add("provider", "is required")
	}
	if !semverRE.MatchString(f.Version) {
		p.add("version", "must be a version like 1.0.0")
	}
	if f.Docs != "" {
		if u, err := url.Parse(f.Docs); err != nil || u.Scheme != "https" || u.Host == "" {
			p.add("docs", "must be an https URL")
		}
	}
	v.settings(&f.Settings)
	v.baseURL(f.BaseURL)
	v.hosts(f.Hosts)
	v.auth(&f.Auth)
	v.rate(f.RateLimit)
	if f.Errors != nil && f.Errors.FieldsPath == "" {
		p.add("errors.fields_path", "is required")
	}
	if f.Test == nil {
		p.add("test", "is required: the request the Test button sends")
	} else {
		v.request("test", f.Test, scopeConfig, false)
	}
	for i := range f.Streams {
		v.stream(i, &f.Streams[i])
	}
	for i := range f.Write {
		v.write(i, &f.Write[i])
	}
	v.capabilities()
	return m
}

func (v *validator) settings(s *settingsFile) {
	p := v.p
	if s.Type != "object" {
		p.add("settings.type", "must be object")
	}
	var schema connectors.Schema
	for _, item := range s.Properties {
		name, ok := item.Key.(string)
		if !ok {
			p.add("settings.properties", "property names must be strings")
			continue
		}
		at := "settings.properties." + name
		var pf propertyFile
		b, err := yaml.Marshal(item.Value)
		if err == nil {
			err = yaml.UnmarshalWithOptions(b, &pf, yaml.Strict())
		}
		if err != nil {
			var ye yaml.Error
			msg := err.Error()
			if errors.As(err, &ye) {
				msg = ye.GetMessage()
			}
			p.add(at, msg)
			continue
		}
		fd := connectors.Field{Name: name, Label: pf.Title, Help: pf.Description, Secret: pf.Secret,
			Placeholder: pf.Placeholder, Options: pf.Enum, MaxLength: pf.MaxLength,
			Required: slices.Contains(s.Required, name)}
		switch {
		case pf.Type == "string" && len(pf.Enum) > 0:
			fd.Type = connectors.TypeEnum
		case pf.Type == "string" && pf.Format == "uri":
			fd.Type = connectors.TypeURL
		case pf.Type == "string" && pf.Format == "":
			fd.Type = connectors.TypeString
		case pf.Type == "integer" && pf.Format == "":
			fd.Type = connectors.TypeInteger
		case pf.Type == "boolean" && pf.Format == "":
			fd.Type = connectors.TypeBoolean
		case pf.Format != "":
			p.addf(at+".format", "unsupported format %q (only uri, on strings)", pf.Format)
		default:
			p.addf(at+".type", "unsupported type %q; use string, integer or boolean", pf.Type)
		}
		if pf.Default != nil {
			fd.Default = fmt.Sprint(pf.Default)
		}
		schema.Fields = append(schema.Fields, fd)
	}
	for i, r := range s.Required {
		if _, ok := schema.Field(r); !ok {
			p.addf(fmt.Sprintf("settings.required[%d]", i), "%q is not a property", r)
		}
	}
	// The registry's own refusals, placed on the property they concern.
	for i, msg := range schema.Validate() {
		_ = i
		at := "settings.properties"
		if n := strings.Index(msg, "(\""); n >= 0 {
			if end := strings.Index(msg[n+2:], "\")"); end >= 0 {
				at += "." + msg[n+2:n+2+end]
			}
		}
		p.add(at, msg)
	}
	v.m.Schema = schema
}

func (v *validator) baseURL(s string) {
	if s == "" {
		v.p.add("base_url", "is required")
		return
	}
	v.template("base_url", s, scopeConfig)
	if !strings.HasPrefix(s, "https://") && !strings.HasPrefix(s, "{{") {
		v.p.add("base_url", "must start with https:// (or be a URL setting)")
	}
}

func (v *validator) hosts(hosts []string) {
	if len(hosts) == 0 {
		v.p.add("hosts", "list the hosts this connector may call; credentials are sent nowhere else")
	}
	for i, h := range hosts {
		at := fmt.Sprintf("hosts[%d]", i)
		if strings.Contains(h, "{{") {
			t := parseTemplate(h)
			name, ok := t.only()
			if !ok || !strings.HasPrefix(name, "settings.") {
				v.p.add(at, "a templated host must be exactly one URL setting, like {{settings.base_url}}")
				continue
			}
			if f, ok := v.m.Schema.Field(strings.TrimPrefix(name, "settings.")); !ok || f.Type != connectors.TypeURL {
				v.p.add(at, name+" is not a URL setting (type string, format uri)")
			}
			continue
		}
		host := strings.TrimPrefix(h, "*.")
		if host == "" || strings.ContainsAny(host, "/:*@ ") || strings.ToLower(host) != host {
			v.p.add(at, "must be a lowercase host name, optionally starting with *.")
		}
	}
	v.m.Hosts = hosts
}

func (v *validator) auth(a *Auth) {
	p := v.p
	need := func(field, val string) {
		if strings.TrimSpace(val) == "" {
			p.add("auth."+field, "is required for auth kind "+a.Kind)
			return
		}
		v.template("auth."+field, val, scopeConfig)
	}
	switch a.Kind {
	case AuthNone:
	case AuthAPIKey:
		if a.In != "header" && a.In != "query" {
			p.add("auth.in", "must be header or query")
		}
		if !headerRE.MatchString(a.Name) {
			p.add("auth.name", "must be a header or parameter name")
		}
		need("value", a.Value)
	case AuthBasic:
		need("username", a.Username)
		need("password", a.Password)
	case AuthBearer:
		need("token", a.Token)
	case AuthOAuth2ClientCredentials, AuthOAuth2AuthorizationCode:
		need("token_url", a.TokenURL)
		need("client_id", a.ClientID)
		need("client_secret", a.ClientSecret)
		if a.Kind == AuthOAuth2AuthorizationCode {
			need("authorize_url", a.AuthorizeURL)
		} else if a.AuthorizeURL != "" {
			p.add("auth.authorize_url", "is only for oauth2_authorization_code")
		}
		if a.AuthStyle != "" && a.AuthStyle != "header" && a.AuthStyle != "params" {
			p.add("auth.auth_style", "must be header or params")
		}
		for k, val := range a.Params {
			v.template("auth.params."+k, val, scopeConfig)
		}
	case AuthOAuth1TBA:
		need("consumer_key", a.ConsumerKey)
		need("consumer_secret", a.ConsumerSecret)
		need("token_id", a.TokenID)
		need("token_secret", a.TokenSecret)
		need("realm", a.Realm)
	case "":
		p.add("auth.kind", "is required: one of "+strings.Join(authKinds, ", "))
	default:
		p.addf("auth.kind", "unknown auth kind %q: one of %s", a.Kind, strings.Join(authKinds, ", "))
	}
	if a.Hook != "" && !hookRE.MatchString(a.Hook) {
		p.add("auth.hook", "must be a lowercase identifier")
	}
}

var authKinds = []string{AuthNone, AuthAPIKey, AuthBasic, AuthBearer, AuthOAuth2ClientCredentials, AuthOAuth2AuthorizationCode, AuthOAuth1TBA}

func (v *validator) rate(r *RateLimit) {
	if r == nil {
		return
	}
	for f, h := range map[string]string{"remaining_header": r.RemainingHeader, "limit_header": r.LimitHeader, "reset_header": r.ResetHeader} {
		if h != "" && !headerRE.MatchString(h) {
			v.p.add("rate_limit."+f, "must be a header name")
		}
	}
	if r.ResetUnit != "" && r.ResetUnit != "s" && r.ResetUnit != "ms" {
		v.p.add("rate_limit.reset_unit", "must be s or ms")
	}
	if r.RemainingHeader == "" && r.RemainingPath == "" && r.Hook == "" {
		v.p.add("rate_limit", "needs remaining_header, remaining_path or hook")
	}
	if r.Hook != "" && !hookRE.MatchString(r.Hook) {
		v.p.add("rate_limit.hook", "must be a lowercase identifier")
	}
}

// template checks the placeholders of s against what scope allows.
func (v *validator) template(at, s string, sc scope) {
	if strings.Count(s, "{{") != strings.Count(s, "}}") || strings.Count(s, "{{") != len(parseTemplate(s).names()) {
		v.p.add(at, "malformed placeholder: write {{name}}")
		return
	}
	for _, n := range parseTemplate(s).names() {
		if msg := v.checkName(n, sc); msg != "" {
			v.p.add(at, msg)
		}
	}
}

func (v *validator) checkName(n string, sc scope) string {
	ns, rest, dotted := strings.Cut(n, ".")
	switch {
	case dotted && (ns == "settings" || ns == "secrets"):
		f, ok := v.m.Schema.Field(rest)
		if !ok {
			return fmt.Sprintf("{{%s}}: %q is not a settings property", n, rest)
		}
		if f.Secret != (ns == "secrets") {
			if f.Secret {
				return fmt.Sprintf("{{%s}}: %q is x-secret; write {{secrets.%s}}", n, rest, rest)
			}
			return fmt.Sprintf("{{%s}}: %q is not x-secret; write {{settings.%s}}", n, rest, rest)
		}
		return ""
	case !dotted && slices.Contains(requestNames, n) && sc&scopeRequest != 0:
		return ""
	case sc&scopeNotify != 0 && dotted && (ns == "notification" || ns == "parent" || ns == "vars") && rest != "":
		return ""
	case sc&scopeWrite != 0 && dotted && ns == "record" && slices.Contains(recordNames, rest):
		return ""
	case sc&scopeWrite != 0 && dotted && ns == "snapshot" && rest != "":
		return ""
	case sc&scopeLines != 0 && n == "ids":
		return ""
	case sc&scopeDelta != 0 && n == "delta":
		return ""
	case sc&scopeWrite != 0 && !dotted && (n == "ref" || n == "idempotency_key" || n == "now"):
		return ""
	}
	return fmt.Sprintf("{{%s}} is not a placeholder available here", n)
}

var methods = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}

func (v *validator) request(at string, r *RequestSpec, sc scope, write bool) {
	if r.Method == "" {
		r.Method = "GET"
	}
	if !slices.Contains(methods, r.Method) {
		v.p.add(at+".method", "must be one of "+strings.Join(methods, ", "))
	}
	if r.Path == "" {
		v.p.add(at+".path", "is required")
	} else {
		v.template(at+".path", r.Path, sc)
		if !strings.HasPrefix(r.Path, "/") && !strings.HasPrefix(r.Path, "https://") && !strings.HasPrefix(r.Path, "{{") {
			v.p.add(at+".path", "must start with / (relative to base_url) or https://")
		}
	}
	for _, q := range r.Query {
		k, _ := q.Key.(string)
		val, ok := q.Value.(string)
		if !ok {
			val = fmt.Sprint(q.Value)
		}
		v.template(at+".query."+k, val, sc)
	}
	for k, val := range r.Headers {
		if !headerRE.MatchString(k) {
			v.p.addf(at+".headers", "%q is not a header name", k)
		}
		v.template(at+".headers."+k, val, sc)
	}
	if r.Body != "" {
		if r.Method == "GET" || r.Method == "DELETE" {
			v.p.add(at+".body", "a "+r.Method+" request has no body")
		}
		v.template(at+".body", r.Body, sc)
	}
	if len(r.Expect) > 0 && !write {
		v.p.add(at+".expect", "is only for write verification")
	}
	for k, val := range r.Expect {
		v.template(at+".expect."+k, val, sc)
	}
}

func (v *validator) stream(i int, f *streamFile) {
	p := v.p
	at := fmt.Sprintf("streams[%d]", i)
	s := &Stream{Key: f.Key, Mode: f.Mode, Record: f.Record, Schedule: f.Schedule, Request: f.Request,
		MappingFile: f.Mapping, Hook: f.Hook, EventID: f.EventID, EventType: f.EventType, Events: f.Events,
		Setup: strings.TrimSpace(f.Setup)}
	if !streamRE.MatchString(f.Key) {
		p.add(at+".key", "must match "+streamRE.String())
	}
	for _, o := range v.m.Streams {
		if o.Key == f.Key {
			p.addf(at+".key", "stream %q repeated", f.Key)
		}
	}
	var resource mapping.Resource
	switch f.Record {
	case RecordItem:
		resource = mapping.ConnectorItems
	case RecordOrder:
		resource = mapping.ConnectorOrders
	case RecordInventoryLevel:
		resource = mapping.ConnectorInventoryLevels
	default:
		p.addf(at+".record", "must be item, order or inventory_level, not %q", f.Record)
	}
	if f.Records != "" {
		s.Records = splitPath(f.Records)
	}
	if f.Hook != "" && !hookRE.MatchString(f.Hook) {
		p.add(at+".hook", "must be a lowercase identifier")
	}
	switch f.Mode {
	case "poll":
		// Several poll streams may read one record kind (QuickBooks sales
		// receipts and invoices as orders), but records are keyed by
		// connector + upstream id, and two upstream tables number their
		// rows on their own: each stream after the first needs its own
		// source_prefix so the ids can never collide.
		for _, o := range v.m.pollStreams(f.Record) {
			if o.SourcePrefix == f.SourcePrefix {
				p.addf(at+".source_prefix", "poll stream %s also reads %s records with source_prefix %q: give each stream its own prefix so their ids cannot collide", o.Key, f.Record, f.SourcePrefix)
			}
		}
		if f.Schedule == "" {
			s.Schedule = "15m"
		} else if d, err := time.ParseDuration(f.Schedule); err == nil {
			if d < time.Minute {
				p.add(at+".schedule", "an interval must be at least 1m")
			}
		} else if _, err := connectors.ParseCron(f.Schedule); err != nil {
			p.add(at+".schedule", "must be a duration like 15m or a 5-field cron expression: "+err.Error())
		}
		if f.Request == nil {
			p.add(at+".request", "is required for a poll stream")
		} else {
			v.request(at+".request", f.Request, scopeConfig|scopeRequest, false)
		}
		v.pagination(at+".pagination", f.Pagination, s)
		v.incremental(at+".incremental", f.Incremental, s)
		if f.Signature != nil || f.EventID != "" || len(f.Events) > 0 {
			p.add(at, "signature, event_id and events are for webhook streams")
		}
	case "webhook":
		if f.Request != nil || f.Pagination != nil || f.Incremental != nil || f.Schedule != "" {
			p.add(at, "request, pagination, incremental and schedule are for poll streams")
		}
		v.signature(at+".signature", f.Signature, s)
		if f.EventID == "" {
			p.add(at+".event_id", "is required: the provider's event id, to drop redeliveries")
		}
	default:
		p.addf(at+".mode", "must be poll or webhook, not %q", f.Mode)
	}
	v.webhookExtras(at, f, s)
	if f.SourcePrefix != "" {
		s.SourcePrefix = f.SourcePrefix
		if !prefixRE.MatchString(f.SourcePrefix) {
			p.add(at+".source_prefix", "must match "+prefixRE.String())
		}
	}
	if f.Lines != nil {
		s.Lines = v.lines(at+".lines", f.Lines, f)
	}
	if f.Mapping == "" {
		p.add(at+".mapping", "is required: a mapping document next to the manifest")
	} else if resource != "" {
		s.Mapping = v.mapping(at+".mapping", f.Mapping, resource)
	}
	v.m.Streams = append(v.m.Streams, s)
}

func (v *validator) mapping(at, name string, resource mapping.Resource) *mapping.Mapping {
	if strings.Contains(name, "..") || path.IsAbs(name) || strings.Contains(name, "\\") {
		v.p.add(at, "must be a file name next to the manifest")
		return nil
	}
	src, err := fs.ReadFile(v.fsys, path.Join(v.dir, name))
	file := path.Join(path.Dir(v.p.file), name) // as the operator sees it
	if err != nil {
		v.p.add(at, "cannot read "+file+": "+errText(err))
		return nil
	}
	mp, err := mapping.ParseConnector(src)
	var el mapping.ErrorList
	if errors.As(err, &el) {
		for _, e := range el {
			v.p.errs = append(v.p.errs, &Error{File: file, Line: e.Line, Column: e.Column, Field: e.Field, Message: e.Message})
		}
		return nil
	}
	if err != nil {
		v.p.add(at, err.Error())
		return nil
	}
	if mp.Resource() != resource {
		v.p.errs = append(v.p.errs, &Error{File: file, Line: 1, Column: 1, Field: "resource",
			Message: fmt.Sprintf("must be %s for this stream's record (named at %s)", resource, at)})
		return nil
	}
	return mp
}

func (v *validator) pagination(at string, f *Pagination, s *Stream) {
	p := v.p
	if f == nil {
		s.Pagination = Pagination{Kind: PageNone, MaxPages: 1} // one request, not zero
		return
	}
	pg := *f
	switch pg.Kind {
	case PageNone, PageLinkHeader:
	case PageCursor:
		if pg.CursorPath == "" {
			p.add(at+".cursor_path", "is required for cursor pagination")
		}
		if pg.CursorParam == "" {
			p.add(at+".cursor_param", "is required for cursor pagination")
		}
	case PageNextLink:
		if pg.NextPath == "" {
			p.add(at+".next_path", "is required for next_link pagination")
		}
	case PageOffset:
		pg.OffsetParam = cmpOr(pg.OffsetParam, "offset")
		pg.LimitParam = cmpOr(pg.LimitParam, "limit")
	case PageNumber:
		pg.PageParam = cmpOr(pg.PageParam, "page")
		if pg.Start == 0 {
			pg.Start = 1
		}
	default:
		p.addf(at+".kind", "unknown pagination kind %q: one of none, cursor, next_link, link_header, offset, page", pg.Kind)
	}
	switch ps := pg.PageSize.(type) {
	case nil:
	case uint64, int64, int:
		if n, _ := strconv.Atoi(fmt.Sprint(ps)); n < 1 || n > 10000 {
			p.add(at+".page_size", "must be between 1 and 10000")
		}
	case string:
		v.template(at+".page_size", ps, scopeConfig)
	default:
		p.add(at+".page_size", "must be an integer or a {{settings.x}} template")
	}
	if pg.MaxPages < 0 {
		p.add(at+".max_pages", "must not be negative")
	}
	if pg.MaxPages == 0 {
		pg.MaxPages = 10000
	}
	s.Pagination = pg
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (v *validator) incremental(at string, f *incrementalFile, s *Stream) {
	if f == nil {
		return
	}
	in := &Incremental{Format: cmpOr(f.Format, "rfc3339"), Zone: time.UTC}
	if f.Field == "" {
		v.p.add(at+".field", "is required: the record's modification time")
	} else {
		in.Field = splitPath(f.Field)
	}
	checkFormat := func(field, fm string) {
		switch fm {
		case "rfc3339", "unix", "unix_ms":
		default:
			if !strings.ContainsAny(fm, "0126") {
				v.p.addf(at+"."+field, "%q is not rfc3339, unix, unix_ms or a Go time layout", fm)
			}
		}
	}
	checkFormat("format", in.Format)
	in.SinceFormat = cmpOr(f.SinceFormat, in.Format)
	checkFormat("since_format", in.SinceFormat)
	if f.Zone != "" {
		loc, err := time.LoadLocation(f.Zone)
		if err != nil {
			v.p.add(at+".zone", "unknown time zone")
		} else {
			in.Zone = loc
		}
	}
	if f.Overlap != "" {
		d, err := time.ParseDuration(f.Overlap)
		if err != nil || d < 0 || d > 24*time.Hour {
			v.p.add(at+".overlap", "must be a duration between 0 and 24h")
		}
		in.Overlap = d
	}
	s.Incremental = in
}

func (v *validator) signature(at string, f *signatureFile, s *Stream) {
	if f == nil {
		v.p.add(at, "is required: webhooks are verified before anything else runs")
		return
	}
	sig := &Signature{Kind: f.Kind, Secret: f.Secret, Header: f.Header, Algorithm: cmpOr(f.Algorithm, "sha256"),
		Encoding: cmpOr(f.Encoding, "hex"), Prefix: f.Prefix, Tolerance: 5 * time.Minute}
	switch f.Kind {
	case SigStripe, SigStandardWebhooks, SigShopify:
	case SigSharedSecret, SigBodySecret:
		v.secretSignature(at, f, sig)
	case SigHMAC:
		if !headerRE.MatchString(f.Header) {
			v.p.add(at+".header", "is required for hmac: the header carrying the signature")
		}
		if sig.Algorithm != "sha256" && sig.Algorithm != "sha1" && sig.Algorithm != "sha512" {
			v.p.add(at+".algorithm", "must be sha256, sha512 or sha1")
		}
		if sig.Encoding != "hex" && sig.Encoding != "base64" {
			v.p.add(at+".encoding", "must be hex or base64")
		}
	default:
		v.p.addf(at+".kind", "unknown signature kind %q: one of stripe, shopify, hmac, standard_webhooks, shared_secret, body_secret", f.Kind)
	}
	if f.Secret == "" {
		v.p.add(at+".secret", "is required")
	} else {
		v.template(at+".secret", f.Secret, scopeConfig)
		if n, ok := parseTemplate(f.Secret).only(); !ok || !strings.HasPrefix(n, "secrets.") {
			v.p.add(at+".secret", "must be one x-secret setting, like {{secrets.webhook_secret}}")
		}
	}
	if f.Tolerance != "" {
		d, err := time.ParseDuration(f.Tolerance)
		if err != nil || d <= 0 || d > time.Hour {
			v.p.add(at+".tolerance", "must be a duration between 1s and 1h")
		}
		sig.Tolerance = d
	}
	s.Signature = sig
}

func (v *validator) write(i int, f *writeFile) {
	p := v.p
	at := fmt.Sprintf("write[%d]", i)
	w := &Write{Key: f.Key, Object: f.Object, Action: f.Action, Request: f.Request,
		IdempotencyHeader: f.IdempotencyHeader, Snapshot: f.Snapshot, Verify: f.Verify, Rollback: f.Rollback,
		Existing: f.Existing, BodyHook: f.BodyHook, RefHeader: f.RefHeader}
	if !streamRE.MatchString(f.Key) {
		p.add(at+".key", "must match "+streamRE.String())
	}
	if !slices.Contains([]string{"fulfillment", "inventory_level", "item"}, f.Object) {
		p.add(at+".object", "must be fulfillment, inventory_level or item")
	}
	if !slices.Contains([]string{"create", "update", "delete"}, f.Action) {
		p.add(at+".action", "must be create, update or delete")
	}
	for _, o := range v.m.Writes {
		if o.Object == f.Object && o.Action == f.Action && o.SourcePrefix == f.SourcePrefix {
			p.addf(at, "a %s %s action with source_prefix %q already exists (%s)", f.Action, f.Object, f.SourcePrefix, o.Key)
		}
	}
	if w.SourcePrefix = f.SourcePrefix; f.SourcePrefix != "" && !slices.ContainsFunc(v.m.Streams, func(s *Stream) bool { return s.SourcePrefix == f.SourcePrefix }) {
		p.add(at+".source_prefix", "no stream has this source_prefix")
	}
	sc := scopeConfig | scopeWrite
	if f.DeltaFrom != "" {
		w.DeltaFrom = splitPath(f.DeltaFrom)
		sc |= scopeDelta
		if f.Snapshot == nil {
			p.add(at+".delta_from", "needs a snapshot: the delta is taken from the quantity it reads")
		}
		if f.Object != "inventory_level" {
			p.add(at+".delta_from", "is for inventory_level actions")
		}
	}
	if f.Request == nil {
		p.add(at+".request", "is required")
	} else {
		v.request(at+".request", f.Request, sc, true)
	}
	if f.Verify == nil {
		p.add(at+".verify", "is required: a write is done only when a read confirms it")
	} else {
		v.request(at+".verify", f.Verify, sc, true)
	}
	for name, r := range map[string]*RequestSpec{"snapshot": f.Snapshot, "rollback": f.Rollback} {
		if r != nil {
			v.request(at+"."+name, r, sc, true)
		}
	}
	if f.Rollback != nil && f.Snapshot == nil && f.Action != "create" {
		p.add(at+".snapshot", "is required with rollback for "+f.Action+": rollback restores the snapshot")
	}
	if f.IdempotencyHeader != "" && !headerRE.MatchString(f.IdempotencyHeader) {
		p.add(at+".idempotency_header", "must be a header name")
	}
	if f.RefPath != "" {
		w.RefPath = splitPath(f.RefPath)
	}
	if e := f.Existing; e != nil {
		v.request(at+".existing", &e.RequestSpec, sc, true)
		if len(e.Match) == 0 {
			p.add(at+".existing.match", "is required: the fields that identify the earlier write")
		}
		for k, val := range e.Match {
			v.template(at+".existing.match."+k, val, sc)
		}
		if f.Action != "create" {
			p.add(at+".existing", "is only for create actions")
		}
	}
	if f.RefHeader != "" && !headerRE.MatchString(f.RefHeader) {
		p.add(at+".ref_header", "must be a header name")
	}
	if f.BodyHook != "" && !streamRE.MatchString(f.BodyHook) {
		p.add(at+".body_hook", "must match "+streamRE.String())
	}
	v.m.Writes = append(v.m.Writes, w)
}

// capabilities derives the connector's capabilities, and applies the
// registry's refusal of a connector that declares none.
func (v *validator) capabilities() {
	var caps []connectors.Capability
	for _, c := range []struct {
		rec string
		cp  connectors.Capability
	}{{RecordOrder, connectors.CapSyncOrders}, {RecordItem, connectors.CapSyncItems}, {RecordInventoryLevel, connectors.CapSyncInventory}} {
		if v.m.pollStream(c.rec) != nil {
			caps = append(caps, c.cp)
		}
	}
	if v.m.write("fulfillment", "create") != nil {
		caps = append(caps, connectors.CapPushFulfillment)
	}
	if len(caps) == 0 {
		v.p.add("streams", "declares no capabilities: add a poll stream or a fulfillment create action (webhook streams ride along with them)")
	}
	v.m.Caps = caps
}

// prefixRE is a source_prefix: a word and a colon, so a prefixed id
// ("invoice:12") reads as what it is.
var prefixRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}:$`)

// lines validates a stream's lines request.
func (v *validator) lines(at string, f *linesFile, s *streamFile) *Lines {
	p := v.p
	l := &Lines{Request: f.Request, Records: splitPath(f.Records), Parent: splitPath(f.Parent),
		ID: splitPath(cmp.Or(f.ID, "id")), Into: cmp.Or(f.Into, "lines")}
	if f.Records == "" {
		l.Records = nil
	}
	if s.Mode != "poll" {
		p.add(at, "is for poll streams")
	}
	if s.Hook != "" {
		p.add(at, "cannot be used with a response hook")
	}
	if f.Request == nil {
		p.add(at+".request", "is required")
	} else {
		v.request(at+".request", f.Request, scopeConfig|scopeRequest|scopeLines, false)
		if !slices.Contains(parseTemplate(f.Request.Path+f.Request.Body+fmt.Sprint(f.Request.Query)).names(), "ids") {
			p.add(at+".request", "must name {{ids}}, the ids of the page's records")
		}
	}
	if f.Parent == "" {
		p.add(at+".parent", "is required: the field of a line that holds its record's id")
	}
	if pg := s.Pagination; pg != nil && pg.Kind != PageOffset && pg.Kind != PageNone {
		p.add(at, "needs offset pagination (or none): the lines request is paged like its stream")
	}
	return l
}
