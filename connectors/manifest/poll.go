package manifest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"sentryhub/connectors"
	"sentryhub/mapping"
)

// defaultPageSize is used when a paginated stream names no page size.
const defaultPageSize = 100

// poll runs one poll stream from since: pages through the upstream, maps
// each record and writes it through the sink.
func (c *Conn) poll(ctx context.Context, s *Stream, since time.Time) (connectors.SyncResult, error) {
	var res connectors.SyncResult
	pg := s.Pagination
	sinceText := ""
	if s.Incremental != nil && !since.IsZero() {
		sinceText = formatTime(since.Add(-s.Incremental.Overlap), s.Incremental.SinceFormat, s.Incremental.Zone)
	}
	pageSize := defaultPageSize
	switch ps := pg.PageSize.(type) {
	case string:
		if n, err := strconv.Atoi(c.render(ps, nil)); err == nil && n > 0 {
			pageSize = n
		}
	case nil:
	default:
		if n, err := strconv.Atoi(fmt.Sprint(ps)); err == nil && n > 0 {
			pageSize = n
		}
	}
	offset, pageNo, cursor := 0, pg.Start, ""
	if pg.Kind == PageOffset {
		offset = pg.Start // 0 unless the upstream counts from 1 (QuickBooks' STARTPOSITION)
	}
	// A request whose templates name the page position (a query language
	// that takes it in its text) is rendered again for each page instead of
	// getting the pagination parameter added.
	perPage := pagesInTemplates(s.Request)
	vars := func(n string) string {
		switch n {
		case "since":
			return sinceText
		case "page_size":
			return strconv.Itoa(pageSize)
		case "offset":
			return strconv.Itoa(offset)
		case "page":
			return strconv.Itoa(pageNo)
		case "cursor":
			return cursor
		case "now":
			return c.env.Clock.Now().UTC().Format(time.RFC3339)
		}
		return ""
	}
	req, err := c.build(s.Request, vars, nil)
	if err != nil {
		return res, err
	}
	var buf page
	for n := 0; n < pg.MaxPages; n++ {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		switch {
		case perPage && n > 0:
			if req, err = c.build(s.Request, vars, nil); err != nil {
				return res, err
			}
		case perPage:
		case pg.Kind == PageOffset:
			req.URL = setParam(req.URL, pg.OffsetParam, strconv.Itoa(offset))
			req.URL = setParam(req.URL, pg.LimitParam, strconv.Itoa(pageSize))
		case pg.Kind == PageNumber:
			req.URL = setParam(req.URL, pg.PageParam, strconv.Itoa(pageNo))
		case pg.Kind == PageCursor:
			if cursor != "" {
				req.URL = setParam(req.URL, pg.CursorParam, cursor)
			}
		}
		resp, err := c.do(ctx, req)
		if err != nil {
			return res, fmt.Errorf("stream %s: %w", s.Key, err)
		}
		var records []any
		var doc any
		next := ""
		if s.Hook != "" {
			records, next, err = c.d.opts.Hooks.Responses[s.Hook](resp)
			if err != nil {
				return res, fmt.Errorf("stream %s: %w", s.Key, err)
			}
		} else {
			doc = parsed(resp)
			if doc == nil && len(strings.TrimSpace(string(resp.Body))) > 0 {
				return res, &connectors.HTTPError{Kind: connectors.KindPermanent, Status: resp.Status,
					Message: "stream " + s.Key + ": response is not JSON"}
			}
			sel := lookup(doc, s.Records)
			list, ok := sel.([]any)
			if !ok && sel != nil {
				return res, &connectors.HTTPError{Kind: connectors.KindPermanent, Status: resp.Status,
					Message: "stream " + s.Key + ": records at " + strings.Join(s.Records, ".") + " is not a list"}
			}
			records = list
		}
		if s.Lines != nil && len(records) > 0 {
			if err := c.attachLines(ctx, s, records, vars); err != nil {
				return res, fmt.Errorf("stream %s: lines: %w", s.Key, err)
			}
		}
		for _, rec := range records {
			c.handle(s, rec, &res, &buf)
		}
		if err := c.flush(ctx, &buf, &res); err != nil {
			return res, err
		}
		// The next page, or the end.
		if pg.HasMorePath != "" && doc != nil {
			if b, ok := lookup(doc, splitPath(pg.HasMorePath)).(bool); ok && !b {
				return res, nil
			}
		}
		switch {
		case s.Hook != "":
			if next == "" {
				return res, nil
			}
			req.URL = c.resolveNext(next)
		case pg.Kind == PageNone:
			return res, nil
		case pg.Kind == PageCursor:
			cursor = text(lookup(doc, splitPath(pg.CursorPath)))
			if cursor == "" || len(records) == 0 {
				return res, nil
			}
		case pg.Kind == PageNextLink:
			next := text(lookup(doc, splitPath(pg.NextPath)))
			if next == "" || len(records) == 0 {
				return res, nil
			}
			req.URL = c.resolveNext(next)
		case pg.Kind == PageLinkHeader:
			next := nextLink(resp.Header)
			if next == "" {
				return res, nil
			}
			req.URL = c.resolveNext(next)
		case pg.Kind == PageOffset:
			if len(records) < pageSize {
				return res, nil
			}
			offset += len(records)
		case pg.Kind == PageNumber:
			if len(records) == 0 {
				return res, nil
			}
			if pg.TotalPagesPath != "" {
				if total, err := strconv.Atoi(text(lookup(doc, splitPath(pg.TotalPagesPath)))); err == nil && pageNo >= total {
					return res, nil
				}
			} else if len(records) < pageSize {
				return res, nil
			}
			pageNo++
		}
	}
	return res, &connectors.HTTPError{Kind: connectors.KindPermanent,
		Message: fmt.Sprintf("stream %s: stopped after %d pages (pagination.max_pages)", s.Key, pg.MaxPages)}
}

