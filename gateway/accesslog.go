package gateway

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
)

type loggerKey struct{}

// logger is the gateway's logger for a request: the one of Options, put in
// the context by accessLog, so that errors answered by the free function
// writeError go where the server's logs go (and carry the request id when
// the logger's handler adds dojot.RequestID, as cmd/dojot's does).
func logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

// accessLog logs one line per request once it is answered: method, route
// pattern, status and duration, with the request's context (so with its
// request id). A success is Debug (the device routes of the agents take
// thousands of requests a second), a refusal Info and a server error Warn
// (its cause is logged as an Error where it is answered).
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx := context.WithValue(r.Context(), loggerKey{}, s.log)
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(ctx))
		status := sw.status
		if status == 0 {
			status = http.StatusOK // nothing written: net/http answers 200
		}
		level := slog.LevelDebug
		switch {
		case status >= 500:
			level = slog.LevelWarn
		case status >= 400:
			level = slog.LevelInfo
		}
		if !s.log.Enabled(ctx, level) {
			return
		}
		attrs := []slog.Attr{slog.String("method", r.Method), slog.String("route", routePattern(r)),
			slog.Int("status", status), slog.Duration("duration", time.Since(start))}
		if attrs[1].Value.String() == "" {
			attrs = append(attrs, slog.String("path", r.URL.Path)) // no route matched
		}
		s.log.LogAttrs(ctx, level, "http request", attrs...)
	})
}

// routePattern is the chi pattern that served r ("/device/{id}"), "" when
// none did (a 404).
func routePattern(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil {
		return rc.RoutePattern()
	}
	return ""
}

// statusWriter records the status a handler answers with. It passes
// Flush and Hijack on (history streams CSV, Kafka WS takes the
// connection over: its status is 101).
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("gateway: the connection cannot be hijacked")
	}
	c, rw, err := h.Hijack()
	if err == nil && w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	return c, rw, err
}

// Unwrap is for http.ResponseController.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
