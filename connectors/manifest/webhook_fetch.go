package manifest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"sentryhub/connectors"
	"sentryhub/store"
)

// Thin webhook streams: providers whose notifications name what changed
// (an entity id) instead of carrying the record. The receiver verifies
// the delivery, splits it into notifications, keeps those meant for this
// connection, and stores each as its own event, deduplicated on an id
// built from the notification; the worker later fetches the entity with
// the connection's auth (same HTTP helper, allowed hosts and rate limits)
// and maps and writes it like a polled record. Nothing is fetched before
// the provider gets its answer.

// Thin is the validated thin part of a webhook stream.
type Thin struct {
	// Notifications is a wildcard path ("*" = every element of a list)
	// to the notifications in a delivery; empty: the body is one.
	Notifications []string
	// Match: every name (notification.X, parent.X or vars.X) must equal its
	// value (a config template, rendered) or the notification is not for this
	// connection and is ignored.
	Match map[string]string
	Vars  []thinVar
	// EventID and EventType are templates over the notification.
	EventID, EventType string
	// Fetch is the request reading the entity; the stream's records
	// selector applies to its answer.
	Fetch *RequestSpec
	// names are the notification placeholders the stream uses, found
	// once at load instead of per notification.
	names []string
}

type thinVar struct {
	Name    string
	From    []string // path inside the notification
	Pattern *regexp.Regexp
}

type varFile struct {
	From    string `yaml:"from"`
	Pattern string `yaml:"pattern"`
}

// Handshake is an endpoint validation the provider runs before it sends
// anything (Business Central's validationToken): a delivery with an empty
// body and the named query parameter is answered 200 with the parameter's
// value as plain text, before and without a signature. Only a bounded
// printable token is echoed.
type Handshake struct {
	Query string `yaml:"query"`
}

// scopeNotify allows notification.X, parent.X and vars.X placeholders.
const scopeNotify scope = 1 << 6

// maxNotificationValue bounds a value taken from a notification into a
// stored event and a fetch request.
const maxNotificationValue = 512

// maxHandshakeToken bounds an echoed validation token.
const maxHandshakeToken = 1024

func (v *validator) webhookExtras(at string, f *streamFile, s *Stream) {
	p := v.p
	if f.Handshake != nil {
		if f.Mode != "webhook" {
			p.add(at+".handshake", "is for webhook streams")
		} else if !headerRE.MatchString(f.Handshake.Query) {
			p.add(at+".handshake.query", "is required: the query parameter carrying the validation token")
		}
		s.Handshake = f.Handshake
	}
	if f.Fetch == nil {
		if f.Notifications != "" || len(f.Match) > 0 || len(f.Vars) > 0 {
			p.add(at, "notifications, match and vars are for thin webhook streams: add fetch")
		}
		return
	}
	if f.Mode != "webhook" {
		p.add(at+".fetch", "is for webhook streams")
		return
	}
	th := &Thin{Match: f.Match, EventID: f.EventID, EventType: f.EventType, Fetch: f.Fetch}
	if f.Notifications != "" {
		th.Notifications = splitPath(f.Notifications)
	}
	for _, name := range slices.Sorted(maps.Keys(f.Vars)) {
		vf := f.Vars[name]
		vat := at + ".vars." + name
		if !streamRE.MatchString(name) {
			p.add(vat, "must be a lowercase identifier")
		}
		from, ok := strings.CutPrefix(vf.From, "notification.")
		if !ok || from == "" {
			p.add(vat+".from", "must be a path in the notification, like notification.resource")
		}
		re, err := regexp.Compile(vf.Pattern)
		switch {
		case vf.Pattern == "":
			p.add(vat+".pattern", "is required: a regular expression with one group")
		case err != nil:
			p.add(vat+".pattern", "does not compile: "+err.Error())
		case re.NumSubexp() != 1:
			p.add(vat+".pattern", "must have exactly one group (the value)")
		}
		th.Vars = append(th.Vars, thinVar{Name: name, From: splitPath(from), Pattern: re})
	}
	known := func(name string) bool {
		if rest, ok := strings.CutPrefix(name, "vars."); ok {
			return slices.ContainsFunc(th.Vars, func(tv thinVar) bool { return tv.Name == rest })
		}
		for _, ns := range []string{"notification.", "parent."} {
			if rest, ok := strings.CutPrefix(name, ns); ok && rest != "" {
				return true
			}
		}
		return false
	}
	checkNames := func(fat, tpl string) {
		for _, n := range parseTemplate(tpl).names() {
			if strings.HasPrefix(n, "vars.") && !known(n) {
				p.addf(fat, "{{%s}}: no such var", n)
			}
		}
	}
	for k, val := range f.Match {
		if !known(k) {
			p.addf(at+".match", "%q must be notification.PATH, parent.PATH or vars.NAME", k)
		}
		v.template(at+".match."+k, val, scopeConfig)
	}
	v.template(at+".event_id", f.EventID, scopeNotify)
	if len(parseTemplate(f.EventID).names()) == 0 {
		p.add(at+".event_id", "in a thin stream is a template over the notification, like {{notification.id}}")
	}
	checkNames(at+".event_id", f.EventID)
	if f.EventType == "" && len(f.Events) > 0 {
		p.add(at+".event_type", "is required with events: the notification's type, like {{notification.type}}")
	}
	if f.EventType != "" {
		v.template(at+".event_type", f.EventType, scopeNotify)
		checkNames(at+".event_type", f.EventType)
	}
	v.request(at+".fetch", f.Fetch, scopeConfig|scopeNotify, false)
	for _, t := range requestTexts(f.Fetch) {
		checkNames(at+".fetch", t)
	}
	th.names = parseTemplate(th.EventID + th.EventType).names()
	for _, t := range requestTexts(th.Fetch) {
		th.names = append(th.names, parseTemplate(t).names()...)
	}
	for _, k := range slices.Sorted(maps.Keys(th.Match)) {
		th.names = append(th.names, k)
	}
	s.Thin = th
}

