package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// Inbound sources, their mappings (every version kept) and their pushes.
// The mapping language itself is package mapping; the store keeps the YAML
// text and does not parse it (callers check it before SaveMapping).

// InboundSourcePrefix starts the source_name of every record an inbound
// source writes, so a source can never write over a connector's records
// (connector names are source names too) whatever it is called.
const InboundSourcePrefix = "inbound:"

// maxMappingBytes bounds a stored mapping (the mapping package refuses
// larger ones first).
const maxMappingBytes = 256 << 10

// maxPushFailures bounds how many refused documents a push log row keeps.
const maxPushFailures = 20

var sourceNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// InboundSource is a system allowed to push documents.
type InboundSource struct {
	Name      string `json:"name"`
	CreatedBy string `json:"created_by"`
	CreatedAt string `json:"created_at"`
}

// CheckSourceName returns a *ValidationError unless name is a valid source
// name: 1 to 63 lowercase letters, digits, '-' or '_', starting with a
// letter or digit.
func CheckSourceName(name string) error {
	if !sourceNameRE.MatchString(name) {
		return &ValidationError{Message: "invalid source name " + strconv.Quote(name) +
			": use 1 to 63 lowercase letters, digits, '-' or '_'",
			Fields: map[string]string{"source": "must be 1 to 63 lowercase letters, digits, '-' or '_'"}}
	}
	return nil
}

