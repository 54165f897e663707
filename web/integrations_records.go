package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"sentryhub/integrations"
	"sentryhub/store"
)

// Record pages (sales order, item, warehouse) with the UI components of
// the installed integrations: links, and actions whose answer the page
// shows once after the redirect, so a reload does not run them again.

// actionAnswer is a UI action's answer waiting for the record page.
type actionAnswer struct {
	page, key string
	from      string
	answer    integrations.ActionAnswer
}

func (u *integrationUI) recordRoutes() {
	m := u.s.mux
	m.Handle("GET /records/{page}/{key}", u.s.page(u.record))
	m.Handle("POST /records/{page}/{key}/actions/{slug}/{index}", u.s.page(u.s.adminOnly(u.action)))
}

// recordView loads the record a record page shows: its title, fields and
// the context its integrations' components see.
func (u *integrationUI) recordView(r *http.Request) (recordData, map[string]string, error) {
	page, key := r.PathValue("page"), r.PathValue("key")
	d := recordData{Page: page, Key: url.PathEscape(key)}
	var ctx map[string]string
	switch page {
	case integrations.PageSalesOrder:
		so, err := u.svc.DB().GetSalesOrder(r.Context(), key)
		if err != nil {
			return d, nil, err
		}
		d.Title = "Sales order " + so.OrderNumber
		ctx = map[string]string{"order_id": so.ID, "external_id": so.OrderNumber, "warehouse_id": itoa(so.WarehouseID), "status": string(so.Status)}
		d.Fields = [][2]string{{"Order number", so.OrderNumber}, {"Status", string(so.Status)}, {"Warehouse", itoa(so.WarehouseID)},
			{"Carrier", so.Carrier}, {"Tracking", so.Tracking}}
		for _, l := range so.Lines {
			d.Fields = append(d.Fields, [2]string{"Line", fmt.Sprintf("%s × %d", l.SKU, l.Qty)})
		}
	case integrations.PageItem:
		it, err := u.svc.DB().GetItem(r.Context(), key)
		if err != nil {
			return d, nil, err
		}
		d.Title = "Item " + it.SKU
		ctx = map[string]string{"sku": it.SKU, "name": it.Name}
		d.Fields = [][2]string{{"SKU", it.SKU}, {"Name", it.Name}, {"Barcode", it.Barcode}}
	case integrations.PageWarehouse:
		whs, err := u.svc.DB().ListWarehouses(r.Context())
		if err != nil {
			return d, nil, err
		}
		i := slices.IndexFunc(whs, func(w store.Warehouse) bool { return itoa(w.ID) == key })
		if i < 0 {
			return d, nil, fmt.Errorf("warehouse %s: %w", key, store.ErrNotFound)
		}
		d.Title = "Warehouse " + whs[i].Code
		ctx = map[string]string{"warehouse_id": itoa(whs[i].ID), "code": whs[i].Code, "name": whs[i].Name}
		d.Fields = [][2]string{{"Code", whs[i].Code}, {"Name", whs[i].Name}}
	default:
		return d, nil, &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such record page: " + page}
	}
	d.Layout, d.CanWrite = u.s.layoutFor(r, d.Title, ""), canWrite(r)
	els, err := u.svc.PageElements(r.Context(), page, ctx)
	if err != nil {
		return d, nil, err
	}
	d.Elements = els
	return d, ctx, nil
}

func (u *integrationUI) record(w http.ResponseWriter, r *http.Request) error {
	d, _, err := u.recordView(r)
	if err != nil {
		return err
	}
	fs, nonce := u.s.takeFlashes(w, r)
	if a, ok := claimInto(u.s, r, u.answers, nonce, &fs); ok && a.page == d.Page && a.key == d.Key {
		d.Answer, d.AnswerFrom = &a.answer, a.from
	}
	d.Flashes = fs
	return u.s.render(w, r, http.StatusOK, recordPage(d))
}

// action runs an integration's action for the record and redirects to
// the record page, which shows its answer, as text, once.
func (u *integrationUI) action(w http.ResponseWriter, r *http.Request) error {
	d, ctx, err := u.recordView(r)
	if err != nil {
		return err
	}
	idx, err := strconv.Atoi(r.PathValue("index"))
	if err != nil {
		return badRequest("index must be a whole number", nil)
	}
	slug := r.PathValue("slug")
	ans, err := u.svc.RunAction(r.Context(), slug, d.Page, idx, ctx)
	if err != nil {
		return err
	}
	return seeOtherRevealing(u.s, w, r, "/records/"+d.Page+"/"+d.Key, u.answers, actionAnswer{page: d.Page, key: d.Key, from: slug, answer: ans})
}
