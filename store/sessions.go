package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Session is a login session of the admin UI. The id in the browser's
// cookie is never stored, only its SHA-256; ID is the row id, which names
// the session in the admin API and the UI and opens nothing.
type Session struct {
	ID            int64   `json:"id"`
	UserID        int64   `json:"user_id"`
	UserEmail     string  `json:"user_email"`
	CreatedAt     string  `json:"created_at"`
	LastSeenAt    string  `json:"last_seen_at"`
	ExpiresAt     string  `json:"expires_at"`
	IdleExpiresAt string  `json:"idle_expires_at"`
	UserAgent     string  `json:"user_agent"`
	IP            string  `json:"ip"`
	RevokedAt     *string `json:"revoked_at"`
	RevokedReason *string `json:"revoked_reason"`
	// Status is active, revoked or expired (idle or absolute), as of the
	// read.
	Status string `json:"status"`
}

// Session statuses.
const (
	SessionActive  = "active"
	SessionRevoked = "revoked"
	SessionExpired = "expired"
)

// Why a session was revoked (Session.RevokedReason).
const (
	RevokeLogout         = "logout"
	RevokeReplaced       = "replaced by a new login"
	RevokeByAdmin        = "revoked by an admin"
	RevokePasswordChange = "password changed"
	RevokeRoleChange     = "role changed"
	RevokeUserDisabled   = "user disabled"
	RevokeUserDeleted    = "user deleted"
)

// SessionRetention is how long a session row is kept after it ended
// (revoked, or past its absolute expiry), so an admin can still see it;
// the janitor prunes it afterwards.
const SessionRetention = 12 * time.Hour

// sessionTouchEvery bounds how often last_seen_at is written per session:
// idle expiry only needs minute precision, and most requests stay reads.
const sessionTouchEvery = time.Minute

// maxUserAgent bounds the stored User-Agent header (bytes).
const maxUserAgent = 256

// ErrNoSession is returned for an unknown, revoked or expired session id,
// and for a session whose user is disabled or gone, without saying which.
var ErrNoSession = errors.New("no valid session")

// NewSession describes a session to start after a successful login.
type NewSession struct {
	UserID    int64
	UserAgent string
	IP        string
	// Idle ends the session after this long without a request; Absolute
	// ends it this long after the login, however busy.
	Idle     time.Duration
	Absolute time.Duration
}

// CreateSession starts a session and returns its id in plain form (32
// random bytes, base64url) for the cookie; only its hash is stored.
func (db *DB) CreateSession(ctx context.Context, in NewSession) (string, Session, error) {
	if in.Idle < time.Second || in.Absolute < time.Second {
		return "", Session{}, fmt.Errorf("create session: idle and absolute lifetimes must be at least a second")
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", Session{}, fmt.Errorf("create session: %w", err)
	}
	plain := base64.RawURLEncoding.EncodeToString(raw)
	now := db.now()
	s := Session{UserID: in.UserID, CreatedAt: formatTime(now), LastSeenAt: formatTime(now),
		ExpiresAt: formatTime(now.Add(in.Absolute)), IdleExpiresAt: formatTime(now.Add(in.Idle)),
		UserAgent: clip(in.UserAgent, maxUserAgent), IP: clip(in.IP, 64), Status: SessionActive}
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, expires_at, idle_seconds, user_agent, ip)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, hashToken(plain), s.UserID, s.CreatedAt, s.LastSeenAt, s.ExpiresAt,
			int64(in.Idle/time.Second), s.UserAgent, s.IP)
		if err != nil {
			return fmt.Errorf("create session for user %d: %w", in.UserID, interpretError(err))
		}
		s.ID, _ = res.LastInsertId()
		return tx.QueryRowContext(ctx, `SELECT email FROM users WHERE id = ?`, s.UserID).Scan(&s.UserEmail)
	})
	if err != nil {
		return "", Session{}, err
	}
	return plain, s, nil
}

