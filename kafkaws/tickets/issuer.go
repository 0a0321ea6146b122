package tickets

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultTTL is how long a ticket is good for when NewIssuer gets no TTL:
// dojot's ticket.expiration.sec.
const DefaultTTL = 60 * time.Second

// ErrInvalid is what Redeem returns for a ticket that cannot be used:
// malformed (not 64 lowercase hex), unknown, used, expired, or whose stored
// payload fails verification. Issue returns it for claims without a tenant
// or an expiry.
var ErrInvalid = errors.New("tickets: invalid ticket")

var errNoSecret = errors.New("tickets: no secret")

// Claims is what a ticket stands for.
type Claims struct {
	Tenant string
	User   string
	// Expires is the login JWT's exp: a connection opened with the ticket ends then at the
	// latest (dojot's remainingTime).
	Expires time.Time
}

// inner is the JWT kept in the store. tenant, remainingTime and exp are
// dojot's claims (TicketService.issueTicket); user and jti are ours and
// dojot ignores them. jti makes every ticket unique: without it two Issue
// calls for one login in the same second sign the same JWT, get the same
// ticket, and the second websocket finds it already used (as in dojot,
// whose inner JWT has only second-resolution iat to tell them apart).
type inner struct {
	Tenant        string           `json:"tenant"`
	User          string           `json:"user,omitempty"`
	RemainingTime *jwt.NumericDate `json:"remainingTime"`
	jwt.RegisteredClaims
}

// Issuer makes and redeems tickets. The payload kept in the store is an
// HS256 JWT of the claims signed with the secret (dojot's inner JWT signed
// with KAFKA_WS_TICKET_SECRET); the ticket is the lowercase hex
// HMAC-SHA256(secret, payload), 64 characters. Instances that share the
// store and the secret redeem each other's tickets.
type Issuer struct {
	store  Store
	secret []byte
	ttl    time.Duration
	parser *jwt.Parser
}

// NewIssuer returns an Issuer over store. A ttl <= 0 means DefaultTTL. The
// secret must not be empty (Issue and Redeem fail otherwise); NewIssuer
// keeps its own copy.
func NewIssuer(store Store, secret []byte, ttl time.Duration) *Issuer {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return &Issuer{
		store:  store,
		secret: append([]byte(nil), secret...),
		ttl:    ttl,
		parser: jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithExpirationRequired()),
	}
}

// Issue signs c, stores it for the Issuer's TTL and returns its ticket.
// Claims without a Tenant or an Expires are refused with ErrInvalid, as
// dojot refuses a login JWT without service or exp.
func (i *Issuer) Issue(ctx context.Context, c Claims) (ticket string, err error) {
	if len(i.secret) == 0 {
		return "", errNoSecret
	}
	if c.Tenant == "" || c.Expires.IsZero() {
		return "", fmt.Errorf("tickets: issue: claims need a tenant and an expiry: %w", ErrInvalid)
	}
	var nonce [16]byte
	_, _ = rand.Read(nonce[:]) // never fails (crypto/rand)
	now := time.Now()
	claims := inner{
		Tenant:        c.Tenant,
		User:          c.User,
		RemainingTime: jwt.NewNumericDate(c.Expires),
		RegisteredClaims: jwt.RegisteredClaims{
			ID:       hex.EncodeToString(nonce[:]),
			IssuedAt: jwt.NewNumericDate(now),
			// exp has whole seconds: round up, or a sub-second TTL would
			// sign a JWT that is already expired. The store's TTL is the
			// exact one; exp is the bound for a store that keeps too long.
			ExpiresAt: jwt.NewNumericDate(ceilSecond(now.Add(i.ttl))),
		},
	}
	payload, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(i.secret)
	if err != nil {
		return "", fmt.Errorf("tickets: issue: sign: %w", err)
	}
	ticket = hex.EncodeToString(i.mac([]byte(payload)))
	if err := i.store.Put(ctx, ticket, []byte(payload), i.ttl); err != nil {
		return "", fmt.Errorf("tickets: issue: %w", err)
	}
	return ticket, nil
}

// Redeem takes the ticket from the store (single use: a ticket that fails
// verification is gone too) and verifies both the HMAC and the JWT
// signature, so whoever can write to the store but lacks the secret cannot
// mint tickets. It returns ErrInvalid for a ticket that is malformed (not 64
// lowercase hex), unknown, used, expired or whose payload fails
// verification, and another error (wrapped) when the store fails.
func (i *Issuer) Redeem(ctx context.Context, ticket string) (Claims, error) {
	if len(i.secret) == 0 {
		return Claims{}, errNoSecret
	}
	sum, ok := parseTicket(ticket)
	if !ok {
		return Claims{}, fmt.Errorf("tickets: redeem: malformed: %w", ErrInvalid)
	}
	payload, err := i.store.Take(ctx, ticket)
	if errors.Is(err, ErrNotFound) {
		return Claims{}, fmt.Errorf("tickets: redeem: unknown, used or expired: %w", ErrInvalid)
	}
	if err != nil {
		return Claims{}, fmt.Errorf("tickets: redeem: %w", err)
	}
	if !hmac.Equal(sum, i.mac(payload)) {
		return Claims{}, fmt.Errorf("tickets: redeem: payload does not match the ticket: %w", ErrInvalid)
	}
	var in inner
	if _, err := i.parser.ParseWithClaims(string(payload), &in, func(*jwt.Token) (any, error) { return i.secret, nil }); err != nil {
		return Claims{}, fmt.Errorf("tickets: redeem: %v: %w", err, ErrInvalid)
	}
	if in.Tenant == "" || in.RemainingTime == nil {
		return Claims{}, fmt.Errorf("tickets: redeem: payload without tenant or remainingTime: %w", ErrInvalid)
	}
	return Claims{Tenant: in.Tenant, User: in.User, Expires: in.RemainingTime.Time}, nil
}

func (i *Issuer) mac(payload []byte) []byte {
	h := hmac.New(sha256.New, i.secret)
	h.Write(payload)
	return h.Sum(nil)
}

// parseTicket decodes a ticket: exactly 64 lowercase hex characters, as
// Issue writes them (hex.DecodeString alone would take upper case too).
func parseTicket(t string) ([]byte, bool) {
	if len(t) != 2*sha256.Size {
		return nil, false
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return nil, false
		}
	}
	b, err := hex.DecodeString(t)
	return b, err == nil
}

func ceilSecond(t time.Time) time.Time {
	if r := t.Truncate(time.Second); !r.Equal(t) {
		return r.Add(time.Second)
	}
	return t
}
