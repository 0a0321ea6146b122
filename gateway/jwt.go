package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/dojot-es/dojot"
)

// tokenClaims are the claims of a dojot login token (auth's
// AuthenticationController): iss, iat, exp, jti and dojot's own.
type tokenClaims struct {
	jwt.RegisteredClaims
	Profile  string  `json:"profile"`
	Groups   []int64 `json:"groups"`
	UserID   int64   `json:"userid"`
	Service  string  `json:"service"`
	Username string  `json:"username"`
	// AuthTime is the login's time (OpenID Connect's claim): a renewal
	// keeps it, so a session's age is known however often it was renewed.
	AuthTime *jwt.NumericDate `json:"auth_time,omitempty"`
}

// errNoSecret: the gateway was started without Options.JWTSecret.
var errNoSecret = errors.New("gateway: no JWT secret configured")

// issueToken signs a login token for p (HS256, Options.JWTSecret, lifetime
// Options.TokenTTL).
func (s *Server) issueToken(p dojot.Principal, authTime time.Time) (string, error) {
	if len(s.opts.JWTSecret) == 0 {
		return "", errNoSecret
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", fmt.Errorf("jti: %w", err)
	}
	now := s.opts.Now().Truncate(time.Second)
	groups := p.Groups
	if groups == nil {
		groups = []int64{}
	}
	c := tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    p.Issuer,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(s.opts.TokenTTL)),
			ID:        hex.EncodeToString(jti),
		},
		Profile: p.User.Profile, Groups: groups, UserID: p.User.ID,
		Service: p.User.Service, Username: p.User.Username,
		AuthTime: jwt.NewNumericDate(authTime.Truncate(time.Second)),
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(s.opts.JWTSecret)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return tok, nil
}

// errBadToken is the answer to a token that is not one we signed, or has
// expired, or lacks dojot's claims.
var errBadToken = &dojot.Error{Kind: dojot.ErrUnauthorized, Message: "Invalid authentication token given"}

// verifyToken checks the signature (HS256 only: "none" and every other
// algorithm are refused), the expiry and dojot's claims of raw, and returns
// the caller's identity.
func (s *Server) verifyToken(raw string) (dojot.Identity, error) {
	if len(s.opts.JWTSecret) == 0 {
		return dojot.Identity{}, errBadToken
	}
	var c tokenClaims
	_, err := jwt.ParseWithClaims(raw, &c,
		func(*jwt.Token) (any, error) { return s.opts.JWTSecret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(s.opts.Now),
	)
	if err != nil || c.UserID <= 0 || c.Service == "" || c.Username == "" {
		return dojot.Identity{}, errBadToken
	}
	id := dojot.Identity{
		Tenant: c.Service, Username: c.Username, UserID: c.UserID, Profile: c.Profile,
		Groups: c.Groups, Expires: c.ExpiresAt.Unix(), Token: raw,
	}
	switch {
	case c.AuthTime != nil:
		id.AuthTime = c.AuthTime.Unix()
	case c.IssuedAt != nil: // a token from before auth_time: its login is its issue
		id.AuthTime = c.IssuedAt.Unix()
	}
	return id, nil
}

// bearer extracts the token of an Authorization header: "Bearer <jwt>"
// (any case, as pepkong) or a bare "<jwt>" (as device-manager accepts).
func bearer(header string) string {
	h := strings.TrimSpace(header)
	if len(h) > 7 && strings.EqualFold(h[:6], "bearer") && (h[6] == ' ' || h[6] == '\t') {
		return strings.TrimSpace(h[7:])
	}
	return h
}
