package ticketstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dojot-es/dojot/kafkaws/tickets"
)

// RedisURL is the Redis to test against: DOJOT_TEST_REDIS_URL, or else
// redis://127.0.0.1:6379/1 (dojot's db 1 on the local server). When it does
// not answer PING the test is skipped, or fails under CI=true.
func RedisURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("DOJOT_TEST_REDIS_URL")
	if u == "" {
		u = "redis://127.0.0.1:6379/1"
	}
	pingMu.Lock()
	err, done := pinged[u]
	if !done {
		err = ping(u)
		pinged[u] = err
	}
	pingMu.Unlock()
	if err != nil {
		msg := "ticketstest: no Redis (set DOJOT_TEST_REDIS_URL or start redis-server, see RECIPES.md): " + err.Error()
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return u
}

// pinged remembers each URL's answer to PING, so a suite whose Redis is
// down skips or fails each subtest at once instead of redialling.
var (
	pingMu sync.Mutex
	pinged = make(map[string]error)
)

func ping(url string) error {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return fmt.Errorf("DOJOT_TEST_REDIS_URL: %w", err)
	}
	c := redis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

// Prefix returns a key prefix no other test uses, and removes every key
// under it from the Redis at url when the test ends.
func Prefix(tb testing.TB, url string) string {
	tb.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	prefix := "dojot-test-tickets-" + hex.EncodeToString(b[:]) + ":"
	tb.Cleanup(func() {
		opt, err := redis.ParseURL(url)
		if err != nil {
			tb.Error(err)
			return
		}
		c := redis.NewClient(opt)
		defer c.Close()
		ctx := context.Background() // tb.Context is already done in Cleanup
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			if err := c.Del(ctx, iter.Val()).Err(); err != nil {
				tb.Error(err)
				return
			}
		}
		if err := iter.Err(); err != nil {
			tb.Errorf("ticketstest: cleaning %s*: %v", prefix, err)
		}
	})
	return prefix
}

// NewRedis returns a tickets.Redis on RedisURL under a fresh Prefix,
// closed and emptied when the test ends.
func NewRedis(tb testing.TB) *tickets.Redis {
	tb.Helper()
	url := RedisURL(tb)
	r, err := tickets.NewRedis(tb.Context(), url, Prefix(tb, url))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = r.Close() })
	return r
}
