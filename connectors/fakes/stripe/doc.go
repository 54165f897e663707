// Package stripe is a fake Stripe API for tests: an http.Handler over a
// generated account, authenticated by a secret key (Bearer, or HTTP Basic
// with the key as user name), plus a webhook sender that signs events the
// way Stripe does.
//
//   - Lists (GET /v1/products, /v1/prices, /v1/checkout/sessions) answer
//     {object: "list", url, has_more, data}, newest first, with limit
//     (1–100, default 10), starting_after / ending_before cursors (object
//     ids) and created[gt|gte|lt|lte] filters.
//   - Expansion: expand[]=data.line_items on the session list (line_items on
//     one session), …line_items.data.price.product for the product behind a
//     line, data.default_price on products. Unexpanded, line_items is absent
//     and references are ids, as in Stripe. GET
//     /v1/checkout/sessions/{id}/line_items lists one session's lines.
//   - Writes are form-encoded (metadata[key]=value, an empty value unsets):
//     POST /v1/products (create), POST /v1/products/{id} (update name,
//     active, metadata), DELETE /v1/products/{id} (refused while the product
//     has prices, as in Stripe; archive with active=false instead), POST
//     /v1/checkout/sessions/{id} (metadata only: where a merchant records a
//     shipment, since Stripe has no fulfilment object). Product metadata is
//     also where stock lives, Stripe having no inventory.
//   - Idempotency-Key on a POST replays the first answer (with
//     Idempotent-Replayed: true) for the same parameters and refuses other
//     parameters with an idempotency_error.
//   - Errors: {error: {type, code, message, param}}; 401 for a bad key,
//     404 resource_missing, 429 rate_limit when throttled. Every answer has
//     a Request-Id header.
//
// Webhooks: Event builds an event envelope; Deliver POSTs it with a
// Stripe-Signature header "t=<unix>,v1=<hex HMAC-SHA256 of "t.payload">"
// signed with the endpoint secret, or forged (another secret), stale (an
// old timestamp) or unsigned, so a receiver's verification can be tested
// both ways.
package stripe
