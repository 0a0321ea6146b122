package broker_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
	"github.com/dojot-es/dojot/flows/broker"
)

// oneFlow is a view with one flow of tenant admin and no devices.
type oneFlow struct{ flow dojot.Flow }

func (v oneFlow) Flows(tenant string) []dojot.Flow {
	if tenant != "admin" {
		return nil
	}
	return []dojot.Flow{v.flow}
}
func (oneFlow) FlowsSeq(string) uint64                      { return 1 }
func (oneFlow) Device(string, string) (dojot.Device, bool)  { return dojot.Device{}, false }
func (oneFlow) Template(string, int) (dojot.Template, bool) { return dojot.Template{}, false }

type noActuator struct{}

func (noActuator) ActuateAs(context.Context, string, string, []byte, string, int) error { return nil }

// slowServer answers each request after a delay and counts them by body.
type slowServer struct {
	delay time.Duration
	mu    sync.Mutex
	calls map[string]int
}

func (s *slowServer) Do(r *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.calls[string(b)]++
	s.mu.Unlock()
	time.Sleep(s.delay)
	return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("{}")), Header: http.Header{}, Request: r}, nil
}

// TestBacklogNotRedelivered: one device's readings queue behind a slow
// http node for longer than the consumers' AckWait; each still runs once
// (one http call each): the inputs waiting on the lane are reported in
// progress instead of being handed out again.
func TestBacklogNotRedelivered(t *testing.T) {
	store := eventstoretest.Open(t)
	flow := `[{"id":"h","type":"event device in","device_id":"d1","event_publish":true,"wires":[["b"]]},
	 {"id":"b","type":"change","rules":[{"t":"set","p":"req","pt":"msg","to":"payload.data.attrs.body","tot":"msg"}],"wires":[["x"]]},
	 {"id":"x","type":"http","method":"POST","url":"http://slow.invalid/","body":"req","response":"resp","wires":[[]]}]`
	srv := &slowServer{delay: 500 * time.Millisecond, calls: map[string]int{}}
	b, err := broker.New(broker.Options{Store: store, View: oneFlow{dojot.Flow{ID: "f", Enabled: true, Nodes: json.RawMessage(flow)}},
		Actuator: noActuator{}, HTTP: srv, Group: "backlog", AckWait: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	defer func() { cancel(); <-done }()
	time.Sleep(time.Second) // the consumers exist before the readings
	const readings = 8      // 4 s of calls on one lane, against a 1.5 s AckWait
	for i := range readings {
		body, _ := json.Marshal(map[string]any{"body": `{"payload":` + strconv.Itoa(i) + `}`})
		if _, err := store.AppendData(t.Context(), "admin", "d1", []byte(`{"metadata":{"deviceid":"d1","tenant":"admin","timestamp":1},"attrs":`+string(body)+`}`), ""); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		srv.mu.Lock()
		n := len(srv.calls)
		srv.mu.Unlock()
		if n == readings || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // what a redelivery would run again
	srv.mu.Lock()
	defer srv.mu.Unlock()
	for i := range readings {
		if k := srv.calls[strconv.Itoa(i)]; k != 1 { // the payload, a number, sent as its text
			t.Errorf("reading %d made %d http calls; want 1 (all: %v)", i, k, srv.calls)
		}
	}
}
