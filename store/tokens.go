package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Token scopes. ScopeAdmin implies every other scope.
const (
	ScopeAdmin          = "admin"
	ScopeEventsRead     = "events:read"
	ScopeInboundWrite   = "inbound:write"
	ScopeWarehouseWrite = "warehouse:write"
)

// Scopes lists every valid scope.
var Scopes = []string{ScopeAdmin, ScopeEventsRead, ScopeInboundWrite, ScopeWarehouseWrite}

// TokenPrefix starts every API token so a leaked one is easy to recognise
// (secret scanners) and to tell apart from other credentials.
const TokenPrefix = "shub_"

// Token is an API token's metadata; the token itself is never stored.
type Token struct {
	ID         int64    `json:"id"`
	Name       string   `json:"name"`
	Prefix     string   `json:"prefix"`
	Scopes     []string `json:"scopes"`
	CreatedBy  string   `json:"created_by"`
	CreatedAt  string   `json:"created_at"`
	LastUsedAt *string  `json:"last_used_at"`
	RevokedAt  *string  `json:"revoked_at"`
	// InboundSource is the inbound source the token pushes as (see
	// CreateSourceToken); empty for other tokens, which cannot push.
	InboundSource string `json:"inbound_source,omitempty"`
}

// HasScope reports whether the token grants scope (admin grants all).
func (t Token) HasScope(scope string) bool {
	return slices.Contains(t.Scopes, ScopeAdmin) || slices.Contains(t.Scopes, scope)
}

// ParseScopes splits a comma-separated scope list, rejecting unknown or
// empty ones with a *ValidationError.
func ParseScopes(s string) ([]string, error) {
	var out []string
	for _, sc := range strings.Split(s, ",") {
		sc = strings.TrimSpace(sc)
		if sc == "" {
			continue
		}
		if !slices.Contains(Scopes, sc) {
			return nil, &ValidationError{Message: "invalid scope", Fields: map[string]string{
				"scopes": fmt.Sprintf("unknown scope %q (valid: %s)", sc, strings.Join(Scopes, ", "))}}
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	if len(out) == 0 {
		return nil, &ValidationError{Message: "invalid scope", Fields: map[string]string{
			"scopes": "at least one scope is required (" + strings.Join(Scopes, ", ") + ")"}}
	}
	slices.Sort(out)
	return out, nil
}

func hashToken(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

// CreateToken makes a new random token (32 bytes) and returns it in plain
// form exactly once, together with its stored metadata.
func (db *DB) CreateToken(ctx context.Context, actor, name string, scopes []string) (string, Token, error) {
	return db.createToken(ctx, actor, name, scopes, "")
}

// createToken makes a token, bound to the inbound source when source is
// not empty (the caller checked it exists, and the foreign key holds it).
func (db *DB) createToken(ctx context.Context, actor, name string, scopes []string, source string) (string, Token, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return "", Token{}, &ValidationError{Message: "invalid token", Fields: map[string]string{"name": "required, at most 100 characters"}}
	}
	scopes, err := ParseScopes(strings.Join(scopes, ","))
	if err != nil {
		return "", Token{}, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", Token{}, fmt.Errorf("create token: %w", err)
	}
	plain := TokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	t := Token{Name: name, Prefix: plain[:len(TokenPrefix)+6], Scopes: scopes, CreatedBy: actor, CreatedAt: formatTime(db.now()),
		InboundSource: source}
	err = db.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO api_tokens (name, prefix, token_hash, scopes, created_by, created_at, inbound_source) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			t.Name, t.Prefix, hashToken(plain), strings.Join(scopes, ","), actor, t.CreatedAt, sql.NullString{String: source, Valid: source != ""})
		if err != nil {
			return fmt.Errorf("create token: %w", interpretError(err))
		}
		t.ID, _ = res.LastInsertId()
		diff := map[string]any{"name": t.Name, "scopes": scopes, "prefix": t.Prefix}
		if source != "" {
			diff["inbound_source"] = source
		}
		return db.appendAuditTx(ctx, tx, Audit{Actor: actor, Action: "token.create", Target: fmt.Sprintf("token:%d", t.ID), Diff: diff})
	})
	if err != nil {
		return "", Token{}, err
	}
	return plain, t, nil
}

// ErrBadToken is returned by LookupToken for a malformed, unknown or revoked token.
var ErrBadToken = errors.New("invalid or revoked API token")

const tokenCols = `id, name, prefix, scopes, created_by, created_at, last_used_at, revoked_at, coalesce(inbound_source, '')`

func scanToken(sc interface{ Scan(...any) error }) (Token, error) {
	var t Token
	var scopes string
	if err := sc.Scan(&t.ID, &t.Name, &t.Prefix, &scopes, &t.CreatedBy, &t.CreatedAt, &t.LastUsedAt, &t.RevokedAt, &t.InboundSource); err != nil {
		return Token{}, err
	}
	t.Scopes = strings.Split(scopes, ",")
	return t, nil
}

// LookupToken finds the active token matching plain and records its use.
// Lookup is by hash, so timing reveals nothing about stored tokens.
func (db *DB) LookupToken(ctx context.Context, plain string) (Token, error) {
	if !strings.HasPrefix(plain, TokenPrefix) || len(plain) > 200 {
		return Token{}, ErrBadToken
	}
	t, err := scanToken(db.r.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL`, hashToken(plain)))
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, ErrBadToken
	}
	if err != nil {
		return Token{}, fmt.Errorf("lookup token: %w", err)
	}
	// last_used_at is advisory: update it at most once a minute per token so
	// a busy integration does not turn every read into a write.
	now := db.now()
	if t.LastUsedAt == nil || *t.LastUsedAt < formatTime(now.Add(-60e9)) {
		at := formatTime(now)
		if _, err := db.w.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = ? WHERE id = ?`, at, t.ID); err != nil {
			return Token{}, fmt.Errorf("record token use: %w", err)
		}
		t.LastUsedAt = &at
	}
	return t, nil
}

// ListTokens returns every token, newest first.
func (db *DB) ListTokens(ctx context.Context) ([]Token, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+tokenCols+` FROM api_tokens ORDER BY id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	out := []Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// RevokeToken revokes a token. It returns ErrNotFound for an unknown or
// already revoked token.
func (db *DB) RevokeToken(ctx context.Context, actor string, id int64) error {
	return db.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, formatTime(db.now()), id)
		if err != nil {
			return fmt.Errorf("revoke token %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("revoke token %d: %w", id, ErrNotFound)
		}
		return db.appendAuditTx(ctx, tx, Audit{Actor: actor, Action: "token.revoke", Target: fmt.Sprintf("token:%d", id)})
	})
}
