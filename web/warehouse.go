package web

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"sentryhub/store"
)

// warehouseRoutes registers the canonical warehouse model and its
// operations. Every write runs in one store transaction that changes state
// and appends its event; reads need warehouse:write (or admin).
func (s *Server) warehouseRoutes() {
	m := s.mux
	w := store.ScopeWarehouseWrite
	m.Handle("POST /api/v1/warehouses", s.api(w, s.createWarehouse))
	m.Handle("GET /api/v1/warehouses", s.api(w, s.listWarehouses))
	m.Handle("PUT /api/v1/items/{sku}", s.api(w, s.putItem))
	m.Handle("GET /api/v1/items/{sku}", s.api(w, s.getItem))
	m.Handle("GET /api/v1/inventory", s.api(w, s.listInventory))
	m.Handle("POST /api/v1/inventory/adjustments", s.api(w, s.adjustInventory))
	m.Handle("POST /api/v1/cycle-counts", s.api(w, s.recordCycleCount))
	m.Handle("GET /api/v1/cycle-counts/{id}", s.api(w, s.getCycleCount))
	m.Handle("POST /api/v1/sales-orders", s.api(w, s.createSalesOrder))
	m.Handle("GET /api/v1/sales-orders/{id}", s.api(w, s.getSalesOrder))
	m.Handle("POST /api/v1/sales-orders/{id}/pick", s.api(w, s.pickSalesOrder))
	m.Handle("POST /api/v1/sales-orders/{id}/pack", s.api(w, s.packSalesOrder))
	m.Handle("POST /api/v1/sales-orders/{id}/ship", s.api(w, s.shipSalesOrder))
	m.Handle("POST /api/v1/purchase-orders", s.api(w, s.createPurchaseOrder))
	m.Handle("GET /api/v1/purchase-orders/{id}", s.api(w, s.getPurchaseOrder))
	m.Handle("POST /api/v1/purchase-orders/{id}/receive", s.api(w, s.receivePurchaseOrder))
	m.Handle("POST /api/v1/transfers", s.api(w, s.createTransfer))
	m.Handle("GET /api/v1/transfers/{id}", s.api(w, s.getTransfer))
	m.Handle("POST /api/v1/transfers/{id}/complete", s.api(w, s.completeTransfer))
}

// opMeta builds the operation's idempotency metadata: the request id
// (the client's X-Request-ID, which withRequestID has checked, or a
// generated one) scoped to the caller, so one caller's key is never
// another's.
func opMeta(r *http.Request) (store.OpMeta, error) {
	p := principal(r.Context())
	return store.OpMeta{RequestID: requestID(r.Context()), Scope: idempotencyScope(p), Actor: p.Actor()}, nil
}

// idempotencyScope names the caller an idempotency key belongs to, by id
// (a token's or user's name may be reused, its id is not).
func idempotencyScope(p Principal) string {
	switch {
	case p.Token != nil:
		return "token:" + strconv.FormatInt(p.Token.ID, 10)
	case p.User != nil:
		return "user:" + strconv.FormatInt(p.User.ID, 10)
	case p.Integration != nil:
		// By installation: a retry after a token refresh is the same caller.
		return "installation:" + strconv.FormatInt(p.Integration.InstallationID, 10)
	}
	return "anonymous"
}

// operation runs one write with its metadata and writes the result: 201 for
// a new entity, 200 otherwise, the same response again for a replayed
// X-Request-ID (marked Idempotent-Replayed: true).
func operation[T any](w http.ResponseWriter, r *http.Request, fn func(store.OpMeta) (store.Result[T], error)) error {
	meta, err := opMeta(r)
	if err != nil {
		return err
	}
	res, err := fn(meta)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
	}
	if res.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	if len(res.EventIDs) > 0 {
		ids := make([]string, len(res.EventIDs))
		for i, id := range res.EventIDs {
			ids[i] = strconv.FormatInt(id, 10)
		}
		w.Header().Set("X-Sentry-Event-Ids", strings.Join(ids, ","))
	}
	writeJSON(w, status, res.Value)
	return nil
}

// decodeOptionalJSON is decodeJSON for actions whose body may be empty.
func decodeOptionalJSON(r *http.Request, v any) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return err // *http.MaxBytesError becomes 413
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	return decodeJSONBytes(b, v)
}

func (s *Server) createWarehouse(w http.ResponseWriter, r *http.Request) error {
	var in store.WarehouseInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	return operation(w, r, func(m store.OpMeta) (store.Result[store.Warehouse], error) {
		return s.db.CreateWarehouse(r.Context(), m, in)
	})
}

func (s *Server) listWarehouses(w http.ResponseWriter, r *http.Request) error {
	whs, err := s.db.ListWarehouses(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"warehouses": whs})
	return nil
}

func (s *Server) putItem(w http.ResponseWriter, r *http.Request) error {
	var in store.ItemInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	sku := r.PathValue("sku")
	if in.SKU != "" && in.SKU != sku {
		return badRequest("sku in the body does not match the path", map[string]string{"sku": "must equal the sku in the path or be omitted"})
	}
	in.SKU = sku
	return operation(w, r, func(m store.OpMeta) (store.Result[store.Item], error) {
		return s.db.UpsertItem(r.Context(), m, in)
	})
}

func (s *Server) getItem(w http.ResponseWriter, r *http.Request) error {
	it, err := s.db.GetItem(r.Context(), r.PathValue("sku"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, it)
	return nil
}

func (s *Server) listInventory(w http.ResponseWriter, r *http.Request) error {
	wh, err := queryInt(r, "warehouse_id", 0, 1, 1<<62)
	if err != nil {
		return err
	}
	levels, err := s.db.ListInventory(r.Context(), store.InventoryFilter{WarehouseID: wh, SKU: r.URL.Query().Get("sku")})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"inventory": levels})
	return nil
}

