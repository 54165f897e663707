package store

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The audit log is a chain: each row stores the MAC of its predecessor
// (prev_hash) and its own MAC (hash) over that and its content, so editing,
// removing or reordering any row breaks every later link. The MAC is
// HMAC-SHA256 under a key derived from the encryption key, so holding the
// file is not enough to recompute the chain after a rewrite. What this can
// and cannot prove is in docs/audit.md.

// AuditEntry is one row of the append-only audit log.
type AuditEntry struct {
	ID     int64           `json:"id"`
	At     string          `json:"at"`
	Actor  string          `json:"actor"`
	Action string          `json:"action"`
	Target string          `json:"target"`
	Diff   json.RawMessage `json:"diff"`
	// PrevHash and Hash are hex HMAC-SHA256 values (plain SHA-256 on a
	// chain not yet keyed); the names predate the key.
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash"`
}

// Audit describes an admin write to record. Diff must never hold a secret:
// callers pass field names or redacted values for credentials and tokens.
type Audit struct {
	Actor  string
	Action string
	Target string
	Diff   any
}

const (
	// genesisHash is the prev_hash of the first row.
	genesisHash = "0000000000000000000000000000000000000000000000000000000000000000"
	// minAuditKeyLen is the shortest audit key Open accepts.
	minAuditKeyLen = 32
	// auditKeyLabel separates the audit key from every other use of the
	// encryption key.
	auditKeyLabel = "sentryhub/audit-chain"
	// auditBatch is how many rows a re-seal reads at a time.
	auditBatch = 500

	// ActionAuditRekey is the entry written when the chain is re-sealed
	// under a new key: the upgrade from the unkeyed chain, and rotate-key.
	ActionAuditRekey = "audit.rekey"
	// SystemActor is the actor of entries the hub writes on its own.
	SystemActor = "sentryhub"
)

// ErrNoAuditKey means the database was opened without WithAuditKey, so it
// can neither extend nor check the chain.
var ErrNoAuditKey = errors.New("the audit log is sealed with the encryption key (SENTRY_ENCRYPTION_KEY), and the database was opened without it")

// DeriveAuditKey derives the audit chain's HMAC key from the encryption key
// (the 32 raw bytes of the Fernet key): HMAC-SHA256(encryptionKey,
// "sentryhub/audit-chain"). A separate label keeps the chain's key from ever
// being the key that encrypts or signs anything else.
func DeriveAuditKey(encryptionKey []byte) []byte {
	m := hmac.New(sha256.New, encryptionKey)
	m.Write([]byte(auditKeyLabel))
	return m.Sum(nil)
}

// auditKey holds the DB's audit key. The mutex covers the swap that
// rotateAuditKey makes at commit; appenders read the key inside their write
// transaction, so the lock order is always writer first, then mu.
type auditKey struct {
	mu  sync.RWMutex
	key []byte
}

func (k *auditKey) get() []byte {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.key
}

// auditRow is a row as stored.
type auditRow struct {
	id                              int64
	at, actor, action, target, diff string
	prevHash, hash                  string
}

// sealer computes a row's MAC from the previous row's MAC and its content.
type sealer func(prev string, r *auditRow) string

// auditContent is the row's content in a fixed JSON form (fields in
// declaration order, diff already compact).
func auditContent(r *auditRow) []byte {
	content, _ := json.Marshal(struct {
		ID     int64           `json:"id"`
		At     string          `json:"at"`
		Actor  string          `json:"actor"`
		Action string          `json:"action"`
		Target string          `json:"target"`
		Diff   json.RawMessage `json:"diff"`
	}{r.id, r.at, r.actor, r.action, r.target, json.RawMessage(r.diff)})
	return content
}

// legacySeal is the unkeyed chain of before migration 00008:
// sha256(prev || content). Anyone with the file can recompute it; it is
// only read, to key a chain written by an older version.
func legacySeal(prev string, r *auditRow) string {
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write(auditContent(r))
	return hex.EncodeToString(h.Sum(nil))
}

