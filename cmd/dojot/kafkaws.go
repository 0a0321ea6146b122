package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"

	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/kafkaws"
	"github.com/dojot-es/dojot/kafkaws/tickets"
)

// kafkaWS is the Kafka WS server and its ticket store.
type kafkaWS struct {
	srv     *kafkaws.Server
	store   interface{ Close() error }
	tickets tickets.Store // also socket.io's tokens
	secret  []byte
}

// startKafkaWS builds Kafka WS: tickets in Redis (-redis-url) or in
// memory, feeds from store, and from Kafka for the topics the log does not
// hold when Kafka is on.
func startKafkaWS(ctx context.Context, cfg *Config, store *eventstore.Store, jwtSecret string, kafkaBrokers []string, log *slog.Logger) (*kafkaWS, error) {
	secret := []byte(cfg.KafkaWSSecret)
	if len(secret) == 0 {
		// Derived, not the JWT secret itself: a ticket must never be
		// usable as a login token's signature, or the reverse.
		secret = deriveKey([]byte(jwtSecret), "dojot kafka-ws ticket secret")
	}
	var ts tickets.Store
	var closer interface{ Close() error }
	if cfg.RedisURL != "" {
		redis.SetLogger(redisLog{log})
		r, err := tickets.NewRedis(ctx, cfg.RedisURL, cfg.NATSPrefix)
		if err != nil {
			return nil, fmt.Errorf("-redis-url: %w", err)
		}
		ts, closer = r, r
	} else {
		m := tickets.NewMemory()
		ts, closer = m, m
	}
	srv, err := kafkaws.New(kafkaws.Options{
		Tickets:       tickets.NewIssuer(ts, secret, cfg.KafkaWSTicketTTL),
		Feeds:         store,
		Events:        store,
		Notifications: store,
		KafkaBrokers:  kafkaBrokers,
		Logger:        log,
		MaxLifetime:   cfg.KafkaWSMaxLifetime,
		JWTExp:        cfg.KafkaWSJWTExp,
		MaxPerTenant:  cfg.KafkaWSMaxPerTenant,
	})
	if err != nil {
		closer.Close()
		return nil, err
	}
	return &kafkaWS{srv: srv, store: closer, tickets: ts, secret: secret}, nil
}

// Close ends the connections, then the ticket store.
func (k *kafkaWS) Close() error {
	k.srv.Close()
	return k.store.Close()
}

// ticketStore names where tickets are kept, for /healthz.
func ticketStore(cfg *Config) string {
	if cfg.RedisURL != "" {
		return "redis"
	}
	return "memory"
}

// redisLog sends go-redis's own messages (a lost connection, a failed
// dial) to the process's log, as warnings, instead of bare lines on
// stderr.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(_ context.Context, format string, v ...any) {
	l.log.Warn(fmt.Sprintf(format, v...), "component", "redis")
}

// deriveKey is a key of its own for label, made from secret (HMAC-SHA256),
// so that what one key signs never verifies under another.
func deriveKey(secret []byte, label string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(label))
	return m.Sum(nil)
}