func requestTexts(r *RequestSpec) []string {
	out := []string{r.Path, r.Body}
	for _, q := range r.Query {
		out = append(out, fmt.Sprint(q.Value))
	}
	for _, h := range r.Headers {
		out = append(out, h)
	}
	return out
}

// each follows a wildcard path: "*" fans out over a list's elements.
func each(doc any, path []string) []any {
	for i, k := range path {
		if k != "*" {
			doc = lookup(doc, []string{k})
			continue
		}
		list, _ := doc.([]any)
		var out []any
		for _, el := range list {
			out = append(out, each(el, path[i+1:])...)
		}
		return out
	}
	if doc == nil {
		return nil
	}
	return []any{doc}
}

// located is a notification with the element that holds it: the one
// matched by the previous "*" (or the whole body), for batches grouped by
// account like Intuit's earlier {eventNotifications: [{realmId,
// dataChangeEvent: {entities: [...]}}]}.
type located struct{ el, parent any }

func eachWithParent(doc any, path []string) []located {
	var out []located
	var walk func(doc, parent any, path []string)
	walk = func(doc, parent any, path []string) {
		for i, k := range path {
			if k != "*" {
				doc = lookup(doc, []string{k})
				continue
			}
			list, _ := doc.([]any)
			for _, el := range list {
				if i == len(path)-1 {
					if el != nil {
						out = append(out, located{el, parent})
					}
					continue
				}
				walk(el, el, path[i+1:])
			}
			return
		}
		if doc != nil {
			out = append(out, located{doc, parent})
		}
	}
	walk(doc, doc, path)
	return out
}

func parsedJSON(body []byte) any { return parsed(&connectors.Response{Body: body}) }

// Notification is one stored event of a thin stream.
type Notification struct {
	EventID, EventType string
	Body               []byte
}

// thinEvent is what is stored for a notification: the values its fetch
// needs, already checked, so the worker does not read the delivery again.
type thinEvent struct {
	Type   string            `json:"type,omitempty"`
	Values map[string]string `json:"values"`
}

// NotificationSource splits a verified delivery of a thin stream into the
// notifications meant for this connection; ignored counts the others.
type NotificationSource interface {
	Notifications(s *Stream, doc any) (out []Notification, ignored int)
}

// Notifications implements NotificationSource for manifest connectors.
func (c *Conn) Notifications(s *Stream, doc any) ([]Notification, int) {
	th := s.Thin
	var out []Notification
	ignored := 0
	for _, n := range eachWithParent(doc, th.Notifications) {
		vals, ok := c.notificationValues(s, n)
		if !ok {
			ignored++
			continue
		}
		get := func(name string) string { return vals[name] }
		typ := renderString(th.EventType, get)
		if len(s.Events) > 0 && !slices.Contains(s.Events, typ) {
			ignored++
			continue
		}
		id := renderString(th.EventID, get)
		if len(id) > 200 {
			sum := sha256.Sum256([]byte(id)) // same notification, same id
			id = "sha256:" + hex.EncodeToString(sum[:])
		}
		body, _ := json.Marshal(thinEvent{Type: typ, Values: vals})
		out = append(out, Notification{EventID: id, EventType: typ, Body: body})
	}
	return out, ignored
}

// notificationValues resolves every notification placeholder the stream
// names; false when the notification is not for this connection or a
// value is unusable (empty, too long, a dot segment).
func (c *Conn) notificationValues(s *Stream, at located) (map[string]string, bool) {
	th := s.Thin
	n := at.el
	vals := map[string]string{}
	for _, tv := range th.Vars {
		m := tv.Pattern.FindStringSubmatch(text(lookup(n, tv.From)))
		if m == nil {
			return nil, false
		}
		vals["vars."+tv.Name] = m[1]
	}
	for _, name := range th.names {
		if _, done := vals[name]; done {
			continue
		}
		if rest, ok := strings.CutPrefix(name, "notification."); ok {
			vals[name] = text(lookup(n, splitPath(rest)))
		} else if rest, ok := strings.CutPrefix(name, "parent."); ok {
			vals[name] = text(lookup(at.parent, splitPath(rest)))
		}
	}
	for _, val := range vals {
		if val == "" || len(val) > maxNotificationValue || val == "." || val == ".." || strings.ContainsAny(val, "\r\n\x00") {
			return nil, false
		}
	}
	for k, want := range th.Match {
		if vals[k] != c.render(want, nil) {
			return nil, false
		}
	}
	return vals, true
}

