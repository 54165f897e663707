package manifest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"sentryhub/connectors"
)

// Signer is a Go hook that signs a request after the built-in auth (a
// provider quirk the manifest cannot express).
type Signer func(ctx context.Context, req *http.Request, env connectors.Env) error

// ResponseHook is a Go hook that reads one page of a poll stream itself:
// it returns the page's records and the next page's URL ("" for the last).
type ResponseHook func(resp *connectors.Response) (records []any, next string, err error)

// Hooks are the Go hooks manifests may name. A manifest naming a hook that
// is not here is refused at registration.
type Hooks struct {
	Signers   map[string]Signer
	Budgets   map[string]connectors.BudgetReader
	Responses map[string]ResponseHook
	Bodies    map[string]BodyHook
}

// Options configure manifest connectors at registration.
type Options struct {
	Hooks Hooks
	// BaseURL maps a manifest key to a URL whose scheme and host replace
	// those of every absolute URL the connector calls (base_url, token
	// and authorization URLs), and which is allowed as a host: tests point
	// a manifest at its fake upstream with it.
	BaseURL map[string]string
}

// Register validates the manifest in dir of fsys and registers it.
func Register(r *connectors.Registry, fsys fs.FS, dir string, o Options) error {
	m, err := Load(fsys, dir)
	if err != nil {
		return err
	}
	return RegisterManifest(r, m, o)
}

