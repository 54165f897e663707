package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var testAuditKey = DeriveAuditKey([]byte("test"))

// appendN appends n entries and returns the head after them.
func appendN(t *testing.T, db *DB, n int) {
	t.Helper()
	for i := range n {
		if err := db.Audit(context.Background(), Audit{Actor: "user:a", Action: "x.update", Target: "x:1", Diff: map[string]any{"i": i}}); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
}

// attacker runs SQL on the file as someone holding it would: with every
// audit trigger dropped first.
func attacker(t *testing.T, db *DB, stmts ...string) {
	t.Helper()
	for _, q := range append([]string{
		`DROP TRIGGER IF EXISTS audit_log_no_update`,
		`DROP TRIGGER IF EXISTS audit_log_no_delete`,
		`DROP TRIGGER IF EXISTS audit_log_ids_grow`,
	}, stmts...) {
		if _, err := db.w.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// rewriteChain lets edit change rows, then recomputes every prev_hash and
// hash with seal, as an attacker covering their tracks would.
func rewriteChain(t *testing.T, db *DB, seal sealer, edit func(r *auditRow)) {
	t.Helper()
	attacker(t, db)
	rows, err := db.w.Query(`SELECT id, at, actor, action, target, diff, prev_hash, hash FROM audit_log ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var all []auditRow
	for rows.Next() {
		var r auditRow
		if err := rows.Scan(&r.id, &r.at, &r.actor, &r.action, &r.target, &r.diff, &r.prevHash, &r.hash); err != nil {
			t.Fatal(err)
		}
		all = append(all, r)
	}
	rows.Close()
	prev := genesisHash
	for i := range all {
		r := &all[i]
		if edit != nil {
			edit(r)
		}
		r.prevHash = prev
		r.hash = seal(prev, r)
		prev = r.hash
		if _, err := db.w.Exec(`UPDATE audit_log SET actor = ?, diff = ?, prev_hash = ?, hash = ? WHERE id = ?`, r.actor, r.diff, r.prevHash, r.hash, r.id); err != nil {
			t.Fatal(err)
		}
	}
}

func wantBreak(t *testing.T, db *DB, kind AuditBreak, id int64, text string) {
	t.Helper()
	_, err := db.CheckAudit(context.Background())
	var ce *AuditChainError
	if !errors.As(err, &ce) || ce.Kind != kind || ce.ID != id || !strings.Contains(err.Error(), text) {
		t.Fatalf("verify = %v, want kind %d at row %d mentioning %q", err, kind, id, text)
	}
}

func TestAuditLogIsAutoincrement(t *testing.T) {
	db := openTest(t)
	var ddl string
	if err := db.r.QueryRow(`SELECT sql FROM sqlite_master WHERE name = 'audit_log'`).Scan(&ddl); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ddl, "AUTOINCREMENT") {
		t.Fatalf("audit_log must be AUTOINCREMENT so sqlite_sequence keeps the high-water mark: %s", ddl)
	}
}

// TestAuditInsertGuard: the ways SQL offers to put a row over or under an
// existing one are refused by the insert trigger, with the other triggers in
// place (INSERT OR REPLACE deletes without firing the delete trigger).
func TestAuditInsertGuard(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	appendN(t, db, 3)
	before, err := db.ListAudit(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	const cols = `(id, at, actor, action, target, diff, prev_hash, hash)`
	const vals = `'2026-01-01T00:00:00.000Z', 'user:mallory', 'x', 'x', '{}', 'p', 'h'`
	for _, q := range []string{
		`INSERT OR REPLACE INTO audit_log ` + cols + ` VALUES (2, ` + vals + `)`,
		`REPLACE INTO audit_log ` + cols + ` VALUES (3, ` + vals + `)`,
		`INSERT INTO audit_log ` + cols + ` VALUES (2, ` + vals + `) ON CONFLICT (id) DO UPDATE SET actor = excluded.actor`,
		`INSERT INTO audit_log ` + cols + ` VALUES (0, ` + vals + `)`,
		`INSERT INTO audit_log ` + cols + ` VALUES (-5, ` + vals + `)`,
		`INSERT INTO audit_log (at, actor, action, target, diff, prev_hash, hash) VALUES (` + vals + `)`,
	} {
		if _, err := db.w.ExecContext(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want it refused", q, err)
		}
	}
	after, _ := db.ListAudit(ctx, 0, 10)
	if len(after) != len(before) || after[0].Hash != before[0].Hash || after[1].Actor != before[1].Actor || after[1].Hash != before[1].Hash {
		t.Fatalf("rows changed: %+v", after)
	}

	// After the newest rows are deleted (delete trigger dropped), their ids
	// stay used: an insert below the high-water mark is refused although
	// it is above the current maximum.
	if _, err := db.w.ExecContext(ctx, `DROP TRIGGER audit_log_no_delete`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.w.ExecContext(ctx, `DELETE FROM audit_log WHERE id >= 2`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.w.ExecContext(ctx, `INSERT INTO audit_log `+cols+` VALUES (2, `+vals+`)`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("reusing a deleted id: err = %v", err)
	}
	// The hub itself carries on above the mark, leaving the gap for verify.
	appendN(t, db, 1)
	es, _ := db.ListAudit(ctx, 0, 1)
	if es[0].ID != 4 {
		t.Fatalf("next id after deleting 2 and 3 = %d, want 4", es[0].ID)
	}
	wantBreak(t, db, AuditBrokenLink, 4, "rows 2 to 3 are missing")
}

// TestAuditVerifyDetectsAttacks: each attack of issue 10 on a log of five
// rows, by someone holding the file but not the key.
func TestAuditVerifyDetectsAttacks(t *testing.T) {
	otherKey := DeriveAuditKey([]byte("not the key"))
	for _, tc := range []struct {
		name   string
		attack func(t *testing.T, db *DB)
		kind   AuditBreak
		row    int64
		text   string
	}{
		{"edited content", func(t *testing.T, db *DB) {
			attacker(t, db, `UPDATE audit_log SET actor = 'user:mallory' WHERE id = 2`)
		}, AuditBrokenLink, 2, "content does not match its MAC"},
		{"row replaced, unkeyed chain recomputed", func(t *testing.T, db *DB) {
			rewriteChain(t, db, legacySeal, func(r *auditRow) {
				if r.id == 2 {
					r.actor = "user:mallory"
				}
			})
		}, AuditBrokenLink, 1, "content does not match its MAC"},
		{"whole chain recomputed with another key", func(t *testing.T, db *DB) {
			rewriteChain(t, db, hmacSeal(otherKey), nil)
		}, AuditBrokenLink, 1, "content does not match its MAC"},
		{"row in the middle deleted", func(t *testing.T, db *DB) {
			attacker(t, db, `DELETE FROM audit_log WHERE id = 3`)
		}, AuditBrokenLink, 4, "row 3 is missing"},
		{"oldest rows deleted", func(t *testing.T, db *DB) {
			attacker(t, db, `DELETE FROM audit_log WHERE id <= 2`)
		}, AuditBrokenLink, 3, "rows 1 to 2 are missing"},
		{"newest rows deleted", func(t *testing.T, db *DB) {
			attacker(t, db, `DELETE FROM audit_log WHERE id >= 4`)
		}, AuditTruncated, 4, "the newest rows, rows 4 to 5 are, are gone"},
		{"newest row deleted", func(t *testing.T, db *DB) {
			attacker(t, db, `DELETE FROM audit_log WHERE id = 5`)
		}, AuditTruncated, 5, "row 5 is"},
		{"all rows deleted", func(t *testing.T, db *DB) {
			attacker(t, db, `DELETE FROM audit_log`)
		}, AuditTruncated, 1, "every row is gone"},
		{"sequence lowered below the head", func(t *testing.T, db *DB) {
			attacker(t, db, `UPDATE sqlite_sequence SET seq = 2 WHERE name = 'audit_log'`)
		}, AuditSequenceEdited, 5, "below the last row 5"},
		{"prev_hash relinked", func(t *testing.T, db *DB) {
			attacker(t, db, `UPDATE audit_log SET prev_hash = (SELECT hash FROM audit_log WHERE id = 1) WHERE id = 3`)
		}, AuditBrokenLink, 3, "prev_hash does not match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := openTest(t)
			appendN(t, db, 5)
			if _, err := db.CheckAudit(context.Background()); err != nil {
				t.Fatalf("before the attack: %v", err)
			}
			tc.attack(t, db)
			wantBreak(t, db, tc.kind, tc.row, tc.text)
		})
	}
}

func TestAuditTruncationIsNotABrokenLink(t *testing.T) {
	for _, q := range []string{`DELETE FROM audit_log WHERE id > 1`, `DELETE FROM audit_log`} {
		db := openTest(t)
		appendN(t, db, 3)
		attacker(t, db, q)
		_, err := db.VerifyAudit(context.Background())
		var ce *AuditChainError
		if !errors.As(err, &ce) || ce.Kind != AuditTruncated || !strings.HasPrefix(err.Error(), "audit log truncated: ") {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func TestAuditReportAndHead(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	rep, err := db.CheckAudit(ctx)
	if err != nil || rep.Entries != 0 || rep.Head != (AuditHead{}) || !rep.Keyed {
		t.Fatalf("empty log: %+v %v", rep, err)
	}
	appendN(t, db, 3)
	rep, err = db.CheckAudit(ctx)
	es, _ := db.ListAudit(ctx, 0, 1)
	if err != nil || rep.Entries != 3 || rep.Sequence != 3 || rep.Head != (AuditHead{ID: 3, MAC: es[0].Hash}) {
		t.Fatalf("report %+v %v", rep, err)
	}
	h, err := ParseAuditHead(" " + strings.ToUpper(rep.Head.String()) + "\n")
	if err != nil || h != rep.Head {
		t.Fatalf("ParseAuditHead(%s) = %v %v", rep.Head, h, err)
	}
	for _, bad := range []string{"", "3", "3:", ":" + rep.Head.MAC, "0:" + rep.Head.MAC, "x:" + rep.Head.MAC, "3:abc", "3:" + strings.Repeat("z", 64)} {
		if _, err := ParseAuditHead(bad); err == nil {
			t.Errorf("ParseAuditHead(%q) accepted", bad)
		}
	}
}

// TestAuditAnchor: a head kept outside the file catches what the file alone
// cannot: a rewrite by someone holding the key, and a truncation with the
// sequence lowered to match.
func TestAuditAnchor(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T) (*DB, AuditHead) {
		db := openTest(t)
		appendN(t, db, 3)
		rep, err := db.CheckAudit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		appendN(t, db, 2)
		return db, rep.Head
	}
	t.Run("holds", func(t *testing.T) {
		db, anchor := setup(t)
		if via, err := db.VerifyAuditAnchor(ctx, anchor); err != nil || via != 0 {
			t.Fatalf("%d %v", via, err)
		}
	})
	t.Run("rewritten with the key", func(t *testing.T) {
		db, anchor := setup(t)
		rewriteChain(t, db, hmacSeal(testAuditKey), func(r *auditRow) {
			if r.id == 2 {
				r.actor = "user:mallory"
			}
		})
		if _, err := db.CheckAudit(ctx); err != nil {
			t.Fatalf("a rewrite with the key is not visible in the file alone: %v", err)
		}
		var ae *AuditAnchorError
		if _, err := db.VerifyAuditAnchor(ctx, anchor); !errors.As(err, &ae) || !strings.Contains(err.Error(), "different MAC") {
			t.Fatalf("anchor after rewrite: %v", err)
		}
	})
	t.Run("truncated with the sequence lowered", func(t *testing.T) {
		db, anchor := setup(t)
		attacker(t, db, `DELETE FROM audit_log WHERE id >= 2`, `UPDATE sqlite_sequence SET seq = 1 WHERE name = 'audit_log'`)
		if _, err := db.CheckAudit(ctx); err != nil {
			t.Fatalf("the file alone cannot show this one: %v", err)
		}
		var ae *AuditAnchorError
		if _, err := db.VerifyAuditAnchor(ctx, anchor); !errors.As(err, &ae) || !strings.Contains(err.Error(), "row 3 is gone") {
			t.Fatalf("anchor after truncation: %v", err)
		}
	})
	t.Run("a rekey entry from a diff does not count", func(t *testing.T) {
		db, anchor := setup(t)
		// Any caller can put previous_head into a diff; only the store's
		// own audit.rekey entries vouch for an anchor.
		if err := db.Audit(ctx, Audit{Actor: "user:a", Action: "x.update", Target: "x", Diff: AuditRekey{PreviousHead: anchor.String()}}); err != nil {
			t.Fatal(err)
		}
		attacker(t, db, `UPDATE audit_log SET hash = 'ab' || substr(hash, 3) WHERE id = 3`)
		if _, err := db.VerifyAuditAnchor(ctx, anchor); err == nil {
			t.Fatal("an ordinary entry vouched for the anchor")
		}
	})
}

func TestRotateAuditKey(t *testing.T) {
	ctx := context.Background()
	newKey := DeriveAuditKey([]byte("new"))
	db := openTest(t)
	appendN(t, db, 3)
	before, _ := db.CheckAudit(ctx)

	rk, err := db.rotateAuditKey(ctx, "cli:op", newKey, func(tx *sql.Tx) error {
		return db.appendAuditTx(ctx, tx, Audit{Actor: "cli:op", Action: "vault.rotate_key", Target: "vault"})
	})
	if err != nil {
		t.Fatal(err)
	}
	if rk != (AuditRekey{From: "previous key", Rows: 4, PreviousHead: before.Head.String()}) {
		t.Fatalf("rekey = %+v", rk)
	}
	rep, err := db.CheckAudit(ctx)
	if err != nil || rep.Entries != 5 {
		t.Fatalf("verify after rotation: %+v %v", rep, err)
	}
	es, _ := db.ListAudit(ctx, 0, 1)
	var diff AuditRekey
	if es[0].Action != ActionAuditRekey || es[0].Actor != "cli:op" || json.Unmarshal(es[0].Diff, &diff) != nil || diff != rk {
		t.Fatalf("rekey entry %+v", es[0])
	}
	appendN(t, db, 1) // the DB now appends with the new key
	if _, err := db.CheckAudit(ctx); err != nil {
		t.Fatal(err)
	}
	// The next process, on the new key, verifies; one on the old key does not.
	for _, tc := range []struct {
		key []byte
		ok  bool
	}{{newKey, true}, {testAuditKey, false}} {
		other, err := Open(ctx, db.Path, WithAuditKey(tc.key))
		if err != nil {
			t.Fatal(err)
		}
		_, err = other.CheckAudit(ctx)
		other.Close()
		if (err == nil) != tc.ok {
			t.Fatalf("verify from another handle (ok=%v): %v", tc.ok, err)
		}
	}
	// An anchor taken just before the rotation still checks, through the
	// rekey entry; a made-up one does not.
	if via, err := db.VerifyAuditAnchor(ctx, before.Head); err != nil || via != 5 {
		t.Fatalf("pre-rotation anchor: %d %v", via, err)
	}
	if _, err := db.VerifyAuditAnchor(ctx, AuditHead{ID: before.Head.ID, MAC: strings.Repeat("0", 64)}); err == nil {
		t.Fatal("a wrong anchor held")
	}
}

func TestRotateAuditKeyRollsBack(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	appendN(t, db, 2)
	injected := errors.New("injected")
	_, err := db.rotateAuditKey(ctx, "cli", DeriveAuditKey([]byte("new")), func(tx *sql.Tx) error {
		if err := db.appendAuditTx(ctx, tx, Audit{Actor: "cli", Action: "vault.rotate_key", Target: "vault"}); err != nil {
			return err
		}
		return injected
	})
	if !errors.Is(err, injected) {
		t.Fatalf("err = %v", err)
	}
	appendN(t, db, 1) // still on the old key
	if rep, err := db.CheckAudit(ctx); err != nil || rep.Entries != 3 {
		t.Fatalf("after a failed rotation: %+v %v", rep, err)
	}
}

// TestRotateAuditKeyKeepsBreaks: re-sealing must not turn a tampered log
// into one that verifies under the new key.
func TestRotateAuditKeyKeepsBreaks(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		tamper string
		row    int64
		text   string
	}{
		{"edited content", `UPDATE audit_log SET actor = 'user:mallory' WHERE id = 2`, 2, "content does not match"},
		{"edited link", `UPDATE audit_log SET prev_hash = (SELECT hash FROM audit_log WHERE id = 1) WHERE id = 3`, 3, "prev_hash does not match"},
		{"deleted row", `DELETE FROM audit_log WHERE id = 2`, 3, "row 2 is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := openTest(t)
			appendN(t, db, 4)
			attacker(t, db, tc.tamper)
			wantBreak(t, db, AuditBrokenLink, tc.row, tc.text)
			rk, err := db.rotateAuditKey(ctx, "cli", DeriveAuditKey([]byte("new")), func(*sql.Tx) error { return nil })
			if err != nil {
				t.Fatal(err)
			}
			if rk.BrokenAt != tc.row {
				t.Fatalf("rekey recorded broken_at %d, want %d", rk.BrokenAt, tc.row)
			}
			wantBreak(t, db, AuditBrokenLink, tc.row, tc.text)
		})
	}
}

// TestRotateAuditKeyWithConcurrentAppends: appends racing a rotation are
// sealed with whichever key the chain has when they get the writer.
func TestRotateAuditKeyWithConcurrentAppends(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	appendN(t, db, 5)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := db.Audit(ctx, Audit{Actor: "a", Action: "b", Target: "c"}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for i := range 5 {
		if _, err := db.rotateAuditKey(ctx, "cli", DeriveAuditKey([]byte{byte(i)}), func(*sql.Tx) error { return nil }); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if rep, err := db.CheckAudit(ctx); err != nil {
		t.Fatalf("%+v %v", rep, err)
	}
}

func TestAuditNeedsTheKey(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	appendN(t, db, 1)
	nokey, err := Open(ctx, db.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer nokey.Close()
	if err := nokey.Audit(ctx, Audit{Actor: "a", Action: "b", Target: "c"}); !errors.Is(err, ErrNoAuditKey) {
		t.Fatalf("append without key: %v", err)
	}
	if _, err := nokey.CheckAudit(ctx); !errors.Is(err, ErrNoAuditKey) {
		t.Fatalf("verify without key: %v", err)
	}
	if es, err := nokey.ListAudit(ctx, 0, 10); err != nil || len(es) != 1 {
		t.Fatalf("reading needs no key: %v %v", es, err)
	}
	if _, err := Open(ctx, filepath.Join(t.TempDir(), FileName), WithAuditKey([]byte("short"))); err == nil {
		t.Fatal("a short audit key was accepted")
	}
}

// legacyDB builds a database as the version before migration 00008 left it:
// migrated to 00006 with n rows on the unkeyed sha256 chain. tamper, when
// set, edits a row after its hash was computed.
func legacyDB(t *testing.T, n int, tamper func(r *auditRow)) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := db.provider()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 7); err != nil {
		t.Fatal(err)
	}
	prev := genesisHash
	for i := 1; i <= n; i++ {
		r := auditRow{id: int64(i), at: "2025-01-01T00:00:00.000Z", actor: "user:a", action: "x.update", target: "x:1", diff: `{"i":1}`}
		r.prevHash = prev
		r.hash = legacySeal(prev, &r)
		prev = r.hash
		if tamper != nil {
			tamper(&r)
		}
		if _, err := db.w.Exec(`INSERT INTO audit_log (id, at, actor, action, target, diff, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			r.id, r.at, r.actor, r.action, r.target, r.diff, r.prevHash, r.hash); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func TestLegacyChainIsKeyedOnMigrate(t *testing.T) {
	ctx := context.Background()
	path := legacyDB(t, 3, nil)

	// Migrated without the key: the rows stay readable and verify as the
	// unkeyed chain; nothing can be appended.
	nokey, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := nokey.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if rep, err := nokey.CheckAudit(ctx); err != nil || rep.Keyed || rep.Entries != 3 {
		t.Fatalf("unkeyed chain: %+v %v", rep, err)
	}
	nokey.Close()

	db, err := Open(ctx, path, WithAuditKey(testAuditKey))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	legacyHead, _ := db.CheckAudit(ctx)
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := db.CheckAudit(ctx)
	if err != nil || !rep.Keyed || rep.Entries != 4 {
		t.Fatalf("after keying: %+v %v", rep, err)
	}
	es, _ := db.ListAudit(ctx, 0, 1)
	var rk AuditRekey
	if es[0].Action != ActionAuditRekey || es[0].Actor != SystemActor || json.Unmarshal(es[0].Diff, &rk) != nil ||
		rk != (AuditRekey{From: "unkeyed", Rows: 3, PreviousHead: legacyHead.Head.String()}) {
		t.Fatalf("rekey entry %+v %s", es[0], es[0].Diff)
	}
	// Keyed once: another Migrate changes nothing; the unkeyed form of the
	// same rows no longer verifies.
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if rep2, err := db.CheckAudit(ctx); err != nil || rep2 != rep {
		t.Fatalf("second migrate: %+v %v", rep2, err)
	}
	appendN(t, db, 1)
	rewriteChain(t, db, legacySeal, nil)
	wantBreak(t, db, AuditBrokenLink, 1, "content does not match")
}

func TestLegacyChainBreakSurvivesKeying(t *testing.T) {
	ctx := context.Background()
	path := legacyDB(t, 3, func(r *auditRow) {
		if r.id == 2 {
			r.actor = "user:mallory"
		}
	})
	db, err := Open(ctx, path, WithAuditKey(testAuditKey))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	wantBreak(t, db, AuditBrokenLink, 2, "content does not match")
	es, _ := db.ListAudit(ctx, 0, 1)
	if !strings.Contains(string(es[0].Diff), `"broken_at":2`) {
		t.Fatalf("rekey entry %s", es[0].Diff)
	}
}
