package web

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"sentryhub/store"
)

// Error is an error with an HTTP status and a stable machine code, raised by
// handlers for problems that are not store errors.
type Error struct {
	Status  int
	Code    string
	Message string
	Fields  map[string]string
}

func (e *Error) Error() string { return e.Message }

func badRequest(msg string, fields map[string]string) error {
	return &Error{Status: http.StatusBadRequest, Code: "bad_request", Message: msg, Fields: fields}
}

var (
	errUnauthorized = &Error{Status: http.StatusUnauthorized, Code: "unauthorized",
		Message: "missing or invalid credentials: send an API token in X-WMS-Token or Authorization: Bearer, or log in"}
	errForbidden = &Error{Status: http.StatusForbidden, Code: "forbidden",
		Message: "these credentials do not grant access to this resource"}
)

func forbiddenScope(scope string) error {
	return &Error{Status: http.StatusForbidden, Code: "forbidden",
		Message: "this token lacks the " + scope + " scope (or this user is not an admin)"}
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// toAPIError maps any error to its HTTP form. 5xx get a generic message so
// internals (paths, SQL) never reach a client.
func toAPIError(err error) *Error {
	var we *Error
	var ve *store.ValidationError
	var ce *store.ConflictError
	var mbe *http.MaxBytesError
	var ie *store.IdempotencyConflictError
	switch {
	case errors.As(err, &we):
		return we
	case errors.As(err, &ie):
		return &Error{Status: http.StatusUnprocessableEntity, Code: "idempotency_key_reused", Message: ie.Error(),
			Fields: map[string]string{"X-Request-ID": "already used with a different request"}}
	case errors.As(err, &ve):
		return &Error{Status: http.StatusUnprocessableEntity, Code: "validation_failed", Message: ve.Message, Fields: ve.Fields}
	case errors.As(err, &ce):
		msg := ce.Message
		if ce.Err != nil {
			// A conflict SQLite found says only "conflict"; the operation
			// that wrapped it says what conflicted.
			msg = err.Error()
		}
		return &Error{Status: http.StatusConflict, Code: "conflict", Message: msg, Fields: ce.Fields}
	case errors.As(err, &mbe):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large", Message: "request body exceeds the size limit"}
	case errors.Is(err, store.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Code: "not_found", Message: err.Error()}
	case errors.Is(err, store.ErrConflict):
		return &Error{Status: http.StatusConflict, Code: "conflict", Message: err.Error()}
	case errors.Is(err, store.ErrInvalid):
		return &Error{Status: http.StatusUnprocessableEntity, Code: "validation_failed", Message: err.Error()}
	case errors.Is(err, store.ErrBadToken):
		return errUnauthorized
	case errors.Is(err, store.ErrUnavailable):
		return &Error{Status: http.StatusServiceUnavailable, Code: "unavailable",
			Message: "the hub is starting or stopping; retry shortly"}
	}
	return &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error; see the server log for the request id"}
}

// writeError writes err as the JSON error envelope (an HTML page for
// browser paths, see wantsHTML), logging only 5xx (but
// not 501, a client's unknown method, which the access log already shows).
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := toAPIError(err)
	if ae.Status >= 500 && ae.Status != http.StatusNotImplemented {
		s.log.ErrorContext(r.Context(), "request failed", slog.String("request_id", requestID(r.Context())),
			slog.String("path", r.URL.Path), slog.Any("error", err))
	}
	if ae.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Token header="X-WMS-Token"`)
	}
	if wantsHTML(r) {
		s.writeErrorPage(w, r, ae)
		return
	}
	writeJSON(w, ae.Status, errorBody{Error: errorDetail{Code: ae.Code, Message: ae.Message, Fields: ae.Fields}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
