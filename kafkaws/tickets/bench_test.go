package tickets_test

import (
	"testing"
	"time"

	"github.com/dojot-es/dojot/kafkaws/tickets"
	"github.com/dojot-es/dojot/kafkaws/tickets/ticketstest"
)

// BenchmarkIssueRedeem measures one ticket's life (Issue then Redeem) on
// each store, and as a baseline in the same run, against the same store,
// a bare Put then Take of a payload of the same size: x-raw-store is the
// cost of the JWT and the HMACs relative to the store's round trips.
func BenchmarkIssueRedeem(b *testing.B) {
	stores := map[string]func(b *testing.B) tickets.Store{
		"memory": func(b *testing.B) tickets.Store {
			m := tickets.NewMemory()
			b.Cleanup(func() { _ = m.Close() })
			return m
		},
		"redis": func(b *testing.B) tickets.Store { return ticketstest.NewRedis(b) },
	}
	for _, name := range []string{"memory", "redis"} {
		b.Run(name, func(b *testing.B) {
			store := stores[name](b)
			i := tickets.NewIssuer(store, secret, 0)
			ctx := b.Context()
			tk, err := i.Issue(ctx, aliceHere)
			if err != nil {
				b.Fatal(err)
			}
			payload, err := store.Take(ctx, tk) // a real payload, for the baseline's size
			if err != nil {
				b.Fatal(err)
			}
			raw := func() {
				if err := store.Put(ctx, tk, payload, time.Minute); err != nil {
					b.Fatal(err)
				}
				if _, err := store.Take(ctx, tk); err != nil {
					b.Fatal(err)
				}
			}
			nsPerOp(b, 200, raw) // warm the connection pool and caches first
			base := nsPerOp(b, 2000, raw)
			b.ResetTimer()
			for b.Loop() {
				tk, err := i.Issue(ctx, aliceHere)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := i.Redeem(ctx, tk); err != nil {
					b.Fatal(err)
				}
			}
			per := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(per/base, "x-raw-store")
			b.ReportMetric(base, "raw-ns/op")
		})
	}
}

func nsPerOp(b *testing.B, n int, f func()) float64 {
	b.Helper()
	start := time.Now()
	for range n {
		f()
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}
