package store

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"net/mail"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Roles of admin UI users.
const (
	RoleAdmin  = "admin"
	RoleViewer = "viewer"
)

// User is an admin UI account.
type User struct {
	ID        int64  `json:"id"`
	Email     string `json:"email"`
	Role      string `json:"role"`
	CreatedAt string `json:"created_at"`
	Disabled  bool   `json:"disabled"`
}

// MinPasswordLen is the shortest password CreateUser accepts.
const MinPasswordLen = 12

// PasswordHashing is the argon2id cost of the password hashes a DB writes.
// Checking a hash uses the parameters stored in it, so hashes written under
// other settings keep verifying.
type PasswordHashing struct {
	Time      uint32 // passes over memory
	MemoryKiB uint32
	Threads   uint8
	KeyLen    uint32 // bytes of derived key
}

// DefaultPasswordHashing is the production cost: argon2id with 64 MiB (the
// memory of RFC 9106's second recommended option), one pass, two lanes;
// a fraction of a second on a small server: slow for someone guessing
// against a stolen database, affordable per login.
func DefaultPasswordHashing() PasswordHashing {
	return PasswordHashing{Time: 1, MemoryKiB: 64 * 1024, Threads: 2, KeyLen: 32}
}

// WithPasswordHashing sets the cost of new password hashes; zero fields
// keep DefaultPasswordHashing's. Production never sets it: tests do, with
// a cheap cost, because 64 MiB per hash dominates their CPU.
func WithPasswordHashing(p PasswordHashing) Option {
	return func(o *options) { o.passwords = p }
}

// withDefaults fills p's zero fields from DefaultPasswordHashing.
func (p PasswordHashing) withDefaults() PasswordHashing {
	d := DefaultPasswordHashing()
	return PasswordHashing{Time: cmp.Or(p.Time, d.Time), MemoryKiB: cmp.Or(p.MemoryKiB, d.MemoryKiB),
		Threads: cmp.Or(p.Threads, d.Threads), KeyLen: cmp.Or(p.KeyLen, d.KeyLen)}
}

