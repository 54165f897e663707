// Package businesscentral is a fake Dynamics 365 Business Central for
// tests: an http.Handler serving both the Microsoft identity platform's
// token endpoint and the Business Central API v2.0 of one tenant and
// environment.
//
//   - POST /{tenant}/oauth2/v2.0/token: the client-credentials grant
//     (client_id and client_secret in the form or in HTTP Basic, scope
//     https://api.businesscentral.dynamics.com/.default), answering
//     {token_type, expires_in, ext_expires_in, access_token}, or an
//     identity-platform error {error, error_description "AADSTS…",
//     error_codes, timestamp, trace_id, correlation_id}. App-only: there is
//     no refresh token; a client asks again when a token expires.
//   - /v2.0/{tenant}/{environment}/api/v2.0/ …: companies; companies({id})/
//     items (GET list and one, POST, PATCH and DELETE with If-Match),
//     salesOrders (with $expand=salesOrderLines), salesOrders({id})/
//     salesOrderLines (PATCH shipQuantity), the bound action
//     salesOrders({id})/Microsoft.NAV.shipAndInvoice, and salesShipments
//     (with $expand=salesShipmentLines).
//   - OData: {"@odata.context", "value"} lists; server-driven paging with
//     "@odata.nextLink" carrying $skiptoken, page size from the fake's
//     Config or the client's "Prefer: odata.maxpagesize=N" (echoed in
//     Preference-Applied); $filter with eq, ne, gt, ge, lt, le joined by
//     and (strings quoted, dates bare); $top, $skip, $orderby; entities
//     carry "@odata.etag", which PATCH and DELETE must send back in
//     If-Match ("*" allowed), or get 412 Request_EntityChanged.
//
// An item's inventory is the sum of posted item ledger entries. As in the
// API v2.0 items page, a PATCH of "inventory" posts a positive or negative
// adjustment of the difference at once (Entries lists them), and a POST
// that sets it is refused. Shipping a sales order in full with
// shipAndInvoice posts it: the order leaves salesOrders and a
// salesShipment remains.
//
// Faults: 401 Authentication_InvalidCredentials with WWW-Authenticate once
// a token expires, 429 Application_TooManyRequests with Retry-After when
// throttled, 404 BadRequest_NotFound, 400 BadRequest with a message naming
// the property, in the {"error": {code, message}} envelope.
package businesscentral
