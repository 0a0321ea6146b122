package gateway

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
)

// attempt is a login from addr, answered with its status, body and
// Retry-After.
func attempt(s *Server, addr, user, passwd string) (int, string, string) {
	r := httptest.NewRequest("POST", "/auth", strings.NewReader(`{"username":"`+user+`","passwd":"`+passwd+`"}`))
	r.Header.Set("Content-Type", "application/json")
	r.RemoteAddr = addr
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w.Code, strings.TrimSpace(w.Body.String()), w.Header().Get("Retry-After")
}

// TestLoginRateLimit: past the limit per user, or per address, a login is
// refused with 429, Kong's body and Retry-After until the window ends,
// whatever the password; other users and addresses are not affected.
func TestLoginRateLimit(t *testing.T) {
	s, _, now := authServer(t)
	*now = time.Date(2026, 1, 1, 10, 0, 10, 0, time.UTC)
	s.opts.LoginLimitUser = []RateLimit{{Max: 3, Per: time.Minute}}
	s.opts.LoginLimitAddr = []RateLimit{{Max: 5, Per: time.Minute}, {Max: 8, Per: time.Hour}}
	const a, b, limited = "192.0.2.1:4000", "192.0.2.2:4000", `{"message":"API rate limit exceeded","status":429}`
	step := func(addr, user, passwd string, code int, retry string) {
		t.Helper()
		got, body, ra := attempt(s, addr, user, passwd)
		if got != code || ra != retry || (code == 429 && body != limited) {
			t.Fatalf("login %s from %s = %d %s Retry-After %q; want %d Retry-After %q", user, addr, got, body, ra, code, retry)
		}
	}
	step(a, "admin", "bad", 403, "")
	step(a, "admin", "bad", 403, "")
	step(b, "admin", "bad", 403, "")
	step(b, "admin", "admin", 429, "50") // 4th for admin: the right password does not help
	step(a, "nobody", "x", 401, "")      // a's 3rd
	step(a, "nobody", "x", 401, "")      // a's 4th
	step(a, "nobody", "x", 401, "")      // a's 5th
	step(a, "nobody2", "x", 429, "50")   // a's 6th: the address's limit
	step(b, "nobody3", "x", 401, "")     // b is its own address

	*now = now.Add(time.Minute) // the minute windows end; a's hour has 6 of 8
	step(b, "admin", "admin", 200, "")
	step(a, "nobody", "x", 401, "")
	step(a, "nobody", "x", 401, "")
	step(a, "nobody4", "x", 429, "3530") // the hour's 9th: until 11:00
}

func TestParseRateLimits(t *testing.T) {
	got, err := ParseRateLimits(" 5/1m, 40/1h ")
	if err != nil || len(got) != 2 || got[0] != (RateLimit{5, time.Minute}) || got[1] != (RateLimit{40, time.Hour}) {
		t.Errorf("ParseRateLimits = %v, %v", got, err)
	}
	if got, err := ParseRateLimits(""); err != nil || got != nil {
		t.Errorf("ParseRateLimits(\"\") = %v, %v", got, err)
	}
	for _, bad := range []string{"5", "x/1m", "0/1m", "5/1ms", "5/soon", "-1/1m"} {
		if _, err := ParseRateLimits(bad); !errors.Is(err, dojot.ErrInvalid) {
			t.Errorf("ParseRateLimits(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

// TestMemoryCounter: counts expire ttl after the last add; past maxKeys
// live keys a new key counts as over any limit.
func TestMemoryCounter(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newMemoryCounter(func() time.Time { return now }, 2)
	ctx := context.Background()
	add := func(key string, want int64) {
		t.Helper()
		if n, err := c.Add(ctx, key, time.Minute); err != nil || n != want {
			t.Fatalf("Add(%s) = %d, %v; want %d", key, n, err, want)
		}
	}
	add("a", 1)
	add("a", 2)
	add("b", 1)
	if n, _ := c.Add(ctx, "c", time.Minute); n < 1<<40 {
		t.Errorf("third key while full = %d, want over any limit", n)
	}
	now = now.Add(61 * time.Second)
	add("c", 1) // a and b expired and were swept
	add("a", 1)
}

var _ http.Handler = (*Server)(nil)
