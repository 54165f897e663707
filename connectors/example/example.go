package example

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"sentryhub/connectors"
)

// Name is the connector's registry name and the source name of the records
// it writes.
const Name = "example"

// Register adds the example connector to r. First-party connectors expose a
// Register function; the app calls it explicitly at startup.
func Register(r *connectors.Registry) error { return r.Register(Name, New) }

// Connector is the example connector bound to one warehouse.
type Connector struct {
	env     connectors.Env
	http    *connectors.Client
	baseURL string
	// cfgErr holds a configuration problem found when the connector was
	// built; every operation returns it (a Factory must not fail).
	cfgErr error
}

// New is the connectors.Factory. It reads the settings once; it does no I/O
// and does not fail (the registry calls it with a zero Env to read the
// schema and capabilities).
func New(env connectors.Env) connectors.Connector {
	c := &Connector{env: env, http: env.HTTP, baseURL: strings.TrimRight(env.Settings.String("base_url"), "/")}
	missing := map[string]string{}
	if c.baseURL == "" {
		missing["base_url"] = "is required"
	}
	if env.Secret("api_key").IsZero() {
		missing["api_key"] = "is required"
	}
	if len(missing) > 0 {
		c.cfgErr = &connectors.ConfigError{Connector: Name, Fields: missing}
	}
	return c
}

// ConfigSchema is the admin form.
func (c *Connector) ConfigSchema() connectors.Schema {
	return connectors.Schema{Fields: []connectors.Field{
		{Name: "base_url", Type: connectors.TypeURL, Required: true, Label: "API base URL",
			Placeholder: "https://api.example.com/v1", Help: "Public HTTPS address of the API; private addresses are refused."},
		{Name: "api_key", Type: connectors.TypeString, Required: true, Secret: true, Label: "API key"},
		{Name: "page_size", Type: connectors.TypeInteger, Label: "Page size", Default: "100",
			Help: "Records per request (1-500)."},
	}}
}

// Capabilities: this API has no inventory endpoint.
func (c *Connector) Capabilities() []connectors.Capability {
	return []connectors.Capability{connectors.CapSyncOrders, connectors.CapSyncItems, connectors.CapPushFulfillment}
}

// SyncInventory is not supported: say so with the typed error.
func (c *Connector) SyncInventory(context.Context, time.Time) (connectors.SyncResult, error) {
	return connectors.SyncResult{}, connectors.Unsupported(Name, connectors.CapSyncInventory)
}

// TestConnection calls the cheapest authenticated endpoint. Failures go in
// the result; the framework sanitizes and scrubs its message again.
func (c *Connector) TestConnection(ctx context.Context) (connectors.ConnectionResult, error) {
	if c.cfgErr != nil {
		return connectors.NewConnectionResult(false, c.cfgErr.Error()), nil
	}
	if _, err := c.get(ctx, "/ping", nil); err != nil {
		return connectors.NewConnectionResult(false, err.Error()), nil
	}
	return connectors.NewConnectionResult(true, "connected to "+connectors.ScrubURL(c.baseURL)), nil
}

// get calls the API. Every request goes through c.http; the bearer token is
// revealed only here, onto the wire.
func (c *Connector) get(ctx context.Context, path string, q url.Values) (*connectors.Response, error) {
	u := c.baseURL + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return c.http.Do(ctx, connectors.Request{Method: http.MethodGet, URL: u, Header: c.auth()})
}

func (c *Connector) auth() http.Header {
	return http.Header{"Authorization": {"Bearer " + string(c.env.Secret("api_key").Reveal())},
		"Accept": {"application/json"}}
}

// page walks a cursor-paginated collection from since, calling each for
// every page body.
func (c *Connector) page(ctx context.Context, path string, since time.Time, each func(body []byte) (next string, err error)) error {
	limit := c.env.Settings.Int("page_size", 100)
	limit = min(max(limit, 1), 500)
	cursor := ""
	for {
		q := url.Values{"limit": {strconv.FormatInt(limit, 10)}}
		if !since.IsZero() {
			q.Set("updated_since", since.UTC().Format(time.RFC3339))
		}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		resp, err := c.get(ctx, path, q)
		if err != nil {
			return err
		}
		next, err := each(resp.Body)
		if err != nil {
			return err
		}
		if next == "" || next == cursor { // no next page (or a broken cursor: stop, do not loop)
			return nil
		}
		cursor = next
	}
}

// SyncItems pulls items changed since since.
func (c *Connector) SyncItems(ctx context.Context, since time.Time) (connectors.SyncResult, error) {
	var res connectors.SyncResult
	if c.cfgErr != nil {
		return res, c.cfgErr
	}
	err := c.page(ctx, "/items", since, func(body []byte) (string, error) {
		p, err := ParseItemsPage(body)
		if err != nil {
			return "", err
		}
		for _, it := range p.Items {
			res.See(it.UpdatedAt)
			if it.SKU == "" {
				res.Skip() // nothing to key it by in the hub
				continue
			}
			// Track counts a refused record and goes on; any other error
			// (the database is gone, the run lost its lease) ends the sync.
			if err := res.Track(it.ID, c.env.Sink.UpsertItem(ctx, connectors.Item{
				SourceID: it.ID, SKU: it.SKU, Name: it.Name, Barcode: it.Barcode, UpdatedAt: it.UpdatedAt})); err != nil {
				return "", err
			}
		}
		return p.NextCursor, nil
	})
	return res, err
}

