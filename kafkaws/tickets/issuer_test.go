package tickets_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/dojot-es/dojot/kafkaws/tickets"
	"github.com/dojot-es/dojot/kafkaws/tickets/ticketstest"
)

var (
	secret    = []byte("0ed6004202bdd3ef04fb") // dojot's default ticket.secret
	hex64     = regexp.MustCompile(`^[0-9a-f]{64}$`)
	loginExp  = time.Unix(time.Now().Add(time.Hour).Unix(), 0)
	aliceHere = tickets.Claims{Tenant: "admin", User: "alice", Expires: loginExp}
)

func issue(t *testing.T, i *tickets.Issuer, c tickets.Claims) string {
	t.Helper()
	tk, err := i.Issue(t.Context(), c)
	if err != nil {
		t.Fatalf("Issue(%+v) = %v", c, err)
	}
	if !hex64.MatchString(tk) {
		t.Fatalf("Issue(%+v) = %q, want 64 lowercase hex", c, tk)
	}
	return tk
}

func redeemOK(t *testing.T, i *tickets.Issuer, tk string, want tickets.Claims) {
	t.Helper()
	got, err := i.Redeem(t.Context(), tk)
	if err != nil || got.Tenant != want.Tenant || got.User != want.User || !got.Expires.Equal(want.Expires) {
		t.Fatalf("Redeem(%s) = %+v, %v; want %+v, nil", tk, got, err, want)
	}
}

func redeemInvalid(t *testing.T, i *tickets.Issuer, tk string) {
	t.Helper()
	got, err := i.Redeem(t.Context(), tk)
	if !errors.Is(err, tickets.ErrInvalid) {
		t.Fatalf("Redeem(%q) = %+v, %v; want ErrInvalid", tk, got, err)
	}
}

func TestIssueRedeemOnce(t *testing.T) {
	i := tickets.NewIssuer(newMemory(t), secret, 0)
	tk := issue(t, i, aliceHere)
	redeemOK(t, i, tk, aliceHere)
	redeemInvalid(t, i, tk)

	noUser := tickets.Claims{Tenant: "tenant2", Expires: loginExp}
	redeemOK(t, i, issue(t, i, noUser), noUser)
}

// Two tickets for one login in the same second must differ: each websocket
// gets its own.
func TestIssueUnique(t *testing.T) {
	i := tickets.NewIssuer(newMemory(t), secret, 0)
	seen := make(map[string]bool)
	for range 100 {
		tk := issue(t, i, aliceHere)
		if seen[tk] {
			t.Fatalf("Issue returned %s twice for the same claims", tk)
		}
		seen[tk] = true
	}
	for tk := range seen {
		redeemOK(t, i, tk, aliceHere)
	}
}

func TestIssueRefusesIncompleteClaims(t *testing.T) {
	i := tickets.NewIssuer(newMemory(t), secret, 0)
	for _, c := range []tickets.Claims{{User: "alice", Expires: loginExp}, {Tenant: "admin", User: "alice"}} {
		if tk, err := i.Issue(t.Context(), c); !errors.Is(err, tickets.ErrInvalid) {
			t.Errorf("Issue(%+v) = %q, %v; want ErrInvalid", c, tk, err)
		}
	}
}

func TestNoSecret(t *testing.T) {
	i := tickets.NewIssuer(newMemory(t), nil, 0)
	if tk, err := i.Issue(t.Context(), aliceHere); err == nil {
		t.Errorf("Issue with no secret = %q, nil; want an error", tk)
	}
	if _, err := i.Redeem(t.Context(), ticketstest.Ticket(t)); err == nil || errors.Is(err, tickets.ErrInvalid) {
		t.Errorf("Redeem with no secret = %v; want a configuration error, not ErrInvalid", err)
	}
}

func TestRedeemExpired(t *testing.T) {
	t.Parallel()
	i := tickets.NewIssuer(newMemory(t), secret, 300*time.Millisecond)
	tk := issue(t, i, aliceHere)
	time.Sleep(400 * time.Millisecond)
	redeemInvalid(t, i, tk)
}

