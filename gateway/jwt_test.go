package gateway

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/dojot-es/dojot"
)

func TestVerifyToken(t *testing.T) {
	now := time.Unix(1_600_000_000, 0)
	s := New(Options{JWTSecret: testSecret, Now: func() time.Time { return now }})
	good, err := s.issueToken(dojot.Principal{User: dojot.User{ID: 7, Username: "bob", Service: "acme", Profile: "user"}, Groups: []int64{2}, Issuer: "k"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := s.verifyToken(good)
	if err != nil || id.Tenant != "acme" || id.Username != "bob" || id.UserID != 7 || id.Expires != now.Unix()+420 || id.Token != good || len(id.Groups) != 1 {
		t.Fatalf("verifyToken(good) = %+v, %v", id, err)
	}

	claims := func(mod func(c jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iat": now.Unix(), "exp": now.Unix() + 420, "userid": 7, "service": "acme", "username": "bob", "groups": []int{2}}
		if mod != nil {
			mod(c)
		}
		return c
	}
	sign := func(m jwt.SigningMethod, key any, c jwt.MapClaims) string {
		tok, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	b64 := base64.RawURLEncoding.EncodeToString
	tests := map[string]string{
		"tampered payload":                parts[0] + "." + b64([]byte(`{"userid":1,"service":"admin","username":"admin","exp":9999999999}`)) + "." + parts[2],
		"tampered signature":              parts[0] + "." + parts[1] + "." + b64([]byte("not the signature")),
		"alg none":                        sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil)),
		"dojot's unsigned internal token": b64([]byte("jwt schema")) + "." + b64([]byte(`{"service":"admin","username":"dojot-management"}`)) + "." + b64([]byte("dummy signature")),
		"HS512 with our key":              sign(jwt.SigningMethodHS512, testSecret, claims(nil)),
		"RS256":                           sign(jwt.SigningMethodRS256, rsaKey, claims(nil)),
		"another key":                     sign(jwt.SigningMethodHS256, []byte("another secret, 32 bytes long!!!"), claims(nil)),
		"expired":                         sign(jwt.SigningMethodHS256, testSecret, claims(func(c jwt.MapClaims) { c["exp"] = now.Unix() - 1 })),
		"no exp":                          sign(jwt.SigningMethodHS256, testSecret, claims(func(c jwt.MapClaims) { delete(c, "exp") })),
		"no userid":                       sign(jwt.SigningMethodHS256, testSecret, claims(func(c jwt.MapClaims) { delete(c, "userid") })),
		"no service":                      sign(jwt.SigningMethodHS256, testSecret, claims(func(c jwt.MapClaims) { delete(c, "service") })),
		"no username":                     sign(jwt.SigningMethodHS256, testSecret, claims(func(c jwt.MapClaims) { c["username"] = "" })),
		"userid not a number":             sign(jwt.SigningMethodHS256, testSecret, claims(func(c jwt.MapClaims) { c["userid"] = "7" })),
		"two segments":                    parts[0] + "." + parts[1],
		"empty":                           "",
	}
	for name, tok := range tests {
		t.Run(name, func(t *testing.T) {
			if id, err := s.verifyToken(tok); err != errBadToken {
				t.Errorf("verifyToken = %+v, %v; want errBadToken", id, err)
			}
			w := expectStatus(t, s, tok)
			if w != 401 {
				t.Errorf("GET /topic/x with it = %d, want 401", w)
			}
		})
	}

	// Without a secret nothing is issued nor accepted.
	bare := New(Options{})
	if _, err := bare.issueToken(dojot.Principal{User: dojot.User{ID: 1}}); err == nil {
		t.Error("issueToken without a secret succeeded")
	}
	if _, err := bare.verifyToken(good); err == nil {
		t.Error("verifyToken without a secret succeeded")
	}
}

func expectStatus(t *testing.T, s *Server, tok string) int {
	t.Helper()
	code, _ := call(t, s, "GET", "/topic/x", "Bearer "+tok, "")
	return code
}

func TestBearer(t *testing.T) {
	for in, want := range map[string]string{
		"Bearer abc":     "abc",
		"bearer  abc ":   "abc",
		"BEARER\tabc":    "abc",
		"abc":            "abc",
		" abc ":          "abc",
		"Bearerabc":      "Bearerabc",
		"Basic dXNlcjpw": "Basic dXNlcjpw",
	} {
		if got := bearer(in); got != want {
			t.Errorf("bearer(%q) = %q, want %q", in, got, want)
		}
	}
}
