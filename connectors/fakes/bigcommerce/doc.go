// Package bigcommerce is a fake BigCommerce store API for tests: an
// http.Handler serving /stores/{store_hash}/v2 and /v3 over a generated
// catalogue, authenticated by the X-Auth-Token header.
//
//   - Catalog v3: GET /v3/catalog/products (page, limit ≤ 250,
//     date_modified:min, sku, id:in, sort=date_modified|id, direction) with
//     {data, meta.pagination {total, count, per_page, current_page,
//     total_pages, links {previous, current, next}}}; GET, PUT and DELETE
//     /v3/catalog/products/{id}.
//   - Inventory v3: GET /v3/inventory/items (sku:in, product_id:in), and
//     PUT /v3/inventory/adjustments/absolute and POST …/relative with
//     {reason, items [{location_id, product_id|variant_id|sku, quantity}]},
//     answering a transaction_id. One location, id 1.
//   - Orders v2: GET /v2/orders (page, limit ≤ 250, min_date_modified in
//     RFC 2822 or ISO 8601, sort=date_modified:asc|desc, include=consignments or
//     consignments.line_items to inline addresses and their order products)
//     answering a bare array, or 204 No Content past the last page; GET /v2/orders/{id},
//     …/products, …/shipping_addresses; shipments: GET (list, 204 when
//     none), POST (201), GET one and DELETE. v2 money is a string with four
//     decimals and v2 dates are RFC 2822; v3 uses numbers and ISO 8601.
//
// Every answer carries the rate-limit headers X-Rate-Limit-Requests-Left,
// -Requests-Quota, -Time-Window-Ms and -Time-Reset-Ms from a per-window
// quota on the fake's clock; an exhausted quota (or ThrottleNext) is a 429
// with the same headers. Errors follow each version's shape: v3
// {status, title, type[, errors]}, v2 [{status, message}].
package bigcommerce
