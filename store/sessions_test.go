package store

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// stepClock is a settable clock for store tests.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func sessionTestDB(t *testing.T) (*DB, *stepClock) {
	t.Helper()
	db := openTest(t)
	c := &stepClock{now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	db.Now = c.Now
	return db, c
}

func mustUser(t *testing.T, db *DB, email string) User {
	t.Helper()
	u, err := db.CreateUser(context.Background(), "test", email, RoleAdmin, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func mustSession(t *testing.T, db *DB, userID int64) (string, Session) {
	t.Helper()
	plain, s, err := db.CreateSession(context.Background(), NewSession{UserID: userID, UserAgent: "test-agent", IP: "192.0.2.1",
		Idle: 2 * time.Hour, Absolute: 12 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return plain, s
}

func TestSessionLifecycle(t *testing.T) {
	ctx := context.Background()
	db, c := sessionTestDB(t)
	u := mustUser(t, db, "a@example.com")
	plain, created := mustSession(t, db, u.ID)
	if len(plain) < 43 || created.ID == 0 || created.Status != SessionActive || created.UserEmail != u.Email {
		t.Fatalf("created %q %+v", plain, created)
	}
	// Only the hash is stored.
	var stored []byte
	if err := db.r.QueryRowContext(ctx, `SELECT token_hash FROM sessions WHERE id = ?`, created.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(stored), plain) || len(stored) != 32 {
		t.Fatalf("stored %x", stored)
	}

	s, got, err := db.SessionUser(ctx, plain)
	if err != nil || got.ID != u.ID || got.Email != u.Email || got.Role != RoleAdmin || s.ID != created.ID {
		t.Fatalf("lookup: %+v %+v %v", s, got, err)
	}
	seen := func() string {
		t.Helper()
		var at string
		if err := db.r.QueryRowContext(ctx, `SELECT last_seen_at FROM sessions WHERE id = ?`, created.ID).Scan(&at); err != nil {
			t.Fatal(err)
		}
		return at
	}
	// last_seen_at is written at most once a minute.
	first := seen()
	c.Advance(30 * time.Second)
	db.SessionUser(ctx, plain)
	if seen() != first {
		t.Fatal("last_seen_at written within a minute of the last write")
	}
	c.Advance(31 * time.Second)
	db.SessionUser(ctx, plain)
	if seen() == first {
		t.Fatal("last_seen_at not written after a minute")
	}

	for _, bad := range []string{"", "nope", strings.Repeat("x", 200), plain + "x"} {
		if _, _, err := db.SessionUser(ctx, bad); !errors.Is(err, ErrNoSession) {
			t.Fatalf("lookup %q: %v", bad, err)
		}
	}

	// Idle expiry: 2h without a request ends it; its listing says so.
	c.Advance(2*time.Hour + time.Second)
	if _, _, err := db.SessionUser(ctx, plain); !errors.Is(err, ErrNoSession) {
		t.Fatalf("idle session: %v", err)
	}
	list, _ := db.ListSessions(ctx, SessionFilter{UserID: u.ID})
	if len(list) != 1 || list[0].Status != SessionExpired {
		t.Fatalf("listing %+v", list)
	}
	if active, _ := db.ListSessions(ctx, SessionFilter{ActiveOnly: true}); len(active) != 0 {
		t.Fatalf("idle session listed as active: %+v", active)
	}

	// Absolute expiry: constant use still ends after 12h.
	plain2, _ := mustSession(t, db, u.ID)
	for range 11 {
		c.Advance(time.Hour)
		if _, _, err := db.SessionUser(ctx, plain2); err != nil {
			t.Fatalf("session ended before its absolute expiry: %v", err)
		}
	}
	c.Advance(time.Hour)
	if _, _, err := db.SessionUser(ctx, plain2); !errors.Is(err, ErrNoSession) {
		t.Fatalf("session outlived its absolute expiry: %v", err)
	}

	// Logout.
	plain3, s3 := mustSession(t, db, u.ID)
	if err := db.EndSession(ctx, plain3, RevokeLogout); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.SessionUser(ctx, plain3); !errors.Is(err, ErrNoSession) {
		t.Fatalf("session after logout: %v", err)
	}
	if err := db.EndSession(ctx, plain3, RevokeLogout); err != nil {
		t.Fatalf("second logout: %v", err)
	}
	list, _ = db.ListSessions(ctx, SessionFilter{UserID: u.ID})
	if list[0].ID != s3.ID || list[0].Status != SessionRevoked || list[0].RevokedReason == nil || *list[0].RevokedReason != RevokeLogout {
		t.Fatalf("revoked listing %+v", list[0])
	}
}

// Every change to a user that should end its sessions does so in the same
// transaction, and leaves other users' sessions alone.
func TestUserChangesRevokeSessions(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, action, reason string
		change               func(db *DB, id int64) error
	}{
		{"password", "user.set_password", RevokePasswordChange, func(db *DB, id int64) error {
			return db.SetPassword(ctx, "test", id, "another long password")
		}},
		{"role", "user.set_role", RevokeRoleChange, func(db *DB, id int64) error { return db.SetUserRole(ctx, "test", id, RoleViewer) }},
		{"disable", "user.disable", RevokeUserDisabled, func(db *DB, id int64) error { return db.SetUserDisabled(ctx, "test", id, true) }},
		{"delete", "user.delete", "", func(db *DB, id int64) error { return db.DeleteUser(ctx, "test", id) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, _ := sessionTestDB(t)
			u := mustUser(t, db, "a@example.com")
			other := mustUser(t, db, "b@example.com")
			p1, _ := mustSession(t, db, u.ID)
			p2, _ := mustSession(t, db, u.ID)
			po, _ := mustSession(t, db, other.ID)
			if err := tc.change(db, u.ID); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{p1, p2} {
				if _, _, err := db.SessionUser(ctx, p); !errors.Is(err, ErrNoSession) {
					t.Fatalf("session survived: %v", err)
				}
			}
			if _, _, err := db.SessionUser(ctx, po); err != nil {
				t.Fatalf("another user's session ended: %v", err)
			}
			if tc.reason != "" {
				list, _ := db.ListSessions(ctx, SessionFilter{UserID: u.ID})
				for _, s := range list {
					if s.RevokedReason == nil || *s.RevokedReason != tc.reason {
						t.Fatalf("reason %v, want %s", s.RevokedReason, tc.reason)
					}
				}
			}
			entries, err := db.ListAudit(ctx, 0, 1)
			if err != nil {
				t.Fatal(err)
			}
			var diff map[string]any
			json.Unmarshal(entries[0].Diff, &diff)
			if entries[0].Action != tc.action || diff["sessions_revoked"] != float64(2) {
				t.Fatalf("audit %s %s", entries[0].Action, entries[0].Diff)
			}
			if err := tc.change(db, 9999); !errors.Is(err, ErrNotFound) {
				t.Fatalf("unknown user: %v", err)
			}
		})
	}
	// Re-enabling revokes nothing (there is nothing open) and works.
	db, _ := sessionTestDB(t)
	u := mustUser(t, db, "a@example.com")
	if err := db.SetUserDisabled(ctx, "test", u.ID, true); err != nil {
		t.Fatal(err)
	}
	if err := db.SetUserDisabled(ctx, "test", u.ID, false); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.GetUser(ctx, u.ID); got.Disabled {
		t.Fatal("still disabled")
	}
	if err := db.SetUserRole(ctx, "test", u.ID, "root"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad role: %v", err)
	}
}

// A disabled user's sessions are refused even if one were left open.
func TestSessionOfDisabledUser(t *testing.T) {
	ctx := context.Background()
	db, _ := sessionTestDB(t)
	u := mustUser(t, db, "a@example.com")
	plain, _ := mustSession(t, db, u.ID)
	if _, err := db.w.ExecContext(ctx, `UPDATE users SET disabled = 1 WHERE id = ?`, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.SessionUser(ctx, plain); !errors.Is(err, ErrNoSession) {
		t.Fatalf("disabled user's session: %v", err)
	}
}

func TestAdminRevokesSessions(t *testing.T) {
	ctx := context.Background()
	db, _ := sessionTestDB(t)
	u := mustUser(t, db, "a@example.com")
	other := mustUser(t, db, "b@example.com")
	p1, s1 := mustSession(t, db, u.ID)
	p2, _ := mustSession(t, db, u.ID)
	_, so := mustSession(t, db, other.ID)

	if err := db.RevokeSession(ctx, "admin", u.ID, so.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoking another user's session under this user: %v", err)
	}
	if err := db.RevokeSession(ctx, "admin", u.ID, s1.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.RevokeSession(ctx, "admin", u.ID, s1.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second revoke: %v", err)
	}
	if _, _, err := db.SessionUser(ctx, p1); !errors.Is(err, ErrNoSession) {
		t.Fatalf("revoked session: %v", err)
	}
	if _, _, err := db.SessionUser(ctx, p2); err != nil {
		t.Fatalf("other session of the user: %v", err)
	}
	n, err := db.RevokeUserSessions(ctx, "admin", u.ID)
	if err != nil || n != 1 {
		t.Fatalf("revoke all: %d %v", n, err)
	}
	if _, _, err := db.SessionUser(ctx, p2); !errors.Is(err, ErrNoSession) {
		t.Fatalf("session after revoke all: %v", err)
	}
	if _, err := db.RevokeUserSessions(ctx, "admin", 9999); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
	entries, _ := db.ListAudit(ctx, 0, 2)
	if entries[0].Action != "session.revoke_all" || entries[1].Action != "session.revoke" {
		t.Fatalf("audit %s, %s", entries[0].Action, entries[1].Action)
	}
}

func TestPruneSessions(t *testing.T) {
	ctx := context.Background()
	db, c := sessionTestDB(t)
	u := mustUser(t, db, "a@example.com")
	_, expired := mustSession(t, db, u.ID) // absolute expiry at +12h
	pRevoked, revoked := mustSession(t, db, u.ID)
	c.Advance(time.Hour)
	db.EndSession(ctx, pRevoked, RevokeLogout) // ended at +1h
	c.Advance(12 * time.Hour)                  // +13h
	_, young := mustSession(t, db, u.ID)
	pRecent, recent := mustSession(t, db, u.ID)
	db.EndSession(ctx, pRecent, RevokeLogout)

	// Cutoff +1h30m: the revoked one ended before it; the expired one ended
	// at +12h, after it.
	n, err := db.PruneSessions(ctx, c.Now().Add(-SessionRetention+30*time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("prune: %d %v", n, err)
	}
	ids := func() map[int64]bool {
		list, _ := db.ListSessions(ctx, SessionFilter{UserID: u.ID})
		m := map[int64]bool{}
		for _, s := range list {
			m[s.ID] = true
		}
		return m
	}
	if got := ids(); got[revoked.ID] || !got[expired.ID] || !got[young.ID] || !got[recent.ID] {
		t.Fatalf("after first prune %v", got)
	}
	c.Advance(12 * time.Hour) // +25h: the expired one ended 13h ago
	n, err = db.PruneSessions(ctx, c.Now().Add(-SessionRetention))
	if err != nil || n != 1 {
		t.Fatalf("second prune: %d %v", n, err)
	}
	if got := ids(); got[expired.ID] || !got[young.ID] || !got[recent.ID] {
		t.Fatalf("after second prune %v", got)
	}
}

func TestClip(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"abc", 5, "abc"},
		{"abcdef", 3, "abc"},
		{"aé", 2, "a"}, // é is two bytes: not split
		{"a\xffb", 10, "a\uFFFDb"},
	} {
		if got := clip(tc.in, tc.n); got != tc.want {
			t.Errorf("clip(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