// hmacSeal is the keyed chain: HMAC-SHA256(key, prev || content).
func hmacSeal(key []byte) sealer {
	return func(prev string, r *auditRow) string {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(prev))
		m.Write(auditContent(r))
		return hex.EncodeToString(m.Sum(nil))
	}
}

func macEqual(a, b string) bool { return hmac.Equal([]byte(a), []byte(b)) }

// chainKeyed reports whether the chain is sealed with the key (audit_chain
// version 1). Before migration 00008 there is no audit_chain table and the
// chain is the unkeyed one.
func chainKeyed(ctx context.Context, q querier) (bool, error) {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'audit_chain'`).Scan(&n); err != nil {
		return false, fmt.Errorf("read audit chain version: %w", err)
	}
	if n == 0 {
		return false, nil
	}
	var v int
	if err := q.QueryRowContext(ctx, `SELECT version FROM audit_chain WHERE id = 1`).Scan(&v); err != nil {
		return false, fmt.Errorf("read audit chain version: %w", err)
	}
	return v == 1, nil
}

// auditSequence is the highest id audit_log ever used: AUTOINCREMENT keeps
// it in sqlite_sequence, whatever was deleted since.
func auditSequence(ctx context.Context, q querier) (int64, error) {
	var seq int64
	err := q.QueryRowContext(ctx, `SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'), 0)`).Scan(&seq)
	if err != nil {
		return 0, fmt.Errorf("read audit sequence: %w", err)
	}
	return seq, nil
}

// readHead returns the newest row's id and MAC, or the zero head.
func readHead(ctx context.Context, q querier) (AuditHead, error) {
	var h AuditHead
	err := q.QueryRowContext(ctx, `SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1`).Scan(&h.ID, &h.MAC)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return AuditHead{}, fmt.Errorf("read audit head: %w", err)
	}
	return h, nil
}

// appendAuditTx appends an entry inside tx, the transaction of the write it
// records, so the change and its audit row commit together.
func (db *DB) appendAuditTx(ctx context.Context, tx *sql.Tx, a Audit) error {
	key := db.audit.get()
	if key == nil {
		return fmt.Errorf("audit %s: %w", a.Action, ErrNoAuditKey)
	}
	_, err := db.appendAudit(ctx, tx, key, a)
	return err
}

