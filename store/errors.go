package store

import (
	"database/sql"
	"errors"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Sentinel errors returned by store methods. Callers match them with
// errors.Is; the web layer maps them to HTTP status codes in one place.
var (
	// ErrNotFound means the requested row does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the write collides with existing state (a unique key,
	// or a state transition that is not allowed from the current state).
	ErrConflict = errors.New("conflict")
	// ErrInvalid means the input is well formed but not acceptable.
	ErrInvalid = errors.New("invalid")
	// ErrUnavailable means a background part of the hub (the dispatcher,
	// the connector service) is starting or stopping: retry shortly. Those
	// parts wrap it in their own "not running" errors.
	ErrUnavailable = errors.New("unavailable")
)

// ValidationError reports bad input field by field. It wraps ErrInvalid.
type ValidationError struct {
	Message string
	Fields  map[string]string
}

func (e *ValidationError) Error() string { return e.Message }

// Unwrap lets errors.Is(err, ErrInvalid) match.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// interpretError translates driver errors into the package's sentinels so no
// caller ever matches on SQLite message text.
func interpretError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return &ConflictError{Message: ErrConflict.Error(), Err: err}
		}
	}
	return err
}
