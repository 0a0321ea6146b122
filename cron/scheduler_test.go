package cron_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/cron"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
	"github.com/dojot-es/dojot/projections/memory"
)

// recorder stands for the commands' actuation and the DATA stream: it
// counts what each tick stored, by its id.
type recorder struct {
	mu  sync.Mutex
	ids map[string]int
	log []string
}

func (r *recorder) add(id, what string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ids == nil {
		r.ids = map[string]int{}
	}
	r.ids[id]++
	r.log = append(r.log, what)
}

func (r *recorder) ActuateAs(_ context.Context, tenant, deviceID string, body []byte, eventID string, _ int) error {
	r.add(eventID, tenant+" "+deviceID+" "+string(body))
	return nil
}

func (r *recorder) AppendData(_ context.Context, tenant, deviceID string, payload []byte, msgID string) (uint64, error) {
	r.add(msgID, tenant+" "+deviceID+" "+string(payload))
	return 1, nil
}

// tenants knows one tenant, "admin".
type tenants struct{}

func (tenants) TenantActive(t string) bool { return t == "admin" }

// devices knows one device, "dev1".
type devices struct{}

func (devices) Device(_, id string) (dojot.Device, bool) { return dojot.Device{ID: id}, id == "dev1" }

// viewWith is a memory view holding jobs, as every instance's follows the
// EVENTS stream.
func viewWith(t *testing.T, tenant string, jobs ...dojot.CronJob) *memory.View {
	t.Helper()
	v := memory.New()
	for i, j := range jobs {
		applyJob(t, v, tenant, uint64(i+1), j)
	}
	return v
}

func applyJob(t *testing.T, v *memory.View, tenant string, seq uint64, j dojot.CronJob) {
	t.Helper()
	ev, err := dojot.NewEvent(dojot.EventCronJobCreated, tenant, dojot.KindCronJob, j.ID, j.Created, dojot.CronJobCreated{CronJob: j})
	if err != nil {
		t.Fatal(err)
	}
	ev.Seq = seq
	if err := v.Apply(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
}

// claims opens the tick claims bucket on a store of its own: each
// scheduler of the test is an instance with its own NATS connection.
func claims(t *testing.T, opts eventstore.Options) *eventstore.KV {
	t.Helper()
	store := eventstoretest.OpenWith(t, opts)
	kv, err := store.KVWithTTL(t.Context(), "CRON_TICKS", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // on a shared NATS, the bucket goes with the test's streams
		_ = store.JetStream().DeleteKeyValue(context.Background(), store.KVBucket("CRON_TICKS"))
	})
	return kv
}

func configureJob(id string, created time.Time) dojot.CronJob {
	return dojot.CronJob{ID: id, Time: "*/1 * * * * *", Timezone: "UTC", Created: created,
		Broker: json.RawMessage(`{"subject":"dojot.device-manager.device","message":{"event":"configure","data":{"attrs":{"led":"` + id + `"},"id":"dev1"},"meta":{"service":"admin"}}}`)}
}

