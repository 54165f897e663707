package web

import (
	"sentryhub/connectors"
	"sentryhub/store"
)

// circuitLister reports the connector breakers that are not closed
// (connectors.Service).
type circuitLister interface {
	OpenCircuits() []connectors.Circuit
}

// dashboardCircuit is a connector whose calls fail fast: its breaker
// opened after failures in a row.
type dashboardCircuit struct {
	Connector string
	Warehouse string
	Href      string
	State     string
	Failures  int
	RetryAt   when
}

// openCircuits lists the open (and half-open) breakers for "Needs
// attention", each linking to its connector page.
func (s *Server) openCircuits(whs []store.Warehouse) []dashboardCircuit {
	if s.circuits == nil {
		return nil
	}
	var out []dashboardCircuit
	for _, c := range s.circuits.OpenCircuits() {
		dc := dashboardCircuit{Connector: connectorTitle(c.Connector), Warehouse: itoa(c.WarehouseID),
			Href: connectorURL(c.Connector, c.WarehouseID, "sync"), State: string(c.State),
			Failures: c.ConsecutiveFailures, RetryAt: s.atPtr(c.RetryAt)}
		for _, w := range whs {
			if w.ID == c.WarehouseID {
				dc.Warehouse = connectorWarehouseLabel(w)
			}
		}
		if c.State == connectors.BreakerHalfOpen {
			dc.State = "half-open"
		}
		out = append(out, dc)
	}
	return out
}
