// Package fakekit holds what the provider fakes under connectors/fakes share:
// a seeded generator of products and orders (the same seed gives the same
// shop in every fake, so tests can compare providers), the fault switches
// every fake honours (throttle the next n requests, accept writes without
// keeping them), an OAuth token book with expiry and refresh, and small JSON
// and paging helpers. It holds no provider's shapes: each fake renders the
// generated data in its provider's documented form.
package fakekit