// pagesInTemplates reports whether a request's query values or body name
// the page position ({{offset}}, {{page}} or {{cursor}}).
func pagesInTemplates(r *RequestSpec) bool {
	texts := []string{r.Body}
	for _, item := range r.Query {
		texts = append(texts, fmt.Sprint(item.Value))
	}
	for _, t := range texts {
		for _, n := range parseTemplate(t).names() {
			if n == "offset" || n == "page" || n == "cursor" {
				return true
			}
		}
	}
	return false
}

// resolveNext makes a next-page link absolute (relative to base_url).
func (c *Conn) resolveNext(next string) string {
	if strings.HasPrefix(next, "https://") || strings.HasPrefix(next, "http://") {
		return c.override(next)
	}
	base, err := url.Parse(c.baseURL() + "/")
	if err != nil {
		return next
	}
	ref, err := url.Parse(next)
	if err != nil {
		return next
	}
	if strings.HasPrefix(next, "/") && base.Path != "/" && !strings.HasPrefix(next, base.Path) {
		// "/v3/x?page=2" under a base path: keep the base path.
		ref.Path = strings.TrimRight(base.Path, "/") + ref.Path
	}
	return base.ResolveReference(ref).String()
}

func setParam(raw, k, v string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	q.Set(k, v)
	u.RawQuery = q.Encode()
	return u.String()
}

// nextLink returns the rel="next" target of a Link header, or "".
func nextLink(h http.Header) string {
	for _, v := range h.Values("Link") {
		for part := range strings.SplitSeq(v, ",") {
			target, params, ok := strings.Cut(part, ";")
			if !ok {
				continue
			}
			target = strings.TrimSpace(target)
			if !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
				continue
			}
			for p := range strings.SplitSeq(params, ";") {
				k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(k, "rel") && strings.Trim(val, `"`) == "next" {
					return target[1 : len(target)-1]
				}
			}
		}
	}
	return ""
}

