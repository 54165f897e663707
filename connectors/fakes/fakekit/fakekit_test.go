package fakekit

import (
	"fmt"
	"testing"
	"time"
)

func TestGenerateIsDeterministic(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a, b := Generate(5, 20, 10, base), Generate(5, 20, 10, base)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatal("same seed, different shops")
	}
	if c := Generate(6, 20, 10, base); fmt.Sprint(c) == fmt.Sprint(a) {
		t.Fatal("another seed, same shop")
	}
	for i, p := range a.Products {
		if p.SKU != fmt.Sprintf("SKU-%05d", i+1) || !p.Updated.Equal(base.Add(time.Duration(i+1)*time.Minute)) {
			t.Fatalf("product %d: %+v", i, p)
		}
	}
	for _, o := range a.Orders {
		if len(o.Lines) < 1 || len(o.Lines) > 3 || o.Total() <= 0 {
			t.Fatalf("order %+v", o)
		}
	}
}

func TestTokens(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tk := NewTokens(func() time.Time { return now }, time.Hour)
	at, rt := tk.Issue(true)
	if !tk.Valid(at) || tk.Valid("x") {
		t.Fatal("validity")
	}
	now = now.Add(time.Hour)
	if tk.Valid(at) {
		t.Fatal("token valid at its expiry")
	}
	at2, rt2, ok := tk.Refresh(rt)
	if !ok || !tk.Valid(at2) || rt2 == rt {
		t.Fatal("refresh")
	}
	if _, _, ok := tk.Refresh(rt); ok {
		t.Fatal("spent refresh token reused")
	}
	tk.ExpireAll()
	if tk.Valid(at2) {
		t.Fatal("ExpireAll left a token valid")
	}
	tk.RevokeRefresh()
	if _, _, ok := tk.Refresh(rt2); ok {
		t.Fatal("revoked refresh token used")
	}
	if tk.Grants() != 2 {
		t.Fatalf("grants %d", tk.Grants())
	}
}

func TestSwitchesAndHelpers(t *testing.T) {
	var s Switches
	s.ThrottleNext(2)
	if !s.TakeThrottle() || !s.TakeThrottle() || s.TakeThrottle() || s.Throttled() != 2 {
		t.Fatal("throttle count")
	}
	tests := []struct {
		n, off, lim, lo, hi int
	}{{10, 0, 3, 0, 3}, {10, 9, 3, 9, 10}, {10, 12, 3, 10, 10}, {10, -1, 3, 0, 3}, {0, 0, 5, 0, 0}}
	for _, tt := range tests {
		if lo, hi := Window(tt.n, tt.off, tt.lim); lo != tt.lo || hi != tt.hi {
			t.Errorf("Window(%d,%d,%d) = %d,%d", tt.n, tt.off, tt.lim, lo, hi)
		}
	}
	for cents, want := range map[int64]string{0: "0.00", 5: "0.05", 1234: "12.34", -250: "-2.50"} {
		if Money(cents) != want {
			t.Errorf("Money(%d) = %s", cents, Money(cents))
		}
	}
}