// clip cuts s to at most n bytes without splitting a UTF-8 sequence and
// replaces invalid bytes, so stored header values are always valid text.
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

const sessionCols = `s.id, s.user_id, u.email, s.created_at, s.last_seen_at, s.expires_at, s.idle_seconds,
	s.user_agent, s.ip, s.revoked_at, s.revoked_reason`

// scanSession reads sessionCols (then any extra columns into extra) and
// derives the idle expiry and status as of now.
func scanSession(sc interface{ Scan(...any) error }, now time.Time, extra ...any) (Session, error) {
	var s Session
	var idle int64
	dest := []any{&s.ID, &s.UserID, &s.UserEmail, &s.CreatedAt, &s.LastSeenAt, &s.ExpiresAt, &idle,
		&s.UserAgent, &s.IP, &s.RevokedAt, &s.RevokedReason}
	if err := sc.Scan(append(dest, extra...)...); err != nil {
		return Session{}, err
	}
	seen, err := parseTime(s.LastSeenAt)
	if err != nil {
		return Session{}, err
	}
	s.IdleExpiresAt = formatTime(seen.Add(time.Duration(idle) * time.Second))
	nowS := formatTime(now)
	switch {
	case s.RevokedAt != nil:
		s.Status = SessionRevoked
	case nowS >= s.ExpiresAt || nowS >= s.IdleExpiresAt:
		s.Status = SessionExpired
	default:
		s.Status = SessionActive
	}
	return s, nil
}

// SessionUser returns the active session with the plain id from a cookie
// and its user, or ErrNoSession. It records the request as the session's
// last use (at most once a minute), which slides the idle window.
func (db *DB) SessionUser(ctx context.Context, plain string) (Session, User, error) {
	if plain == "" || len(plain) > 100 {
		return Session{}, User{}, ErrNoSession
	}
	now := db.now()
	var u User
	var disabled int
	row := db.r.QueryRowContext(ctx, `SELECT `+sessionCols+`, u.role, u.created_at, u.disabled
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?`, hashToken(plain))
	s, err := scanSession(row, now, &u.Role, &u.CreatedAt, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, User{}, ErrNoSession
	}
	if err != nil {
		return Session{}, User{}, fmt.Errorf("look up session: %w", err)
	}
	if s.Status != SessionActive || disabled != 0 {
		return Session{}, User{}, ErrNoSession
	}
	u.ID, u.Email = s.UserID, s.UserEmail
	if s.LastSeenAt <= formatTime(now.Add(-sessionTouchEvery)) {
		at := formatTime(now)
		if _, err := db.w.ExecContext(ctx, `UPDATE sessions SET last_seen_at = ? WHERE id = ? AND revoked_at IS NULL`, at, s.ID); err != nil {
			return Session{}, User{}, fmt.Errorf("record session use: %w", err)
		}
		s.LastSeenAt = at
	}
	return s, u, nil
}

// EndSession revokes the session with the plain id from a cookie (logout).
// An unknown or already ended session is not an error: the caller wants
// it gone, and it is.
func (db *DB) EndSession(ctx context.Context, plain, reason string) error {
	if plain == "" || len(plain) > 100 {
		return nil
	}
	_, err := db.w.ExecContext(ctx, `UPDATE sessions SET revoked_at = ?, revoked_reason = ? WHERE token_hash = ? AND revoked_at IS NULL`,
		formatTime(db.now()), reason, hashToken(plain))
	if err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}

// SessionFilter selects sessions for ListSessions.
type SessionFilter struct {
	UserID     int64 // 0: every user
	ActiveOnly bool
}

