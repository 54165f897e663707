package web

import (
	"errors"
	"net/http"

	"sentryhub/connectors"
	"sentryhub/store"
)

// The list of connectors with each warehouse's sync health.

type connectorsListData struct {
	Layout     layoutData
	Flashes    []flash
	CanWrite   bool
	Warehouses []store.Warehouse
	Connectors []connectorCard
}

type connectorCard struct {
	Name         string
	Title        string
	Capabilities []string
	Fields       int
	Secrets      int
	Rows         []connectorWarehouseRow
}

type connectorWarehouseRow struct {
	WarehouseID int64
	Warehouse   string
	Href        string
	Configured  bool
	Circuit     string
	Syncs       []connectorSyncCell
}

type connectorSyncCell struct {
	SyncType    string
	Status      string
	Class       string
	LastSuccess when
	Errors      int
	LastError   string // shortened for the table; FullError is its title
	FullError   string
}

func connectorWarehouseLabel(w store.Warehouse) string {
	if w.Name == "" || w.Name == w.Code {
		return w.Code
	}
	return w.Code + " — " + w.Name
}

func (u *connectorUI) listPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	whs, err := u.s.db.ListWarehouses(ctx)
	if err != nil {
		return err
	}
	d := connectorsListData{Layout: u.s.layoutFor(r, "Connectors", "/connectors"), CanWrite: canWrite(r), Warehouses: whs}
	for _, info := range u.svc.List(ctx) {
		c := connectorCard{Name: info.Name, Title: connectorTitle(info.Name), Fields: len(info.Schema.Fields)}
		for _, cp := range info.Capabilities {
			c.Capabilities = append(c.Capabilities, connectorCapabilityLabel(cp))
		}
		for _, f := range info.Schema.Fields {
			if f.Secret {
				c.Secrets++
			}
		}
		for _, wh := range whs {
			row := connectorWarehouseRow{WarehouseID: wh.ID, Warehouse: connectorWarehouseLabel(wh), Href: connectorURL(info.Name, wh.ID, "")}
			_, err := u.svc.GetCredentials(ctx, info.Name, wh.ID)
			switch {
			case err == nil:
				row.Configured = true
			case !errors.Is(err, store.ErrNotFound):
				return err
			}
			st, err := u.svc.SyncStatus(ctx, info.Name, wh.ID)
			if err != nil {
				return err
			}
			if st.Circuit.State != connectors.BreakerClosed {
				row.Circuit = string(st.Circuit.State)
			}
			for _, s := range st.States {
				row.Syncs = append(row.Syncs, connectorSyncCell{SyncType: s.SyncType, Status: connectorStatusLabel(s),
					Class: connectorStatusClass(s), LastSuccess: u.s.atPtr(s.LastSuccessAt), Errors: s.ConsecutiveErrors,
					LastError: connectorErrorText(s.LastErrorMessage)})
				if c := &row.Syncs[len(row.Syncs)-1]; len([]rune(c.LastError)) > 120 {
					c.FullError, c.LastError = c.LastError, string([]rune(c.LastError)[:120])+"…"
				}
			}
			c.Rows = append(c.Rows, row)
		}
		d.Connectors = append(d.Connectors, c)
	}
	d.Flashes = u.takeFlashes(w, r)
	return u.s.render(w, r, http.StatusOK, connectorsListPage(d))
}
