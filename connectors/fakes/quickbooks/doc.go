// Package quickbooks is a fake QuickBooks Online for tests: an http.Handler
// serving, on one loopback server, the three hosts a QuickBooks client
// talks to — the consent page (GET /connect/oauth2, which consents at once
// and redirects back with code, state and realmId), the Intuit token
// endpoint (POST /oauth2/v1/tokens/bearer: authorization_code and
// refresh_token grants, client credentials in HTTP Basic, rotating refresh
// tokens) and the accounting API under /v3/company/{realmId}:
//
//   - GET or POST …/query: the SQL-like query language over Item,
//     SalesReceipt and Invoice (WHERE with AND, =, <, >, <=, >=, IN;
//     ORDERBY; STARTPOSITION is 1-based; MAXRESULTS at most 1000;
//     inactive items hidden unless the query names Active), and
//     "select count(*)".
//   - GET …/item/{id}, …/salesreceipt/{id}, …/invoice/{id}: reads.
//   - POST …/item: create, or update when the body has Id and a current
//     SyncToken (sparse or full); items are never deleted, only made
//     inactive with Active=false, as in QuickBooks.
//   - POST …/salesreceipt and …/invoice: sparse update of shipping fields (ShipDate,
//     TrackingNum), which is how a fulfillment is recorded.
//   - GET …/cdc?entities=…&changedSince=…: change data capture.
//
// Faults follow Intuit's documented envelopes: 401 "AuthenticationFailed"
// (code 3200) once an access token expires, 429 "ThrottleExceeded" (003001)
// when throttled, 400 ValidationFault for a stale SyncToken (5010), a
// query the parser refuses (4000) or a missing field (2020). Money is a
// JSON number, times carry the company's UTC offset (-08:00 here).
//
// The fake answers JSON whatever the Accept header says; the real service
// answers XML unless asked for application/json, so a client must send it.
package quickbooks