// TestTwoSchedulersFireEachTickOnce runs two schedulers, each on its own
// connection to one NATS, on the same every-second jobs: every tick is
// performed once, by one of them, and none is skipped.
func TestTwoSchedulersFireEachTickOnce(t *testing.T) {
	opts := eventstoretest.Isolated(t, eventstoretest.URL(t))
	created := time.Now()
	jobs := []dojot.CronJob{configureJob("job-a", created), configureJob("job-b", created), configureJob("job-c", created)}
	rec := &recorder{}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	var scheds []*cron.Scheduler
	for i := range 2 {
		view := viewWith(t, "admin", jobs...)
		gone := configureJob("job-gone", created)
		applyJob(t, view, "gone", 100, gone) // a deleted tenant's job is held
		s, err := cron.New(cron.Options{Jobs: view, Claims: claims(t, opts), Actuator: rec, Data: rec,
			Devices: devices{}, Tenants: tenants{}, Instance: fmt.Sprint("instance-", i), Logger: eventstoretest.Logger(t)})
		if err != nil {
			t.Fatal(err)
		}
		scheds = append(scheds, s)
		wg.Go(func() {
			if err := s.Run(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	time.Sleep(4500 * time.Millisecond)
	cancel()
	wg.Wait()
	stopped := time.Now()

	rec.mu.Lock()
	defer rec.mu.Unlock()
	for id, n := range rec.ids {
		if n != 1 {
			t.Errorf("tick %s performed %d times", id, n)
		}
		if strings.HasPrefix(id, "cron.gone.") {
			t.Errorf("a deleted tenant's job fired: %s", id)
		}
	}
	// Every second from the first after creation to the last before the
	// stop (minus one for the tick in flight) was performed.
	for _, j := range jobs {
		for tick := created.Truncate(time.Second).Add(time.Second); tick.Before(stopped.Add(-time.Second)); tick = tick.Add(time.Second) {
			if id := fmt.Sprintf("cron.admin.%s.%d", j.ID, tick.Unix()); rec.ids[id] != 1 {
				t.Errorf("tick %s performed %d times", id, rec.ids[id])
			}
		}
	}
	var fired, elsewhere uint64
	for _, s := range scheds {
		st := s.Stats()
		fired, elsewhere = fired+st.Fired, elsewhere+st.Elsewhere
		if st.Failed != 0 || st.ClaimErrors != 0 || st.Missed != 0 {
			t.Errorf("stats %+v", st)
		}
	}
	if int(fired) != len(rec.ids) || fired < 9 || elsewhere == 0 {
		t.Errorf("fired %d, elsewhere %d, %d ticks performed", fired, elsewhere, len(rec.ids))
	}
	if want := `admin dev1 {"attrs":{"led":"job-a"}}`; !contains(rec.log, want) {
		t.Errorf("no actuation %s in %q", want, rec.log)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestActions fires a device-data job, http jobs under and outside the
// allowed base and a job whose device is gone: what each stores or calls,
// and the failures counted.
func TestActions(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		calls = append(calls, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type")+" "+r.Header.Get("X-Key")+" "+string(b))
		mu.Unlock()
		if r.URL.Path == "/allowed/redirect" {
			http.Redirect(w, r, "http://elsewhere.example/x", http.StatusFound)
			return
		}
		_, _ = io.WriteString(w, `{"result":"ok"}`)
	}))
	defer srv.Close()
	created := time.Now()
	job := func(id, field, action string) dojot.CronJob {
		j := dojot.CronJob{ID: id, Time: "* * * * * *", Timezone: "America/Sao_Paulo", Created: created}
		if field == "http" {
			j.HTTP = json.RawMessage(action)
		} else {
			j.Broker = json.RawMessage(action)
		}
		return j
	}
	jobs := []dojot.CronJob{
		job("data", "broker", `{"subject":"device-data","message":{"metadata":{"deviceid":"dev1","tenant":"other","timestamp":1},"attrs":{"t": 21.5 }}}`),
		job("gone", "broker", `{"subject":"device-data","message":{"metadata":{"deviceid":"gone"},"attrs":{"t":1}}}`),
		job("post", "http", `{"method":"post","headers":{"X-Key":"k1"},"url":"`+srv.URL+`/allowed/post","body":{"a":1}}`),
		job("match", "http", `{"method":"GET","url":"`+srv.URL+`/allowed/get","criterion":2,"sregex":"\"ok\""}`),
		job("nomatch", "http", `{"method":"GET","url":"`+srv.URL+`/allowed/get2","criterion":3,"fregex":"ok"}`),
		job("outside", "http", `{"method":"GET","url":"`+srv.URL+`/other","criterion":1}`),
		job("redirect", "http", `{"method":"GET","url":"`+srv.URL+`/allowed/redirect"}`),
	}
	rec := &recorder{}
	s, err := cron.New(cron.Options{Jobs: viewWith(t, "acme", jobs...), Claims: claims(t, eventstoretest.Isolated(t, eventstoretest.URL(t))),
		Actuator: rec, Data: rec, Devices: devices{}, AllowedURLs: []string{srv.URL + "/allowed"}, Logger: eventstoretest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx) }()
	// Fired counts ticks, not jobs: a job may fire twice before another's
	// first call is made, so the wait is for every call too (cancelling
	// earlier would cut a call in flight).
	wantCalls := []string{"POST /allowed/post application/json k1 {\"a\":1}", "GET /allowed/get   ", "GET /allowed/get2   "}
	allCalled := func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range wantCalls {
			if !contains(calls, c) {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(10 * time.Second)
	for (s.Stats().Fired < uint64(len(jobs)) || !allCalled()) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-done

	rec.mu.Lock()
	defer rec.mu.Unlock()
	mu.Lock()
	defer mu.Unlock()
	var tick int64
	for id := range rec.ids {
		if _, err := fmt.Sscanf(id, "cron.acme.data.%d", &tick); err == nil {
			break
		}
	}
	want := fmt.Sprintf(`acme dev1 {"metadata":{"deviceid":"dev1","tenant":"acme","timestamp":%d},"attrs":{"t":21.5}}`, tick*1000)
	if tick == 0 || !contains(rec.log, want) {
		t.Errorf("readings %q, want %s", rec.log, want)
	}
	for _, c := range wantCalls {
		if !contains(calls, c) {
			t.Errorf("call %q not made: %q", c, calls)
		}
	}
	for _, c := range calls {
		if c == "GET /other   " {
			t.Errorf("a url outside the allowed base was called")
		}
	}
	// Failed at each of their ticks: gone (no device), nomatch (criterion
	// 3), outside (not allowed) and redirect (leaves the allowed base).
	if st := s.Stats(); st.Failed < 4 || st.ClaimErrors != 0 {
		t.Errorf("stats %+v", st)
	}
}

// clock is a settable time for the scheduler.
type clock struct{ ns atomic.Int64 }

func (c *clock) Now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) set(s string) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	c.ns.Store(t.UnixNano())
}

// TestLateTicksAndChanges drives one scheduler's clock: a tick on time
// fires; after a pause only the latest due tick fires and the others are
// counted as missed, also after a pause longer than MaxLate; a deleted job
// fires no more, a replaced one on its new time, from its replacement.
func TestLateTicksAndChanges(t *testing.T) {
	var clk clock
	clk.set("2026-01-01T00:00:00.5Z")
	job := configureJob("job-a", clk.Now().Add(-10*time.Second))
	view := viewWith(t, "admin", job)
	rec := &recorder{}
	s, err := cron.New(cron.Options{Jobs: view, Claims: claims(t, eventstoretest.Isolated(t, eventstoretest.URL(t))), Actuator: rec, Data: rec,
		Devices: devices{}, Now: clk.Now, Poll: 5 * time.Millisecond, Logger: eventstoretest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFired := func(n uint64) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); s.Stats().Fired < n; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("fired %d, want %d", s.Stats().Fired, n)
			}
		}
	}
	fired := func(id string, sec int) bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return rec.ids[fmt.Sprintf("cron.admin.%s.%d", id, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix()+int64(sec))] == 1
	}
	time.Sleep(50 * time.Millisecond)
	if st := s.Stats(); st.Fired != 0 {
		t.Fatalf("fired before its tick (ticks before the start are not fired): %+v", st)
	}
	clk.set("2026-01-01T00:00:01.2Z")
	waitFired(1)
	clk.set("2026-01-01T00:00:04.3Z") // 2, 3 and 4 due: 4 fires
	waitFired(2)
	clk.set("2026-01-01T00:05:00.1Z") // 5 minutes: 00:04:01 to 00:05:00 within a minute, 00:05:00 fires
	waitFired(3)
	if !fired("job-a", 1) || !fired("job-a", 4) || !fired("job-a", 300) || fired("job-a", 2) || fired("job-a", 299) {
		t.Errorf("fired %v", rec.ids)
	}
	if st := s.Stats(); st.Missed != 2+1+59 || st.Fired != 3 {
		t.Errorf("stats %+v", st)
	}

	// Deleted: no more ticks. Replaced: its new time, from the replacement.
	apply := func(seq uint64, typ string, data any) {
		ev, err := dojot.NewEvent(typ, "admin", dojot.KindCronJob, "job-a", clk.Now(), data)
		if err != nil {
			t.Fatal(err)
		}
		ev.Seq = seq
		if err := view.Apply(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	apply(2, dojot.EventCronJobDeleted, dojot.CronJobDeleted{ID: "job-a"})
	time.Sleep(50 * time.Millisecond)
	clk.set("2026-01-01T00:05:01.1Z")
	time.Sleep(100 * time.Millisecond)
	if st := s.Stats(); st.Fired != 3 {
		t.Errorf("a deleted job fired: %+v", st)
	}
	replaced := configureJob("job-a", clk.Now())
	replaced.Time = "*/10 * * * * *"
	apply(3, dojot.EventCronJobUpdated, dojot.CronJobUpdated{CronJob: replaced})
	time.Sleep(50 * time.Millisecond)
	clk.set("2026-01-01T00:05:09.9Z")
	time.Sleep(100 * time.Millisecond)
	if st := s.Stats(); st.Fired != 3 {
		t.Errorf("the replaced job fired before its new tick: %+v", st)
	}
	clk.set("2026-01-01T00:05:10.1Z")
	waitFired(4)
	if !fired("job-a", 310) {
		t.Errorf("fired %v", rec.ids)
	}
}
