package vault

import (
	"context"
	"errors"
	"testing"
)

func TestBindKey(t *testing.T) {
	ctx := context.Background()
	a, b := mustKey(t), mustKey(t)

	t.Run("first start records, another key is refused", func(t *testing.T) {
		db, _ := newTestDB(t)
		if err := New(db, a).BindKey(ctx); err != nil {
			t.Fatalf("first bind: %v", err)
		}
		if err := New(db, a).BindKey(ctx); err != nil {
			t.Fatalf("same key: %v", err)
		}
		if err := New(db, b).BindKey(ctx); !errors.Is(err, ErrKeyMismatch) {
			t.Fatalf("other key: %v, want ErrKeyMismatch", err)
		}
	})

	// A database from before key checks: a key that cannot open its
	// secrets must not be adopted; the right key is.
	t.Run("legacy database is bound only by a key that opens it", func(t *testing.T) {
		db, _ := newTestDB(t)
		if err := New(db, a).PutCredentials(ctx, "test", "shopify", 1, map[string]Secret{"token": NewSecret("x")}); err != nil {
			t.Fatal(err)
		}
		if err := New(db, b).BindKey(ctx); !errors.Is(err, ErrKeyMismatch) {
			t.Fatalf("wrong key on legacy db: %v", err)
		}
		if err := New(db, a).BindKey(ctx); err != nil {
			t.Fatalf("right key on legacy db: %v", err)
		}
		if err := New(db, b).BindKey(ctx); !errors.Is(err, ErrKeyMismatch) {
			t.Fatalf("wrong key after binding: %v", err)
		}
	})

	t.Run("rotate moves the binding to the new key", func(t *testing.T) {
		db, _ := newTestDB(t)
		v := New(db, a)
		if err := v.BindKey(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Rotate(ctx, "test", b); err != nil {
			t.Fatal(err)
		}
		if err := New(db, b).BindKey(ctx); err != nil {
			t.Fatalf("new key after rotate: %v", err)
		}
		if err := New(db, a).BindKey(ctx); !errors.Is(err, ErrKeyMismatch) {
			t.Fatalf("old key after rotate: %v", err)
		}
	})
}