func TestRedeemMalformed(t *testing.T) {
	store := &spyStore{Store: newMemory(t)}
	i := tickets.NewIssuer(store, secret, 0)
	good := issue(t, i, aliceHere)
	for _, tk := range []string{
		"",
		good[:63],
		good + "0",
		strings.ToUpper(good),
		good[:63] + "g",
		good[:62] + "\x00\x00",
		"ticket:" + good,
		strings.Repeat("é", 32),
	} {
		redeemInvalid(t, i, tk)
	}
	if store.takes != 0 {
		t.Errorf("store.Take called %d times for malformed tickets, want 0", store.takes)
	}
	redeemOK(t, i, good, aliceHere) // none of them consumed the real one
}

// Whoever can write to the store but lacks the secret cannot mint tickets,
// and a payload changed in the store is refused.
func TestRedeemRefusesForgedPayloads(t *testing.T) {
	store := newMemory(t)
	i := tickets.NewIssuer(store, secret, 0)
	other := []byte("not the secret")
	exp := jwt.NewNumericDate(time.Now().Add(time.Minute))
	claims := jwt.MapClaims{"tenant": "admin", "remainingTime": loginExp.Unix(), "exp": exp}
	sign := func(m jwt.SigningMethod, key any, c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := map[string]struct {
		payload string
		macKey  []byte // the ticket is HMAC(macKey, payload)
	}{
		"ticket and JWT under another secret": {sign(jwt.SigningMethodHS256, other, claims), other},
		"JWT under another secret":            {sign(jwt.SigningMethodHS256, other, claims), secret},
		"ticket under another secret":         {sign(jwt.SigningMethodHS256, secret, claims), other},
		"alg none":                            {sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims), secret},
		"HS512":                               {sign(jwt.SigningMethodHS512, secret, claims), secret},
		"JWT expired":                         {sign(jwt.SigningMethodHS256, secret, jwt.MapClaims{"tenant": "admin", "remainingTime": loginExp.Unix(), "exp": time.Now().Add(-time.Second).Unix()}), secret},
		"no exp":                              {sign(jwt.SigningMethodHS256, secret, jwt.MapClaims{"tenant": "admin", "remainingTime": loginExp.Unix()}), secret},
		"no tenant":                           {sign(jwt.SigningMethodHS256, secret, jwt.MapClaims{"remainingTime": loginExp.Unix(), "exp": exp}), secret},
		"no remainingTime":                    {sign(jwt.SigningMethodHS256, secret, jwt.MapClaims{"tenant": "admin", "exp": exp}), secret},
		"not a JWT":                           {"hello", secret},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			tk := mac(tt.macKey, tt.payload)
			if err := store.Put(t.Context(), tk, []byte(tt.payload), time.Minute); err != nil {
				t.Fatal(err)
			}
			redeemInvalid(t, i, tk)
		})
	}

	t.Run("payload tampered in the store", func(t *testing.T) {
		tk := issue(t, i, aliceHere)
		payload, err := store.Take(t.Context(), tk)
		if err != nil {
			t.Fatal(err)
		}
		// Move the JWT to another tenant, keeping its signature.
		parts := strings.Split(string(payload), ".")
		body, err := jwt.NewParser().DecodeSegment(parts[1])
		if err != nil {
			t.Fatal(err)
		}
		parts[1] = base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(body), `"admin"`, `"other"`, 1)))
		if err := store.Put(t.Context(), tk, []byte(strings.Join(parts, ".")), time.Minute); err != nil {
			t.Fatal(err)
		}
		redeemInvalid(t, i, tk)
	})

	t.Run("control: a payload signed with the secret passes", func(t *testing.T) {
		payload := sign(jwt.SigningMethodHS256, secret, claims)
		tk := mac(secret, payload)
		if err := store.Put(t.Context(), tk, []byte(payload), time.Minute); err != nil {
			t.Fatal(err)
		}
		redeemOK(t, i, tk, tickets.Claims{Tenant: "admin", Expires: loginExp})
	})
}

