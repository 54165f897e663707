package shopify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"sentryhub/connectors"
)

// The GraphQL documents, one named operation each (the fake server matches
// on the operation name).
const (
	queryShop     = `query SentryShop { shop { name myshopifyDomain } }`
	queryLocation = `query SentryLocation($id: ID!) { location(id: $id) { id name } }`

	queryOrders = `query SentryOrders($first: Int!, $after: String, $query: String!, $lines: Int!) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id name updatedAt cancelledAt
      shippingAddress { name company address1 address2 city province zip country countryCodeV2 phone }
      lineItems(first: $lines) {
        pageInfo { hasNextPage endCursor }
        nodes { sku currentQuantity requiresShipping }
      }
    }
  }
}`

	queryOrderLines = `query SentryOrderLines($id: ID!, $after: String) {
  order(id: $id) {
    lineItems(first: 250, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { sku currentQuantity requiresShipping }
    }
  }
}`

	queryVariants = `query SentryVariants($first: Int!, $after: String, $query: String) {
  productVariants(first: $first, after: $after, query: $query) {
    pageInfo { hasNextPage endCursor }
    nodes { id sku barcode title updatedAt product { title } }
  }
}`

	queryInventory = `query SentryInventory($location: ID!, $first: Int!, $after: String, $query: String) {
  location(id: $location) {
    id
    inventoryLevels(first: $first, after: $after, query: $query) {
      pageInfo { hasNextPage endCursor }
      nodes { id updatedAt quantities(names: ["on_hand"]) { name quantity } item { id sku tracked } }
    }
  }
}`

	queryFulfillmentOrders = `query SentryFulfillmentOrders($id: ID!) {
  order(id: $id) {
    id name
    fulfillments(first: 50) { id status trackingInfo(first: 5) { number company } }
    fulfillmentOrders(first: 20) {
      nodes { id status assignedLocation { location { id } } }
    }
  }
}`

	mutationFulfill = `mutation SentryFulfill($fulfillment: FulfillmentInput!, $message: String) {
  fulfillmentCreate(fulfillment: $fulfillment, message: $message) {
    fulfillment { id status }
    userErrors { field message }
  }
}`
)

// envelope is a GraphQL response.
type envelope struct {
	Data       json.RawMessage `json:"data"`
	Errors     []gqlError      `json:"errors"`
	Extensions struct {
		Cost *cost `json:"cost"`
	} `json:"extensions"`
}

type gqlError struct {
	Message    string `json:"message"`
	Extensions struct {
		Code string `json:"code"`
	} `json:"extensions"`
}

// cost is extensions.cost: what the query was estimated to cost and the
// state of the shop's leaky bucket after it.
type cost struct {
	RequestedQueryCost float64  `json:"requestedQueryCost"`
	ActualQueryCost    *float64 `json:"actualQueryCost"`
	ThrottleStatus     struct {
		MaximumAvailable   float64 `json:"maximumAvailable"`
		CurrentlyAvailable float64 `json:"currentlyAvailable"`
		RestoreRate        float64 `json:"restoreRate"`
	} `json:"throttleStatus"`
}

// envelopeOf parses resp's body once, keeping the result in resp.Parsed
// for the other hooks and the caller.
func envelopeOf(resp *connectors.Response) (envelope, error) {
	if e, ok := resp.Parsed.(envelope); ok {
		return e, nil
	}
	e, err := parseEnvelope(resp.Body)
	if err == nil {
		resp.Parsed = e
	}
	return e, err
}

// parseEnvelope decodes a GraphQL response body.
func parseEnvelope(body []byte) (envelope, error) {
	var e envelope
	if err := json.Unmarshal(body, &e); err != nil {
		return envelope{}, &connectors.HTTPError{Kind: connectors.KindPermanent, Message: "response is not GraphQL JSON"}
	}
	if c := e.Extensions.Cost; c != nil {
		ts := &c.ThrottleStatus
		if !finite(c.RequestedQueryCost) || !finite(ts.CurrentlyAvailable) || !finite(ts.RestoreRate) || !finite(ts.MaximumAvailable) {
			e.Extensions.Cost = nil
		}
	}
	return e, nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) && f >= 0 && f < 1e12 }

// provider adapts the HTTP helper to Shopify's cost-based throttle.
func provider() connectors.Provider {
	return connectors.Provider{
		// The budget is in the body: pace so the next query of the same
		// cost fits in the bucket when it is sent.
		Budget: func(resp *connectors.Response, _ time.Time) (connectors.Budget, bool) {
			e, err := envelopeOf(resp)
			if err != nil || e.Extensions.Cost == nil {
				return connectors.HeaderBudget(resp, time.Time{})
			}
			c := e.Extensions.Cost
			return connectors.Budget{Remaining: c.ThrottleStatus.CurrentlyAvailable,
				Threshold: max(c.RequestedQueryCost, 1), RestorePerSecond: c.ThrottleStatus.RestoreRate}, true
		},
		// THROTTLED comes back as HTTP 200 (sometimes 429) with an errors
		// list; the query did not run, so it is retried once the bucket
		// has refilled enough for its cost.
		Throttled: func(resp *connectors.Response) (time.Duration, bool) {
			e, err := envelopeOf(resp)
			if err != nil || !e.throttled() {
				return 0, false
			}
			return e.throttleWait(), true
		},
	}
}

