package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dojot-es/dojot"
)

// RateLimit is at most Max events per window of Per (fixed windows, as
// Kong's rate-limiting plugin counts).
type RateLimit struct {
	Max int
	Per time.Duration
}

// ParseRateLimits reads limits written "5/1m,40/1h" (empty: none).
func ParseRateLimits(s string) ([]RateLimit, error) {
	var out []RateLimit
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		n, per, ok := strings.Cut(part, "/")
		max, err := strconv.Atoi(n)
		d, derr := time.ParseDuration(per)
		if !ok || err != nil || derr != nil || max < 1 || d < time.Second {
			return nil, fmt.Errorf("rate limit %q: want <count>/<duration> such as 5/1m (count 1 or more, duration 1s or more): %w", part, dojot.ErrInvalid)
		}
		out = append(out, RateLimit{Max: max, Per: d})
	}
	return out, nil
}

// Counter counts events by key across a window: Add adds one to key and
// returns the new count. A key may be forgotten ttl after its last Add.
// The gateway counts in its own memory unless given one shared by every
// instance (eventstore's KV), so that a limit holds for the whole cluster
// rather than per instance.
type Counter interface {
	Add(ctx context.Context, key string, ttl time.Duration) (int64, error)
}

// errRateLimited is a refused login: Kong's rate-limiting answer.
type errRateLimited struct{ retry time.Duration }

func (e errRateLimited) Error() string             { return "API rate limit exceeded" }
func (e errRateLimited) RetryAfter() time.Duration { return e.retry }
func (e errRateLimited) Unwrap() error {
	return &dojot.Error{Kind: dojot.ErrTooMany, Body: map[string]any{"message": "API rate limit exceeded", "status": http.StatusTooManyRequests}}
}

// loginAllowed counts a login attempt for username and for the client's
// address, in every window of Options.LoginLimitUser and LoginLimitAddr,
// before the password is checked (a refused attempt spends no bcrypt), and
// refuses it when a count is over its limit, until the window ends. A
// counter that fails lets the login through: it is logged, and the store
// that keeps the counts also keeps the users.
func (s *Server) loginAllowed(ctx context.Context, username, remoteAddr string) error {
	now := s.opts.Now()
	addr := remoteAddr
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		addr = host
	}
	var retry time.Duration
	for _, by := range []struct {
		kind, value string
		limits      []RateLimit
	}{{"user", username, s.opts.LoginLimitUser}, {"addr", addr, s.opts.LoginLimitAddr}} {
		for _, l := range by.limits {
			start := now.Truncate(l.Per)
			sum := sha256.Sum256([]byte(by.value)) // a bounded key whatever the client sent
			key := "login-" + by.kind + "-" + hex.EncodeToString(sum[:12]) + "-" + strconv.FormatInt(int64(l.Per/time.Second), 10) + "-" + strconv.FormatInt(start.Unix(), 10)
			n, err := s.loginCounter.Add(ctx, key, l.Per)
			if err != nil {
				s.log.WarnContext(ctx, "login rate limit not counted", "err", err)
				continue
			}
			if n > int64(l.Max) {
				retry = max(retry, start.Add(l.Per).Sub(now))
			}
		}
	}
	if retry > 0 {
		s.log.WarnContext(ctx, "login rate limited", "username", username, "addr", addr, "retry_after", retry.String())
		return errRateLimited{retry: retry}
	}
	return nil
}

// memoryCounter counts in this process: a limit per instance. It holds at
// most maxKeys keys; past that, new keys count as over any limit (an
// attacker with many addresses gets refusals, not the process's memory).
type memoryCounter struct {
	mu      sync.Mutex
	now     func() time.Time
	keys    map[string]*counted
	maxKeys int
	adds    int
}

type counted struct {
	n       int64
	expires time.Time
}

func newMemoryCounter(now func() time.Time, maxKeys int) *memoryCounter {
	return &memoryCounter{now: now, keys: map[string]*counted{}, maxKeys: maxKeys}
}

func (c *memoryCounter) Add(_ context.Context, key string, ttl time.Duration) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.adds++; c.adds%1024 == 0 || len(c.keys) >= c.maxKeys {
		for k, e := range c.keys {
			if now.After(e.expires) {
				delete(c.keys, k)
			}
		}
	}
	e := c.keys[key]
	if e == nil || now.After(e.expires) {
		if e == nil && len(c.keys) >= c.maxKeys {
			return 1 << 62, nil // over any limit; see the type's comment
		}
		e = &counted{}
		c.keys[key] = e
	}
	e.n++
	e.expires = now.Add(ttl)
	return e.n, nil
}
