package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	agentamqp "github.com/dojot-es/dojot/agents/amqp"
	"github.com/dojot-es/dojot/agents/amqp/amqptest"
	"github.com/dojot-es/dojot/e2e/dojottest"
)

// TestAMQPAgent: dojot's RabbitMQ agent through the binary, on the
// machine's RabbitMQ: a Go publisher and a Python one (pika, the client a
// dojot user's gateway script would use) publish a device's readings with
// its device_amqp_routing_key; they reach the History API and Kafka; an
// actuation reaches outbound.dojot.exchange; an unknown key is refused and
// counted in /healthz.
func TestAMQPAgent(t *testing.T) {
	dojottest.NeedCommand(t, "/usr/bin/python3", "-c", "import pika")
	dojottest.NeedCommand(t, "kcat", "-V")
	url := amqptest.URL(t)
	broker := dojottest.FreeAddr(t)
	in := start(t, "", "-amqp-url="+url, "-kafka-embedded-addr="+broker)
	c := in.Login("admin", adminPassword)
	var tp struct{ Template dojottest.Template }
	mustJSON(t, c.Must(200, "POST", "/template", map[string]any{"label": "amqp-sensor", "attrs": []map[string]any{
		{"label": "device_amqp_routing_key", "type": "static", "value_type": "string", "static_value": "unset"},
		{"label": "temperature", "type": "dynamic", "value_type": "float"},
		{"label": "led", "type": "actuator", "value_type": "bool"},
	}}), &tp)
	id := dojottest.CreateDevice(c, "rabbit", tp.Template.ID)
	// The device's own routing key, as an override of the template's.
	var dev struct {
		Attrs map[string][]struct {
			ID    int    `json:"id"`
			Label string `json:"label"`
		}
	}
	mustJSON(t, c.Must(200, "GET", "/device/"+id, nil), &dev)
	var keyAttr int
	for _, a := range dev.Attrs[strconv.Itoa(tp.Template.ID)] {
		if a.Label == "device_amqp_routing_key" {
			keyAttr = a.ID
		}
	}
	c.Must(200, "PUT", "/device/"+id, map[string]any{"label": "rabbit", "templates": []int{tp.Template.ID},
		"attrs": []map[string]any{{"id": keyAttr, "label": "device_amqp_routing_key", "template_id": strconv.Itoa(tp.Template.ID), "static_value": "plant.rabbit"}}})

	waitAMQP(t, in, func(h amqpHealth) bool { return h.Connected })
	conn, err := amqp091.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	publish := func(key, body string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := ch.PublishWithContext(ctx, agentamqp.InboundExchange, key, false, false, amqp091.Publishing{ContentType: "application/json", Body: []byte(body)}); err != nil {
			t.Fatal(err)
		}
	}
	publish("plant.rabbit", `{"temperature":21.5,"timestamp":1528226137452}`)
	publish("nobody", `{"temperature":1}`)
	script := `
import sys, pika
conn = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
ch = conn.channel()
ch.confirm_delivery()
ch.basic_publish(exchange="inbound.dojot.exchange", routing_key="plant.rabbit", body=b'{"temperature":22.5}',
                 properties=pika.BasicProperties(content_type="application/json"))
conn.close()
`
	if out, err := exec.Command("/usr/bin/python3", "-c", script, url).CombinedOutput(); err != nil {
		t.Fatalf("pika could not publish: %v\n%s", err, out)
	}
	docs := dojottest.WaitHistory(t, c, id, "temperature", 2)
	values := map[any]bool{}
	for _, d := range docs {
		values[d.Value] = true
	}
	if !values[21.5] || !values[22.5] {
		t.Errorf("history = %+v; want 21.5 and 22.5", docs)
	}
	if msgs := dojottest.KcatUntil(t, broker, "admin.device-data", 2); len(msgs) != 2 || !strings.Contains(msgs[0].Payload, `"deviceid":"`+id+`"`) {
		t.Errorf("admin.device-data = %+v; want the two readings", msgs)
	}
	h := waitAMQP(t, in, func(h amqpHealth) bool { return h.Refused["unknown_device"] == 1 && h.Stored == 2 })
	if h.Received != 3 {
		t.Errorf("amqp health = %+v", h)
	}

	// Actuation: dojot's {"id","attrs"} with the device's routing key.
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(q.Name, "plant.rabbit", agentamqp.OutboundExchange, false, nil); err != nil {
		t.Fatal(err)
	}
	msgs, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Must(200, "PUT", "/device/"+id+"/actuate", map[string]any{"attrs": map[string]any{"led": true}})
	select {
	case m := <-msgs:
		if string(m.Body) != `{"id":"`+id+`","attrs":{"led":true}}` {
			t.Errorf("actuation = %s", m.Body)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no actuation on outbound.dojot.exchange")
	}
}

type amqpHealth struct {
	Connected bool              `json:"connected"`
	Received  uint64            `json:"received"`
	Stored    uint64            `json:"stored"`
	Refused   map[string]uint64 `json:"refused"`
}

func waitAMQP(t *testing.T, in *instance, ok func(amqpHealth) bool) amqpHealth {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, body := in.Client().Do("GET", "/healthz", nil)
		var h struct{ AMQP amqpHealth }
		_ = json.Unmarshal(body, &h)
		if ok(h.AMQP) {
			return h.AMQP
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz amqp = %s", trunc(body))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
