package store

import (
	"context"
	"errors"
	"strings"
	"testing"

	"modernc.org/sqlite"
)

// A unique-constraint violation comes back as a typed *ConflictError: it
// matches ErrConflict, keeps the driver's error for errors.As, and its text
// carries no SQLite detail (which once had to be cut off by parsing).
func TestUniqueViolationIsConflictError(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	if _, err := db.CreateUser(ctx, "test", "dup@example.com", RoleAdmin, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	_, err := db.CreateUser(ctx, "test", "dup@example.com", RoleViewer, "correct horse battery")
	var ce *ConflictError
	var se *sqlite.Error
	switch {
	case !errors.Is(err, ErrConflict):
		t.Fatalf("duplicate email: %v, want ErrConflict", err)
	case !errors.As(err, &ce) || ce.Err == nil:
		t.Fatalf("duplicate email: %#v, want a *ConflictError carrying the driver error", err)
	case !errors.As(err, &se):
		t.Fatalf("driver error not reachable: %v", err)
	case strings.Contains(err.Error(), "UNIQUE") || strings.Contains(err.Error(), "\n"):
		t.Fatalf("driver text in the message: %q", err.Error())
	case err.Error() != "create user dup@example.com: conflict":
		t.Fatalf("message %q", err.Error())
	}
}

func TestIsEventName(t *testing.T) {
	for _, tc := range []struct {
		s  string
		ok bool
	}{
		{"ship.confirmed", true}, {"sales_order", true}, {"a.b_2.c", true},
		{"", false}, {".a", false}, {"a.", false}, {"a..b", false}, {"A.b", false}, {"a.2b", false},
		{"_a", false}, {"a/b", false}, {"../x", false}, {"a b", false}, {"ship.confirmed\n", false},
		{strings.Repeat("a", maxEventTypeLen+1), false},
	} {
		if got := IsEventName(tc.s); got != tc.ok {
			t.Errorf("IsEventName(%q) = %v, want %v", tc.s, got, tc.ok)
		}
	}
}