// hashPassword returns an argon2id hash of password under p in the PHC
// string form.
func hashPassword(p PasswordHashing, password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// checkPassword reports whether password matches a hash from hashPassword,
// under the parameters the hash records.
func checkPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || t == 0 || p == 0 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// burnPasswordCheck costs what checking a hash written under p costs, so a
// login for an unknown email takes as long as one with a wrong password.
func burnPasswordCheck(p PasswordHashing, password string) {
	argon2.IDKey([]byte(password), []byte("sentryhub-no-such-user"), p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
}

// CreateUser adds a user with a hashed password. It returns a
// *ValidationError for a bad email, role or short password and ErrConflict
// when the email is taken.
func (db *DB) CreateUser(ctx context.Context, actor, email, role, password string) (User, error) {
	fields := map[string]string{}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email {
		fields["email"] = "must be a plain email address"
	}
	if role != RoleAdmin && role != RoleViewer {
		fields["role"] = "must be admin or viewer"
	}
	if len(password) < MinPasswordLen {
		fields["password"] = fmt.Sprintf("must be at least %d characters", MinPasswordLen)
	}
	if len(fields) > 0 {
		return User{}, &ValidationError{Message: "invalid user", Fields: fields}
	}
	hash, err := hashPassword(db.passwords, password)
	if err != nil {
		return User{}, err
	}
	u := User{Email: email, Role: role, CreatedAt: formatTime(db.now())}
	err = db.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO users (email, password_hash, role, created_at) VALUES (?, ?, ?, ?)`,
			u.Email, hash, u.Role, u.CreatedAt)
		if err != nil {
			return fmt.Errorf("create user %s: %w", email, interpretError(err))
		}
		u.ID, _ = res.LastInsertId()
		return db.appendAuditTx(ctx, tx, Audit{Actor: actor, Action: "user.create", Target: fmt.Sprintf("user:%d", u.ID),
			Diff: map[string]any{"email": u.Email, "role": u.Role}})
	})
	if err != nil {
		return User{}, err
	}
	return u, nil
}

// ErrBadCredentials is returned by Authenticate for an unknown email, a
// wrong password or a disabled account, without saying which.
var ErrBadCredentials = errors.New("invalid email or password")

// Authenticate checks an email and password and returns the user.
func (db *DB) Authenticate(ctx context.Context, email, password string) (User, error) {
	var u User
	var hash string
	var disabled int
	err := db.r.QueryRowContext(ctx, `SELECT id, email, role, created_at, disabled, password_hash FROM users WHERE email = ?`, email).
		Scan(&u.ID, &u.Email, &u.Role, &u.CreatedAt, &disabled, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		burnPasswordCheck(db.passwords, password)
		return User{}, ErrBadCredentials
	}
	if err != nil {
		return User{}, fmt.Errorf("authenticate: %w", err)
	}
	if !checkPassword(hash, password) || disabled != 0 {
		return User{}, ErrBadCredentials
	}
	return u, nil
}

// GetUser returns the user with id, or ErrNotFound.
func (db *DB) GetUser(ctx context.Context, id int64) (User, error) {
	var u User
	var disabled int
	err := db.r.QueryRowContext(ctx, `SELECT id, email, role, created_at, disabled FROM users WHERE id = ?`, id).
		Scan(&u.ID, &u.Email, &u.Role, &u.CreatedAt, &disabled)
	if err != nil {
		return User{}, fmt.Errorf("get user %d: %w", id, interpretError(err))
	}
	u.Disabled = disabled != 0
	return u, nil
}

// CountUsers returns how many users exist.
func (db *DB) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

// SetPassword replaces a user's password (used by demo to issue a fresh
// one-time password on every start) and, in the same transaction, revokes
// the user's sessions: whoever knew the old password is logged out.
func (db *DB) SetPassword(ctx context.Context, actor string, id int64, password string) error {
	if len(password) < MinPasswordLen {
		return &ValidationError{Message: "invalid password", Fields: map[string]string{"password": fmt.Sprintf("must be at least %d characters", MinPasswordLen)}}
	}
	hash, err := hashPassword(db.passwords, password)
	if err != nil {
		return err
	}
	return db.updateUser(ctx, actor, id, "user.set_password", RevokePasswordChange, map[string]any{"password": "changed"},
		`UPDATE users SET password_hash = ? WHERE id = ?`, hash, id)
}

// SetUserRole changes a user's role and revokes the user's sessions, so no
// session keeps acting with the old role.
func (db *DB) SetUserRole(ctx context.Context, actor string, id int64, role string) error {
	if role != RoleAdmin && role != RoleViewer {
		return &ValidationError{Message: "invalid role", Fields: map[string]string{"role": "must be admin or viewer"}}
	}
	return db.updateUser(ctx, actor, id, "user.set_role", RevokeRoleChange, map[string]any{"role": role},
		`UPDATE users SET role = ? WHERE id = ?`, role, id)
}

// SetUserDisabled disables (or re-enables) a user. Disabling revokes the
// user's sessions in the same transaction.
func (db *DB) SetUserDisabled(ctx context.Context, actor string, id int64, disabled bool) error {
	action, reason, flag := "user.enable", "", 0
	if disabled {
		action, reason, flag = "user.disable", RevokeUserDisabled, 1
	}
	return db.updateUser(ctx, actor, id, action, reason, nil, `UPDATE users SET disabled = ? WHERE id = ?`, flag, id)
}

// updateUser runs one UPDATE of user id, revokes the user's sessions with
// reason (unless reason is empty) and audits action with diff, all in one
// transaction. The number of sessions revoked joins the diff. It returns
// ErrNotFound for an unknown user.
func (db *DB) updateUser(ctx context.Context, actor string, id int64, action, reason string, diff map[string]any, query string, args ...any) error {
	return db.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("%s: %w", action, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%s for user %d: %w", action, id, ErrNotFound)
		}
		if reason != "" {
			n, err := revokeUserSessions(ctx, tx, db.now(), id, reason)
			if err != nil {
				return err
			}
			if diff == nil {
				diff = map[string]any{}
			}
			diff["sessions_revoked"] = n
		}
		return db.appendAuditTx(ctx, tx, Audit{Actor: actor, Action: action, Target: fmt.Sprintf("user:%d", id), Diff: diff})
	})
}

// DeleteUser deletes a user; the user's sessions go with it (the sessions
// table cascades), in the same transaction.
func (db *DB) DeleteUser(ctx context.Context, actor string, id int64) error {
	return db.withTx(ctx, func(tx *sql.Tx) error {
		var email string
		if err := tx.QueryRowContext(ctx, `SELECT email FROM users WHERE id = ?`, id).Scan(&email); err != nil {
			return fmt.Errorf("delete user %d: %w", id, interpretError(err))
		}
		n, err := revokeUserSessions(ctx, tx, db.now(), id, RevokeUserDeleted)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id); err != nil {
			return fmt.Errorf("delete user %d: %w", id, err)
		}
		return db.appendAuditTx(ctx, tx, Audit{Actor: actor, Action: "user.delete", Target: fmt.Sprintf("user:%d", id),
			Diff: map[string]any{"email": email, "sessions_revoked": n}})
	})
}

// UserByEmail returns the user with email, or ErrNotFound.
func (db *DB) UserByEmail(ctx context.Context, email string) (User, error) {
	var u User
	var disabled int
	err := db.r.QueryRowContext(ctx, `SELECT id, email, role, created_at, disabled FROM users WHERE email = ?`, email).
		Scan(&u.ID, &u.Email, &u.Role, &u.CreatedAt, &disabled)
	if err != nil {
		return User{}, fmt.Errorf("get user %s: %w", email, interpretError(err))
	}
	u.Disabled = disabled != 0
	return u, nil
}

// ListUsers returns every user, admins first, then by email.
func (db *DB) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, email, role, created_at, disabled FROM users
		ORDER BY role = 'admin' DESC, email`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		var u User
		var disabled int
		if err := rows.Scan(&u.ID, &u.Email, &u.Role, &u.CreatedAt, &disabled); err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		u.Disabled = disabled != 0
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return out, nil
}
