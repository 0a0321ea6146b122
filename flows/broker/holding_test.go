package broker

import (
	"testing"
	"time"
)

type countingItem struct{ n int }

func (c *countingItem) InProgress() { c.n++ }

// TestHoldingTouch: only inputs held at least the age are reported in
// progress, every tick while held; a removed one no more.
func TestHoldingTouch(t *testing.T) {
	var h holding
	old, young := &countingItem{}, &countingItem{}
	eOld := h.add(old)
	eOld.since = eOld.since.Add(-time.Minute)
	h.add(young)
	if n := h.touch(time.Now(), 20*time.Second); n != 1 || old.n != 1 || young.n != 0 {
		t.Fatalf("touched %d: old %d, young %d; want only the old one", n, old.n, young.n)
	}
	h.touch(time.Now().Add(30*time.Second), 20*time.Second)
	if old.n != 2 || young.n != 1 {
		t.Errorf("second tick: old %d, young %d; want 2 and 1", old.n, young.n)
	}
	h.remove(eOld)
	h.touch(time.Now().Add(time.Minute), 20*time.Second)
	if old.n != 2 {
		t.Errorf("a removed input was touched: %d", old.n)
	}
}
