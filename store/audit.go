package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// AuditEntry is one row of the append-only audit log.
type AuditEntry struct {
	ID       int64           `json:"id"`
	At       string          `json:"at"`
	Actor    string          `json:"actor"`
	Action   string          `json:"action"`
	Target   string          `json:"target"`
	Diff     json.RawMessage `json:"diff"`
	PrevHash string          `json:"prev_hash"`
	Hash     string          `json:"hash"`
}

// Audit describes an admin write to record. Diff must never hold a secret:
// callers pass field names or redacted values for credentials and tokens.
type Audit struct {
	Actor  string
	Action string
	Target string
	Diff   any
}

// genesisHash is the prev_hash of the first row.
const genesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// auditHash chains a row to its predecessor: sha256 over the previous hash
// and the row's content in a fixed JSON form (fields in declaration order,
// diff already compact), so any edit to any row or any reordering breaks it.
func auditHash(prev string, id int64, at, actor, action, target string, diff []byte) string {
	content, _ := json.Marshal(struct {
		ID     int64           `json:"id"`
		At     string          `json:"at"`
		Actor  string          `json:"actor"`
		Action string          `json:"action"`
		Target string          `json:"target"`
		Diff   json.RawMessage `json:"diff"`
	}{id, at, actor, action, target, diff})
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil))
}

// AppendAudit appends an entry inside tx, the transaction of the write it
// records, so the change and its audit row commit together.
func (db *DB) AppendAudit(ctx context.Context, tx *sql.Tx, a Audit) error {
	diff, err := json.Marshal(a.Diff)
	if err != nil {
		return fmt.Errorf("audit %s: encode diff: %w", a.Action, err)
	}
	if a.Diff == nil {
		diff = []byte("{}")
	}
	var prevID int64
	prev := genesisHash
	err = tx.QueryRowContext(ctx, `SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1`).Scan(&prevID, &prev)
	if err != nil && err != sql.ErrNoRows {
		return fmt.Errorf("audit %s: read chain head: %w", a.Action, err)
	}
	// AUTOINCREMENT never reuses ids and the writer is serialised, so the next
	// id is prevID+1 unless rows were deleted behind SQLite's back; inserting
	// it explicitly keeps the hash and the row id in agreement.
	id := prevID + 1
	at := formatTime(db.now())
	hash := auditHash(prev, id, at, a.Actor, a.Action, a.Target, diff)
	_, err = tx.ExecContext(ctx, `INSERT INTO audit_log (id, at, actor, action, target, diff, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, id, at, a.Actor, a.Action, a.Target, string(diff), prev, hash)
	if err != nil {
		return fmt.Errorf("audit %s: %w", a.Action, interpretError(err))
	}
	return nil
}

// Audit appends one entry in its own transaction.
func (db *DB) Audit(ctx context.Context, a Audit) error {
	return db.WithTx(ctx, func(tx *sql.Tx) error { return db.AppendAudit(ctx, tx, a) })
}

// ListAudit returns up to limit entries with id < before (0 means newest),
// newest first, for paging back through the log.
func (db *DB) ListAudit(ctx context.Context, before int64, limit int) ([]AuditEntry, error) {
	q := `SELECT id, at, actor, action, target, diff, prev_hash, hash FROM audit_log`
	var args []any
	if before > 0 {
		q += ` WHERE id < ?`
		args = append(args, before)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var e AuditEntry
		var diff string
		if err := rows.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.Target, &diff, &e.PrevHash, &e.Hash); err != nil {
			return nil, fmt.Errorf("list audit: %w", err)
		}
		e.Diff = json.RawMessage(diff)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	return out, nil
}

// AuditChainError names the first row whose hash chain does not hold.
type AuditChainError struct {
	ID     int64
	Reason string
}

func (e *AuditChainError) Error() string {
	return fmt.Sprintf("audit log broken at row %d: %s", e.ID, e.Reason)
}

// VerifyAudit walks the whole chain in id order and returns the number of
// rows checked, or an *AuditChainError naming the first broken row.
func (db *DB) VerifyAudit(ctx context.Context) (int, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, at, actor, action, target, diff, prev_hash, hash FROM audit_log ORDER BY id`)
	if err != nil {
		return 0, fmt.Errorf("verify audit: %w", err)
	}
	defer rows.Close()
	prev := genesisHash
	var n int
	var lastID int64
	for rows.Next() {
		var id int64
		var at, actor, action, target, diff, prevHash, hash string
		if err := rows.Scan(&id, &at, &actor, &action, &target, &diff, &prevHash, &hash); err != nil {
			return n, fmt.Errorf("verify audit: %w", err)
		}
		switch {
		case id != lastID+1:
			return n, &AuditChainError{ID: id, Reason: fmt.Sprintf("row %d is missing", lastID+1)}
		case prevHash != prev:
			return n, &AuditChainError{ID: id, Reason: "prev_hash does not match the previous row's hash"}
		case !strings.EqualFold(hash, auditHash(prev, id, at, actor, action, target, []byte(diff))):
			return n, &AuditChainError{ID: id, Reason: "content does not match its hash"}
		}
		prev, lastID = hash, id
		n++
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("verify audit: %w", err)
	}
	return n, nil
}
