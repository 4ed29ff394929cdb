// Package apperr is medisac's one application error type: a machine code,
// a message key that the web and API surfaces translate for the reader, and
// the wrapped cause that is logged but never shown.
package apperr

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/medisac/medisac/internal/db"
)

// Code classifies an error for callers and for HTTP status mapping.
type Code string

// The error codes. Their HTTP statuses are in Status.
const (
	Invalid         Code = "invalid"
	NotFound        Code = "not_found"
	Conflict        Code = "conflict"
	Unauthenticated Code = "unauthenticated"
	Forbidden       Code = "forbidden"
	TooLarge        Code = "too_large"
	RateLimited     Code = "rate_limited"
	Unavailable     Code = "unavailable"
	Internal        Code = "internal"
)

var statuses = map[Code]int{
	Invalid:         http.StatusBadRequest,
	NotFound:        http.StatusNotFound,
	Conflict:        http.StatusConflict,
	Unauthenticated: http.StatusUnauthorized,
	Forbidden:       http.StatusForbidden,
	TooLarge:        http.StatusRequestEntityTooLarge,
	RateLimited:     http.StatusTooManyRequests,
	Unavailable:     http.StatusServiceUnavailable,
	Internal:        http.StatusInternalServerError,
}

// Status returns the HTTP status for a code (500 for unknown codes).
func Status(c Code) int {
	if s, ok := statuses[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Error is an application error. Key names a message in the catalogs
// (internal/i18n); Args fill its placeholders; Field names the input field
// at fault, when there is one.
type Error struct {
	Code  Code
	Key   string
	Args  []any
	Field string
	Err   error
}

func (e *Error) Error() string {
	s := string(e.Code) + ": " + e.Key
	if e.Field != "" {
		s += " (" + e.Field + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error with a code and a message key.
func New(code Code, key string, args ...any) *Error {
	return &Error{Code: code, Key: key, Args: args}
}

// Field returns an Invalid error about one input field.
func Field(field, key string, args ...any) *Error {
	return &Error{Code: Invalid, Key: key, Args: args, Field: field}
}

// Wrap returns an error with a code and key that wraps cause.
func Wrap(cause error, code Code, key string, args ...any) *Error {
	return &Error{Code: code, Key: key, Args: args, Err: cause}
}

// From returns err as an *Error: application errors as they are, db
// sentinels as NotFound/Conflict/Unavailable (ErrBusy), anything else as Internal (with the cause
// kept for the log).
func From(err error) *Error {
	if err == nil {
		return nil
	}
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	switch {
	case errors.Is(err, db.ErrNotFound):
		return &Error{Code: NotFound, Key: "error.not_found", Err: err}
	case errors.Is(err, db.ErrConflict):
		return &Error{Code: Conflict, Key: "error.conflict", Err: err}
	case errors.Is(err, db.ErrBusy):
		return &Error{Code: Unavailable, Key: "error.busy", Err: err}
	case db.Unreachable(err):
		return &Error{Code: Unavailable, Key: "error.unavailable", Err: err}
	}
	return &Error{Code: Internal, Key: "error.internal", Err: err}
}

// CodeOf returns the code of err (Internal for non-application errors).
func CodeOf(err error) Code { return From(err).Code }

// Is reports whether err is an application error with the given code.
func Is(err error, code Code) bool {
	return err != nil && From(err).Code == code
}

// Errorf is a convenience for an Internal error with a formatted cause.
func Errorf(format string, args ...any) *Error {
	return &Error{Code: Internal, Key: "error.internal", Err: fmt.Errorf(format, args...)}
}