// lookup follows a dotted path through decoded JSON; nil when absent.
func lookup(doc any, path []string) any {
	for _, k := range path {
		switch x := doc.(type) {
		case map[string]any:
			doc = x[k]
		case []any:
			i, err := strconv.Atoi(k)
			if i < 0 { // -1 is the last element (a cursor is often the last record's id)
				i += len(x)
			}
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			doc = x[i]
		default:
			return nil
		}
	}
	return doc
}

// text renders a scalar JSON value as text ("" for null, objects, lists).
func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

// formatTime renders t in a manifest time format.
func formatTime(t time.Time, format string, zone *time.Location) string {
	switch format {
	case "rfc3339":
		return t.UTC().Format(time.RFC3339)
	case "unix":
		return strconv.FormatInt(t.Unix(), 10)
	case "unix_ms":
		return strconv.FormatInt(t.UnixMilli(), 10)
	}
	return t.In(zone).Format(format)
}

// parseTime reads a record's modification time in a manifest format.
func parseTime(v any, format string, zone *time.Location) (time.Time, bool) {
	s := strings.TrimSpace(text(v))
	if s == "" {
		return time.Time{}, false
	}
	switch format {
	case "rfc3339":
		t, err := time.Parse(time.RFC3339Nano, s)
		return t, err == nil
	case "unix", "unix_ms":
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		if format == "unix" {
			return time.Unix(n, 0).UTC(), true
		}
		return time.UnixMilli(n).UTC(), true
	}
	t, err := time.ParseInLocation(format, s, zone)
	return t, err == nil
}

// page collects the mapped records of one page, written in one batch.
type page struct {
	items  []connectors.Item
	orders []connectors.Order
	levels []connectors.InventoryLevel
}

// handle maps one upstream record into pg; a record the mapping refuses is
// counted as failed, naming the fields.
func (c *Conn) handle(s *Stream, rec any, res *connectors.SyncResult, pg *page) {
	if s.Incremental != nil {
		if t, ok := parseTime(lookup(rec, s.Incremental.Field), s.Incremental.Format, s.Incremental.Zone); ok {
			res.See(t)
		}
	}
	doc, ferrs := s.Mapping.Apply(rec)
	if len(ferrs) > 0 {
		id := text(lookup(rec, []string{"id"}))
		res.Fail(s.SourcePrefix+id, "mapping: "+ferrs.Error())
		return
	}
	doc.SourceID = s.SourcePrefix + doc.SourceID
	if t := doc.Field("updated_at").Time(); !t.IsZero() {
		res.See(t)
	}
	switch s.Record {
	case RecordItem:
		pg.items = append(pg.items, DocItem(doc))
	case RecordOrder:
		pg.orders = append(pg.orders, DocOrder(doc))
	case RecordInventoryLevel:
		pg.levels = append(pg.levels, DocInventory(doc))
	}
}

// flush writes a page through the sink: one store transaction when the
// sink takes batches.
func (c *Conn) flush(ctx context.Context, pg *page, res *connectors.SyncResult) error {
	if err := connectors.WriteItems(ctx, c.env.Sink, res, pg.items); err != nil {
		return err
	}
	if err := connectors.WriteOrders(ctx, c.env.Sink, res, pg.orders); err != nil {
		return err
	}
	if err := connectors.WriteInventoryLevels(ctx, c.env.Sink, res, pg.levels); err != nil {
		return err
	}
	*pg = page{items: pg.items[:0], orders: pg.orders[:0], levels: pg.levels[:0]}
	return nil
}

// DocItem converts a mapped items document.
func DocItem(d *mapping.Document) connectors.Item {
	return connectors.Item{SourceID: d.SourceID, SKU: d.Field("sku").Text(), Name: d.Field("name").Text(),
		Barcode: d.Field("barcode").Text(), UpdatedAt: d.Field("updated_at").Time()}
}

