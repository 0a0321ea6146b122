package gateway

import (
	"context"
	"log/slog"
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
//
// It also tells Options.Observer (the metrics' latency histogram) of the
// request, one wrapped writer for both; a hijacked request (a websocket)
// is left out of it: its time is the connection's lifetime, not a latency.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx := context.WithValue(r.Context(), loggerKey{}, s.log)
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(ctx))
		status := sw.code
		switch {
		case sw.hijacked:
			status = http.StatusSwitchingProtocols
		case status == 0:
			status = http.StatusOK // nothing written: net/http answers 200
		}
		if s.opts.Observer != nil && !sw.hijacked {
			s.opts.Observer.ObserveRequest(routePattern(r), r.Method, status, time.Since(start))
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
