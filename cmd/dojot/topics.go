package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/dojot-es/dojot/gateway"
)

// kafkaTopics creates the topics DataBroker's GET /topic/:subject names, as
// dojot's data-broker does, with kafka-go's admin client.
type kafkaTopics struct {
	client                  *kafkago.Client
	partitions, replication int
}

var _ gateway.Topics = (*kafkaTopics)(nil)

// newKafkaTopics creates topics on brokers with partitions and replication
// (0: 1, dojot's default).
func newKafkaTopics(brokers []string, partitions, replication int) *kafkaTopics {
	return &kafkaTopics{
		client:      &kafkago.Client{Addr: kafkago.TCP(brokers...), Timeout: 10 * time.Second},
		partitions:  max(partitions, 1),
		replication: max(replication, 1),
	}
}

// EnsureTopic creates topic name; one that exists already is no error.
func (k *kafkaTopics) EnsureTopic(ctx context.Context, name string) error {
	resp, err := k.client.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{
		{Topic: name, NumPartitions: k.partitions, ReplicationFactor: k.replication},
	}})
	if err != nil {
		return fmt.Errorf("create topic %s: %w", name, err)
	}
	if err := resp.Errors[name]; err != nil && !errors.Is(err, kafkago.TopicAlreadyExists) {
		return fmt.Errorf("create topic %s: %w", name, err)
	}
	return nil
}
