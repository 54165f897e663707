package connectors

import (
	"cmp"
	"slices"
)

// Circuit is the breaker of one connector at one warehouse.
type Circuit struct {
	Connector   string `json:"connector"`
	WarehouseID int64  `json:"warehouse_id"`
	BreakerStatus
}

// OpenCircuits returns the breakers that are not closed (open, or
// half-open and waiting for a probe), by connector and warehouse: the
// dashboard lists them under "Needs attention". Breakers live in memory,
// so a restart closes them all.
func (p *HTTPPool) OpenCircuits() []Circuit {
	p.mu.Lock()
	scopes := make(map[scopeKey]*scope, len(p.scopes))
	for k, sc := range p.scopes {
		scopes[k] = sc
	}
	p.mu.Unlock()
	now := p.clock.Now()
	var out []Circuit
	for k, sc := range scopes {
		if st := sc.breaker.status(now); st.State != BreakerClosed {
			out = append(out, Circuit{Connector: k.connector, WarehouseID: k.warehouseID, BreakerStatus: st})
		}
	}
	slices.SortFunc(out, func(a, b Circuit) int {
		return cmp.Or(cmp.Compare(a.Connector, b.Connector), cmp.Compare(a.WarehouseID, b.WarehouseID))
	})
	return out
}

// OpenCircuits returns the connector breakers that are not closed.
func (s *Service) OpenCircuits() []Circuit { return s.cfg.HTTP.OpenCircuits() }
