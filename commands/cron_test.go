package commands

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/commands/commandstest"
	"github.com/dojot-es/dojot/projections/memory"
)

var _ CronState = (*memory.View)(nil)

func newCronCmds(t *testing.T) (*Cron, *memory.View, *commandstest.Store) {
	t.Helper()
	view := memory.New()
	store := &commandstest.Store{View: view}
	c := NewCron(Options{Store: store, Sync: commandstest.Syncer{}, Now: func() time.Time { return t1 }, Rand: rand.NewChaCha8([32]byte{7})},
		view, []string{"http://device-manager:5000", "https://api.example/v1/"})
	return c, view, store
}

const keepAlive = `{"time":"0 */5 * * * *","timezone":"America/Sao_Paulo","name":"Keep alive","description":"keep alive every 5 minutes",
	"broker":{"subject":"dojot.device-manager.device","message":{"event":"configure","data":{"attrs":{"message":"keepalive"},"id":"e1b1a9"},"meta":{"service":"admin"}}}}`

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestCronCreate(t *testing.T) {
	c, view, store := newCronCmds(t)
	ctx := context.Background()
	id, err := c.Create(ctx, "admin", "", []byte(keepAlive))
	if err != nil {
		t.Fatal(err)
	}
	if !uuidV4.MatchString(id) {
		t.Errorf("job id %q is not a UUID v4", id)
	}
	j, ok := view.CronJob("admin", id)
	want := dojot.CronJob{ID: id, Time: "0 */5 * * * *", Timezone: "America/Sao_Paulo", Name: "Keep alive", Description: "keep alive every 5 minutes",
		Broker:  json.RawMessage(`{"subject":"dojot.device-manager.device","message":{"event":"configure","data":{"attrs":{"message":"keepalive"},"id":"e1b1a9"},"meta":{"service":"admin"}}}`),
		Created: t1.Truncate(time.Millisecond)}
	if !ok || !sameJob(j, want) {
		t.Errorf("job %+v, want %+v", j, want)
	}
	evs := store.Events()
	if len(evs) != 1 || evs[0].Type != dojot.EventCronJobCreated || evs[0].Subject() != "evt.admin.cronjob."+id || evs[0].Expect != 0 {
		t.Errorf("events %+v", evs)
	}
	// The timezone defaults to UTC; another tenant sees none of admin's.
	id2, err := c.Create(ctx, "acme", "", []byte(`{"time":"* * * * *","http":{"method":"GET","url":"http://device-manager:5000/device"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if j, _ := view.CronJob("acme", id2); j.Timezone != "UTC" || j.Time != "* * * * *" {
		t.Errorf("job %+v", j)
	}
	if _, ok := view.CronJob("acme", id); ok {
		t.Error("acme sees admin's job")
	}
}

func sameJob(a, b dojot.CronJob) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// TestCronCreateIdempotent: a flow's retried input (same request id) gets
// the same job, even after it was deleted, and appends nothing more.
func TestCronCreateIdempotent(t *testing.T) {
	c, view, store := newCronCmds(t)
	ctx := context.Background()
	id, err := c.CreateJob(ctx, "admin", "flow-1-n2-0", []byte(keepAlive))
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.CreateJob(ctx, "admin", "flow-1-n2-0", []byte(keepAlive))
	if err != nil || again != id {
		t.Fatalf("again: %q, %v; want %q", again, err, id)
	}
	other, err := c.CreateJob(ctx, "acme", "flow-1-n2-0", []byte(keepAlive))
	if err != nil || other == id {
		t.Fatalf("another tenant's request: %q, %v", other, err)
	}
	if n := len(store.Events()); n != 2 {
		t.Errorf("%d events, want 2", n)
	}
	if err := c.RemoveJob(ctx, "admin", id); err != nil {
		t.Fatal(err)
	}
	// The retried removal, and the retried creation after it.
	if err := c.RemoveJob(ctx, "admin", id); err != nil {
		t.Errorf("retried removal: %v", err)
	}
	if again, err := c.CreateJob(ctx, "admin", "flow-1-n2-0", []byte(keepAlive)); err != nil || again != id {
		t.Errorf("after removal: %q, %v", again, err)
	}
	if _, ok := view.CronJob("admin", id); ok {
		t.Error("a retried creation brought a removed job back")
	}
	if n := len(store.Events()); n != 3 {
		t.Errorf("%d events, want 3", n)
	}
	if err := c.RemoveJob(ctx, "admin", "never-was"); !errors.Is(err, dojot.ErrNotFound) {
		t.Errorf("removing an unknown job: %v", err)
	}
}

func TestCronInvalid(t *testing.T) {
	c, _, store := newCronCmds(t)
	for _, tc := range []struct {
		body  string
		codes []int
	}{
		{`[]`, []int{100}},
		{`{"time":`, []int{100}},
		{`{}`, []int{101, 105}},
		{`{"time":"* * *","broker":{"subject":"device-data","message":{"metadata":{"deviceid":"d"},"attrs":{}}}}`, []int{101}},
		{`{"time":"0 0 30 2 *","broker":{"subject":"device-data","message":{"metadata":{"deviceid":"d"},"attrs":{}}}}`, []int{101}},
		{`{"time":5,"name":"x","timezone":"Mars/Olympus","description":""}`, []int{103, 101, 102, 104, 105}},
		{`{"time":"* * * * *","jscode":{"snippet":"1"}}`, []int{131}},
		{`{"time":"* * * * *","http":"x"}`, []int{105}},
		{`{"time":"* * * * *","http":{"url":"http://device-manager:5000.evil.example/","method":"FETCH"}}`, []int{113, 111}},
		{`{"time":"* * * * *","http":{"url":"http://other:5000/x","method":"GET","headers":{"a":1},"criterion":4,"body":null}}`, []int{113, 112, 114, 117}},
		{`{"time":"* * * * *","http":{"url":"https://api.example/v1/x","method":"GET","criterion":2}}`, []int{115}},
		{`{"time":"* * * * *","http":{"url":"https://api.example/v1/x","method":"GET","criterion":3,"fregex":"("}}`, []int{116}},
		{`{"time":"* * * * *","broker":{"subject":"dojot.notifications","message":{}}}`, []int{121}},
		{`{"time":"* * * * *","broker":{"subject":"dojot.device-manager.device","message":{"event":"remove","data":{"id":"d"}}}}`, []int{122}},
		{`{"time":"* * * * *","broker":{"subject":"dojot.device-manager.device","message":{"event":"configure","data":{"id":"a.b","attrs":{"x":1}}}}}`, []int{122}},
		{`{"time":"* * * * *","broker":{"subject":"dojot.device-manager.device","message":{"event":"configure","data":{"id":"d","attrs":{}}}}}`, []int{122}},
		{`{"time":"* * * * *","broker":{"subject":"device-data","message":{"metadata":{},"attrs":{}}}}`, []int{122}},
		{`{"time":"* * * * *","broker":{"subject":"device-data","message":"x"}}`, []int{122}},
	} {
		_, err := c.Create(context.Background(), "admin", "", []byte(tc.body))
		var de *dojot.Error
		if !errors.As(err, &de) || !errors.Is(err, dojot.ErrInvalid) {
			t.Errorf("%s: %v", tc.body, err)
			continue
		}
		body := de.Body.(cronErrorBody)
		var codes []int
		for _, e := range body.Errors {
			codes = append(codes, e.Code)
		}
		if body.Status != "error" || !slices.Equal(codes, tc.codes) {
			t.Errorf("%s: errors %+v, want codes %v", tc.body, body.Errors, tc.codes)
		}
	}
	if n := len(store.Events()); n != 0 {
		t.Errorf("%d events stored from invalid jobs", n)
	}
	// No base URL allowed: every http job is refused, saying why.
	none := NewCron(c.opts, c.st, nil)
	_, err := none.Create(context.Background(), "admin", "", []byte(`{"time":"* * * * *","http":{"url":"http://device-manager:5000/x","method":"GET"}}`))
	if err == nil || err.Error() != "(http action) Invalid http url. (no base URL is allowed for http jobs on this platform (see -cron-http-allowed-urls))" {
		t.Errorf("no base allowed: %v", err)
	}
}

func TestCronPutDelete(t *testing.T) {
	c, view, _ := newCronCmds(t)
	ctx := context.Background()
	a, _ := c.Create(ctx, "admin", "", []byte(keepAlive))
	created, err := c.Put(ctx, "admin", "my-job", []byte(keepAlive))
	if err != nil || !created {
		t.Fatalf("put new: %v, %v", created, err)
	}
	b, _ := c.Create(ctx, "admin", "", []byte(keepAlive))
	created, err = c.Put(ctx, "admin", "my-job", []byte(`{"time":"1 * * * *","broker":{"subject":"device-data","message":{"metadata":{"deviceid":"d"},"attrs":{"x":1}}}}`))
	if err != nil || created {
		t.Fatalf("put again: %v, %v", created, err)
	}
	var ids []string
	for _, j := range view.CronJobs("admin") {
		ids = append(ids, j.ID)
	}
	// A replaced job moves to the end, as dojot's delete-then-create did.
	if want := []string{a, b, "my-job"}; !slices.Equal(ids, want) {
		t.Errorf("order %v, want %v", ids, want)
	}
	if j, _ := view.CronJob("admin", "my-job"); j.Time != "1 * * * *" || j.Broker == nil || j.Name != "" {
		t.Errorf("replaced job %+v", j)
	}
	if _, err := c.Put(ctx, "admin", "a.b", []byte(keepAlive)); !errors.Is(err, dojot.ErrInvalid) {
		t.Errorf("put with a bad id: %v", err)
	}
	if err := c.Delete(ctx, "admin", a); err != nil {
		t.Fatal(err)
	}
	err = c.Delete(ctx, "admin", a)
	var de *dojot.Error
	if !errors.As(err, &de) || !errors.Is(err, dojot.ErrNotFound) {
		t.Fatalf("delete again: %v", err)
	}
	if got, _ := json.Marshal(de.Body); string(got) != `{"status":"error","errors":[{"error":2,"message":"Resource not found."}]}` {
		t.Errorf("404 body %s", got)
	}
	if err := c.Delete(ctx, "acme", b); !errors.Is(err, dojot.ErrNotFound) {
		t.Errorf("another tenant deleted it: %v", err)
	}
	if err := c.DeleteAll(ctx, "admin"); err != nil {
		t.Fatal(err)
	}
	if n := len(view.CronJobs("admin")); n != 0 {
		t.Errorf("%d jobs left", n)
	}
	if err := c.DeleteAll(ctx, "admin"); err != nil {
		t.Errorf("delete all of none: %v", err)
	}
}
