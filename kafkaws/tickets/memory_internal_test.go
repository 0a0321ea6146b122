package tickets

import (
	"fmt"
	"testing"
	"time"
)

// Expired tickets nobody takes must not pile up: the sweeper removes them.
func TestMemorySweepsExpired(t *testing.T) {
	m := newMemory(20 * time.Millisecond)
	defer m.Close()
	for i := range 1000 {
		if err := m.Put(t.Context(), fmt.Sprint("short", i), []byte("x"), 50*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Put(t.Context(), "live", []byte("x"), time.Minute); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for m.len() > 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := m.len(); n != 1 {
		t.Fatalf("entries after the TTL = %d, want 1 (the live one)", n)
	}
	if p, err := m.Take(t.Context(), "live"); err != nil || string(p) != "x" {
		t.Fatalf("Take(live) = %q, %v; want x, nil", p, err)
	}
}
