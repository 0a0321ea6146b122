package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nuid"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
)

// TestRequestIDTravels: the X-Request-Id a client sends is answered back,
// is in the log lines of its request (the access log's with its route and
// status) and is the correlation id of the events the request stored,
// beside their actor (the caller's username).
func TestRequestIDTravels(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	url := eventstoretest.URL(t)
	prefix := "rid" + strings.ToLower(nuid.Next()[14:])
	var mu sync.Mutex
	var logs [][]byte
	public, _, stop := serveLogged(t, "http listening", func(line []byte) {
		mu.Lock()
		logs = append(logs, bytes.Clone(line))
		mu.Unlock()
	}, "-nats-url="+url, "-nats-prefix="+prefix, "-log-level=debug")
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	base := "http://" + public

	do := func(method, path, token, reqID, body string) (int, string, http.Header) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if reqID != "" {
			req.Header.Set("X-Request-Id", reqID)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	code, body, _ := do("POST", "/auth", "", "", `{"username":"admin","passwd":"admin"}`)
	var tok struct{ JWT string }
	if code != 200 || json.Unmarshal([]byte(body), &tok) != nil || tok.JWT == "" {
		t.Fatalf("login = %d %s", code, body)
	}

	store := eventstoretest.OpenWith(t, eventstore.Options{URL: url, StreamPrefix: prefix + "_", SubjectPrefix: prefix + ".", Logger: eventstoretest.Logger(t)})
	writes := []struct {
		method, path, body string
		kind, id           string // the aggregate the write stores an event of
		route              string
	}{
		{"POST", "/template", `{"label":"pump","attrs":[{"label":"t","type":"dynamic","value_type":"float"},{"label":"on","type":"actuator","value_type":"bool"}]}`, dojot.KindTemplate, "1", "/template"},
		{"POST", "/device", `{"label":"p1","id":"cafe01","templates":[1]}`, dojot.KindDevice, "cafe01", "/device"},
		{"PUT", "/device/cafe01/actuate", `{"attrs":{"on":true}}`, dojot.KindDevice, "cafe01", "/device/{id}/actuate"},
	}
	for i, w := range writes {
		reqID := "trace-" + nuid.Next()
		code, body, hdr := do(w.method, w.path, tok.JWT, reqID, w.body)
		if code >= 300 || hdr.Get("X-Request-Id") != reqID {
			t.Fatalf("%s %s = %d %s, X-Request-Id %q; want a success and %q", w.method, w.path, code, body, hdr.Get("X-Request-Id"), reqID)
		}
		evs, err := store.Load(t.Context(), "admin", w.kind, w.id)
		if err != nil || len(evs) == 0 {
			t.Fatalf("Load(%s %s) = %d events, %v", w.kind, w.id, len(evs), err)
		}
		last := evs[len(evs)-1]
		if last.Actor != "admin" || last.CorrelationID != reqID {
			t.Errorf("%d: %s %s stored %s with actor %q, correlation_id %q; want admin, %q", i, w.method, w.path, last.Type, last.Actor, last.CorrelationID, reqID)
		}
		// The access log line of the request, which is answered before it
		// is logged: wait for it as for any other log line.
		var line map[string]any
		for range 100 {
			if line = findLog(&mu, &logs, "http request", reqID); line != nil {
				break
			}
			waitABit()
		}
		if line == nil {
			t.Errorf("no access log line with request_id %s", reqID)
			continue
		}
		if line["method"] != w.method || line["route"] != w.route || line["status"] != float64(code) || line["duration"] == nil {
			t.Errorf("access log = %v; want method %s, route %s, status %d and a duration", line, w.method, w.route, code)
		}
	}

	// What a flow does about an event carries the event's correlation id
	// on: an update of cafe01 runs a flow that actuates it.
	flow := `{"name":"echo","flow":[{"id":"a1","type":"event template in","template_id":"1","event_update":true,"wires":[["a2"]]},
		{"id":"a2","type":"change","rules":[{"t":"set","p":"out.on","pt":"msg","to":"true","tot":"bool"}],"wires":[["a3"]]},
		{"id":"a3","type":"multi actuate","device_source":"self","attrs":"out","wires":[]}]}`
	if code, body, _ := do("POST", "/flows/v1/flow", tok.JWT, "", flow); code != 200 {
		t.Fatalf("POST /flows/v1/flow = %d %s", code, body)
	}
	flowReq := "trace-" + nuid.Next()
	if code, body, _ := do("PUT", "/device/cafe01", tok.JWT, flowReq, `{"label":"p2","templates":[1]}`); code != 200 {
		t.Fatalf("PUT /device/cafe01 = %d %s", code, body)
	}
	var byFlow *dojot.Event
	for range 250 {
		evs, err := store.Load(t.Context(), "admin", dojot.KindDevice, "cafe01")
		if err != nil {
			t.Fatal(err)
		}
		if last := evs[len(evs)-1]; last.Type == dojot.EventDeviceActuated && last.CorrelationID == flowReq {
			byFlow = &last
			break
		}
		waitABit()
	}
	if byFlow == nil {
		t.Errorf("no actuation by the flow with correlation_id %s", flowReq)
	}

	// An error answered by the gateway is logged with the request id too.
	reqID := "trace-" + nuid.Next()
	if code, body, _ := do("POST", "/device", tok.JWT, reqID, `{"label":`); code != 400 {
		t.Fatalf("bad body = %d %s; want 400", code, body)
	}
	for range 100 {
		if line := findLog(&mu, &logs, "http request", reqID); line != nil {
			if line["level"] != "INFO" || line["status"] != float64(400) {
				t.Errorf("access log of a 400 = %v; want level INFO", line)
			}
			return
		}
		waitABit()
	}
	t.Errorf("no access log line of the 400 with request_id %s", reqID)
}

func waitABit() { time.Sleep(20 * time.Millisecond) }

// findLog is the first JSON log line with msg and request_id.
func findLog(mu *sync.Mutex, logs *[][]byte, msg, reqID string) map[string]any {
	mu.Lock()
	defer mu.Unlock()
	for _, l := range *logs {
		var rec map[string]any
		if json.Unmarshal(l, &rec) == nil && rec["msg"] == msg && rec["request_id"] == reqID {
			return rec
		}
	}
	return nil
}
