package main

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/dojot-es/dojot/gateway"
)

// TestTopicCreatedOnKafka: GET /topic/:subject creates <tenant>.<subject>
// on a Kafka-protocol server, and a repeat answers the same.
func TestTopicCreatedOnKafka(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()
	srv := httptest.NewServer(gateway.NewInternal(gateway.Options{Topics: newKafkaTopics(brokers, 2, 1)}))
	t.Cleanup(srv.Close)

	b := base64.StdEncoding.EncodeToString
	tok := b([]byte("jwt schema")) + "." + b([]byte(`{"service":"acme","username":"dojot-management"}`)) + "." + b([]byte("dummy signature"))
	for range 2 {
		req, _ := http.NewRequest("GET", srv.URL+"/topic/device-data", nil)
		req.Header.Set("Authorization", tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := strings.TrimSpace(string(body)); resp.StatusCode != 200 || got != `{"topic":"acme.device-data"}` {
			t.Fatalf("GET /topic/device-data = %d %s", resp.StatusCode, got)
		}
	}
	client := &kafkago.Client{Addr: kafkago.TCP(brokers...)}
	md, err := client.Metadata(t.Context(), &kafkago.MetadataRequest{Topics: []string{"acme.device-data"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(md.Topics) != 1 || md.Topics[0].Error != nil || len(md.Topics[0].Partitions) != 2 {
		t.Errorf("metadata of acme.device-data = %+v; want the topic with 2 partitions", md.Topics)
	}
}
