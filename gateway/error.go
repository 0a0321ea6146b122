package gateway

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/dojot-es/dojot"
)

// statusOf is the only code that knows HTTP status codes for error kinds.
var statusOf = map[error]int{
	dojot.ErrInvalid:        http.StatusBadRequest,
	dojot.ErrUnauthorized:   http.StatusUnauthorized,
	dojot.ErrForbidden:      http.StatusForbidden,
	dojot.ErrNotFound:       http.StatusNotFound,
	dojot.ErrNotAllowed:     http.StatusMethodNotAllowed,
	dojot.ErrNotAcceptable:  http.StatusNotAcceptable,
	dojot.ErrConflict:       http.StatusConflict,
	dojot.ErrTooLarge:       http.StatusRequestEntityTooLarge,
	dojot.ErrTooMany:        http.StatusTooManyRequests,
	dojot.ErrNotImplemented: http.StatusNotImplemented,
	dojot.ErrUnavailable:    http.StatusServiceUnavailable,
	dojot.ErrInternal:       http.StatusInternalServerError,
}

// errBody is dojot's Python services' error shape.
type errBody struct {
	Message any `json:"message"`
	Status  int `json:"status"`
}

// writeError answers with dojot's error body for err. Errors of no known kind
// are logged and answered with a bare 500: internal detail stays in the log.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ra retryAfter
	if errors.As(err, &ra) {
		// Whole seconds, rounded up: 0 would invite an immediate retry.
		w.Header().Set("Retry-After", strconv.FormatInt(int64((ra.RetryAfter()+time.Second-1)/time.Second), 10))
	}
	for kind, code := range statusOf { // kinds are disjoint, so order does not matter
		if !errors.Is(err, kind) {
			continue
		}
		var de *dojot.Error
		if errors.As(err, &de) {
			if de.Body != nil {
				writeJSON(w, code, de.Body)
				return
			}
			writeJSON(w, code, errBody{Message: de.Message, Status: code})
			return
		}
		if kind == dojot.ErrTooLarge {
			// The store refused it (NATS's message size): its text is an
			// internal detail, for the log.
			logger(r.Context()).WarnContext(r.Context(), "request too large to store", "err", err, "method", r.Method, "path", r.URL.Path)
			writeJSON(w, code, errBody{Message: "Request too large to be stored", Status: code})
			return
		}
		writeJSON(w, code, errBody{Message: err.Error(), Status: code})
		return
	}
	logger(r.Context()).ErrorContext(r.Context(), "request failed", "err", err, "method", r.Method, "path", r.URL.Path)
	writeJSON(w, http.StatusInternalServerError, errBody{Message: "internal error", Status: http.StatusInternalServerError})
}

// retryAfter is an error that tells the client when to try again (a rate
// limit): writeError sends it as Retry-After.
type retryAfter interface {
	error
	RetryAfter() time.Duration
}

// errorHandler is a handler that returns its error instead of answering it.
type errorHandler func(w http.ResponseWriter, r *http.Request) error

// ServeHTTP calls h and answers its error through writeError.
func (h errorHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h(w, r); err != nil {
		writeError(w, r, err)
	}
}