// DocOrder converts a mapped orders document.
func DocOrder(d *mapping.Document) connectors.Order {
	o := connectors.Order{SourceID: d.SourceID, OrderNumber: d.Field("order_number").Text(),
		UpdatedAt: d.Field("updated_at").Time(), Lines: make([]connectors.Line, d.NumLines())}
	if m := d.Field("ship_to").Object(); m != nil {
		b, _ := json.Marshal(m)
		_ = json.Unmarshal(b, &o.ShipTo) // unknown members are dropped
	}
	for i := range o.Lines {
		o.Lines[i] = connectors.Line{SKU: d.LineField(i, "sku").Text(), Qty: d.LineField(i, "qty").Int()}
	}
	return o
}

// DocInventory converts a mapped inventory_levels document.
func DocInventory(d *mapping.Document) connectors.InventoryLevel {
	return connectors.InventoryLevel{SourceID: d.SourceID, SKU: d.Field("sku").Text(),
		OnHand: d.Field("on_hand").Int(), UpdatedAt: d.Field("updated_at").Time()}
}

// idRE is an id that can be put into a lines request as it is (a SuiteQL
// IN list): anything else could change the query's meaning.
var idRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// attachLines runs a stream's lines request for the ids of one page's
// records and puts each record's lines into it (under Lines.Into). The
// request is paged like its stream (offset and limit until a short page or
// has_more false), so a page whose lines do not fit one answer costs more
// than one extra request.
func (c *Conn) attachLines(ctx context.Context, s *Stream, records []any, vars func(string) string) error {
	l := s.Lines
	byID := map[string][]map[string]any{}
	var ids []string
	for _, rec := range records {
		m, ok := rec.(map[string]any)
		id := text(lookup(rec, l.ID))
		if !ok || !idRE.MatchString(id) {
			continue // no lines: the mapping refuses the record if it needs some
		}
		if _, seen := byID[id]; !seen {
			ids = append(ids, id)
		}
		byID[id] = append(byID[id], m)
		m[l.Into] = []any{}
	}
	if len(ids) == 0 {
		return nil
	}
	joined := strings.Join(ids, ",")
	offset, limit := 0, defaultPageSize
	if n, err := strconv.Atoi(vars("page_size")); err == nil && n > 0 {
		limit = n
	}
	if s.Pagination.Kind == PageOffset {
		offset = s.Pagination.Start
	}
	lineVars := func(n string) string {
		switch n {
		case "ids":
			return joined
		case "offset":
			return strconv.Itoa(offset)
		case "page_size":
			return strconv.Itoa(limit)
		}
		return vars(n)
	}
	for n := 0; n < s.Pagination.MaxPages; n++ {
		req, err := c.build(l.Request, lineVars, nil)
		if err != nil {
			return err
		}
		if s.Pagination.Kind == PageOffset && !pagesInTemplates(l.Request) {
			req.URL = setParam(req.URL, s.Pagination.OffsetParam, strconv.Itoa(offset))
			req.URL = setParam(req.URL, s.Pagination.LimitParam, strconv.Itoa(limit))
		}
		resp, err := c.do(ctx, req)
		if err != nil {
			return err
		}
		doc := parsed(resp)
		list, ok := lookup(doc, l.Records).([]any)
		if !ok && lookup(doc, l.Records) != nil {
			return fmt.Errorf("records at %s is not a list", strings.Join(l.Records, "."))
		}
		for _, line := range list {
			for _, m := range byID[text(lookup(line, l.Parent))] {
				m[l.Into] = append(m[l.Into].([]any), line)
			}
		}
		if s.Pagination.Kind != PageOffset || len(list) < limit {
			return nil
		}
		if hm := s.Pagination.HasMorePath; hm != "" {
			if b, ok := lookup(doc, splitPath(hm)).(bool); ok && !b {
				return nil
			}
		}
		offset += len(list)
	}
	return fmt.Errorf("stopped after %d pages (pagination.max_pages)", s.Pagination.MaxPages)
}
