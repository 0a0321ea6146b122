package gateway

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/dojot-es/dojot"
)

// TestVerifyToken: every token that is not one we signed (alg confusion,
// another key, tampered), has expired, lacks dojot's claims or names a user
// that no longer exists is answered 401 with the same body, behind the PEP
// and on a route that only authenticates.
func TestVerifyToken(t *testing.T) {
	s, _, now := authServer(t)
	admin := login(t, s, "admin", "admin")
	good := strings.TrimPrefix(admin, "Bearer ")
	id, err := s.verifyToken(good)
	if err != nil || id.Tenant != "admin" || id.Username != "admin" || id.UserID != 1 || id.Expires != now.Truncate(time.Second).Unix()+420 || id.Token != good {
		t.Fatalf("verifyToken(good) = %+v, %v", id, err)
	}
	for _, path := range []string{"/auth/user", "/topic/x"} {
		if code, body := call(t, s, "GET", path, admin, ""); code != 200 {
			t.Fatalf("GET %s with a good token = %d %s", path, code, body)
		}
	}

	claims := func(mod func(c jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iat": now.Unix(), "exp": now.Unix() + 420, "userid": 1, "service": "admin", "username": "admin", "groups": []int{1}}
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
	pubDER, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	parts := strings.Split(good, ".")
	b64 := base64.RawURLEncoding.EncodeToString
	header := func(alg string) string { return b64([]byte(`{"alg":"` + alg + `","typ":"JWT"}`)) }
	tests := map[string]string{
		"tampered payload":                parts[0] + "." + b64([]byte(`{"userid":1,"service":"admin","username":"admin","exp":9999999999}`)) + "." + parts[2],
		"tampered service":                parts[0] + "." + b64([]byte(strings.Replace(string(mustB64(t, parts[1])), `"service":"admin"`, `"service":"acme"`, 1))) + "." + parts[2],
		"tampered signature":              parts[0] + "." + parts[1] + "." + b64([]byte("not the signature")),
		"alg none":                        sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil)),
		"alg none, signature kept":        header("none") + "." + parts[1] + "." + parts[2],
		"alg none, no signature":          header("none") + "." + parts[1] + ".",
		"alg NONE":                        header("NONE") + "." + parts[1] + ".",
		"dojot's unsigned internal token": b64([]byte("jwt schema")) + "." + b64([]byte(`{"service":"admin","username":"dojot-management"}`)) + "." + b64([]byte("dummy signature")),
		"HS512 with our key":              sign(jwt.SigningMethodHS512, testSecret, claims(nil)),
		"RS256":                           sign(jwt.SigningMethodRS256, rsaKey, claims(nil)),
		"RS256 header, HS256 signature":   header("RS256") + "." + parts[1] + "." + parts[2],
		"HS256 keyed with an RSA public key (HS/RS swap)": sign(jwt.SigningMethodHS256, pubPEM, claims(nil)),
		"another key":         sign(jwt.SigningMethodHS256, []byte("another secret, 32 bytes long!!!"), claims(nil)),
		"expired":             sign(jwt.SigningMethodHS256, testSecret, claims(func(c jwt.MapClaims) { c["exp"] = now.Unix() - 1 })),
		"no exp":              sign(jwt.SigningMethodHS256, testSecret, claims(func(c jwt.MapClaims) { delete(c, "exp") })),
		"no userid":           sign(jwt.SigningMethodHS256, testSecret, claims(func(c jwt.MapClaims) { delete(c, "userid") })),
		"no service":          sign(jwt.SigningMethodHS256, testSecret, claims(func(c jwt.MapClaims) { delete(c, "service") })),
		"no username":         sign(jwt.SigningMethodHS256, testSecret, claims(func(c jwt.MapClaims) { c["username"] = "" })),
		"userid not a number": sign(jwt.SigningMethodHS256, testSecret, claims(func(c jwt.MapClaims) { c["userid"] = "7" })),
		"unknown user":        sign(jwt.SigningMethodHS256, testSecret, claims(func(c jwt.MapClaims) { c["userid"] = 99 })),
		"two segments":        parts[0] + "." + parts[1],
		"empty":               "",
	}
	const body = `{"message":"Invalid authentication token given","status":401}`
	for name, tok := range tests {
		t.Run(name, func(t *testing.T) {
			for _, path := range []string{"/auth/user", "/topic/x"} {
				code, got := call(t, s, "GET", path, "Bearer "+tok, "")
				if code != 401 || got != body {
					t.Errorf("GET %s = %d %s, want 401 %s", path, code, got, body)
				}
			}
		})
	}
	// Expiry follows the clock: the good token stops working when it ends.
	*now = now.Add(421 * time.Second)
	expect(t, s, "GET", "/auth/user", admin, "", 401, body)

	// Without a secret nothing is issued nor accepted.
	bare := New(Options{})
	if _, err := bare.issueToken(dojot.Principal{User: dojot.User{ID: 1}}, time.Now()); err == nil {
		t.Error("issueToken without a secret succeeded")
	}
	if _, err := bare.verifyToken(good); err == nil {
		t.Error("verifyToken without a secret succeeded")
	}
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
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

// BenchmarkTokenCheck is the cost of refusing deleted users' tokens on the
// routes that only authenticate: "verify" is the signature and claims
// check alone, "verify+user" adds the lookup of the user in the auth view
// (memory), "user" the lookup alone. Behind the PEP the check costs nothing more: the PDP already
// read the user's permissions, and a missing user is the refusal.
func BenchmarkTokenCheck(b *testing.B) {
	s, _, _ := authServer(b)
	p, err := s.opts.AuthCommands.Login(b.Context(), "admin", "admin")
	if err != nil {
		b.Fatal(err)
	}
	tok, err := s.issueToken(p, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.verifyToken(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("user", func(b *testing.B) {
		for b.Loop() {
			if _, ok, err := s.opts.AuthView.User(b.Context(), "1"); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("verify+user", func(b *testing.B) {
		for b.Loop() {
			id, err := s.verifyToken(tok)
			if err != nil {
				b.Fatal(err)
			}
			if _, ok, err := s.opts.AuthView.User(b.Context(), strconv.FormatInt(id.UserID, 10)); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
}