func (e envelope) throttled() bool {
	for _, er := range e.Errors {
		if er.Extensions.Code == "THROTTLED" {
			return true
		}
	}
	return false
}

// throttleWait is how long until the bucket holds the query's cost.
func (e envelope) throttleWait() time.Duration {
	c := e.Extensions.Cost
	if c == nil || c.ThrottleStatus.RestoreRate <= 0 {
		return time.Second
	}
	need := c.RequestedQueryCost - c.ThrottleStatus.CurrentlyAvailable
	secs := min(need/c.ThrottleStatus.RestoreRate, 3600) // the helper caps it lower still
	return max(time.Duration(secs*float64(time.Second)), time.Second)
}

// gqlClient sends GraphQL operations through the HTTP helper.
type gqlClient struct {
	http       *connectors.Client
	endpoint   string
	token      func(ctx context.Context, force bool) (string, error)
	invalidate func()
}

// do runs one operation and decodes data into out. Queries are sent as
// idempotent (safe to resend after a timeout); mutations are not, so a
// fulfillment is never created twice by a blind resend: the next attempt
// re-reads the order first.
func (g *gqlClient) do(ctx context.Context, doc string, vars map[string]any, idempotent bool, out any) error {
	body, err := json.Marshal(map[string]any{"query": doc, "variables": vars})
	if err != nil {
		return fmt.Errorf("encode GraphQL request: %w", err)
	}
	for try := 0; ; try++ {
		tok, err := g.token(ctx, try > 0)
		if err != nil {
			return err
		}
		resp, err := g.http.Do(ctx, connectors.Request{Method: http.MethodPost, URL: g.endpoint, Body: body,
			Idempotent: idempotent, Header: http.Header{
				"Content-Type": {"application/json"}, "Accept": {"application/json"},
				"X-Shopify-Access-Token": {tok}}})
		var he *connectors.HTTPError
		if errors.As(err, &he) && he.Status == http.StatusUnauthorized && try == 0 && g.invalidate != nil {
			// A client-credentials token may have been revoked or rotated
			// before its expiry: get a new one and try once more.
			g.invalidate()
			continue
		}
		if err != nil {
			return err
		}
		return g.decode(resp, out)
	}
}

func (g *gqlClient) decode(resp *connectors.Response, out any) error {
	e, err := envelopeOf(resp)
	if err != nil {
		return err
	}
	if len(e.Errors) > 0 {
		kind := connectors.KindPermanent
		var msgs []string
		for _, er := range e.Errors {
			switch er.Extensions.Code {
			case "THROTTLED", "INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE":
				kind = connectors.KindTransient
			}
			m := er.Message
			if er.Extensions.Code != "" {
				m += " (" + er.Extensions.Code + ")"
			}
			msgs = append(msgs, m)
		}
		return &connectors.HTTPError{Kind: kind, Method: http.MethodPost, URL: connectors.ScrubURL(g.endpoint),
			Status: resp.Status, Message: g.http.Scrub(connectors.SanitizeMessage("GraphQL errors: "+strings.Join(msgs, "; "), 500))}
	}
	if len(e.Data) == 0 || string(e.Data) == "null" {
		return &connectors.HTTPError{Kind: connectors.KindPermanent, Method: http.MethodPost,
			URL: connectors.ScrubURL(g.endpoint), Status: resp.Status, Message: "GraphQL response has no data"}
	}
	if err := json.Unmarshal(e.Data, out); err != nil {
		return &connectors.HTTPError{Kind: connectors.KindPermanent, Method: http.MethodPost,
			URL: connectors.ScrubURL(g.endpoint), Status: resp.Status, Message: "GraphQL data has an unexpected shape: " + err.Error()}
	}
	return nil
}

// pageInfo is a connection's pagination state.
type pageInfo struct {
	HasNextPage bool   `json:"hasNextPage"`
	EndCursor   string `json:"endCursor"`
}

// userError is a mutation's rejection of its input.
type userError struct {
	Field   []string `json:"field"`
	Message string   `json:"message"`
}

// dataError turns userErrors into a *connectors.DataError naming the fields.
func dataError(op string, errs []userError) error {
	fields := map[string]string{}
	var msgs []string
	for _, e := range errs {
		f := strings.Join(e.Field, ".")
		if f == "" {
			f = "input"
		}
		fields[f] = connectors.SanitizeMessage(e.Message, 200)
		msgs = append(msgs, e.Message)
	}
	return &connectors.DataError{Message: op + " rejected: " + connectors.SanitizeMessage(strings.Join(msgs, "; "), 300), Fields: fields}
}
