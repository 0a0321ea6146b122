package dojot

import (
	"errors"
	"fmt"
)

// Error kinds. The gateway maps each to one HTTP status in one table; the
// kinds are disjoint, so an error wraps at most one of them.
var (
	ErrInvalid        = errors.New("invalid")         // 400
	ErrUnauthorized   = errors.New("unauthorized")    // 401
	ErrForbidden      = errors.New("forbidden")       // 403
	ErrNotFound       = errors.New("not found")       // 404
	ErrNotAllowed     = errors.New("not allowed")     // 405
	ErrNotAcceptable  = errors.New("not acceptable")  // 406
	ErrConflict       = errors.New("conflict")        // 409
	ErrTooLarge       = errors.New("too large")       // 413
	ErrTooMany        = errors.New("too many")        // 429: a rate limit
	ErrNotImplemented = errors.New("not implemented") // 501
	ErrUnavailable    = errors.New("unavailable")     // 503
	ErrInternal       = errors.New("internal")        // 500 with dojot's own message
)

// Error is an error a client sees. Message is dojot's text for it (a string,
// or a list/object where dojot sends one); Body, when set, replaces the whole
// JSON body for the few replies that are not {"message":..,"status":..}.
type Error struct {
	Kind    error
	Message any
	Body    any
}

func (e *Error) Error() string {
	if s, ok := e.Message.(string); ok {
		return s
	}
	if e.Message != nil {
		return fmt.Sprint(e.Message)
	}
	return e.Kind.Error()
}

func (e *Error) Unwrap() error { return e.Kind }

// Errorf builds an *Error of the given kind with a formatted message.
func Errorf(kind error, format string, a ...any) error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, a...)}
}