func (db *DB) appendAudit(ctx context.Context, tx *sql.Tx, key []byte, a Audit) (AuditHead, error) {
	diff, err := json.Marshal(a.Diff)
	if err != nil {
		return AuditHead{}, fmt.Errorf("audit %s: encode diff: %w", a.Action, err)
	}
	if a.Diff == nil {
		diff = []byte("{}")
	}
	keyed, err := chainKeyed(ctx, tx)
	if err != nil {
		return AuditHead{}, fmt.Errorf("audit %s: %w", a.Action, err)
	}
	if !keyed {
		return AuditHead{}, fmt.Errorf("audit %s: the audit log is still on the unkeyed chain of an older version; migrate with the encryption key first", a.Action)
	}
	head, err := readHead(ctx, tx)
	if err != nil {
		return AuditHead{}, fmt.Errorf("audit %s: %w", a.Action, err)
	}
	seq, err := auditSequence(ctx, tx)
	if err != nil {
		return AuditHead{}, fmt.Errorf("audit %s: %w", a.Action, err)
	}
	prev := genesisHash
	if head.ID > 0 {
		prev = head.MAC
	}
	// The id goes above every id ever used, not just above the newest row:
	// if rows were deleted behind SQLite's back the gap stays visible to
	// verify instead of being refilled (the insert trigger refuses a reused
	// id anyway). Naming the id keeps the MAC and the row id in agreement.
	r := auditRow{id: max(seq, head.ID) + 1, at: formatTime(db.now()), actor: a.Actor,
		action: a.Action, target: a.Target, diff: string(diff), prevHash: prev}
	r.hash = hmacSeal(key)(prev, &r)
	_, err = tx.ExecContext(ctx, `INSERT INTO audit_log (id, at, actor, action, target, diff, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, r.id, r.at, r.actor, r.action, r.target, r.diff, r.prevHash, r.hash)
	if err != nil {
		return AuditHead{}, fmt.Errorf("audit %s: %w", a.Action, interpretError(err))
	}
	return AuditHead{ID: r.id, MAC: r.hash}, nil
}

// Audit appends one entry in its own transaction.
func (db *DB) Audit(ctx context.Context, a Audit) error {
	return db.withTx(ctx, func(tx *sql.Tx) error { return db.appendAuditTx(ctx, tx, a) })
}

// ListAudit returns up to limit entries with id < before (0 means newest),
// newest first, for paging back through the log.
func (db *DB) ListAudit(ctx context.Context, before int64, limit int) ([]AuditEntry, error) {
	return db.SearchAudit(ctx, AuditQuery{Before: before, Limit: limit})
}

// AuditQuery selects audit entries; zero fields match everything.
type AuditQuery struct {
	Actor  string    // part of the actor, e.g. "ops@" or "token:"
	Action string    // an action ("webhook.update") or its area ("webhook")
	Target string    // a target ("webhook:3") or its kind ("webhook")
	Since  time.Time // at or after
	Until  time.Time // before
	Before int64     // entries with a smaller id (paging)
	Limit  int
}

// likeEscape makes s match itself inside a LIKE pattern with ESCAPE '\'.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// SearchAudit returns up to q.Limit entries matching q, newest first.
func (db *DB) SearchAudit(ctx context.Context, q AuditQuery) ([]AuditEntry, error) {
	var f filter
	if q.Actor != "" {
		f.where(`actor LIKE ? ESCAPE '\'`, "%"+likeEscape(q.Actor)+"%")
	}
	if q.Action != "" {
		f.where(`(action = ? OR action LIKE ? ESCAPE '\')`, q.Action, likeEscape(q.Action)+".%")
	}
	if q.Target != "" {
		f.where(`(target = ? OR target LIKE ? ESCAPE '\')`, q.Target, likeEscape(q.Target)+":%")
	}
	if !q.Since.IsZero() {
		f.where(`at >= ?`, formatTime(q.Since))
	}
	if !q.Until.IsZero() {
		f.where(`at < ?`, formatTime(q.Until))
	}
	if q.Before > 0 {
		f.where(`id < ?`, q.Before)
	}
	rows, err := db.r.QueryContext(ctx, `SELECT id, at, actor, action, target, diff, prev_hash, hash FROM audit_log`+
		f.sql()+` ORDER BY id DESC LIMIT ?`, append(f.args, q.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("search audit: %w", err)
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var e AuditEntry
		var diff string
		if err := rows.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.Target, &diff, &e.PrevHash, &e.Hash); err != nil {
			return nil, fmt.Errorf("search audit: %w", err)
		}
		e.Diff = json.RawMessage(diff)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search audit: %w", err)
	}
	return out, nil
}

// AuditHead names a row of the chain by id and MAC. Stored outside the
// hub, it anchors the chain: VerifyAuditAnchor checks the log still holds
// it unchanged.
type AuditHead struct {
	ID  int64
	MAC string
}

// String is the "ID:MAC" form `audit head` prints and `audit verify --head`
// reads.
func (h AuditHead) String() string { return strconv.FormatInt(h.ID, 10) + ":" + h.MAC }

