package tickets_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dojot-es/dojot/kafkaws/tickets"
	"github.com/dojot-es/dojot/kafkaws/tickets/ticketstest"
)

func newMemory(t *testing.T) tickets.Store {
	m := tickets.NewMemory()
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func newRedis(t *testing.T) tickets.Store { return ticketstest.NewRedis(t) }

func TestMemory(t *testing.T) { t.Parallel(); ticketstest.Run(t, newMemory) }

func TestRedis(t *testing.T) { t.Parallel(); ticketstest.Run(t, newRedis) }

func TestMemoryClosed(t *testing.T) {
	m := tickets.NewMemory()
	tk := ticketstest.Ticket(t)
	if err := m.Put(t.Context(), tk, []byte("x"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
	if got, err := m.Take(t.Context(), tk); err == nil || errors.Is(err, tickets.ErrNotFound) {
		t.Errorf("Take after Close = %q, %v; want a closed error", got, err)
	}
	if err := m.Put(t.Context(), tk, []byte("x"), time.Minute); err == nil {
		t.Error("Put after Close = nil, want an error")
	}
}

// The key must carry a TTL in Redis itself: a ticket left behind by a
// crashed instance expires with nobody calling Take.
func TestRedisKeyHasTTL(t *testing.T) {
	t.Parallel()
	url := ticketstest.RedisURL(t)
	prefix := ticketstest.Prefix(t, url)
	store, err := tickets.NewRedis(t.Context(), url, prefix)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	raw := rawRedis(t, url)
	ctx := t.Context()

	long, short, tiny := ticketstest.Ticket(t), ticketstest.Ticket(t), ticketstest.Ticket(t)
	for tk, ttl := range map[string]time.Duration{long: time.Minute, short: 300 * time.Millisecond, tiny: time.Microsecond} {
		if err := store.Put(ctx, tk, []byte("x"), ttl); err != nil {
			t.Fatal(err)
		}
	}
	// dojot's layout under the prefix: <prefix>ticket:<ticket>.
	pttl, err := raw.PTTL(ctx, prefix+"ticket:"+long).Result()
	if err != nil || pttl <= 50*time.Second || pttl > time.Minute {
		t.Errorf("PTTL(%sticket:%s) = %v, %v; want in (50s, 60s]", prefix, long, pttl, err)
	}
	pttl, err = raw.PTTL(ctx, prefix+"ticket:"+short).Result()
	if err != nil || pttl <= 0 || pttl > 300*time.Millisecond {
		t.Errorf("PTTL(short) = %v, %v; want in (0, 300ms]", pttl, err)
	}
	time.Sleep(400 * time.Millisecond)
	// EXISTS, not Take: the key itself must be gone, not just unreadable.
	if n, err := raw.Exists(ctx, prefix+"ticket:"+short, prefix+"ticket:"+tiny).Result(); err != nil || n != 0 {
		t.Errorf("EXISTS short, tiny after their TTL = %d, %v; want 0", n, err)
	}
	if n, err := raw.Exists(ctx, prefix+"ticket:"+long).Result(); err != nil || n != 1 {
		t.Errorf("EXISTS long = %d, %v; want 1", n, err)
	}
}

func TestRedisPrefixIsolates(t *testing.T) {
	url := ticketstest.RedisURL(t)
	a, err := tickets.NewRedis(t.Context(), url, ticketstest.Prefix(t, url))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := tickets.NewRedis(t.Context(), url, ticketstest.Prefix(t, url))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	tk := ticketstest.Ticket(t)
	if err := a.Put(t.Context(), tk, []byte("a's"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Take(t.Context(), tk); !errors.Is(err, tickets.ErrNotFound) {
		t.Errorf("other prefix: Take = %q, %v; want ErrNotFound", got, err)
	}
	if got, err := a.Take(t.Context(), tk); err != nil || string(got) != "a's" {
		t.Errorf("own prefix: Take = %q, %v; want a's", got, err)
	}
}

func TestNewRedisErrors(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-pw"
	tests := map[string]struct {
		url  string
		want string // in the error
	}{
		"unreachable":  {"redis://user:" + secret + "@127.0.0.1:1/1", "redis://user:xxxxx@127.0.0.1:1/1"},
		"scheme":       {"http://:" + secret + "@127.0.0.1:6379/1", "scheme must be redis or rediss"},
		"bad db":       {"redis://:" + secret + "@127.0.0.1:6379/one", "database"},
		"unparseable":  {"redis://:" + secret + "@127.0.0.1:port/1", "not valid"},
		"control char": {"redis://:" + secret + "@127.0.0.1:6379/1\n", "not valid"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel() // "unreachable" takes go-redis's retries, over a second
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			r, err := tickets.NewRedis(ctx, tt.url, "")
			if err == nil {
				r.Close()
				t.Fatalf("NewRedis(%q) = nil error, want one", tt.url)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.want) || strings.Contains(msg, secret) {
				t.Errorf("NewRedis(%q) error = %q; want it to contain %q and not the password", tt.url, msg, tt.want)
			}
		})
	}
}

func rawRedis(t *testing.T, url string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}