// ListSessions returns sessions, newest first: active ones, and ended ones
// not yet pruned (see SessionRetention) unless f.ActiveOnly.
func (db *DB) ListSessions(ctx context.Context, f SessionFilter) ([]Session, error) {
	q := `SELECT ` + sessionCols + ` FROM sessions s JOIN users u ON u.id = s.user_id`
	var where []string
	var args []any
	if f.UserID != 0 {
		where, args = append(where, "s.user_id = ?"), append(args, f.UserID)
	}
	now := db.now()
	if f.ActiveOnly {
		where, args = append(where, "s.revoked_at IS NULL", "s.expires_at > ?"), append(args, formatTime(now))
	}
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := db.r.QueryContext(ctx, q+" ORDER BY s.id DESC", args...)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	defer rows.Close()
	out := []Session{}
	for rows.Next() {
		s, err := scanSession(rows, now)
		if err != nil {
			return nil, fmt.Errorf("list sessions: %w", err)
		}
		if f.ActiveOnly && s.Status != SessionActive {
			continue // idle-expired: the query cannot see idle_seconds as time
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return out, nil
}

// RevokeSession revokes one of a user's sessions. It returns ErrNotFound
// when the user has no such session or it is already revoked.
func (db *DB) RevokeSession(ctx context.Context, actor string, userID, sessionID int64) error {
	return db.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = ?, revoked_reason = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL`,
			formatTime(db.now()), RevokeByAdmin, sessionID, userID)
		if err != nil {
			return fmt.Errorf("revoke session %d: %w", sessionID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("revoke session %d of user %d: %w", sessionID, userID, ErrNotFound)
		}
		return db.appendAuditTx(ctx, tx, Audit{Actor: actor, Action: "session.revoke", Target: fmt.Sprintf("user:%d", userID),
			Diff: map[string]any{"session_id": sessionID}})
	})
}

// RevokeUserSessions revokes every session of a user and returns how many
// were open. It returns ErrNotFound for an unknown user.
func (db *DB) RevokeUserSessions(ctx context.Context, actor string, userID int64) (int64, error) {
	var n int64
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		if err := userExists(ctx, tx, userID); err != nil {
			return fmt.Errorf("revoke sessions: %w", err)
		}
		var err error
		if n, err = revokeUserSessions(ctx, tx, db.now(), userID, RevokeByAdmin); err != nil {
			return err
		}
		return db.appendAuditTx(ctx, tx, Audit{Actor: actor, Action: "session.revoke_all", Target: fmt.Sprintf("user:%d", userID),
			Diff: map[string]any{"revoked": n}})
	})
	return n, err
}

func userExists(ctx context.Context, tx *sql.Tx, id int64) error {
	var one int
	if err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE id = ?`, id).Scan(&one); err != nil {
		return fmt.Errorf("user %d: %w", id, interpretError(err))
	}
	return nil
}

// revokeUserSessions revokes a user's open sessions inside tx, the
// transaction of the change that ends them, so no request can run with a
// session the change should have ended.
func revokeUserSessions(ctx context.Context, tx *sql.Tx, now time.Time, userID int64, reason string) (int64, error) {
	res, err := tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = ?, revoked_reason = ? WHERE user_id = ? AND revoked_at IS NULL`,
		formatTime(now), reason, userID)
	if err != nil {
		return 0, fmt.Errorf("revoke sessions of user %d: %w", userID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("revoke sessions of user %d: %w", userID, err)
	}
	return n, nil
}

// PruneSessions deletes sessions that ended before before: revoked then, or
// past their absolute expiry then. (An idle-expired session is pruned once
// its absolute expiry is also that old.) It returns how many it deleted.
func (db *DB) PruneSessions(ctx context.Context, before time.Time) (int64, error) {
	cutoff := formatTime(before)
	var total int64
	for {
		var n int64
		err := db.withTx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE id IN
				(SELECT id FROM sessions WHERE expires_at < ? UNION SELECT id FROM sessions WHERE revoked_at < ? LIMIT ?)`,
				cutoff, cutoff, pruneBatch)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, fmt.Errorf("prune sessions: %w", err)
		}
		total += n
		if n < pruneBatch {
			return total, nil
		}
	}
}