// ParseAuditHead reads the "ID:MAC" form.
func ParseAuditHead(s string) (AuditHead, error) {
	id, mac, ok := strings.Cut(strings.TrimSpace(s), ":")
	n, err := strconv.ParseInt(id, 10, 64)
	if !ok || err != nil || n <= 0 {
		return AuditHead{}, fmt.Errorf("audit head %q: want ID:MAC, e.g. 42:3f9a… as printed by `sentryhub audit head`", s)
	}
	if b, err := hex.DecodeString(mac); err != nil || len(b) != sha256.Size {
		return AuditHead{}, fmt.Errorf("audit head %q: the MAC must be %d hex digits", s, 2*sha256.Size)
	}
	return AuditHead{ID: n, MAC: strings.ToLower(mac)}, nil
}

// AuditBreak classifies what VerifyAudit found.
type AuditBreak int

const (
	// AuditBrokenLink: a row's content does not match its MAC, its link to
	// the previous row does not hold, or rows inside the chain are missing.
	AuditBrokenLink AuditBreak = iota + 1
	// AuditTruncated: the newest rows, or all rows, are gone; the head is
	// below the highest id ever used (the AUTOINCREMENT sequence).
	AuditTruncated
	// AuditSequenceEdited: the AUTOINCREMENT sequence is below the newest
	// row, which SQLite never does by itself.
	AuditSequenceEdited
)

// AuditChainError names the first row where the chain does not hold.
type AuditChainError struct {
	Kind   AuditBreak
	ID     int64 // the first broken row; for truncation the first missing id
	Reason string
}

func (e *AuditChainError) Error() string {
	switch e.Kind {
	case AuditTruncated:
		return "audit log truncated: " + e.Reason
	case AuditSequenceEdited:
		return "audit log sequence edited: " + e.Reason
	}
	return fmt.Sprintf("audit log broken at row %d: %s", e.ID, e.Reason)
}

// AuditReport is what a passing verification saw.
type AuditReport struct {
	Entries  int
	Head     AuditHead // the newest row; zero when the log is empty
	Sequence int64     // the highest id ever used
	// Keyed is false for a chain still on the unkeyed form of before
	// migration 00008; the next Migrate with the key seals it.
	Keyed bool
}

// VerifyAudit walks the whole chain and returns the number of rows checked,
// or an *AuditChainError naming the first problem. See CheckAudit.
func (db *DB) VerifyAudit(ctx context.Context) (int, error) {
	r, err := db.CheckAudit(ctx)
	return r.Entries, err
}

