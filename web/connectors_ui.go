package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"sentryhub/connectors"
	"sentryhub/store"
)

// The connector admin pages: the browser face of the connector JSON API.
// Every change goes through the same ConnectorService call the API uses, so
// it is validated and audited the same way; a change answers with a redirect
// back to the page and a one-time flash message kept in the session, or,
// when a form was refused, with the page re-rendered around the errors.
// Nothing here needs JavaScript.

// connectorUI holds what the pages need: the server (session, database,
// clock, rendering) and the connector service.
type connectorUI struct {
	s   *Server
	svc ConnectorService
}

// connectorUIRoutes registers the connector pages. Everyone logged in can
// look; only admins can change anything.
func (s *Server) connectorUIRoutes(svc ConnectorService) {
	u := &connectorUI{s: s, svc: svc}
	m := s.mux
	m.Handle("GET /connectors", s.page(u.listPage))
	m.Handle("GET /connectors/{name}", s.page(u.detailPage))
	m.Handle("POST /connectors/{name}/credentials", s.page(u.admin(u.saveCredentials)))
	m.Handle("POST /connectors/{name}/credentials/delete", s.page(u.admin(u.deleteCredentials)))
	m.Handle("POST /connectors/{name}/test", s.page(u.admin(u.testConnection)))
	m.Handle("POST /connectors/{name}/credentials/test", s.page(u.admin(u.testTyped))) // connector_testtyped.go
	m.Handle("POST /connectors/{name}/sync/{sync_type}", s.page(u.admin(u.syncNow)))
	m.Handle("POST /connectors/{name}/schedules/{sync_type}", s.page(u.admin(u.saveSchedule)))
	m.Handle("POST /connectors/{name}/fulfillments/{id}/retry", s.page(u.admin(u.retryPush)))
}

// admin refuses viewers and parses the form of a state-changing request.
func (u *connectorUI) admin(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := u.s.requireAdminUser(r); err != nil {
			return err
		}
		if err := parseForm(r); err != nil {
			return err
		}
		return h(w, r)
	}
}

// connectorURL is the detail page of connector name for a warehouse, with
// an optional #anchor.
func connectorURL(name string, warehouseID int64, anchor string) string {
	p := "/connectors/" + url.PathEscape(name)
	if warehouseID > 0 {
		p += "?warehouse_id=" + strconv.FormatInt(warehouseID, 10)
	}
	if anchor != "" {
		p += "#" + anchor
	}
	return p
}

// redirect sends the browser back to the detail page after a change, to
// the section at anchor, where f is shown.
func (u *connectorUI) redirect(w http.ResponseWriter, r *http.Request, name string, wh int64, anchor string, f flash) error {
	if f.Topic == "" {
		f.Topic = anchor
	}
	return u.s.seeOther(w, r, connectorURL(name, wh, anchor), f)
}

// takeFlashes returns and forgets the pending flash messages.
func (u *connectorUI) takeFlashes(w http.ResponseWriter, r *http.Request) []flash {
	fs, _ := u.s.takeFlashes(w, r)
	return fs
}

func connectorDuration(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	switch {
	case d < time.Second:
		return fmt.Sprintf("%d ms", ms)
	case d < time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	return d.Round(time.Second).String()
}

// connectorTitle turns a registry name into a heading: shopify -> Shopify,
// quickbooks_online -> Quickbooks online.
func connectorTitle(name string) string {
	if name == "" {
		return ""
	}
	s := strings.ReplaceAll(name, "_", " ")
	return strings.ToUpper(s[:1]) + s[1:]
}

// connectorCapabilityLabel: sync_orders -> Sync orders.
func connectorCapabilityLabel(c connectors.Capability) string { return connectorTitle(string(c)) }

// connectorSyncPurpose says what a sync type does, for the operator.
func connectorSyncPurpose(syncType string) string {
	switch syncType {
	case connectors.SyncOrders:
		return "Pulls new and updated orders."
	case connectors.SyncItems:
		return "Pulls the item master (SKUs, names, barcodes)."
	case connectors.SyncInventory:
		return "Pulls inventory levels at this warehouse's location."
	case connectors.SyncFulfillment:
		return "Pushes shipment confirmations of shipped orders back upstream (the queue below)."
	case connectors.SyncFulfillmentHealth:
		return "Checks every few minutes that no shipment confirmation has failed or waited over an hour."
	}
	return ""
}

// connectorErrorText is a stored error message fit for one line of a page.
func connectorErrorText(s string) string {
	return connectors.SanitizeMessage(s, connectors.MaxMessageLen)
}

// connectorStatusLabel names a sync's state: an idle sync whose last
// runs failed is failing, not idle.
func connectorStatusLabel(st store.SyncState) string {
	if st.Status == store.SyncIdle && st.ConsecutiveErrors > 0 {
		return "failing"
	}
	return string(st.Status)
}

// connectorStatusClass picks the badge colour of a sync state.
func connectorStatusClass(st store.SyncState) string {
	switch {
	case st.Status == store.SyncError:
		return "bad"
	case st.Status == store.SyncRunning || st.ConsecutiveErrors > 0:
		return "warn"
	case st.LastSuccessAt != nil:
		return "ok"
	}
	return ""
}

func connectorRunClass(s store.RunStatus) string {
	switch s {
	case store.RunSuccess:
		return "ok"
	case store.RunFailed:
		return "bad"
	}
	return "warn"
}

func connectorPushClass(s store.FulfillmentStatus) string {
	switch s {
	case store.FulfillmentSucceeded:
		return "ok"
	case store.FulfillmentFailed:
		return "bad"
	}
	return "warn"
}
