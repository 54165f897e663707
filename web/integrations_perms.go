package web

import (
	"net/http"

	"sentryhub/integrations"
)

// publicRoute marks, in integrationRequirement, a route that needs no
// credentials at all (so no permission either).
const publicRoute = "(public)"

func need(resource string, level integrations.Level) integrations.Requirement {
	return integrations.Requirement{Resource: resource, Level: level}
}

// integrationRequirement is the permission an integration token needs for
// each API route, by its registered pattern. Every /api/ route must be
// listed (TestIntegrationRouteTable holds the mux to it): a new route
// without an entry fails that test, and at run time an unlisted route is
// refused to integrations. integrations.Never closes a route to
// integrations (people's business: tokens, sessions, audit, integrations).
func integrationRequirement(pattern string) (integrations.Requirement, bool) {
	const (
		read  = integrations.LevelRead
		write = integrations.LevelWrite
		admin = integrations.LevelAdmin
	)
	switch pattern {
	case "GET /api/openapi.json", "GET /api/v1/events/types", "GET /api/v1/events/schema/{type}/{version}",
		"POST /api/v1/integration-installations/{id}/authorizations", "/api/":
		return integrations.Requirement{Resource: publicRoute}, true

	case "GET /api/admin/tokens", "POST /api/admin/tokens", "DELETE /api/admin/tokens/{id}", "GET /api/admin/audit",
		"GET /api/admin/users/{id}/sessions", "DELETE /api/admin/users/{id}/sessions", "DELETE /api/admin/users/{id}/sessions/{sid}",
		"GET /api/admin/integrations", "POST /api/admin/integrations", "GET /api/admin/integrations/{slug}",
		"PUT /api/admin/integrations/{slug}", "DELETE /api/admin/integrations/{slug}",
		"GET /api/admin/integrations/{slug}/tokens", "POST /api/admin/integrations/{slug}/tokens",
		"DELETE /api/admin/integrations/{slug}/tokens/{id}", "POST /api/admin/integrations/{slug}/installation",
		"DELETE /api/admin/integrations/{slug}/installation",
		"GET /api/admin/alert-rules", "POST /api/admin/alert-rules", "DELETE /api/admin/alert-rules/{id}":
		return integrations.Never, true

	// An integration confirms its own installation (the store checks it is
	// its own); no resource permission is involved.
	case "PUT /api/v1/integration-installations/{id}":
		return integrations.Self, true

	case "GET /api/v1/warehouses":
		return need(integrations.ResourceWarehouses, read), true
	case "POST /api/v1/warehouses":
		return need(integrations.ResourceWarehouses, write), true

	case "GET /api/v1/items/{sku}":
		return need(integrations.ResourceItems, read), true
	case "PUT /api/v1/items/{sku}":
		return need(integrations.ResourceItems, write), true

	case "GET /api/v1/inventory", "GET /api/v1/cycle-counts/{id}", "GET /api/v1/transfers/{id}":
		return need(integrations.ResourceInventory, read), true
	case "POST /api/v1/inventory/adjustments", "POST /api/v1/cycle-counts", "POST /api/v1/transfers",
		"POST /api/v1/transfers/{id}/complete":
		return need(integrations.ResourceInventory, write), true

	case "GET /api/v1/sales-orders/{id}", "GET /api/v1/purchase-orders/{id}":
		return need(integrations.ResourceOrders, read), true
	case "POST /api/v1/sales-orders", "POST /api/v1/sales-orders/{id}/pick", "POST /api/v1/sales-orders/{id}/pack",
		"POST /api/v1/sales-orders/{id}/ship", "POST /api/v1/purchase-orders", "POST /api/v1/purchase-orders/{id}/receive":
		return need(integrations.ResourceOrders, write), true

	case "GET /api/v1/events":
		return need(integrations.ResourceEvents, read), true

	case "GET /api/admin/webhooks", "GET /api/admin/webhooks/errors", "GET /api/admin/webhooks/{id}",
		"GET /api/admin/webhooks/{id}/deliveries", "GET /api/admin/webhooks/{id}/deliveries/{delivery}",
		"GET /api/admin/webhooks/{id}/dlq", "GET /api/admin/webhooks/{id}/stats":
		return need(integrations.ResourceWebhooks, read), true
	case "POST /api/admin/webhooks", "PATCH /api/admin/webhooks/{id}", "POST /api/admin/webhooks/{id}/deliveries/{delivery}/replay",
		"POST /api/admin/webhooks/{id}/replay-batch":
		return need(integrations.ResourceWebhooks, write), true
	case "DELETE /api/admin/webhooks/{id}", "POST /api/admin/webhooks/{id}/rotate-secret":
		return need(integrations.ResourceWebhooks, admin), true

	case "GET /api/admin/connectors", "GET /api/admin/connectors/{name}/config-schema", "GET /api/admin/connectors/{name}/sync-status",
		"GET /api/admin/connectors/{name}/schedules", "GET /api/admin/connectors/{name}/runs",
		"GET /api/admin/connectors/{name}/fulfillments", "GET /api/admin/connectors/{name}/credentials",
		"GET /api/admin/connectors/{name}/fulfillment-health":
		return need(integrations.ResourceConnectors, read), true
	case "POST /api/admin/connectors/{name}/test", "POST /api/admin/connectors/{name}/sync/{sync_type}",
		"PUT /api/admin/connectors/{name}/schedules", "POST /api/admin/connectors/{name}/fulfillments/{id}/retry":
		return need(integrations.ResourceConnectors, write), true
	case "POST /api/admin/connectors/{name}/credentials", "DELETE /api/admin/connectors/{name}/credentials",
		"POST /api/admin/connectors/{name}/sync/{sync_type}/reset", "POST /api/admin/connectors/{name}/test-values":
		return need(integrations.ResourceConnectors, admin), true

	// A push speaks for one source and needs that source's bound token;
	// minting such tokens is people's business, like every token.
	case "POST /api/v1/inbound/{resource}", "POST /api/admin/inbound/sources/{source}/tokens":
		return integrations.Never, true
	// Sources and mappings configure what flows in, as connectors do. A dry
	// run writes nothing, so reading is enough for it.
	case "GET /api/admin/inbound/sources", "GET /api/admin/inbound/sources/{source}/pushes",
		"GET /api/admin/inbound/mappings", "GET /api/admin/inbound/mappings/{source}/{resource}",
		"GET /api/admin/inbound/mappings/{source}/{resource}/versions", "POST /api/admin/inbound/mappings/{source}/{resource}/test":
		return need(integrations.ResourceConnectors, read), true
	case "POST /api/admin/inbound/sources", "PUT /api/admin/inbound/mappings/{source}/{resource}":
		return need(integrations.ResourceConnectors, admin), true
	}
	return integrations.Requirement{}, false
}

// integrationAllowed checks an integration token against the route it
// called. An unlisted route is refused: a new endpoint stays closed to
// integrations until someone decides what it needs.
func integrationAllowed(pattern string, perms integrations.Permissions) error {
	req, ok := integrationRequirement(pattern)
	switch {
	case ok && (req.Resource == publicRoute || req == integrations.Self):
		return nil
	case !ok || req == integrations.Never:
		return &Error{Status: http.StatusForbidden, Code: "forbidden",
			Message: "integrations may not use this endpoint; it needs a person or an API token"}
	case !perms.Allows(req.Resource, req.Level):
		return &Error{Status: http.StatusForbidden, Code: "forbidden",
			Message: "this integration lacks the " + req.Describe() + " permission (it holds " + req.Resource + ":" +
				perms.Level(req.Resource).String() + "); an admin can raise it under Developer settings"}
	}
	return nil
}
