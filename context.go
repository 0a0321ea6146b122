package dojot

import "context"

type ctxKey int

const (
	requestIDKey ctxKey = iota
	identityKey
)

// WithRequestID returns ctx carrying the request id (X-Request-Id).
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestID returns the request id carried by ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// Identity is who makes a request, as read from a verified JWT.
type Identity struct {
	Tenant   string  // JWT "service"
	Username string  // JWT "username"
	UserID   int64   // JWT "userid"
	Profile  string  // JWT "profile"
	Groups   []int64 // JWT "groups"
	Expires  int64   // JWT "exp", unix seconds
	// AuthTime is when the user logged in (JWT "auth_time", carried over
	// by renewals; "iat" for a token that has none), unix seconds.
	AuthTime int64
	Token    string // the raw token, for services that need to forward it
}

// WithIdentity returns ctx carrying the caller's identity.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey, id)
}

// IdentityFrom returns the caller's identity, if the request was authenticated.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey).(Identity)
	return id, ok
}
