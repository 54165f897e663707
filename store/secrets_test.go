package store

import (
	"context"
	"errors"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestSealRunsInsideTheWrite: a store write that stores a secret calls its
// SealFunc inside the transaction, so a seal failure leaves neither the row
// nor its secret nor an audit row behind.
func TestSealRunsInsideTheWrite(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	s, err := SubscriptionCreate{Name: "erp", URL: "https://x.example/h"}.Normalize(false)
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("seal fails")
	if _, err := db.CreateSubscription(ctx, "test", s, func() ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("create with failing seal: err = %v", err)
	}
	if subs, err := db.Subscriptions(ctx); err != nil || len(subs) != 0 {
		t.Fatalf("subscriptions after failed create: %v %v", subs, err)
	}
	if es, err := db.ListAudit(ctx, 0, 100); err != nil || len(es) != 0 {
		t.Fatalf("audit after failed create: %v %v", es, err)
	}
	created, err := db.CreateSubscription(ctx, "test", s, func() ([]byte, error) { return []byte("sealed-1"), nil })
	if err != nil {
		t.Fatal(err)
	}
	if err := db.RotateWebhookSecret(ctx, "test", created.ID, func() ([]byte, error) { return nil, boom }, db.now()); !errors.Is(err, boom) {
		t.Fatalf("rotate with failing seal: err = %v", err)
	}
	got, err := db.SealedWebhookSecrets(ctx, created.ID, db.now())
	if err != nil || len(got) != 1 || got[0].Generation != 1 || string(got[0].Ciphertext) != "sealed-1" {
		t.Fatalf("secrets after failed rotate: %+v %v", got, err)
	}
}

// TestImportBoundaries: the store is the only package that speaks SQL, and
// it sits below the vault (which seals and opens, with no SQL of its own).
func TestImportBoundaries(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		inStore := filepath.ToSlash(filepath.Dir(rel)) == "store"
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			switch {
			case p == "database/sql" && !inStore:
				t.Errorf("%s imports database/sql: only package store may", rel)
			case p == "sentryhub/store/vault" && inStore:
				t.Errorf("%s imports the vault: the store sits below it", rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
