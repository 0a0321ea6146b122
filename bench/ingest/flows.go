package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// flowNodes is issue 17's speed flow (event template in -> switch ->
// change -> template -> notification) on the devices' template, number k
// of the run: the switch lets through the readings whose n is a multiple
// of every (a power of 10) and the warm-up (n=0), so the notification
// topic exists before the window; the notification names its device,
// reading and flow in its metadata.
func flowNodes(k, templateID, every int) []map[string]any {
	re := "^(0|[1-9][0-9]*" + strings.Repeat("0", len(strconv.Itoa(every))-1) + ")$"
	if every == 1 {
		re = "^[0-9]+$"
	}
	tmpl := fmt.Sprintf(`{"metadata":{"priority":"{{alert.priority}}","device":"{{payload.data.id}}","n":{{payload.data.attrs.n}},"flow":%d},"message":"reading {{payload.data.attrs.n}} of {{payload.data.id}}"}`, k)
	return []map[string]any{
		{"id": "tab", "type": "tab", "label": "ingest " + strconv.Itoa(k)},
		{"id": "in", "type": "event template in", "z": "tab", "template_id": strconv.Itoa(templateID), "event_publish": true, "wires": [][]string{{"sw"}}},
		{"id": "sw", "type": "switch", "z": "tab", "property": "payload.data.attrs.n", "propertyType": "msg",
			"rules": []map[string]any{{"t": "regex", "v": re, "vt": "str"}}, "checkall": "true", "outputs": 1, "wires": [][]string{{"ch"}}},
		{"id": "ch", "type": "change", "z": "tab", "rules": []map[string]any{{"t": "set", "p": "alert.priority", "pt": "msg", "to": "high", "tot": "str"}}, "wires": [][]string{{"tp"}}},
		{"id": "tp", "type": "template", "z": "tab", "field": "notification", "syntax": "handlebars", "output": "json", "template": tmpl, "wires": [][]string{{"nt"}}},
		{"id": "nt", "type": "notification", "z": "tab", "source": "notification.metadata", "messageDynamic": "notification.message", "msgType": "dynamic", "wires": [][]string{}},
	}
}

// createFlows creates cfg.Flows speed flows over the flows API.
func createFlows(ctx context.Context, a *api, cfg *Config, templateID int) error {
	for k := range cfg.Flows {
		body := map[string]any{"name": fmt.Sprintf("ingest %d", k), "enabled": true, "flow": flowNodes(k, templateID, cfg.FlowsEvery)}
		if _, err := a.do(ctx, http.MethodPost, "/flows/v1/flow", body, nil); err != nil {
			return fmt.Errorf("create flow %d: %w", k, err)
		}
	}
	return nil
}

// notifyWatch reads <tenant>.dojot.notifications and matches each
// notification to its reading (device, n) and flow: the time from the
// reading's publish (MQTT devices) to the notification's arrival, and
// which are missing or doubled (every device: the legacy Kafka agent's
// readings run the flows too).
type notifyWatch struct {
	byID  map[string]*device
	flows int
	every int

	mu        sync.Mutex
	seen      map[notifyKey]bool
	lat       []time.Duration
	delivered int // distinct notifications of readings of the window
	dups      int
	bad       int
	err       error
}

type notifyKey struct {
	d    *device
	n    int
	flow int
}

func newNotifyWatch(devs []*device, flows, every int) *notifyWatch {
	w := &notifyWatch{byID: map[string]*device{}, flows: flows, every: every, seen: map[notifyKey]bool{}}
	for _, d := range devs {
		w.byID[d.id] = d
	}
	return w
}

func (w *notifyWatch) start(ctx context.Context, broker, topic string, base time.Time) error {
	return readTopic(ctx, broker, topic, base, w.record, func(err error) {
		w.mu.Lock()
		w.err = err
		w.mu.Unlock()
	})
}

func (w *notifyWatch) record(value []byte, at time.Duration) {
	var note struct {
		Meta struct {
			Device string `json:"device"`
			N      *int   `json:"n"`
			Flow   int    `json:"flow"`
		} `json:"metaAttrsFilter"`
	}
	d := (*device)(nil)
	if json.Unmarshal(value, &note) == nil {
		d = w.byID[note.Meta.Device]
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if d == nil || note.Meta.N == nil {
		w.bad++
		return
	}
	k := notifyKey{d, *note.Meta.N, note.Meta.Flow}
	if w.seen[k] {
		w.dups++
		return
	}
	w.seen[k] = true
	if k.n == 0 { // warm-up
		return
	}
	w.delivered++
	if sent, ok := d.sentTime(k.n); ok && !d.viaKafka { // MQTT publish -> notification, as kafkaWatch's readings
		w.lat = append(w.lat, at-sent)
	}
}

// expected counts the notifications the acknowledged readings of the
// window make.
func (w *notifyWatch) expected(devs []*device) int {
	n := 0
	for _, d := range devs {
		d.mu.Lock()
		sent := len(d.sentAt)
		d.mu.Unlock()
		for k := w.every; k < sent; k += w.every {
			if !d.isFailed(k) {
				n += w.flows
			}
		}
	}
	return n
}

func (w *notifyWatch) counts() (delivered, dups, bad int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.delivered, w.dups, w.bad
}

// flowsLag reads the flow engine's DATA consumers (flows_data_dojot, one
// per DATA partition: flows_data_dojot_p<N>) from the server's NATS:
// readings not yet delivered plus delivered and not yet acknowledged (an
// input is acknowledged once its flows ran and their notifications were
// stored), the engine's backlog.
type flowsLag struct {
	nc     *nats.Conn
	stream jetstream.Stream
	names  []string
}

const flowsDurable = "flows_data_dojot"

func newFlowsLag(ctx context.Context, natsURL string) (*flowsLag, error) {
	nc, err := nats.Connect(natsURL)
	if err != nil {
		return nil, fmt.Errorf("flows backlog: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("flows backlog: %w", err)
	}
	l := &flowsLag{nc: nc}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if l.stream == nil {
			l.stream, err = js.Stream(ctx, "DATA")
		}
		if l.stream != nil {
			l.names = l.names[:0]
			names := l.stream.ConsumerNames(ctx)
			for name := range names.Name() {
				if name == flowsDurable || strings.HasPrefix(name, flowsDurable+"_p") {
					l.names = append(l.names, name)
				}
			}
			err = names.Err()
			if err == nil && len(l.names) > 0 {
				return l, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			nc.Close()
			return nil, fmt.Errorf("flows backlog: consumers %s on DATA: %v", flowsDurable, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (l *flowsLag) backlog(ctx context.Context) (uint64, error) {
	var sum uint64
	for _, name := range l.names {
		c, err := l.stream.Consumer(ctx, name)
		if err != nil {
			return 0, err
		}
		ci, err := c.Info(ctx)
		if err != nil {
			return 0, err
		}
		sum += ci.NumPending + uint64(ci.NumAckPending)
	}
	return sum, nil
}

func (l *flowsLag) close() { l.nc.Close() }