func (s *Server) adjustInventory(w http.ResponseWriter, r *http.Request) error {
	var in store.AdjustmentInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	return operation(w, r, func(m store.OpMeta) (store.Result[store.InventoryLevel], error) {
		return s.db.ApplyAdjustment(r.Context(), m, in)
	})
}

func (s *Server) recordCycleCount(w http.ResponseWriter, r *http.Request) error {
	var in store.CycleCountInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	return operation(w, r, func(m store.OpMeta) (store.Result[store.CycleCount], error) {
		return s.db.RecordCycleCount(r.Context(), m, in)
	})
}

func (s *Server) getCycleCount(w http.ResponseWriter, r *http.Request) error {
	c, err := s.db.GetCycleCount(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) createSalesOrder(w http.ResponseWriter, r *http.Request) error {
	var in store.SalesOrderInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	return operation(w, r, func(m store.OpMeta) (store.Result[store.SalesOrder], error) {
		return s.db.CreateSalesOrder(r.Context(), m, in)
	})
}

// salesOrderView is a sales order as GET returns it: with, for an order
// that came from a connector and shipped, the outcome of pushing the
// fulfillment back to its source.
type salesOrderView struct {
	store.SalesOrder
	Fulfillment *fulfillmentView `json:"fulfillment,omitempty"`
}

// fulfillmentView is the part of a fulfillment push an order's reader
// needs; the queue's internals (lease, idempotency key) stay out.
type fulfillmentView struct {
	Connector     string                  `json:"connector"`
	Status        store.FulfillmentStatus `json:"status"`
	Attempts      int                     `json:"attempts"`
	NextAttemptAt *time.Time              `json:"next_attempt_at,omitempty"`
	LastError     string                  `json:"last_error,omitempty"`
	UpstreamRef   string                  `json:"upstream_ref,omitempty"`
	CompletedAt   *time.Time              `json:"completed_at,omitempty"`
}

func (s *Server) getSalesOrder(w http.ResponseWriter, r *http.Request) error {
	so, err := s.db.GetSalesOrder(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	v := salesOrderView{SalesOrder: so}
	if so.Source != nil && so.ShippedAt != nil {
		p, err := s.db.GetFulfillmentPush(r.Context(), so.ID)
		switch {
		case err == nil:
			v.Fulfillment = &fulfillmentView{Connector: p.Connector, Status: p.Status,
				Attempts: p.Attempts, LastError: p.LastError, UpstreamRef: p.UpstreamRef,
				CompletedAt: p.CompletedAt}
			if p.Status == store.FulfillmentPending {
				v.Fulfillment.NextAttemptAt = &p.NextAttemptAt
			}
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) pickSalesOrder(w http.ResponseWriter, r *http.Request) error {
	if err := decodeOptionalJSON(r, &struct{}{}); err != nil {
		return err
	}
	return operation(w, r, func(m store.OpMeta) (store.Result[store.SalesOrder], error) {
		return s.db.PickSalesOrder(r.Context(), m, r.PathValue("id"))
	})
}

func (s *Server) packSalesOrder(w http.ResponseWriter, r *http.Request) error {
	if err := decodeOptionalJSON(r, &struct{}{}); err != nil {
		return err
	}
	return operation(w, r, func(m store.OpMeta) (store.Result[store.SalesOrder], error) {
		return s.db.PackSalesOrder(r.Context(), m, r.PathValue("id"))
	})
}

func (s *Server) shipSalesOrder(w http.ResponseWriter, r *http.Request) error {
	var in store.ShipInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	return operation(w, r, func(m store.OpMeta) (store.Result[store.SalesOrder], error) {
		return s.db.ShipSalesOrder(r.Context(), m, r.PathValue("id"), in)
	})
}

func (s *Server) createPurchaseOrder(w http.ResponseWriter, r *http.Request) error {
	var in store.PurchaseOrderInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	return operation(w, r, func(m store.OpMeta) (store.Result[store.PurchaseOrder], error) {
		return s.db.CreatePurchaseOrder(r.Context(), m, in)
	})
}

func (s *Server) getPurchaseOrder(w http.ResponseWriter, r *http.Request) error {
	po, err := s.db.GetPurchaseOrder(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, po)
	return nil
}

func (s *Server) receivePurchaseOrder(w http.ResponseWriter, r *http.Request) error {
	var in store.ReceiptInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	return operation(w, r, func(m store.OpMeta) (store.Result[store.PurchaseOrder], error) {
		return s.db.ReceivePurchaseOrder(r.Context(), m, r.PathValue("id"), in)
	})
}

func (s *Server) createTransfer(w http.ResponseWriter, r *http.Request) error {
	var in store.TransferInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	return operation(w, r, func(m store.OpMeta) (store.Result[store.Transfer], error) {
		return s.db.CreateTransfer(r.Context(), m, in)
	})
}

func (s *Server) getTransfer(w http.ResponseWriter, r *http.Request) error {
	t, err := s.db.GetTransfer(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

func (s *Server) completeTransfer(w http.ResponseWriter, r *http.Request) error {
	if err := decodeOptionalJSON(r, &struct{}{}); err != nil {
		return err
	}
	return operation(w, r, func(m store.OpMeta) (store.Result[store.Transfer], error) {
		return s.db.CompleteTransfer(r.Context(), m, r.PathValue("id"))
	})
}
