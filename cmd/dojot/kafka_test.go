package main

import (
	"context"
	"net"
	"reflect"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
)

func TestKafkaBrokersList(t *testing.T) {
	var c Config
	if err := c.Parse(nil, env(map[string]string{"DOJOT_KAFKA_BROKERS": "k1:9092, k2:9092,"}), nil); err != nil {
		t.Fatal(err)
	}
	if got, want := c.kafkaBrokers(), []string{"k1:9092", "k2:9092"}; !reflect.DeepEqual(got, want) {
		t.Errorf("kafkaBrokers() = %q; want %q", got, want)
	}
}

// TestEmbeddedKafka: -kafka-embedded-addr starts a Kafka-protocol server on
// that address, with the bridge pointed at it.
func TestEmbeddedKafka(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := &Config{DataDir: t.TempDir(), KafkaEmbeddedAddr: addr, KafkaPartitions: 1, KafkaReplication: 1}
	store := eventstoretest.Open(t)
	brokers, b, stop, err := openKafka(store, cfg, eventstoretest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if !reflect.DeepEqual(brokers, []string{addr}) || b == nil {
		t.Fatalf("openKafka = %q, %v; want [%s] and a bridge", brokers, b, addr)
	}
	ev, _ := dojot.NewEvent(dojot.EventTenantCreated, "acme", dojot.KindTenant, "acme", time.Now(), dojot.TenantCreated{Tenant: "acme"})
	if _, err := store.Append(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: brokers, Topic: "dojot-management.dojot.tenancy", MaxWait: 100 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	m, err := r.ReadMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(m.Value), `{"type":"CREATE","tenant":"acme"}`; got != want {
		t.Errorf("tenancy record = %s; want %s", got, want)
	}
}
