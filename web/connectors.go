package web

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"sentryhub/connectors"
	"sentryhub/store"
)

// ConnectorService is what the connector admin API needs; *connectors.Service
// implements it and app passes it to SetConnectors.
type ConnectorService interface {
	List(ctx context.Context) []connectors.Info
	Info(name string) (connectors.Info, error)
	GetCredentials(ctx context.Context, name string, warehouseID int64) (connectors.CredentialView, error)
	PutCredentials(ctx context.Context, actor, name string, warehouseID int64, values map[string]json.RawMessage) (connectors.CredentialView, error)
	DeleteCredentials(ctx context.Context, actor, name string, warehouseID int64) error
	Test(ctx context.Context, name string, warehouseID int64) (connectors.ConnectionResult, error)
	SyncStatus(ctx context.Context, name string, warehouseID int64) (connectors.SyncStatus, error)
	TriggerSync(ctx context.Context, actor, name string, warehouseID int64, syncType string, full bool) (connectors.RunTicket, error)
	Schedules(ctx context.Context, name string, warehouseID int64) ([]store.ConnectorSchedule, error)
	PutSchedules(ctx context.Context, actor, name string, warehouseID int64, in []connectors.ScheduleRequest) ([]store.ConnectorSchedule, error)
	Runs(ctx context.Context, name string, warehouseID int64, syncType string, limit int) ([]store.SyncRun, error)
	Fulfillments(ctx context.Context, name string, warehouseID int64, status string, limit int) ([]store.FulfillmentPush, error)
	RetryFulfillment(ctx context.Context, actor, name string, id int64) (store.FulfillmentPush, error)
	OpenCircuits() []connectors.Circuit
}

// SetConnectors registers the connector admin API over svc: the eight
// endpoints of the connector framework contract, plus schedules, run
// history and the fulfillment queue. Every route needs the admin scope.
// Call it once, before the server starts.
func (s *Server) SetConnectors(svc ConnectorService) {
	h := &connectorAPI{svc: svc}
	s.circuits = svc // the dashboard lists open circuits
	m := s.mux
	const base = "/api/admin/connectors"
	m.Handle("GET "+base, s.api(store.ScopeAdmin, h.list))
	m.Handle("GET "+base+"/{name}/config-schema", s.api(store.ScopeAdmin, h.schema))
	m.Handle("POST "+base+"/{name}/credentials", s.api(store.ScopeAdmin, h.putCredentials))
	m.Handle("GET "+base+"/{name}/credentials", s.api(store.ScopeAdmin, h.getCredentials))
	m.Handle("DELETE "+base+"/{name}/credentials", s.api(store.ScopeAdmin, h.deleteCredentials))
	m.Handle("POST "+base+"/{name}/test", s.api(store.ScopeAdmin, h.test))
	m.Handle("POST "+base+"/{name}/test-values", s.api(store.ScopeAdmin, h.testValues)) // connector_manifest.go
	m.Handle("GET "+base+"/{name}/sync-status", s.api(store.ScopeAdmin, h.syncStatus))
	m.Handle("POST "+base+"/{name}/sync/{sync_type}", s.api(store.ScopeAdmin, h.sync))
	m.Handle("POST "+base+"/{name}/sync/{sync_type}/reset", s.api(store.ScopeAdmin, s.resetSync)) // connector_manifest.go
	m.Handle("GET "+base+"/{name}/schedules", s.api(store.ScopeAdmin, h.schedules))
	m.Handle("PUT "+base+"/{name}/schedules", s.api(store.ScopeAdmin, h.putSchedules))
	m.Handle("GET "+base+"/{name}/runs", s.api(store.ScopeAdmin, h.runs))
	m.Handle("GET "+base+"/{name}/fulfillments", s.api(store.ScopeAdmin, h.fulfillments))
	m.Handle("GET "+base+"/{name}/fulfillment-health", s.api(store.ScopeAdmin, s.fulfillmentHealth)) // connector_manifest.go
	m.Handle("POST "+base+"/{name}/fulfillments/{id}/retry", s.api(store.ScopeAdmin, h.retryFulfillment))
	s.connectorUIRoutes(svc)
}

type connectorAPI struct {
	svc ConnectorService
}

// warehouseRequired is the problem when no warehouse_id was sent.
func warehouseRequired() error {
	return badRequest("warehouse_id is required (query parameter or body field)",
		map[string]string{"warehouse_id": "is required"})
}

// warehouseParam reads ?warehouse_id=, reconciling it with body (0 when the
// body had none).
func warehouseParam(r *http.Request, body int64) (int64, error) {
	q := r.URL.Query().Get("warehouse_id")
	if q == "" {
		if body == 0 {
			return 0, warehouseRequired()
		}
		return body, nil
	}
	id, err := strconv.ParseInt(q, 10, 64)
	if err != nil || id <= 0 {
		return 0, badRequest("warehouse_id must be a positive integer", map[string]string{"warehouse_id": "must be a positive integer"})
	}
	if body != 0 && body != id {
		return 0, badRequest("warehouse_id in the query and the body differ", map[string]string{"warehouse_id": "differs between query and body"})
	}
	return id, nil
}

