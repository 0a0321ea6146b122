package tickets

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis keeps tickets in Redis, shared by every instance of a deployment:
// Put is SET key payload PX ttl and Take is GETDEL, so one caller wins a
// race and the server, not this process, expires keys. It needs Redis 6.2
// or later (GETDEL). Keys are <prefix>ticket:<ticket>.
type Redis struct {
	client *redis.Client
	prefix string
}

var _ Store = (*Redis)(nil)

// NewRedis connects to the Redis at url, a redis:// or rediss:// URL whose
// path selects the database (dojot uses db 1: redis://host:6379/1). Keys
// are <prefix>ticket:<ticket>: prefix "" is dojot's layout, a prefix lets
// deployments share one Redis. NewRedis pings the server and checks it
// knows GETDEL; its errors name the URL with the password redacted.
func NewRedis(ctx context.Context, url, prefix string) (*Redis, error) {
	safe, opt, err := parseRedisURL(url)
	if err != nil {
		return nil, err
	}
	// Without this a deadline on ctx would not bound a read from a stalled
	// server; callers pass request contexts.
	opt.ContextTimeoutEnabled = true
	client := redis.NewClient(opt)
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("tickets: redis %s: ping: %w", safe, err)
	}
	// Probe GETDEL now, so a Redis older than 6.2 fails at start and not at
	// the first websocket. "<prefix>ticket:" is no ticket's key: an issued
	// ticket is 64 hex characters.
	if err := client.GetDel(ctx, prefix+"ticket:").Err(); err != nil && !errors.Is(err, redis.Nil) {
		_ = client.Close()
		return nil, fmt.Errorf("tickets: redis %s: GETDEL (needs Redis >= 6.2): %w", safe, err)
	}
	return &Redis{client: client, prefix: prefix}, nil
}

// parseRedisURL returns the URL with its password redacted, for errors and
// logs, and the client options. A url.Parse error is not wrapped whole: it
// quotes the URL, password included.
func parseRedisURL(raw string) (string, *redis.Options, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return "", nil, fmt.Errorf("tickets: redis url is not valid: %w", err)
	}
	safe := u.Redacted()
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return safe, nil, fmt.Errorf("tickets: redis url %s: scheme must be redis or rediss", safe)
	}
	opt, err := redis.ParseURL(raw)
	if err != nil {
		return safe, nil, fmt.Errorf("tickets: redis url %s: %w", safe, err)
	}
	return safe, opt, nil
}

func (r *Redis) key(ticket string) string { return r.prefix + "ticket:" + ticket }

// Put stores payload under the ticket's key with a TTL of ttl, rounded up
// to a millisecond.
func (r *Redis) Put(ctx context.Context, ticket string, payload []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return errTTL // go-redis would send no expiry at all for 0
	}
	// PX counts milliseconds: round up, so a key never outlives ttl by
	// less than nothing, and go-redis does not log about sub-ms values.
	ttl = (ttl + time.Millisecond - 1).Truncate(time.Millisecond)
	if err := r.client.Set(ctx, r.key(ticket), payload, ttl).Err(); err != nil {
		return fmt.Errorf("tickets: redis put: %w", err)
	}
	return nil
}

// Take returns the payload and removes it with one GETDEL; ErrNotFound when
// absent, taken or expired.
func (r *Redis) Take(ctx context.Context, ticket string) ([]byte, error) {
	b, err := r.client.GetDel(ctx, r.key(ticket)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("tickets: redis take: %w", err)
	}
	return b, nil
}

// Ping reports whether Redis answers (for readiness).
func (r *Redis) Ping(ctx context.Context) error { return r.client.Ping(ctx).Err() }

// Close closes the connections to Redis.
func (r *Redis) Close() error {
	return r.client.Close()
}
