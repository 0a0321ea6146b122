package eventstore

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dojot-es/dojot"
)

// KV is a JetStream key-value bucket of small documents with revisions:
// state that outlives one message, shared by every instance (the flows'
// contexts: dojot kept them in a ZooKeeper-backed context manager behind
// read/write locks). Writers use compare-and-set instead of locks: a
// write that lost a race gets dojot.ErrConflict, reads again and retries.
type KV struct {
	kv jetstream.KeyValue
}

// KVBucket is the bucket of KV(name): name with the streams' prefix.
func (s *Store) KVBucket(name string) string { return s.opts.StreamPrefix + name }

// KV opens (creating it when missing) the bucket name, prefixed as the
// streams are, replicated as they are.
func (s *Store) KV(ctx context.Context, name string) (*KV, error) {
	return s.kvBucket(ctx, name, 0)
}

// KVWithTTL is KV with keys that expire ttl after their last write: marks
// that only matter for a while (the cron scheduler's tick claims).
func (s *Store) KVWithTTL(ctx context.Context, name string, ttl time.Duration) (*KV, error) {
	return s.kvBucket(ctx, name, ttl)
}

func (s *Store) kvBucket(ctx context.Context, name string, ttl time.Duration) (*KV, error) {
	bucket := s.KVBucket(name)
	kv, err := s.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      bucket,
		Description: "dojot " + name,
		History:     1,
		TTL:         ttl,
		Storage:     jetstream.FileStorage,
		Replicas:    s.opts.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("kv bucket %s: %w", bucket, unavailable(err))
	}
	return &KV{kv: kv}, nil
}

// Get returns a key's value and revision; a missing (or deleted) key is
// nil, 0.
func (k *KV) Get(ctx context.Context, key string) ([]byte, uint64, error) {
	e, err := k.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("kv get %s: %w", key, unavailable(err))
	}
	return e.Value(), e.Revision(), nil
}

// CompareAndSet stores value if key is still at revision (0: it must not
// exist), else fails with an error wrapping dojot.ErrConflict.
func (k *KV) CompareAndSet(ctx context.Context, key string, value []byte, revision uint64) error {
	var err error
	if revision == 0 {
		_, err = k.kv.Create(ctx, key, value)
	} else {
		_, err = k.kv.Update(ctx, key, value, revision)
	}
	var apiErr *jetstream.APIError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jetstream.ErrKeyExists),
		errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence:
		return fmt.Errorf("kv %s at revision %d: %w", key, revision, dojot.ErrConflict)
	}
	return fmt.Errorf("kv set %s: %w", key, unavailable(err))
}

// Add adds one to the count kept under key and returns the new count; ttl
// is the bucket's (KVWithTTL), here to satisfy gateway.Counter. Concurrent
// adds from any instance each count once (compare-and-set, retried).
func (k *KV) Add(ctx context.Context, key string, _ time.Duration) (int64, error) {
	for range 100 {
		v, rev, err := k.Get(ctx, key)
		if err != nil {
			return 0, err
		}
		var n int64
		if v != nil {
			if n, err = strconv.ParseInt(string(v), 10, 64); err != nil {
				return 0, fmt.Errorf("kv add %s: not a count: %q", key, v)
			}
		}
		n++
		err = k.CompareAndSet(ctx, key, strconv.AppendInt(nil, n, 10), rev)
		if err == nil {
			return n, nil
		}
		if !errors.Is(err, dojot.ErrConflict) {
			return 0, err
		}
	}
	return 0, fmt.Errorf("kv add %s: too many concurrent writers: %w", key, dojot.ErrUnavailable)
}

// KVKey joins parts into a key a bucket accepts: parts of letters, digits
// and '-' as they are, any other (a node type with a space, a name with a
// dot) as '=' and its base64url text, so distinct parts never give one
// key; empty parts are left out.
func KVKey(parts ...string) string {
	var sb strings.Builder
	for _, p := range parts {
		if p == "" {
			continue
		}
		if sb.Len() > 0 {
			sb.WriteByte('.')
		}
		if plainKeyPart(p) {
			sb.WriteString(p)
		} else {
			sb.WriteByte('=')
			sb.WriteString(base64.RawURLEncoding.EncodeToString([]byte(p)))
		}
	}
	return sb.String()
}

func plainKeyPart(p string) bool {
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