// processThin fetches the entity a stored notification names, and maps
// and writes it through the sink.
func (c *Conn) processThin(ctx context.Context, s *Stream, body []byte) (connectors.SyncResult, error) {
	var res connectors.SyncResult
	var ev thinEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return res, fmt.Errorf("stored notification is not readable: %w", err)
	}
	if err := c.missing(); err != nil {
		return res, err
	}
	resp, err := c.send(ctx, s.Thin.Fetch, func(n string) string { return ev.Values[n] }, nil)
	if err != nil {
		return res, fmt.Errorf("stream %s: fetch: %w", s.Key, err)
	}
	doc := parsed(resp)
	if doc == nil {
		return res, &connectors.HTTPError{Kind: connectors.KindPermanent, Status: resp.Status,
			Message: "stream " + s.Key + ": fetched entity is not JSON"}
	}
	sel := lookup(doc, s.Records)
	records, ok := sel.([]any)
	if !ok {
		if sel == nil {
			return res, fmt.Errorf("stream %s: fetched entity has nothing at %s", s.Key, strings.Join(s.Records, "."))
		}
		records = []any{sel}
	}
	var pg page
	for _, rec := range records {
		c.handle(s, rec, &res, &pg)
	}
	return res, c.flush(ctx, &pg, &res)
}

// receiveThin stores each notification of a verified delivery as its own
// event. Each insert commits on its own: when one fails the provider gets
// a 503 and redelivers, and the notifications already stored are then
// dropped as duplicates, so a delivery is never half lost.
func (rx *Receiver) receiveThin(ctx context.Context, name string, warehouseID int64, s *Stream, conn WebhookSource, doc any) Reply {
	ns, ok := conn.(NotificationSource)
	if !ok {
		return Reply{Status: http.StatusNotFound, Message: "no such webhook endpoint"}
	}
	list, ignored := ns.Notifications(s, doc)
	accepted, dups := 0, 0
	for _, n := range list {
		_, dup, err := rx.db.AcceptConnectorWebhookEvent(ctx, store.ConnectorWebhookEvent{Connector: name, WarehouseID: warehouseID,
			Stream: s.Key, EventID: n.EventID, EventType: n.EventType, Body: n.Body})
		var ve *store.ValidationError
		switch {
		case errors.As(err, &ve):
			ignored++
			continue
		case err != nil:
			rx.log.Error("webhook: store notification", slog.String("error", err.Error()))
			return Reply{Status: http.StatusServiceUnavailable, Message: "try again later"}
		case dup:
			dups++
		default:
			accepted++
		}
	}
	msg := fmt.Sprintf("%d accepted, %d duplicate, %d ignored", accepted, dups, ignored)
	if accepted == 0 {
		return Reply{Status: http.StatusOK, Message: msg}
	}
	select {
	case rx.wake <- struct{}{}:
	default:
	}
	return Reply{Status: http.StatusAccepted, Message: msg}
}

// Handshake answers a provider's endpoint validation for stream, when the
// stream declares one and the request is one (an empty body with the
// token parameter); ok is false otherwise and the delivery goes on to
// Receive. An answer's Message is its plain-text body (the echoed token,
// or why it was refused). The token is echoed only when short and printable, as plain
// text, so the endpoint cannot be used to reflect markup.
func (rx *Receiver) Handshake(ctx context.Context, name string, warehouseID int64, stream string, query map[string][]string, body []byte) (Reply, bool) {
	if len(strings.TrimSpace(string(body))) > 0 || len(query) == 0 {
		return Reply{}, false
	}
	_, conn, err := rx.inst.Instance(ctx, name, warehouseID)
	if err != nil {
		return Reply{}, false // Receive gives the answer
	}
	wc, ok := conn.(WebhookSource)
	if !ok || wc.WebhookStream(stream) == nil || wc.WebhookStream(stream).Handshake == nil {
		return Reply{}, false
	}
	s := wc.WebhookStream(stream)
	vals, present := query[s.Handshake.Query]
	if !present || len(wc.WebhookSecret(s)) == 0 {
		// Without the secret every later delivery would be refused:
		// refuse the subscription now (Receive answers 401, counted).
		return Reply{}, false
	}
	if len(vals) != 1 || !plainToken(vals[0]) {
		return Reply{Status: http.StatusBadRequest, Message: "validation token must be one printable token of at most 1024 characters"}, true
	}
	rx.log.Info("webhook handshake answered", slog.String("connector", name), slog.Int64("warehouse_id", warehouseID), slog.String("stream", stream))
	return Reply{Status: http.StatusOK, Message: vals[0]}, true
}

func plainToken(s string) bool {
	if s == "" || len(s) > maxHandshakeToken {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
