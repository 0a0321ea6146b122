package eventstore_test

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
)

func openKV(t *testing.T) *eventstore.KV {
	t.Helper()
	store := eventstoretest.Open(t)
	ctx := context.Background()
	kv, err := store.KV(ctx, "TEST_CONTEXT")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.JetStream().DeleteKeyValue(context.Background(), store.KVBucket("TEST_CONTEXT")) })
	return kv
}

// TestKVCompareAndSet: a missing key reads as nil, 0; creating needs
// revision 0; an update needs the current revision; a stale one is a
// conflict.
func TestKVCompareAndSet(t *testing.T) {
	kv := openKV(t)
	ctx := context.Background()
	key := eventstore.KVKey("admin", "flow-1", "cumulative sum", "n1", "data")
	if v, rev, err := kv.Get(ctx, key); err != nil || v != nil || rev != 0 {
		t.Fatalf("Get of a missing key = %q %d %v", v, rev, err)
	}
	if err := kv.CompareAndSet(ctx, key, []byte(`{"sum":1}`), 0); err != nil {
		t.Fatal(err)
	}
	if err := kv.CompareAndSet(ctx, key, []byte(`{"sum":9}`), 0); !errors.Is(err, dojot.ErrConflict) {
		t.Errorf("create of an existing key = %v; want a conflict", err)
	}
	v, rev, err := kv.Get(ctx, key)
	if err != nil || string(v) != `{"sum":1}` || rev == 0 {
		t.Fatalf("Get = %q %d %v", v, rev, err)
	}
	if err := kv.CompareAndSet(ctx, key, []byte(`{"sum":2}`), rev); err != nil {
		t.Fatal(err)
	}
	if err := kv.CompareAndSet(ctx, key, []byte(`{"sum":3}`), rev); !errors.Is(err, dojot.ErrConflict) {
		t.Errorf("update at a stale revision = %v; want a conflict", err)
	}
}

// TestKVConcurrentIncrements: writers that read, add one and retry on a
// conflict lose no increment.
func TestKVConcurrentIncrements(t *testing.T) {
	kv := openKV(t)
	ctx := context.Background()
	key := eventstore.KVKey("admin", "counter")
	const writers, each = 8, 25
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				for {
					v, rev, err := kv.Get(ctx, key)
					if err != nil {
						t.Error(err)
						return
					}
					n, _ := strconv.Atoi(string(v))
					err = kv.CompareAndSet(ctx, key, []byte(strconv.Itoa(n+1)), rev)
					if err == nil {
						break
					}
					if !errors.Is(err, dojot.ErrConflict) {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if v, _, err := kv.Get(ctx, key); err != nil || string(v) != strconv.Itoa(writers*each) {
		t.Errorf("counter = %s %v; want %d", v, err, writers*each)
	}
}

var kvKeyRe = regexp.MustCompile(`^[-/_=.a-zA-Z0-9]+$`)

func FuzzKVKey(f *testing.F) {
	f.Add("admin", "flow", "cumulative sum", "a.b")
	f.Fuzz(func(t *testing.T, a, b, c, d string) {
		k := eventstore.KVKey(a, b, c, d)
		if (a != "" || b != "" || c != "" || d != "") && !kvKeyRe.MatchString(k) {
			t.Errorf("KVKey(%q, %q, %q, %q) = %q: not a KV key", a, b, c, d, k)
		}
		// Moving a character across a part boundary changes the key.
		if len(a) > 0 && b != "" {
			if k2 := eventstore.KVKey(a[:len(a)-1], a[len(a)-1:]+b, c, d); k2 == k {
				t.Errorf("KVKey collides: %q", k)
			}
		}
	})
}

// TestAppendNotification: a notification is stored on notify.<tenant>
// once per msgID.
func TestAppendNotification(t *testing.T) {
	store := eventstoretest.Open(t)
	ctx := context.Background()
	n := []byte(`{"msgID":"1:f:n:0","timestamp":1,"message":"hot","metaAttrsFilter":{"shouldPersist":true},"subject":"user_notification"}`)
	seq, err := store.AppendNotification(ctx, "admin", n, "1:f:n:0")
	if err != nil {
		t.Fatal(err)
	}
	if again, err := store.AppendNotification(ctx, "admin", n, "1:f:n:0"); err != nil || again != seq {
		t.Errorf("the same msgID again = %d %v; want %d (stored once)", again, err, seq)
	}
	if _, err := store.AppendNotification(ctx, "bad tenant", n, "x"); !errors.Is(err, dojot.ErrInvalid) {
		t.Errorf("a bad tenant = %v", err)
	}
	st, err := store.JetStream().Stream(ctx, store.NotificationsStream())
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil || info.State.Msgs != 1 {
		t.Errorf("stream holds %d messages (%v); want 1", info.State.Msgs, err)
	}
}

// TestKVAdd: counts from concurrent writers (the instances counting login
// attempts) each count once; keys count apart.
func TestKVAdd(t *testing.T) {
	kv := openKV(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				if _, err := kv.Add(ctx, "login-addr-x", time.Minute); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n, err := kv.Add(ctx, "login-addr-x", time.Minute); err != nil || n != 41 {
		t.Errorf("Add after 40 = %d, %v; want 41", n, err)
	}
	if n, err := kv.Add(ctx, "login-addr-y", time.Minute); err != nil || n != 1 {
		t.Errorf("Add of another key = %d, %v; want 1", n, err)
	}
}
