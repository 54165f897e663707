// Package netsuite is a fake NetSuite REST web services endpoint for tests:
// an http.Handler that verifies token-based authentication on every request
// and serves SuiteQL and a few REST records over a generated account.
//
// Authentication is OAuth 1.0a as NetSuite uses it (RFC 5849 with
// HMAC-SHA256): an "Authorization: OAuth" header whose realm is the
// account id (e.g. 1234567_SB1), a consumer key and token id the fake knows,
// a timestamp within five minutes of the fake's clock, a nonce not seen
// before, and an oauth_signature the fake recomputes over the request's
// method, scheme, host, path, query parameters and oauth_ parameters
// (realm and the signature itself left out), keyed by the consumer secret
// and token secret. Anything else is a 401 INVALID_LOGIN. Tokens do not
// expire; RevokeToken stands in for an administrator revoking one.
//
// Endpoints:
//
//   - POST /services/rest/query/v1/suiteql?limit=&offset= with
//     "Prefer: transient" and {"q": "..."}: a SuiteQL subset (SELECT list
//     with TO_CHAR(col, fmt) AS alias, FROM one of item, transaction,
//     transactionline, inventoryitemlocations with an optional alias and
//     at most one "JOIN table alias ON a.col = b.col" (inner), WHERE col op
//     literal (or TO_CHAR(col, fmt) op 'text', or col IN (...)) joined by
//     AND with TO_DATE/TO_TIMESTAMP literals, ORDER BY one or more columns
//     ASC/DESC). Columns may be written alias.column. Results page by
//     offset and limit (at most 1000) with hasMore, count, totalResults and
//     next/previous/first/last/self links. As in NetSuite, every value comes
//     back as a string, dates in the account's M/D/YYYY format, booleans as
//     "T"/"F", and sales-order line quantities are negative in
//     transactionline.
//   - /services/rest/record/v1/inventoryItem: list (limit/offset), get (with
//     expandSubResources=true for the locations sublist), PATCH (204),
//     DELETE (204, then 404 NONEXISTENT_ID).
//   - POST /services/rest/record/v1/inventoryAdjustment: adjusts quantity on
//     hand by adjustQtyBy per line (0 is refused); 204 with a Location
//     header. GET reads it back; DELETE removes it and takes its quantity
//     changes back, as deleting the transaction does.
//   - /services/rest/record/v1/salesOrder: list and get (item sublist).
//   - POST /services/rest/record/v1/salesOrder/{id}/!transform/itemFulfillment:
//     fulfils lines (orderLine, quantity, itemReceive), or every open line
//     when the body lists none, with package tracking numbers; 204 with Location. GET and DELETE itemFulfillment/{id}.
//
// A POST with an X-NetSuite-Idempotency-Key that was used before is refused
// with 400 IDEMPOTENCY_ERROR and a Location header naming the first
// request's result, so a retried write is not applied twice.
//
// Errors use NetSuite's problem-details shape: type, title, status and
// o:errorDetails [{detail, o:errorCode}].
package netsuite
