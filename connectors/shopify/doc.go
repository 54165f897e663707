// Package shopify is the Shopify connector: orders, products/variants and
// inventory levels pulled from the Admin GraphQL API, and fulfillments
// pushed back for the order's open fulfillment orders.
//
// It speaks a pinned API version (2025-10 by default; the admin picks from
// the supported list), authenticates with X-Shopify-Access-Token using
// either a stored access token or the client-credentials grant (client id
// and secret exchanged for a 24-hour token, refreshed before expiry by one
// caller at a time and saved back to the vault), and paces itself with the
// cost-based throttle Shopify reports in extensions.cost.throttleStatus.
//
// Fake (fake.go) is a Shopify stand-in built from the documented request and
// response shapes, used by this package's tests, the conformance suite and
// the admin API's end-to-end tests.
package shopify
