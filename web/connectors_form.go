package web

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"sentryhub/store"
)

// The connector forms as typed, and reading them.

// connectorScheduleForm is the schedule editor of one sync type.
type connectorScheduleForm struct {
	Mode          string // off, interval or cron
	IntervalValue string
	IntervalUnit  string // seconds, minutes, hours or days
	Cron          string
	Enabled       bool
	Summary       string
	NextRun       when
	LastRun       when
	UpdatedBy     string
	Errors        map[string]string // mode, interval, cron, enabled
}

var connectorIntervalUnits = []struct {
	Name    string
	Seconds int64
}{{"days", 86400}, {"hours", 3600}, {"minutes", 60}, {"seconds", 1}}

// connectorSplitInterval shows seconds in the largest unit that divides them.
func connectorSplitInterval(sec int64) (string, string) {
	for _, un := range connectorIntervalUnits {
		if sec%un.Seconds == 0 {
			return strconv.FormatInt(sec/un.Seconds, 10), un.Name
		}
	}
	return strconv.FormatInt(sec, 10), "seconds"
}

// connectorCredentialsInput is what the credentials form sent back after a refusal:
// the non-secret values typed and the errors by field.
type connectorCredentialsInput struct {
	values map[string]string
	errors map[string]string
	notes  []string
}

// connectorScheduleInput is a refused schedule edit.
type connectorScheduleInput struct {
	syncType string
	form     connectorScheduleForm
	summary  string
}

// connectorWarehouseQuery resolves ?warehouse_id=: absent means the first warehouse.
func connectorWarehouseQuery(r *http.Request, whs []store.Warehouse) (int64, error) {
	q := r.URL.Query().Get("warehouse_id")
	if q == "" {
		if len(whs) == 0 {
			return 0, nil
		}
		return whs[0].ID, nil
	}
	id, err := strconv.ParseInt(q, 10, 64)
	if err != nil || id <= 0 {
		return 0, badRequest("warehouse_id must be a positive integer", map[string]string{"warehouse_id": "must be a positive integer"})
	}
	if !slices.ContainsFunc(whs, func(w store.Warehouse) bool { return w.ID == id }) {
		return 0, &Error{Status: http.StatusNotFound, Code: "not_found", Message: fmt.Sprintf("there is no warehouse %d", id)}
	}
	return id, nil
}

// connectorFormWarehouse reads the warehouse_id every change form carries.
func connectorFormWarehouse(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PostForm.Get("warehouse_id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, badRequest("warehouse_id must be a positive integer", map[string]string{"warehouse_id": "must be a positive integer"})
	}
	return id, nil
}