func (h *connectorAPI) list(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]any{"connectors": h.svc.List(r.Context())})
	return nil
}

func (h *connectorAPI) schema(w http.ResponseWriter, r *http.Request) error {
	info, err := h.svc.Info(r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"name": info.Name, "capabilities": info.Capabilities,
		"sync_types": info.SyncTypes, "fields": info.Schema.Fields})
	return nil
}

type credentialsRequest struct {
	WarehouseID int64                      `json:"warehouse_id"`
	Values      map[string]json.RawMessage `json:"values"`
}

// putCredentials validates the values against the connector's schema and
// stores them (secrets in the vault); the response shows secrets as ****.
func (h *connectorAPI) putCredentials(w http.ResponseWriter, r *http.Request) error {
	var req credentialsRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	wh, err := warehouseParam(r, req.WarehouseID)
	if err != nil {
		return err
	}
	if req.Values == nil {
		return badRequest("values is required: an object of field -> value", map[string]string{"values": "is required"})
	}
	v, err := h.svc.PutCredentials(r.Context(), principal(r.Context()).Actor(), r.PathValue("name"), wh, req.Values)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (h *connectorAPI) getCredentials(w http.ResponseWriter, r *http.Request) error {
	wh, err := warehouseParam(r, 0)
	if err != nil {
		return err
	}
	v, err := h.svc.GetCredentials(r.Context(), r.PathValue("name"), wh)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (h *connectorAPI) deleteCredentials(w http.ResponseWriter, r *http.Request) error {
	wh, err := warehouseParam(r, 0)
	if err != nil {
		return err
	}
	if err := h.svc.DeleteCredentials(r.Context(), principal(r.Context()).Actor(), r.PathValue("name"), wh); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type warehouseBody struct {
	WarehouseID int64 `json:"warehouse_id"`
}

// test and sync take an optional body; decodeOptionalJSON (warehouse.go)
// accepts an empty one.
func (h *connectorAPI) test(w http.ResponseWriter, r *http.Request) error {
	var body warehouseBody
	if err := decodeOptionalJSON(r, &body); err != nil {
		return err
	}
	wh, err := warehouseParam(r, body.WarehouseID)
	if err != nil {
		return err
	}
	res, err := h.svc.Test(r.Context(), r.PathValue("name"), wh)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (h *connectorAPI) syncStatus(w http.ResponseWriter, r *http.Request) error {
	wh, err := warehouseParam(r, 0)
	if err != nil {
		return err
	}
	st, err := h.svc.SyncStatus(r.Context(), r.PathValue("name"), wh)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// sync starts a sync now and answers 202 with its run id; a sync of the
// same type already running is 409.
func (h *connectorAPI) sync(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		WarehouseID int64 `json:"warehouse_id"`
		Full        bool  `json:"full"`
	}
	if err := decodeOptionalJSON(r, &body); err != nil {
		return err
	}
	wh, err := warehouseParam(r, body.WarehouseID)
	if err != nil {
		return err
	}
	t, err := h.svc.TriggerSync(r.Context(), principal(r.Context()).Actor(), r.PathValue("name"), wh, r.PathValue("sync_type"), body.Full)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, t)
	return nil
}

func (h *connectorAPI) schedules(w http.ResponseWriter, r *http.Request) error {
	wh, err := warehouseParam(r, 0)
	if err != nil {
		return err
	}
	out, err := h.svc.Schedules(r.Context(), r.PathValue("name"), wh)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"schedules": out})
	return nil
}

// putSchedules replaces the warehouse's schedules of the connector.
func (h *connectorAPI) putSchedules(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		WarehouseID int64                        `json:"warehouse_id"`
		Schedules   []connectors.ScheduleRequest `json:"schedules"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	wh, err := warehouseParam(r, req.WarehouseID)
	if err != nil {
		return err
	}
	if req.Schedules == nil {
		return badRequest("schedules is required (an empty list removes them all)", map[string]string{"schedules": "is required"})
	}
	out, err := h.svc.PutSchedules(r.Context(), principal(r.Context()).Actor(), r.PathValue("name"), wh, req.Schedules)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"schedules": out})
	return nil
}

func (h *connectorAPI) runs(w http.ResponseWriter, r *http.Request) error {
	wh, err := warehouseParam(r, 0)
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", 20, 1, 500)
	if err != nil {
		return err
	}
	out, err := h.svc.Runs(r.Context(), r.PathValue("name"), wh, r.URL.Query().Get("sync_type"), int(limit))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": out})
	return nil
}

func (h *connectorAPI) fulfillments(w http.ResponseWriter, r *http.Request) error {
	wh, err := warehouseParam(r, 0)
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", 50, 1, 500)
	if err != nil {
		return err
	}
	out, err := h.svc.Fulfillments(r.Context(), r.PathValue("name"), wh, r.URL.Query().Get("status"), int(limit))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"fulfillments": out})
	return nil
}

func (h *connectorAPI) retryFulfillment(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	p, err := h.svc.RetryFulfillment(r.Context(), principal(r.Context()).Actor(), r.PathValue("name"), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}
