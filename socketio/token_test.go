package socketio

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dojot-es/dojot/kafkaws/tickets"
	"github.com/dojot-es/dojot/kafkaws/tickets/ticketstest"
)

func newMemoryTokens(t *testing.T, ttl time.Duration) (*Tokens, tickets.Store) {
	t.Helper()
	m := tickets.NewMemory()
	t.Cleanup(func() { m.Close() })
	tk, err := NewTokens(m, []byte("secret"), ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tk, m
}

// TestTokens: a token is a UUIDv4 that stands for its tenant once, and
// is gone when used, expired, unknown or malformed.
func TestTokens(t *testing.T) {
	ctx := context.Background()
	tk, _ := newMemoryTokens(t, 200*time.Millisecond)
	tok, err := tk.Issue(ctx, Claims{Tenant: "acme", User: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	if !isUUID(tok) || tok[14] != '4' || !strings.ContainsRune("89ab", rune(tok[19])) || strings.ToLower(tok) != tok {
		t.Errorf("token %q: want a lowercase UUIDv4", tok)
	}
	c, err := tk.Redeem(ctx, tok)
	if err != nil || c != (Claims{Tenant: "acme", User: "ann"}) {
		t.Fatalf("Redeem: %+v %v", c, err)
	}
	if _, err := tk.Redeem(ctx, tok); !errors.Is(err, ErrUnknownToken) {
		t.Errorf("second Redeem: %v; want ErrUnknownToken (single use)", err)
	}
	late, _ := tk.Issue(ctx, Claims{Tenant: "acme", User: "ann"})
	time.Sleep(300 * time.Millisecond)
	if _, err := tk.Redeem(ctx, late); !errors.Is(err, ErrUnknownToken) {
		t.Errorf("expired: %v; want ErrUnknownToken", err)
	}
	for _, bad := range []string{"", "x", newUUID(), "../../etc", strings.Repeat("a", 36)} {
		if _, err := tk.Redeem(ctx, bad); !errors.Is(err, ErrUnknownToken) {
			t.Errorf("Redeem(%q): %v; want ErrUnknownToken", bad, err)
		}
	}
	if _, err := tk.Issue(ctx, Claims{User: "ann"}); err == nil {
		t.Error("Issue without a tenant: no error")
	}
	if _, err := NewTokens(tickets.NewMemory(), nil, 0); err == nil {
		t.Error("NewTokens without a secret: no error")
	}
}

// TestTokenForged: a value written to the store by someone without the
// secret (a shared Redis), or by another service's key, is refused.
func TestTokenForged(t *testing.T) {
	ctx := context.Background()
	tk, store := newMemoryTokens(t, time.Minute)
	tok := newUUID()
	if err := store.Put(ctx, key(tok), []byte(`{"tenant":"victim","mac":"00"}`), time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := tk.Redeem(ctx, tok); !errors.Is(err, ErrUnknownToken) {
		t.Errorf("forged value: %v; want ErrUnknownToken", err)
	}
	other, _ := NewTokens(store, []byte("another key"), time.Minute)
	tok, _ = other.Issue(ctx, Claims{Tenant: "acme", User: "ann"})
	if _, err := tk.Redeem(ctx, tok); !errors.Is(err, ErrUnknownToken) {
		t.Errorf("token of another key: %v; want ErrUnknownToken", err)
	}
}

// TestTokenStoreDown: a store that fails is not an unknown token (the
// socket gets "Failed to verify token", not "unknown token").
func TestTokenStoreDown(t *testing.T) {
	m := tickets.NewMemory()
	tk, _ := NewTokens(m, []byte("secret"), time.Minute)
	tok, err := tk.Issue(context.Background(), Claims{Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	if _, err := tk.Redeem(context.Background(), tok); err == nil || errors.Is(err, ErrUnknownToken) {
		t.Errorf("closed store: %v; want a store error", err)
	}
	if _, err := tk.Issue(context.Background(), Claims{Tenant: "acme"}); err == nil {
		t.Error("Issue on a closed store: no error")
	}
}

// TestTokensRedis: two instances sharing a Redis redeem each other's
// tokens, once, also when they race for one.
func TestTokensRedis(t *testing.T) {
	ctx := context.Background()
	url := ticketstest.RedisURL(t)
	prefix := ticketstest.Prefix(t, url)
	var ts [2]*Tokens
	for i := range ts {
		r, err := tickets.NewRedis(ctx, url, prefix)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		ts[i], _ = NewTokens(r, []byte("shared"), time.Minute)
	}
	a, b := ts[0], ts[1]
	tok, err := a.Issue(ctx, Claims{Tenant: "acme", User: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	// The other instance redeems it.
	if c, err := b.Redeem(ctx, tok); err != nil || c.Tenant != "acme" {
		t.Fatalf("other instance: %+v %v", c, err)
	}
	tok, _ = b.Issue(ctx, Claims{Tenant: "acme", User: "ann"})
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for _, tk := range []*Tokens{a, b, b, a} {
		wg.Go(func() {
			if c, err := tk.Redeem(ctx, tok); err == nil && c.Tenant == "acme" {
				mu.Lock()
				won++
				mu.Unlock()
			} else if !errors.Is(err, ErrUnknownToken) {
				t.Errorf("Redeem: %v", err)
			}
		})
	}
	wg.Wait()
	if won != 1 {
		t.Errorf("%d redeemed the token; want 1", won)
	}
}
