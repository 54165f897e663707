package app

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"sentryhub/store"
	"sentryhub/store/storetest"
)

// Every demo start issues a new admin password; whoever logged in with the
// old one is logged out with it.
func TestDemoPasswordResetEndsSessions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.Open(t, filepath.Join(t.TempDir(), store.FileName), store.WithAuditKey(store.DeriveAuditKey([]byte("test"))), store.WithPasswordHashing(store.PasswordHashing{MemoryKiB: 8, Threads: 1}))
	first, err := demoAdmin(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	u, err := db.Authenticate(ctx, demoEmail, first)
	if err != nil {
		t.Fatal(err)
	}
	sid, _, err := db.CreateSession(ctx, store.NewSession{UserID: u.ID, Idle: 2 * time.Hour, Absolute: 12 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	second, err := demoAdmin(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.SessionUser(ctx, sid); !errors.Is(err, store.ErrNoSession) {
		t.Fatalf("a session from before the password reset: %v", err)
	}
	if _, err := db.Authenticate(ctx, demoEmail, first); !errors.Is(err, store.ErrBadCredentials) {
		t.Fatalf("old password: %v", err)
	}
	if _, err := db.Authenticate(ctx, demoEmail, second); err != nil {
		t.Fatalf("new password: %v", err)
	}
}
