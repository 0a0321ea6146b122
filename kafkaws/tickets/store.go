package tickets

import (
	"context"
	"errors"
	"time"
)

// Store keeps ticket -> payload with a TTL; Take is atomic (one winner among
// racing callers).
type Store interface {
	// Put stores payload under ticket for ttl (which must be > 0),
	// replacing whatever was there.
	Put(ctx context.Context, ticket string, payload []byte, ttl time.Duration) error
	// Take returns the payload and removes it; ErrNotFound when absent, taken or expired.
	Take(ctx context.Context, ticket string) ([]byte, error)
}

// ErrNotFound is returned by [Store.Take] for a ticket that is absent,
// already taken or expired.
var ErrNotFound = errors.New("tickets: not found")

// errTTL rejects a TTL that is not positive: for Redis a zero TTL would
// mean "never expires", the one thing a ticket must not do.
var errTTL = errors.New("tickets: ttl must be positive")