// CheckAudit walks the whole chain in id order, checking every link and
// every MAC, then checks the head against the highest id ever used, all in
// one read snapshot. It returns an *AuditChainError naming the first
// problem: Kind AuditBrokenLink for an edited, reordered or missing row
// inside the chain, AuditTruncated when the newest rows (or all) are gone.
func (db *DB) CheckAudit(ctx context.Context) (AuditReport, error) {
	var rep AuditReport
	tx, err := db.r.BeginTx(ctx, nil)
	if err != nil {
		return rep, fmt.Errorf("verify audit: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	if rep.Keyed, err = chainKeyed(ctx, tx); err != nil {
		return rep, fmt.Errorf("verify audit: %w", err)
	}
	seal := legacySeal
	if rep.Keyed {
		key := db.audit.get()
		if key == nil {
			return rep, fmt.Errorf("verify audit: %w", ErrNoAuditKey)
		}
		seal = hmacSeal(key)
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, at, actor, action, target, diff, prev_hash, hash FROM audit_log ORDER BY id`)
	if err != nil {
		return rep, fmt.Errorf("verify audit: %w", err)
	}
	defer rows.Close()
	prev := genesisHash
	var lastID int64
	for rows.Next() {
		var r auditRow
		if err := rows.Scan(&r.id, &r.at, &r.actor, &r.action, &r.target, &r.diff, &r.prevHash, &r.hash); err != nil {
			return rep, fmt.Errorf("verify audit: %w", err)
		}
		if cerr := checkLink(lastID, prev, &r, seal); cerr != nil {
			if rep.Entries == 0 && cerr.Reason == reasonMAC {
				// Every MAC fails alike under another key.
				cerr.Reason += " (or the key is not the one the log is sealed with)"
			}
			return rep, cerr
		}
		prev, lastID = r.hash, r.id
		rep.Entries++
	}
	if err := rows.Err(); err != nil {
		return rep, fmt.Errorf("verify audit: %w", err)
	}
	if rep.Sequence, err = auditSequence(ctx, tx); err != nil {
		return rep, fmt.Errorf("verify audit: %w", err)
	}
	if lastID > 0 {
		rep.Head = AuditHead{ID: lastID, MAC: prev}
	}
	switch {
	case rep.Entries == 0 && rep.Sequence > 0:
		return rep, &AuditChainError{Kind: AuditTruncated, ID: 1,
			Reason: fmt.Sprintf("every row is gone: the log is empty, but ids up to %d were used", rep.Sequence)}
	case lastID < rep.Sequence:
		return rep, &AuditChainError{Kind: AuditTruncated, ID: lastID + 1,
			Reason: fmt.Sprintf("the newest rows, %s, are gone: the last row is %d, but ids up to %d were used", idRange(lastID+1, rep.Sequence), lastID, rep.Sequence)}
	case lastID > rep.Sequence:
		return rep, &AuditChainError{Kind: AuditSequenceEdited, ID: lastID,
			Reason: fmt.Sprintf("the highest id used is recorded as %d, below the last row %d", rep.Sequence, lastID)}
	}
	return rep, nil
}

const reasonMAC = "content does not match its MAC"

// checkLink checks row r against the previous row (lastID, whose MAC is
// prev) under seal.
func checkLink(lastID int64, prev string, r *auditRow, seal sealer) *AuditChainError {
	switch {
	case r.id != lastID+1:
		return &AuditChainError{Kind: AuditBrokenLink, ID: r.id, Reason: idRange(lastID+1, r.id-1) + " missing"}
	case r.prevHash != prev:
		return &AuditChainError{Kind: AuditBrokenLink, ID: r.id, Reason: "prev_hash does not match the previous row's MAC"}
	case !macEqual(r.hash, seal(prev, r)):
		return &AuditChainError{Kind: AuditBrokenLink, ID: r.id, Reason: reasonMAC}
	}
	return nil
}

func idRange(from, to int64) string {
	if from >= to {
		return fmt.Sprintf("row %d is", from)
	}
	return fmt.Sprintf("rows %d to %d are", from, to)
}

// AuditAnchorError says the chain no longer holds an anchored head.
type AuditAnchorError struct {
	Anchor AuditHead
	Reason string
}

func (e *AuditAnchorError) Error() string {
	return fmt.Sprintf("anchored audit head %d does not hold: %s", e.Anchor.ID, e.Reason)
}

// VerifyAuditAnchor checks that the chain still holds the anchored head a:
// row a.ID exists with MAC a.MAC, or, when the chain was re-sealed under a
// new key after the anchor was taken, an audit.rekey entry recorded a as the
// head it re-sealed from (and found the chain intact). viaRekey is that
// entry's id, 0 for a direct match. Call it after CheckAudit passed: only
// then does a matching head vouch for every row up to it.
func (db *DB) VerifyAuditAnchor(ctx context.Context, a AuditHead) (viaRekey int64, err error) {
	var mac string
	err = db.r.QueryRowContext(ctx, `SELECT hash FROM audit_log WHERE id = ?`, a.ID).Scan(&mac)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, &AuditAnchorError{Anchor: a, Reason: fmt.Sprintf("row %d is gone: the log was truncated or rewritten below the anchor", a.ID)}
	}
	if err != nil {
		return 0, fmt.Errorf("verify audit anchor: %w", err)
	}
	if macEqual(mac, a.MAC) {
		return 0, nil
	}
	err = db.r.QueryRowContext(ctx, `SELECT id FROM audit_log
		WHERE action = ? AND id > ? AND json_extract(diff, '$.previous_head') = ? AND json_extract(diff, '$.broken_at') IS NULL
		ORDER BY id LIMIT 1`, ActionAuditRekey, a.ID, a.String()).Scan(&viaRekey)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, &AuditAnchorError{Anchor: a, Reason: fmt.Sprintf("row %d has a different MAC: the log was rewritten up to row %d (or the anchor is from another key)", a.ID, a.ID)}
	}
	if err != nil {
		return 0, fmt.Errorf("verify audit anchor: %w", err)
	}
	return viaRekey, nil
}

// AuditRekey describes one re-seal of the chain; it is the diff of the
// audit.rekey entry that records it.
type AuditRekey struct {
	// From is "unkeyed" for the upgrade from the chain of before migration
	// 00008, "previous key" for a key rotation.
	From string `json:"from"`
	Rows int    `json:"rows"`
	// PreviousHead is the head under the old seal when the re-seal began,
	// so an anchor taken just before still checks (VerifyAuditAnchor).
	PreviousHead string `json:"previous_head,omitempty"`
	// BrokenAt is the first row that did not verify under the old seal.
	// Every such row keeps its stale MAC or link, so the break survives
	// the re-seal and verify still reports it.
	BrokenAt int64 `json:"broken_at,omitempty"`
}

// reseal re-computes prev_hash and hash of every row from oldSeal to
// newSeal inside tx. It never launders a break: a row whose link did not
// hold keeps its old prev_hash, a row whose MAC did not verify keeps its old
// MAC, and ids are never touched, so verify under the new seal reports the
// same rows. It reads in batches so the log's size does not bound memory.
func reseal(ctx context.Context, tx *sql.Tx, from string, previous AuditHead, oldSeal, newSeal sealer) (AuditRekey, error) {
	rk := AuditRekey{From: from}
	if previous.ID > 0 {
		rk.PreviousHead = previous.String()
	}
	if _, err := tx.ExecContext(ctx, `UPDATE audit_chain SET rekeying = 1 WHERE id = 1`); err != nil {
		return rk, fmt.Errorf("re-seal audit log: %w", err)
	}
	upd, err := tx.PrepareContext(ctx, `UPDATE audit_log SET prev_hash = ?, hash = ? WHERE id = ?`)
	if err != nil {
		return rk, fmt.Errorf("re-seal audit log: %w", err)
	}
	defer upd.Close()
	oldPrev, newPrev := genesisHash, genesisHash
	var lastID int64
	for {
		batch, err := readAuditBatch(ctx, tx, lastID)
		if err != nil {
			return rk, err
		}
		if len(batch) == 0 {
			break
		}
		for i := range batch {
			r := &batch[i]
			linkOK := r.prevHash == oldPrev
			macOK := macEqual(r.hash, oldSeal(r.prevHash, r))
			if rk.BrokenAt == 0 && (r.id != lastID+1 || !linkOK || !macOK) {
				rk.BrokenAt = r.id
			}
			oldPrev = r.hash
			if linkOK {
				r.prevHash = newPrev
			}
			if macOK {
				r.hash = newSeal(r.prevHash, r)
			}
			newPrev = r.hash
			lastID = r.id
			if _, err := upd.ExecContext(ctx, r.prevHash, r.hash, r.id); err != nil {
				return rk, fmt.Errorf("re-seal audit row %d: %w", r.id, err)
			}
			rk.Rows++
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE audit_chain SET rekeying = 0, version = 1 WHERE id = 1`); err != nil {
		return rk, fmt.Errorf("re-seal audit log: %w", err)
	}
	return rk, nil
}

func readAuditBatch(ctx context.Context, tx *sql.Tx, after int64) ([]auditRow, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, at, actor, action, target, diff, prev_hash, hash
		FROM audit_log WHERE id > ? ORDER BY id LIMIT ?`, after, auditBatch)
	if err != nil {
		return nil, fmt.Errorf("re-seal audit log: %w", err)
	}
	defer rows.Close()
	var out []auditRow
	for rows.Next() {
		var r auditRow
		if err := rows.Scan(&r.id, &r.at, &r.actor, &r.action, &r.target, &r.diff, &r.prevHash, &r.hash); err != nil {
			return nil, fmt.Errorf("re-seal audit log: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("re-seal audit log: %w", err)
	}
	return out, nil
}

// keyLegacyAudit seals a chain still on the unkeyed form of before
// migration 00008 with the DB's audit key, once, and records it in an
// audit.rekey entry. Migration 00008 cannot do it: SQL does not know the
// key. Re-sealing in place (rather than keeping an unkeyed prefix) leaves
// one kind of row, so verify never has to accept an unkeyed row once the
// chain is keyed; rows that did not verify keep their break (see reseal).
// Without a key it does nothing: the chain stays readable, appends wait.
func (db *DB) keyLegacyAudit(ctx context.Context) error {
	key := db.audit.get()
	if key == nil {
		return nil
	}
	return db.withTx(ctx, func(tx *sql.Tx) error {
		keyed, err := chainKeyed(ctx, tx)
		if err != nil || keyed {
			return err
		}
		head, err := readHead(ctx, tx)
		if err != nil {
			return err
		}
		rk, err := reseal(ctx, tx, "unkeyed", head, legacySeal, hmacSeal(key))
		if err != nil {
			return err
		}
		_, err = db.appendAudit(ctx, tx, key, Audit{Actor: SystemActor, Action: ActionAuditRekey, Target: "audit_log", Diff: rk})
		return err
	})
}

// rotateAuditKey runs fn in one write transaction, then, in the same
// transaction, re-seals every row of the chain under newKey and records an
// audit.rekey entry sealed with it; on commit the DB appends with newKey.
// rotate-key uses it so the secrets and the chain move to the new key
// together or not at all. fn may append audit entries (under the old key;
// the re-seal covers them). Anything fn or the re-seal returns rolls
// everything back and the DB keeps its key.
func (db *DB) rotateAuditKey(ctx context.Context, actor string, newKey []byte, fn func(tx *sql.Tx) error) (AuditRekey, error) {
	if len(newKey) < minAuditKeyLen {
		return AuditRekey{}, fmt.Errorf("rotate audit key: the key must be at least %d bytes", minAuditKeyLen)
	}
	newKey = bytes.Clone(newKey)
	oldKey := db.audit.get()
	if oldKey == nil {
		return AuditRekey{}, fmt.Errorf("rotate audit key: %w", ErrNoAuditKey)
	}
	var rk AuditRekey
	locked := false
	defer func() {
		if locked {
			db.audit.mu.Unlock()
		}
	}()
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		keyed, err := chainKeyed(ctx, tx)
		if err != nil {
			return err
		}
		// The head before fn appends anything: what an operator anchored
		// right before rotating.
		head, err := readHead(ctx, tx)
		if err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			return err
		}
		oldSeal, from := legacySeal, "unkeyed"
		if keyed {
			oldSeal, from = hmacSeal(oldKey), "previous key"
		}
		if rk, err = reseal(ctx, tx, from, head, oldSeal, hmacSeal(newKey)); err != nil {
			return err
		}
		if _, err := db.appendAudit(ctx, tx, newKey, Audit{Actor: actor, Action: ActionAuditRekey, Target: "audit_log", Diff: rk}); err != nil {
			return err
		}
		// Held from here (the writer is still ours) until the swap below
		// or the restore: an append that gets the writer after the commit
		// waits for the new key instead of sealing with the old one.
		db.audit.mu.Lock()
		locked = true
		db.audit.key = newKey
		return nil
	})
	if err != nil {
		if locked {
			db.audit.key = oldKey // the commit failed
		}
		return AuditRekey{}, err
	}
	return rk, nil
}