func TestRedeemOtherSecret(t *testing.T) {
	store := newMemory(t)
	a := tickets.NewIssuer(store, secret, 0)
	b := tickets.NewIssuer(store, []byte("another deployment's secret"), 0)
	redeemInvalid(t, b, issue(t, a, aliceHere))
}

// A ticket written by dojot's kafka-ws (TicketService.issueTicket: only
// tenant, remainingTime, iat and exp; key ticket:<ticket>) is redeemed here.
func TestRedeemDojotTicket(t *testing.T) {
	store := ticketstest.NewRedis(t)
	now := time.Now()
	payload, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"tenant": "admin", "remainingTime": loginExp.Unix(), "iat": now.Unix(), "exp": now.Unix() + 60,
	}).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	tk := mac(secret, payload)
	if err := store.Put(t.Context(), tk, []byte(payload), time.Minute); err != nil {
		t.Fatal(err)
	}
	i := tickets.NewIssuer(store, secret, 0)
	redeemOK(t, i, tk, tickets.Claims{Tenant: "admin", Expires: loginExp})
	redeemInvalid(t, i, tk)
}

// Two instances of a deployment share Redis and the secret: a ticket
// issued by one is redeemed by the other, once.
func TestIssuerTwoInstancesOverRedis(t *testing.T) {
	url := ticketstest.RedisURL(t)
	prefix := ticketstest.Prefix(t, url)
	instance := func() *tickets.Issuer {
		r, err := tickets.NewRedis(t.Context(), url, prefix)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Close() })
		return tickets.NewIssuer(r, secret, 0)
	}
	a, b := instance(), instance()
	tk := issue(t, a, aliceHere)
	redeemOK(t, b, tk, aliceHere)
	redeemInvalid(t, a, tk)
	redeemInvalid(t, b, tk)

	// Racing instances: one websocket wins.
	tk = issue(t, b, aliceHere)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
	)
	for n := range 16 {
		wg.Go(func() {
			i := a
			if n%2 == 1 {
				i = b
			}
			_, err := i.Redeem(t.Context(), tk)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, tickets.ErrInvalid):
				t.Errorf("Redeem = %v, want nil or ErrInvalid", err)
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("16 racing Redeems over two instances: %d won, want 1", wins)
	}
}

func TestRedeemStoreFailure(t *testing.T) {
	boom := errors.New("store down")
	i := tickets.NewIssuer(failingStore{boom}, secret, 0)
	_, err := i.Redeem(t.Context(), ticketstest.Ticket(t))
	if !errors.Is(err, boom) || errors.Is(err, tickets.ErrInvalid) {
		t.Errorf("Redeem over a failing store = %v; want it to wrap %v and not be ErrInvalid", err, boom)
	}
	if _, err := i.Issue(t.Context(), aliceHere); !errors.Is(err, boom) {
		t.Errorf("Issue over a failing store = %v; want it to wrap %v", err, boom)
	}
	// And a real one: a closed Redis.
	r := ticketstest.NewRedis(t)
	ri := tickets.NewIssuer(r, secret, 0)
	_ = r.Close()
	if _, err := ri.Redeem(t.Context(), ticketstest.Ticket(t)); err == nil || errors.Is(err, tickets.ErrInvalid) {
		t.Errorf("Redeem over a closed Redis = %v; want a store error, not ErrInvalid", err)
	}
}

func mac(key []byte, payload string) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(payload))
	return hex.EncodeToString(h.Sum(nil))
}

// spyStore counts Takes, to show malformed tickets never reach the store.
type spyStore struct {
	tickets.Store
	takes int
}

func (s *spyStore) Take(ctx context.Context, ticket string) ([]byte, error) {
	s.takes++
	return s.Store.Take(ctx, ticket)
}

// failingStore is a store that is down: the one case Memory and a live
// Redis cannot produce on demand.
type failingStore struct{ err error }

func (f failingStore) Put(context.Context, string, []byte, time.Duration) error { return f.err }
func (f failingStore) Take(context.Context, string) ([]byte, error)             { return nil, f.err }