// SyncOrders pulls orders changed since since. Cancelled orders are skipped.
func (c *Connector) SyncOrders(ctx context.Context, since time.Time) (connectors.SyncResult, error) {
	var res connectors.SyncResult
	if c.cfgErr != nil {
		return res, c.cfgErr
	}
	err := c.page(ctx, "/orders", since, func(body []byte) (string, error) {
		p, err := ParseOrdersPage(body)
		if err != nil {
			return "", err
		}
		for _, o := range p.Orders {
			res.See(o.UpdatedAt)
			if o.Status == "cancelled" {
				res.Skip()
				continue
			}
			lines := make([]connectors.Line, 0, len(o.Lines))
			for _, l := range o.Lines {
				lines = append(lines, connectors.Line{SKU: l.SKU, Qty: l.Qty})
			}
			if bad := badLine(lines); bad != "" {
				res.Fail(o.ID, bad) // the connector's own mapping refused it: count it, go on
				continue
			}
			if err := res.Track(o.ID, c.env.Sink.UpsertOrder(ctx, connectors.Order{
				SourceID: o.ID, OrderNumber: o.Number, ShipTo: o.ShipTo, Lines: lines, UpdatedAt: o.UpdatedAt})); err != nil {
				return "", err
			}
		}
		return p.NextCursor, nil
	})
	return res, err
}

// PushFulfillment posts the shipment. The API dedupes on Idempotency-Key, so
// a retry (the helper's, the runner's or the next poll's) never creates a
// second fulfillment; the request is marked Idempotent so the helper may
// resend it after a timeout.
func (c *Connector) PushFulfillment(ctx context.Context, req connectors.FulfillmentRequest) (connectors.PushResult, error) {
	if c.cfgErr != nil {
		return connectors.PushResult{}, c.cfgErr
	}
	body, err := json.Marshal(map[string]any{"carrier": req.Carrier, "tracking": req.Tracking, "lines": req.Lines})
	if err != nil {
		return connectors.PushResult{}, fmt.Errorf("encode fulfillment: %w", err)
	}
	h := c.auth()
	h.Set("Content-Type", "application/json")
	h.Set("Idempotency-Key", req.IdempotencyKey)
	resp, err := c.http.Do(ctx, connectors.Request{Method: http.MethodPost, Idempotent: true,
		URL: c.baseURL + "/orders/" + url.PathEscape(req.SourceID) + "/fulfillments", Header: h, Body: body})
	if err != nil {
		return connectors.PushResult{}, err
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := resp.JSON(&out); err != nil {
		return connectors.PushResult{}, err
	}
	return connectors.PushResult{Success: true, UpstreamRef: out.ID, AlreadyDone: resp.Status == http.StatusOK}, nil
}

func badLine(lines []connectors.Line) string {
	if len(lines) == 0 {
		return "order has no lines"
	}
	for i, l := range lines {
		if l.SKU == "" || l.Qty <= 0 {
			return fmt.Sprintf("lines[%d] needs a sku and a positive quantity", i)
		}
	}
	return ""
}

// APIItem is an item as the API sends it.
type APIItem struct {
	ID        string    `json:"id"`
	SKU       string    `json:"sku"`
	Name      string    `json:"name"`
	Barcode   string    `json:"barcode"`
	UpdatedAt time.Time `json:"updated_at"`
}

// APIOrder is an order as the API sends it.
type APIOrder struct {
	ID        string             `json:"id"`
	Number    string             `json:"number"`
	Status    string             `json:"status"`
	ShipTo    connectors.Address `json:"ship_to"`
	Lines     []connectors.Line  `json:"lines"`
	UpdatedAt time.Time          `json:"updated_at"`
}

// ItemsPage is one page of GET /items.
type ItemsPage struct {
	Items      []APIItem `json:"items"`
	NextCursor string    `json:"next_cursor"`
}

// OrdersPage is one page of GET /orders.
type OrdersPage struct {
	Orders     []APIOrder `json:"orders"`
	NextCursor string     `json:"next_cursor"`
}

// ParseItemsPage decodes and checks a page of items. Upstream JSON is
// outside input: every parser of it has a fuzz test.
func ParseItemsPage(body []byte) (ItemsPage, error) {
	var p ItemsPage
	if err := json.Unmarshal(body, &p); err != nil {
		return ItemsPage{}, &connectors.HTTPError{Kind: connectors.KindPermanent, Message: "items page is not valid JSON"}
	}
	for i, it := range p.Items {
		if it.ID == "" {
			return ItemsPage{}, &connectors.HTTPError{Kind: connectors.KindPermanent, Message: fmt.Sprintf("items[%d] has no id", i)}
		}
	}
	return p, nil
}

// ParseOrdersPage decodes and checks a page of orders.
func ParseOrdersPage(body []byte) (OrdersPage, error) {
	var p OrdersPage
	if err := json.Unmarshal(body, &p); err != nil {
		return OrdersPage{}, &connectors.HTTPError{Kind: connectors.KindPermanent, Message: "orders page is not valid JSON"}
	}
	for i, o := range p.Orders {
		if o.ID == "" || o.Number == "" {
			return OrdersPage{}, &connectors.HTTPError{Kind: connectors.KindPermanent, Message: fmt.Sprintf("orders[%d] has no id or number", i)}
		}
	}
	return p, nil
}
