package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"sync"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/dojot-es/dojot/bridges/kafka"
	"github.com/dojot-es/dojot/eventstore"
)

// startEmbeddedKafka runs the in-process Kafka-protocol server of
// -kafka-embedded-addr (a development aid, not a production broker) with
// its records under the data dir, and returns its address.
func startEmbeddedKafka(cfg *Config, log *slog.Logger) (brokers []string, stop func(), err error) {
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.DataDir(filepath.Join(cfg.DataDir, "kafka")),
		kfake.DefaultNumPartitions(cfg.KafkaPartitions),
		kfake.AllowAutoTopicCreation(),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, cfg.KafkaEmbeddedAddr)
		}),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("-kafka-embedded-addr %s: %w", cfg.KafkaEmbeddedAddr, err)
	}
	brokers = c.ListenAddrs()
	log.Warn("embedded kafka listening: a development aid, not a production broker", "addr", brokers[0])
	return brokers, c.Close, nil
}

// startBridge runs the Kafka bridge in its own goroutine until stop is
// called; nil without brokers.
func startBridge(store *eventstore.Store, cfg *Config, brokers []string, log *slog.Logger) (b *kafka.Bridge, stop func(), err error) {
	b, err = kafka.New(store, kafka.Options{
		Brokers:     brokers,
		Partitions:  cfg.KafkaPartitions,
		Replication: cfg.KafkaReplication,
		Logger:      log,
		// The plural name of dojot's architecture page, on request.
		DevicesTopic: cfg.KafkaDevicesTopic,
	})
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = b.Run(ctx)
	}()
	return b, func() { cancel(); wg.Wait(); _ = b.Close() }, nil
}

// openKafka starts what the Kafka settings ask for: the embedded server,
// the bridge. It returns the brokers (nil: Kafka is off), the bridge and a
// stop function that undoes everything in reverse order.
func openKafka(store *eventstore.Store, cfg *Config, log *slog.Logger) (brokers []string, b *kafka.Bridge, stop func(), err error) {
	stops := []func(){}
	stop = func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	brokers = cfg.kafkaBrokers()
	if cfg.KafkaEmbeddedAddr != "" {
		var stopK func()
		if brokers, stopK, err = startEmbeddedKafka(cfg, log); err != nil {
			return nil, nil, nil, err
		}
		stops = append(stops, stopK)
	}
	if len(brokers) == 0 {
		return nil, nil, stop, nil
	}
	b, stopB, err := startBridge(store, cfg, brokers, log)
	if err != nil {
		stop()
		return nil, nil, nil, err
	}
	stops = append(stops, stopB)
	return brokers, b, stop, nil
}
