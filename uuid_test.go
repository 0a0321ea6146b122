package dojot

import (
	"bytes"
	"crypto/rand"
	"regexp"
	"testing"
)

func TestNewUUID(t *testing.T) {
	v4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 100 {
		u, err := NewUUID(rand.Reader)
		if err != nil || !v4.MatchString(u) || seen[u] {
			t.Fatalf("NewUUID = %q, %v: want a new lowercase version 4 UUID", u, err)
		}
		seen[u] = true
	}
	if u, _ := NewUUID(bytes.NewReader(make([]byte, 16))); u != "00000000-0000-4000-8000-000000000000" {
		t.Errorf("NewUUID(zeros) = %s", u)
	}
	if _, err := NewUUID(bytes.NewReader(make([]byte, 15))); err == nil {
		t.Error("NewUUID of a short reader: no error")
	}
}
