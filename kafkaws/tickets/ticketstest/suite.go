// Package ticketstest holds the conformance suite every tickets.Store
// passes (Run) and gives tests a Redis store on a key prefix of their own
// (NewRedis): the Redis named by DOJOT_TEST_REDIS_URL, or the local one.
package ticketstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/dojot-es/dojot/kafkaws/tickets"
)

// Run checks a Store: round trip, single use, one winner among racing
// Takes, TTL expiry, unknown tickets, overwrites, big payloads, refused
// TTLs and cancelled contexts. newStore gives each subtest a store of its
// own (or one whose keys no other test uses) and cleans it up with
// t.Cleanup. The TTL subtest waits about half a second.
func Run(t *testing.T, newStore func(t *testing.T) tickets.Store) {
	t.Run("RoundTrip", func(t *testing.T) { t.Parallel(); roundTrip(t, newStore(t)) })
	t.Run("SingleUse", func(t *testing.T) { t.Parallel(); singleUse(t, newStore(t)) })
	t.Run("RacingTakeOneWinner", func(t *testing.T) { t.Parallel(); racingTake(t, newStore(t)) })
	t.Run("TTLExpiry", func(t *testing.T) { t.Parallel(); ttlExpiry(t, newStore(t)) })
	t.Run("Unknown", func(t *testing.T) { t.Parallel(); unknown(t, newStore(t)) })
	t.Run("PutOverwrites", func(t *testing.T) { t.Parallel(); overwrite(t, newStore(t)) })
	t.Run("BigPayload", func(t *testing.T) { t.Parallel(); bigPayload(t, newStore(t)) })
	t.Run("PayloadCopied", func(t *testing.T) { t.Parallel(); payloadCopied(t, newStore(t)) })
	t.Run("NonPositiveTTL", func(t *testing.T) { t.Parallel(); nonPositiveTTL(t, newStore(t)) })
	t.Run("CancelledContext", func(t *testing.T) { t.Parallel(); cancelled(t, newStore(t)) })
}

// Ticket returns a fresh random ticket shaped as an Issuer's: 64 lowercase
// hex characters.
func Ticket(tb testing.TB) string {
	tb.Helper()
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

func put(t *testing.T, s tickets.Store, ticket string, payload []byte, ttl time.Duration) {
	t.Helper()
	if err := s.Put(t.Context(), ticket, payload, ttl); err != nil {
		t.Fatalf("Put(%s) = %v, want nil", ticket, err)
	}
}

func take(t *testing.T, s tickets.Store, ticket string, want []byte) {
	t.Helper()
	got, err := s.Take(t.Context(), ticket)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("Take(%s) = %.40q (%d bytes), %v; want %.40q (%d bytes), nil", ticket, got, len(got), err, want, len(want))
	}
}

func gone(t *testing.T, s tickets.Store, ticket string) {
	t.Helper()
	got, err := s.Take(t.Context(), ticket)
	if !errors.Is(err, tickets.ErrNotFound) {
		t.Fatalf("Take(%s) = %.40q, %v; want ErrNotFound", ticket, got, err)
	}
}

func roundTrip(t *testing.T, s tickets.Store) {
	a, b := Ticket(t), Ticket(t)
	put(t, s, a, []byte("payload a"), time.Minute)
	put(t, s, b, []byte("payload b"), time.Minute)
	take(t, s, b, []byte("payload b"))
	take(t, s, a, []byte("payload a"))
}

func singleUse(t *testing.T, s tickets.Store) {
	tk := Ticket(t)
	put(t, s, tk, []byte("once"), time.Minute)
	take(t, s, tk, []byte("once"))
	gone(t, s, tk)
	gone(t, s, tk)
}

func racingTake(t *testing.T, s tickets.Store) {
	const racers = 64
	tk := Ticket(t)
	put(t, s, tk, []byte("prize"), time.Minute)
	var (
		start   = make(chan struct{})
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners int
		errs    []error
	)
	for range racers {
		wg.Go(func() {
			<-start
			got, err := s.Take(t.Context(), tk)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && string(got) == "prize":
				winners++
			case errors.Is(err, tickets.ErrNotFound):
			default:
				errs = append(errs, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if winners != 1 || len(errs) > 0 {
		t.Fatalf("%d racing Takes: %d winners, other errors %v; want 1 winner, the rest ErrNotFound", racers, winners, errs)
	}
}

func ttlExpiry(t *testing.T, s tickets.Store) {
	const ttl = 300 * time.Millisecond
	short, long := Ticket(t), Ticket(t)
	put(t, s, short, []byte("short"), ttl)
	put(t, s, long, []byte("long"), time.Minute)
	time.Sleep(ttl + 150*time.Millisecond)
	gone(t, s, short)
	take(t, s, long, []byte("long")) // the expiry of one does not touch another

	// A ticket is good until its TTL: taken well before it, it is there.
	early := Ticket(t)
	put(t, s, early, []byte("early"), time.Second)
	time.Sleep(100 * time.Millisecond)
	take(t, s, early, []byte("early"))
}

func unknown(t *testing.T, s tickets.Store) {
	gone(t, s, Ticket(t))
	gone(t, s, "")
	gone(t, s, "not a ticket: spaces, ünïcode and * ? [ wildcards")
}

func overwrite(t *testing.T, s tickets.Store) {
	tk := Ticket(t)
	put(t, s, tk, []byte("first"), 200*time.Millisecond)
	put(t, s, tk, []byte("second"), time.Minute) // the new TTL replaces the old one too
	time.Sleep(300 * time.Millisecond)
	take(t, s, tk, []byte("second"))
	gone(t, s, tk)
}

func bigPayload(t *testing.T, s tickets.Store) {
	big := make([]byte, 1<<20)
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	tk := Ticket(t)
	put(t, s, tk, big, time.Minute)
	take(t, s, tk, big)

	empty := Ticket(t)
	put(t, s, empty, []byte{}, time.Minute)
	take(t, s, empty, []byte{}) // an empty payload is a payload, not ErrNotFound
}

func payloadCopied(t *testing.T, s tickets.Store) {
	tk := Ticket(t)
	p := []byte("original")
	put(t, s, tk, p, time.Minute)
	copy(p, "mutated!")
	take(t, s, tk, []byte("original"))
}

func nonPositiveTTL(t *testing.T, s tickets.Store) {
	for _, ttl := range []time.Duration{0, -time.Second} {
		tk := Ticket(t)
		if err := s.Put(t.Context(), tk, []byte("forever?"), ttl); err == nil {
			t.Errorf("Put(ttl %v) = nil, want an error: a ticket must expire", ttl)
		}
		gone(t, s, tk)
	}
}

func cancelled(t *testing.T, s tickets.Store) {
	tk := Ticket(t)
	put(t, s, tk, []byte("kept"), time.Minute)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Put(ctx, Ticket(t), []byte("x"), time.Minute); err == nil {
		t.Error("Put(cancelled ctx) = nil, want an error")
	}
	if got, err := s.Take(ctx, tk); err == nil || errors.Is(err, tickets.ErrNotFound) {
		t.Errorf("Take(cancelled ctx) = %q, %v; want an error other than ErrNotFound", got, err)
	}
	take(t, s, tk, []byte("kept")) // the cancelled Take did not consume it
}
