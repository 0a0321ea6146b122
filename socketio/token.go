package socketio

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/kafkaws/tickets"
)

// TokenTTL is how long a token waits for its socket (dojot's SETEX 60).
const TokenTTL = 60 * time.Second

// ErrUnknownToken is Redeem's answer for a token that is malformed,
// unknown, used or expired, or whose stored value fails verification.
var ErrUnknownToken = errors.New("socketio: unknown token")

// Tokens issues and redeems socket.io tokens: UUIDv4s, as dojot's, each
// kept in a tickets.Store (Kafka WS's: memory, or Redis shared by every
// instance) under "si:<token>" with the tenant it stands for, for TTL,
// and taken at its first use. The stored value carries an HMAC with the
// secret, so that whoever can write to a shared Redis but lacks the secret
// cannot mint a token for a tenant of their choice.
type Tokens struct {
	store  tickets.Store
	secret []byte
	ttl    time.Duration
}

// NewTokens returns Tokens over store; ttl <= 0 means TokenTTL. secret
// must not be empty.
func NewTokens(store tickets.Store, secret []byte, ttl time.Duration) (*Tokens, error) {
	if len(secret) == 0 {
		return nil, errors.New("socketio: tokens need a secret")
	}
	if ttl <= 0 {
		ttl = TokenTTL
	}
	return &Tokens{store: store, secret: append([]byte(nil), secret...), ttl: ttl}, nil
}

// Claims is what a token stands for.
type Claims struct {
	Tenant string `json:"tenant"`
	User   string `json:"user,omitempty"`
}

type stored struct {
	Claims
	MAC string `json:"mac"`
}

// Issue stores c under a new token and returns it.
func (t *Tokens) Issue(ctx context.Context, c Claims) (string, error) {
	if c.Tenant == "" {
		return "", errors.New("socketio: a token needs a tenant")
	}
	token := newUUID()
	v, err := json.Marshal(stored{Claims: c, MAC: t.mac(token, c)})
	if err != nil {
		return "", fmt.Errorf("socketio: token: %w", err)
	}
	if err := t.store.Put(ctx, key(token), v, t.ttl); err != nil {
		return "", fmt.Errorf("socketio: token: %w", err)
	}
	return token, nil
}

// Redeem takes token from the store (single use: one of racing callers
// wins) and returns its claims: ErrUnknownToken when it cannot be used,
// another error when the store fails.
func (t *Tokens) Redeem(ctx context.Context, token string) (Claims, error) {
	if !isUUID(token) {
		return Claims{}, ErrUnknownToken
	}
	v, err := t.store.Take(ctx, key(token))
	if errors.Is(err, tickets.ErrNotFound) {
		return Claims{}, ErrUnknownToken
	}
	if err != nil {
		return Claims{}, fmt.Errorf("socketio: token: %w", err)
	}
	var s stored
	if json.Unmarshal(v, &s) != nil || s.Tenant == "" || !hmac.Equal([]byte(s.MAC), []byte(t.mac(token, s.Claims))) {
		return Claims{}, fmt.Errorf("%w: stored value fails verification", ErrUnknownToken)
	}
	return s.Claims, nil
}

// key is the token's key in the store, dojot's si:<token> (the Redis
// store adds its own prefix, "<prefix>ticket:").
func key(token string) string { return "si:" + token }

func (t *Tokens) mac(token string, c Claims) string {
	h := hmac.New(sha256.New, t.secret)
	h.Write([]byte(token))
	h.Write([]byte{0})
	h.Write([]byte(c.Tenant))
	h.Write([]byte{0})
	h.Write([]byte(c.User))
	return hex.EncodeToString(h.Sum(nil))
}

// newUUID is a token: a random UUID, as dojot's (Node's uuid/v4).
func newUUID() string {
	u, _ := dojot.NewUUID(rand.Reader) // crypto/rand's Reader never fails
	return u
}

// isUUID: 36 characters, hex with dashes where a UUID has them; what is
// not cannot be a token, and need not reach the store.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
				return false
			}
		}
	}
	return true
}