// RegisterAll registers every */manifest.yaml under root of fsys, in name
// order. Every manifest is tried; the errors of all that fail are joined.
func RegisterAll(r *connectors.Registry, fsys fs.FS, root string, o Options) error {
	entries, err := fs.ReadDir(fsys, root)
	if err != nil {
		return fmt.Errorf("read connector manifests in %s: %w", root, err)
	}
	var errs []error
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := path.Join(root, e.Name())
		if _, err := fs.Stat(fsys, path.Join(dir, FileName)); err != nil {
			continue
		}
		if err := Register(r, fsys, dir, o); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RegisterManifest registers a loaded manifest, refusing it when it names
// hooks that o does not provide. The registry applies its usual refusals
// (name taken, schema, capabilities).
func RegisterManifest(r *connectors.Registry, m *Manifest, o Options) error {
	p := &problems{file: m.File, ast: m.ast}
	if h := m.Auth.Hook; h != "" && o.Hooks.Signers[h] == nil {
		p.addf("auth.hook", "no Go signer named %q is registered", h)
	}
	if m.Rate != nil && m.Rate.Hook != "" && o.Hooks.Budgets[m.Rate.Hook] == nil {
		p.addf("rate_limit.hook", "no Go budget reader named %q is registered", m.Rate.Hook)
	}
	for i, s := range m.Streams {
		if s.Hook != "" && o.Hooks.Responses[s.Hook] == nil {
			p.addf(fmt.Sprintf("streams[%d].hook", i), "no Go response hook named %q is registered", s.Hook)
		}
	}
	for i, w := range m.Writes {
		if w.BodyHook != "" && o.Hooks.Bodies[w.BodyHook] == nil {
			p.addf(fmt.Sprintf("write[%d].body_hook", i), "no Go body hook named %q is registered", w.BodyHook)
		}
	}
	if len(p.errs) > 0 {
		return p.errs
	}
	d := &driver{m: m, opts: o, tokens: map[int64]*tokenState{}}
	return r.Register(m.Key, d.new)
}

// driver builds the connector instances of one manifest and holds what
// outlives an instance: OAuth 2.0 tokens per warehouse.
type driver struct {
	m    *Manifest
	opts Options

	mu     sync.Mutex
	tokens map[int64]*tokenState
}

func (d *driver) tokenState(wh int64) *tokenState {
	d.mu.Lock()
	defer d.mu.Unlock()
	ts, ok := d.tokens[wh]
	if !ok {
		ts = &tokenState{lock: make(chan struct{}, 1)}
		d.tokens[wh] = ts
	}
	return ts
}

// Conn is a manifest connector bound to one warehouse.
type Conn struct {
	d    *driver
	m    *Manifest
	env  connectors.Env
	http *connectors.Client
	tok  *tokenState
}

var _ connectors.Connector = (*Conn)(nil)

func (d *driver) new(env connectors.Env) connectors.Connector {
	c := &Conn{d: d, m: d.m, env: env}
	if env.HTTP == nil {
		return c // registration probe: schema and capabilities only
	}
	c.tok = d.tokenState(env.WarehouseID)
	for _, s := range env.Secrets {
		env.HTTP.AddSecret(string(s.Reveal()))
	}
	c.http = env.HTTP.With(connectors.Provider{
		AllowHost:   c.allowHost,
		Authorize:   c.authorize,
		Budget:      c.budgetReader(),
		ErrorFields: c.errorFields(),
	})
	return c
}

// Manifest returns the connector's manifest.
func (c *Conn) Manifest() *Manifest { return c.m }

// ConfigSchema is the manifest's settings schema.
func (c *Conn) ConfigSchema() connectors.Schema { return c.m.Schema }

// Capabilities are derived from the manifest's streams and writes.
func (c *Conn) Capabilities() []connectors.Capability { return slices.Clone(c.m.Caps) }

// vars resolves config placeholders: settings (or their defaults) and
// secrets.
func (c *Conn) configVar(name string) (string, bool) {
	ns, key, _ := strings.Cut(name, ".")
	switch ns {
	case "settings":
		if v, ok := c.env.Settings[key]; ok {
			return v, true
		}
		f, _ := c.m.Schema.Field(key)
		return f.Default, true
	case "secrets":
		return string(c.env.Secret(key).Reveal()), true
	}
	return "", false
}

func (c *Conn) render(s string, extra func(string) string) string {
	return c.renderEsc(s, extra, nil)
}

// renderEsc renders s, passing each placeholder's value through esc (path
// or JSON escaping) so a value cannot change the request's structure.
func (c *Conn) renderEsc(s string, extra func(string) string, esc func(string) string) string {
	return renderString(s, func(n string) string {
		v, ok := c.configVar(n)
		if !ok && extra != nil {
			v = extra(n)
		}
		if esc != nil {
			return esc(v)
		}
		return v
	})
}

// override replaces scheme and host of an absolute URL with the test
// override, when there is one.
func (c *Conn) override(raw string) string {
	o := c.d.opts.BaseURL[c.m.Key]
	if o == "" {
		return raw
	}
	ou, err := url.Parse(o)
	if err != nil {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return raw
	}
	u.Scheme, u.Host = ou.Scheme, ou.Host
	if u.Path == "" || ou.Path != "" && ou.Path != "/" && raw == c.render(c.m.BaseURL, nil) {
		u.Path = strings.TrimRight(ou.Path, "/") + u.Path
	}
	return u.String()
}

func (c *Conn) baseURL() string {
	return strings.TrimRight(c.override(c.render(c.m.BaseURL, nil)), "/")
}

// resolve turns a rendered path into an absolute URL.
func (c *Conn) resolve(p string) string {
	if strings.HasPrefix(p, "https://") || strings.HasPrefix(p, "http://") {
		return c.override(p)
	}
	return c.baseURL() + p
}

func (c *Conn) allowHost(host string) bool {
	if o := c.d.opts.BaseURL[c.m.Key]; o != "" {
		if u, err := url.Parse(o); err == nil && strings.EqualFold(u.Hostname(), host) {
			return true
		}
	}
	for _, h := range c.m.Hosts {
		if strings.Contains(h, "{{") {
			u, err := url.Parse(c.render(h, nil))
			if err == nil && u.Hostname() != "" && strings.EqualFold(u.Hostname(), host) {
				return true
			}
			continue
		}
		if rest, ok := strings.CutPrefix(h, "*."); ok {
			if strings.HasSuffix(host, "."+rest) {
				return true
			}
			continue
		}
		if h == host {
			return true
		}
	}
	return false
}

// missing reports required settings and secrets that are absent.
func (c *Conn) missing() error {
	bad := map[string]string{}
	for _, f := range c.m.Schema.Fields {
		if !f.Required {
			continue
		}
		if f.Secret && c.env.Secret(f.Name).IsZero() || !f.Secret && c.env.Settings[f.Name] == "" && f.Default == "" {
			bad[f.Name] = "is required"
		}
	}
	if len(bad) > 0 {
		return &connectors.ConfigError{Connector: c.m.Key, Fields: bad}
	}
	return nil
}

// send renders spec and sends it; extra resolves request placeholders.
// With OAuth 2.0 it fetches or refreshes the token first, and on a 401
// refreshes once and resends.
func (c *Conn) send(ctx context.Context, spec *RequestSpec, extra func(string) string, hdr http.Header) (*connectors.Response, error) {
	req, err := c.build(spec, extra, hdr)
	if err != nil {
		return nil, err
	}
	return c.do(ctx, req)
}

func (c *Conn) do(ctx context.Context, req connectors.Request) (*connectors.Response, error) {
	if err := c.ensureToken(ctx, false); err != nil {
		return nil, err
	}
	resp, err := c.http.Do(ctx, req)
	var he *connectors.HTTPError
	if err != nil && c.isOAuth2() && errors.As(err, &he) && he.Status == http.StatusUnauthorized {
		if rerr := c.ensureToken(ctx, true); rerr != nil {
			return nil, rerr
		}
		return c.http.Do(ctx, req)
	}
	return resp, err
}

func (c *Conn) build(spec *RequestSpec, extra func(string) string, hdr http.Header) (connectors.Request, error) {
	u, err := url.Parse(c.resolve(c.renderEsc(spec.Path, extra, url.PathEscape)))
	if err != nil {
		return connectors.Request{}, fmt.Errorf("%s: request URL does not parse", c.m.Key)
	}
	q := u.Query()
	for _, item := range spec.Query {
		k, _ := item.Key.(string)
		raw := fmt.Sprint(item.Value)
		if name, ok := strings.CutSuffix(k, "?"); ok {
			// "key?": left out when any placeholder in it is empty, so
			// "$filter?: modified gt {{since}}" is not sent on a first run.
			k = name
			if c.anyEmpty(raw, extra) {
				continue
			}
		}
		v := c.render(raw, extra)
		if v == "" {
			continue // an empty placeholder (first run's since) drops the parameter
		}
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	h := http.Header{"Accept": {"application/json"}}
	for k, v := range spec.Headers {
		h.Set(k, c.render(v, extra))
	}
	for k, vs := range hdr {
		h[k] = vs
	}
	req := connectors.Request{Method: spec.Method, URL: u.String(), Header: h}
	if spec.Body != "" {
		if h.Get("Content-Type") == "" {
			h.Set("Content-Type", "application/json")
		}
		switch ct := h.Get("Content-Type"); {
		case strings.Contains(ct, "json"):
			req.Body = []byte(c.renderJSON(spec.Body, extra))
		case strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "application/x-www-form-urlencoded"):
			// Each value is form-escaped, so a name with "&" or "=" in it
			// stays one value instead of adding fields.
			req.Body = []byte(c.renderEsc(spec.Body, extra, url.QueryEscape))
		default:
			req.Body = []byte(c.render(spec.Body, extra))
		}
	}
	return req, nil
}

// anyEmpty reports whether one of the placeholders in s renders empty.
func (c *Conn) anyEmpty(s string, extra func(string) string) bool {
	for _, n := range parseTemplate(s).names() {
		if c.render("{{"+n+"}}", extra) == "" {
			return true
		}
	}
	return false
}

// TestConnection sends the manifest's test request.
func (c *Conn) TestConnection(ctx context.Context) (connectors.ConnectionResult, error) {
	if err := c.missing(); err != nil {
		return connectors.NewConnectionResult(false, err.Error()), nil
	}
	if _, err := c.send(ctx, c.m.Test, nil, nil); err != nil {
		return connectors.NewConnectionResult(false, c.http.Scrub(err.Error())), nil
	}
	return connectors.NewConnectionResult(true, "connected to "+c.m.Name), nil
}

// SyncOrders runs the order poll stream.
func (c *Conn) SyncOrders(ctx context.Context, since time.Time) (connectors.SyncResult, error) {
	return c.syncRecord(ctx, RecordOrder, connectors.CapSyncOrders, since)
}

// SyncItems runs the item poll stream.
func (c *Conn) SyncItems(ctx context.Context, since time.Time) (connectors.SyncResult, error) {
	return c.syncRecord(ctx, RecordItem, connectors.CapSyncItems, since)
}

// SyncInventory runs the inventory level poll stream.
func (c *Conn) SyncInventory(ctx context.Context, since time.Time) (connectors.SyncResult, error) {
	return c.syncRecord(ctx, RecordInventoryLevel, connectors.CapSyncInventory, since)
}

func (c *Conn) syncRecord(ctx context.Context, record string, cp connectors.Capability, since time.Time) (connectors.SyncResult, error) {
	streams := c.m.pollStreams(record)
	if len(streams) == 0 {
		return connectors.SyncResult{}, connectors.Unsupported(c.m.Key, cp)
	}
	if err := c.missing(); err != nil {
		return connectors.SyncResult{}, err
	}
	// Streams of one record kind share the sync's cursor: each reads what
	// changed since it, and the latest change any of them saw moves it on.
	var res connectors.SyncResult
	for _, s := range streams {
		r, err := c.poll(ctx, s, since)
		res = mergeResults(res, r)
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// mergeResults adds up the results of two streams of one sync.
func mergeResults(a, b connectors.SyncResult) connectors.SyncResult {
	a.Success = a.Success || b.Success
	a.RecordsSynced += b.RecordsSynced
	a.RecordsSkipped += b.RecordsSkipped
	a.RecordsFailed += b.RecordsFailed
	if b.MaxSeen.After(a.MaxSeen) {
		a.MaxSeen = b.MaxSeen
	}
	a.Notes = strings.TrimSpace(a.Notes + " " + b.Notes)
	a.Failures = append(a.Failures, b.Failures...)
	return a
}