// CreateInboundSource registers a source, audited. A taken name gives a
// *ConflictError.
func (db *DB) CreateInboundSource(ctx context.Context, actor, name string) (InboundSource, error) {
	if err := CheckSourceName(name); err != nil {
		return InboundSource{}, err
	}
	src := InboundSource{Name: name, CreatedBy: actor, CreatedAt: formatTime(db.now())}
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO inbound_sources (name, created_by, created_at) VALUES (?, ?, ?)`,
			name, actor, src.CreatedAt); err != nil {
			var ce *ConflictError
			if err := interpretError(err); errors.As(err, &ce) {
				return &ConflictError{Message: "source " + strconv.Quote(name) + " exists",
					Fields: map[string]string{"name": "is taken"}, Err: ce.Err}
			}
			return fmt.Errorf("create source: %w", err)
		}
		return db.appendAuditTx(ctx, tx, Audit{Actor: actor, Action: "inbound.source.create", Target: "inbound_source:" + name})
	})
	if err != nil {
		return InboundSource{}, err
	}
	return src, nil
}

// GetInboundSource returns the source, or ErrNotFound.
func (db *DB) GetInboundSource(ctx context.Context, name string) (InboundSource, error) {
	var s InboundSource
	err := db.r.QueryRowContext(ctx, `SELECT name, created_by, created_at FROM inbound_sources WHERE name = ?`, name).
		Scan(&s.Name, &s.CreatedBy, &s.CreatedAt)
	if err != nil {
		return InboundSource{}, fmt.Errorf("source %q: %w", name, interpretError(err))
	}
	return s, nil
}

// CreateSourceToken makes a token with the inbound:write scope bound to
// source: it pushes as that source and nothing else. The token is
// returned in plain form once. An unknown source gives ErrNotFound.
func (db *DB) CreateSourceToken(ctx context.Context, actor, source, name string) (string, Token, error) {
	if _, err := db.GetInboundSource(ctx, source); err != nil {
		return "", Token{}, err
	}
	return db.createToken(ctx, actor, name, []string{ScopeInboundWrite}, source)
}

// MappingVersion is one saved version of a source's mapping for a
// resource.
type MappingVersion struct {
	Source    string `json:"source"`
	Resource  string `json:"resource"`
	Version   int    `json:"version"`
	YAML      string `json:"yaml,omitempty"`
	CreatedBy string `json:"created_by"`
	CreatedAt string `json:"created_at"`
}

// SaveMapping stores yaml as the next version of the mapping of (source,
// resource), audited; earlier versions stay. The caller has checked that
// the YAML parses. An unknown source gives ErrNotFound.
func (db *DB) SaveMapping(ctx context.Context, actor, source, resource, yaml string) (MappingVersion, error) {
	if len(yaml) > maxMappingBytes {
		return MappingVersion{}, &ValidationError{Message: "mapping is too large",
			Fields: map[string]string{"mapping": "must be at most " + strconv.Itoa(maxMappingBytes>>10) + " KiB"}}
	}
	mv := MappingVersion{Source: source, Resource: resource, YAML: yaml, CreatedBy: actor, CreatedAt: formatTime(db.now())}
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM inbound_sources WHERE name = ?`, source).Scan(&one); err != nil {
			return fmt.Errorf("source %q: %w", source, interpretError(err))
		}
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) + 1 FROM inbound_mappings
			WHERE source = ? AND resource = ?`, source, resource).Scan(&mv.Version); err != nil {
			return fmt.Errorf("next mapping version: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO inbound_mappings
			(source, resource, version, yaml, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			source, resource, mv.Version, yaml, actor, mv.CreatedAt); err != nil {
			return fmt.Errorf("save mapping: %w", interpretError(err))
		}
		sum := sha256.Sum256([]byte(yaml))
		return db.appendAuditTx(ctx, tx, Audit{Actor: actor, Action: "inbound.mapping.save",
			Target: "inbound_mapping:" + source + "/" + resource,
			Diff:   map[string]any{"version": mv.Version, "bytes": len(yaml), "sha256": hex.EncodeToString(sum[:])}})
	})
	if err != nil {
		return MappingVersion{}, err
	}
	return mv, nil
}

const mappingCols = `source, resource, version, yaml, created_by, created_at`

func scanMapping(sc interface{ Scan(...any) error }) (MappingVersion, error) {
	var mv MappingVersion
	err := sc.Scan(&mv.Source, &mv.Resource, &mv.Version, &mv.YAML, &mv.CreatedBy, &mv.CreatedAt)
	return mv, err
}

// GetMapping returns the current (highest) version of the mapping of
// (source, resource), or version v when v > 0; ErrNotFound when there is
// none.
func (db *DB) GetMapping(ctx context.Context, source, resource string, v int) (MappingVersion, error) {
	q := `SELECT ` + mappingCols + ` FROM inbound_mappings WHERE source = ? AND resource = ?`
	args := []any{source, resource}
	if v > 0 {
		q += ` AND version = ?`
		args = append(args, v)
	} else {
		q += ` ORDER BY version DESC LIMIT 1`
	}
	mv, err := scanMapping(db.r.QueryRowContext(ctx, q, args...))
	if err != nil {
		return MappingVersion{}, fmt.Errorf("mapping %s/%s: %w", source, resource, interpretError(err))
	}
	return mv, nil
}

// ListMappings returns the current version of every mapping, by source and
// resource, without the YAML.
func (db *DB) ListMappings(ctx context.Context) ([]MappingVersion, error) {
	return db.listMappings(ctx, `SELECT m.source, m.resource, m.version, '', m.created_by, m.created_at
		FROM inbound_mappings m WHERE m.version = (SELECT max(x.version) FROM inbound_mappings x
			WHERE x.source = m.source AND x.resource = m.resource)
		ORDER BY m.source, m.resource`)
}

// ListMappingVersions returns every version of the mapping of (source,
// resource), newest first, with their YAML.
func (db *DB) ListMappingVersions(ctx context.Context, source, resource string) ([]MappingVersion, error) {
	return db.listMappings(ctx, `SELECT `+mappingCols+` FROM inbound_mappings
		WHERE source = ? AND resource = ? ORDER BY version DESC`, source, resource)
}

func (db *DB) listMappings(ctx context.Context, q string, args ...any) ([]MappingVersion, error) {
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list mappings: %w", err)
	}
	defer rows.Close()
	out := []MappingVersion{}
	for rows.Next() {
		mv, err := scanMapping(rows)
		if err != nil {
			return nil, fmt.Errorf("list mappings: %w", err)
		}
		out = append(out, mv)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list mappings: %w", err)
	}
	return out, nil
}

// PushInput is one inbound push: documents of one resource from one
// source, mapped with one mapping version.
type PushInput struct {
	Source         string // the inbound source's name (without InboundSourcePrefix)
	Resource       string
	MappingVersion int
	Actor          string // who pushed (the token)
	// Scope and RequestKey make the push idempotent when RequestKey is set
	// (Idempotency-Key or X-Request-ID): the same scope and key with the
	// same Fingerprint (of the request body) returns the first PushResult,
	// Replayed, and writes nothing; with another fingerprint it is refused
	// with an *IdempotencyConflictError.
	Scope       string
	RequestKey  string
	Fingerprint string
	// SourceTxnID is the request's id (X-Request-ID), the source_txn_id of
	// the events the push appends; empty means a fresh one.
	SourceTxnID string
	// Docs are the documents in request order: each either a record to
	// write or already refused (it did not map).
	Docs []PushDoc
}

// PushDoc is one document of a push.
type PushDoc struct {
	SourceID string
	Record   *SourceRecord // nil when Refused is set
	Refused  *RecordResult
}

// DocResult is what became of one document of a push.
type DocResult struct {
	Index    int    `json:"index"`
	SourceID string `json:"source_id,omitempty"`
	RecordResult
}

// PushResult is the outcome of a push, per document in request order.
type PushResult struct {
	PushID         int64       `json:"push_id"`
	Source         string      `json:"source"`
	Resource       string      `json:"resource"`
	MappingVersion int         `json:"mapping_version"`
	Created        int         `json:"created"`
	Updated        int         `json:"updated"`
	Unchanged      int         `json:"unchanged"`
	Refused        int         `json:"refused"`
	Results        []DocResult `json:"results"`
	// Replayed is true when this is the stored result of an earlier push
	// with the same idempotency key.
	Replayed bool `json:"replayed"`
}

// Push writes an inbound push in one transaction: its records (as
// UpsertRecords, one savepoint each), its log row, and, with a
// RequestKey, its result for replays. Only a failure of the whole
// transaction returns an error; refused documents are results.
func (db *DB) Push(ctx context.Context, in PushInput) (PushResult, error) {
	res := PushResult{Source: in.Source, Resource: in.Resource, MappingVersion: in.MappingVersion,
		Results: make([]DocResult, len(in.Docs))}
	recs := make([]SourceRecord, 0, len(in.Docs))
	at := make([]int, 0, len(in.Docs)) // recs[k] is document at[k]
	for i, d := range in.Docs {
		res.Results[i] = DocResult{Index: i, SourceID: d.SourceID}
		if d.Refused != nil {
			res.Results[i].RecordResult = *d.Refused
			continue
		}
		recs = append(recs, *d.Record)
		at = append(at, i)
	}
	out, pending, err := checkRecords(recs)
	if err != nil {
		return PushResult{}, err
	}
	txnID, err := normalizeRequestID(in.SourceTxnID)
	if err != nil {
		return PushResult{}, err
	}
	op := "inbound.push." + in.Resource
	_, err = db.update(ctx, func(w *writeTx) error {
		if in.RequestKey != "" {
			var storedOp, storedFP, stored string
			err := w.QueryRowContext(ctx, `SELECT operation, fingerprint, result FROM idempotency_keys
				WHERE scope = ? AND request_id = ?`, in.Scope, in.RequestKey).Scan(&storedOp, &storedFP, &stored)
			switch {
			case err == nil:
				if storedOp != op || storedFP != in.Fingerprint {
					return &IdempotencyConflictError{RequestID: in.RequestKey, FirstOperation: storedOp, Operation: op}
				}
				// A fresh value: decoding into res would keep this request's
				// values where the stored answer omits a field.
				var first PushResult
				if err := json.Unmarshal([]byte(stored), &first); err != nil {
					return fmt.Errorf("decode stored push result: %w", err)
				}
				res, res.Replayed = first, true
				return nil
			case !errors.Is(err, sql.ErrNoRows):
				return fmt.Errorf("look up idempotency key: %w", err)
			}
		}
		o := opCtx{writeTx: w, txnID: txnID}
		if err := upsertRecords(ctx, o, pending, out); err != nil {
			return err
		}
		for k, r := range out {
			res.Results[at[k]].RecordResult = r
		}
		var failures []DocResult
		for _, r := range res.Results {
			switch r.Outcome {
			case OutcomeCreated:
				res.Created++
			case OutcomeUpdated:
				res.Updated++
			case OutcomeUnchanged:
				res.Unchanged++
			case OutcomeRefused:
				res.Refused++
				if len(failures) < maxPushFailures {
					failures = append(failures, r)
				}
			}
		}
		fb, err := json.Marshal(failures)
		if err != nil {
			return fmt.Errorf("encode push failures: %w", err)
		}
		pr, err := w.ExecContext(ctx, `INSERT INTO inbound_pushes (source, resource, mapping_version, actor,
			documents, created, updated, unchanged, refused, failures, received_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, in.Source, in.Resource, in.MappingVersion, in.Actor,
			len(in.Docs), res.Created, res.Updated, res.Unchanged, res.Refused, string(fb), w.nowText)
		if err != nil {
			return fmt.Errorf("log push: %w", interpretError(err))
		}
		if res.PushID, err = pr.LastInsertId(); err != nil {
			return fmt.Errorf("log push: %w", err)
		}
		if in.RequestKey == "" {
			return nil
		}
		b, err := json.Marshal(res)
		if err != nil {
			return fmt.Errorf("encode push result: %w", err)
		}
		if _, err := w.ExecContext(ctx, `INSERT INTO idempotency_keys
			(scope, request_id, operation, fingerprint, result, actor, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			in.Scope, in.RequestKey, op, in.Fingerprint, string(b), in.Actor, w.nowText); err != nil {
			return fmt.Errorf("store push result: %w", interpretError(err))
		}
		return nil
	})
	if err != nil {
		var ie *IdempotencyConflictError
		if errors.As(err, &ie) {
			return PushResult{}, err
		}
		return PushResult{}, fmt.Errorf("push %s/%s: %w", in.Source, in.Resource, err)
	}
	return res, nil
}

// PushLog is the log row of one push.
type PushLog struct {
	ID             int64       `json:"id"`
	Source         string      `json:"source"`
	Resource       string      `json:"resource"`
	MappingVersion int         `json:"mapping_version"`
	Actor          string      `json:"actor"`
	Documents      int         `json:"documents"`
	Created        int         `json:"created"`
	Updated        int         `json:"updated"`
	Unchanged      int         `json:"unchanged"`
	Refused        int         `json:"refused"`
	Failures       []DocResult `json:"failures"`
	ReceivedAt     time.Time   `json:"received_at"`
}

// ListPushes returns the latest pushes of source (all sources when
// empty), newest first, at most limit.
func (db *DB) ListPushes(ctx context.Context, source string, limit int) ([]PushLog, error) {
	q := `SELECT id, source, resource, mapping_version, actor, documents, created, updated, unchanged,
		refused, failures, received_at FROM inbound_pushes`
	args := []any{}
	if source != "" {
		q += ` WHERE source = ?`
		args = append(args, source)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list pushes: %w", err)
	}
	defer rows.Close()
	out := []PushLog{}
	for rows.Next() {
		var p PushLog
		var failures, received string
		if err := rows.Scan(&p.ID, &p.Source, &p.Resource, &p.MappingVersion, &p.Actor, &p.Documents,
			&p.Created, &p.Updated, &p.Unchanged, &p.Refused, &failures, &received); err != nil {
			return nil, fmt.Errorf("list pushes: %w", err)
		}
		if err := json.Unmarshal([]byte(failures), &p.Failures); err != nil {
			return nil, fmt.Errorf("list pushes: decode failures: %w", err)
		}
		if p.ReceivedAt, err = parseTime(received); err != nil {
			return nil, fmt.Errorf("list pushes: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list pushes: %w", err)
	}
	return out, nil
}

// ListInboundSources returns every source by name.
func (db *DB) ListInboundSources(ctx context.Context) ([]InboundSource, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT name, created_by, created_at FROM inbound_sources ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list sources: %w", err)
	}
	defer rows.Close()
	out := []InboundSource{}
	for rows.Next() {
		var s InboundSource
		if err := rows.Scan(&s.Name, &s.CreatedBy, &s.CreatedAt); err != nil {
			return nil, fmt.Errorf("list sources: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sources: %w", err)
	}
	return out, nil
}

// CurrentMappingVersion returns the highest version of the mapping of
// (source, resource), or ErrNotFound: a push reads it to know whether its
// compiled mapping is still current without reading the YAML.
func (db *DB) CurrentMappingVersion(ctx context.Context, source, resource string) (int, error) {
	var v sql.NullInt64
	err := db.r.QueryRowContext(ctx, `SELECT max(version) FROM inbound_mappings WHERE source = ? AND resource = ?`,
		source, resource).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("mapping %s/%s: %w", source, resource, err)
	}
	if !v.Valid {
		return 0, fmt.Errorf("mapping %s/%s: %w", source, resource, ErrNotFound)
	}
	return int(v.Int64), nil
}

// PushRetention is how long the push log keeps a push: long enough to see
// what a source sent last month, short enough that a source pushing every
// few seconds does not grow the file without end. Records and their events
// are not affected.
const PushRetention = 30 * 24 * time.Hour

// PruneInboundPushes deletes the log rows of pushes received before
// before, in transactions of at most pruneBatch rows, and returns how many
// it deleted.
func (db *DB) PruneInboundPushes(ctx context.Context, before time.Time) (int64, error) {
	cutoff := formatTime(before)
	var total int64
	for {
		var n int64
		err := db.withTx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `DELETE FROM inbound_pushes WHERE id IN
				(SELECT id FROM inbound_pushes WHERE received_at < ? ORDER BY id LIMIT ?)`, cutoff, pruneBatch)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, fmt.Errorf("prune inbound pushes: %w", err)
		}
		total += n
		if n < pruneBatch {
			return total, nil
		}
	}
}
