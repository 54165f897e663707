package store_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"sentryhub/store"
)

func TestResetSync(t *testing.T) {
	e, _ := syncEnv(t)
	k := store.SyncKey{Connector: "tinyshop", WarehouseID: e.wh1, SyncType: "orders"}
	if _, err := e.db.ResetSync(e.ctx, "admin:ops", k); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("never ran: %v", err)
	}
	lost := uuid.NewString()
	if _, err := e.db.ClaimSync(e.ctx, k, store.ClaimOptions{RunID: lost}); err != nil {
		t.Fatal(err)
	}
	st, err := e.db.ResetSync(e.ctx, "admin:ops", k)
	if err != nil || st.Status != store.SyncIdle || st.RunID != "" {
		t.Fatalf("reset: %+v %v", st, err)
	}
	// The lost worker's late writes change nothing.
	if err := e.db.FinishSync(e.ctx, k, lost, store.SyncRunRecord{Status: store.RunSuccess}); !errors.Is(err, store.ErrRunSuperseded) {
		t.Fatalf("late finish: %v", err)
	}
	var ce *store.ConflictError
	if _, err := e.db.ResetSync(e.ctx, "admin:ops", k); !errors.As(err, &ce) {
		t.Fatalf("reset of an idle sync: %v", err)
	}
	// A new run can claim it at once.
	if _, err := e.db.ClaimSync(e.ctx, k, store.ClaimOptions{RunID: uuid.NewString()}); err != nil {
		t.Fatalf("claim after reset: %v", err)
	}
	audit, err := e.db.ListAudit(e.ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range audit {
		if a.Action == "connector.sync.reset" && a.Actor == "admin:ops" && strings.Contains(string(a.Diff), lost) {
			found = true
		}
	}
	if !found {
		t.Fatalf("no connector.sync.reset audit row naming run %s: %+v", lost, audit)
	}
}
