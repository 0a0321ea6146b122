package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
)

// readRange collects a range read as "<stream>:<subject>:<data>" lines.
func readRange(t *testing.T, s *eventstore.Store, r eventstore.Range) []string {
	t.Helper()
	var got []string
	// A read that waits for messages that may come (an idle stream) waits
	// eventstoretest.RangeIdle, an hour: it ends with the bound's error.
	ctx, cancel := context.WithTimeout(t.Context(), eventstoretest.ReadBound)
	defer cancel()
	err := s.ReadRange(ctx, r, func(it eventstore.RangeItem) error {
		kind := "data"
		if it.Events {
			kind = "evt"
		}
		body := string(it.Data)
		if it.Events {
			body = it.Subject // envelopes carry random ids
		}
		got = append(got, kind+":"+it.Subject+":"+body)
		return nil
	})
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ReadRange(%+v) waited on an idle stream (still reading after %s): %v", r, eventstoretest.ReadBound, err)
	}
	if err != nil {
		t.Fatalf("ReadRange(%+v) = %v", r, err)
	}
	return got
}

// TestReadRange: one tenant's readings and device events, merged in time
// order, cut by time, by device, and at the streams' end as of the call.
func TestReadRange(t *testing.T) {
	s := eventstoretest.Open(t)
	ctx := t.Context()
	reading := func(tenant, dev string, v int) {
		t.Helper()
		if _, err := s.AppendData(ctx, tenant, dev, fmt.Appendf(nil, `{"v":%d}`, v), ""); err != nil {
			t.Fatal(err)
		}
	}
	event := func(dev string) {
		t.Helper()
		ev, err := dojot.NewEvent(dojot.EventDeviceCreated, "admin", dojot.KindDevice, dev, time.Now(), map[string]string{"id": dev})
		if err != nil {
			t.Fatal(err)
		}
		ev.NoExpect = true
		if _, err := s.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	pause := func() time.Time { // a clear instant between two writes
		time.Sleep(20 * time.Millisecond)
		at := time.Now()
		time.Sleep(20 * time.Millisecond)
		return at
	}
	// Empty streams: the read ends at once.
	if got := readRange(t, s, eventstore.Range{Tenant: "admin", From: time.Now().Add(-time.Hour), To: time.Now()}); len(got) != 0 {
		t.Fatalf("empty store read %v", got)
	}
	t0 := pause()
	reading("admin", "d1", 1)
	t1 := pause()
	event("d2")
	reading("other", "d1", 99) // another tenant's
	reading("admin", "d2", 2)
	t2 := pause()
	event("d1")
	reading("admin", "d1", 3)
	t3 := pause()
	reading("admin", "d3", 4)

	all := []string{"data:data.admin.d1:{\"v\":1}", "evt:evt.admin.device.d2:evt.admin.device.d2", "data:data.admin.d2:{\"v\":2}",
		"evt:evt.admin.device.d1:evt.admin.device.d1", "data:data.admin.d1:{\"v\":3}", "data:data.admin.d3:{\"v\":4}"}
	for _, c := range []struct {
		name string
		r    eventstore.Range
		want []string
	}{
		{"everything", eventstore.Range{Tenant: "admin", From: t0, To: time.Now()}, all},
		{"from zero", eventstore.Range{Tenant: "admin", To: time.Now()}, all},
		{"a middle span", eventstore.Range{Tenant: "admin", From: t1, To: t3}, all[1:5]},
		{"up to t2", eventstore.Range{Tenant: "admin", From: t0, To: t2}, all[:3]},
		{"after the last", eventstore.Range{Tenant: "admin", From: time.Now(), To: time.Now().Add(time.Hour)}, nil},
		{"devices", eventstore.Range{Tenant: "admin", From: t0, To: time.Now(), Devices: []string{"d1"}}, []string{all[0], all[3], all[4]}},
		{"two devices", eventstore.Range{Tenant: "admin", From: t0, To: time.Now(), Devices: []string{"d1", "d3"}}, []string{all[0], all[3], all[4], all[5]}},
		{"no such device", eventstore.Range{Tenant: "admin", From: t0, To: time.Now(), Devices: []string{"d9"}}, nil},
		{"another tenant", eventstore.Range{Tenant: "other", From: t0, To: time.Now()}, []string{"data:data.other.d1:{\"v\":99}"}},
		{"a tenant with nothing", eventstore.Range{Tenant: "nobody", From: t0, To: time.Now()}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := readRange(t, s, c.r); strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("read\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}

	// Past MaxRangeDevices the devices are filtered here, to the same end.
	many := []string{"d2", "d3"}
	for i := range eventstore.MaxRangeDevices {
		many = append(many, fmt.Sprintf("x%d", i))
	}
	if got := readRange(t, s, eventstore.Range{Tenant: "admin", From: t0, To: time.Now(), Devices: many}); strings.Join(got, "\n") != strings.Join([]string{all[1], all[2], all[5]}, "\n") {
		t.Errorf("many devices read %v", got)
	}

	// What is stored once the read started is not read: it ends at the
	// streams' last message as of the call, even with To in the future.
	var n int
	bounded, cancel := context.WithTimeout(ctx, eventstoretest.ReadBound)
	defer cancel()
	err := s.ReadRange(bounded, eventstore.Range{Tenant: "admin", From: t0, To: time.Now().Add(time.Hour)}, func(it eventstore.RangeItem) error {
		if n++; n == 1 {
			reading("admin", "d1", 5)
			event("d4")
		}
		return nil
	})
	if err != nil || n != len(all) {
		t.Errorf("read during appends: %d messages, %v; want %d", n, err, len(all))
	}

	// fn's error stops the read and is returned.
	stop := errors.New("enough")
	n = 0
	err = s.ReadRange(ctx, eventstore.Range{Tenant: "admin", From: t0, To: time.Now()}, func(eventstore.RangeItem) error {
		n++
		return stop
	})
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("stopped read: %d messages, %v", n, err)
	}

	for _, bad := range []eventstore.Range{
		{Tenant: "Admin", To: time.Now()},
		{Tenant: "admin", From: time.Now(), To: time.Now().Add(-time.Second)},
		{Tenant: "admin", To: time.Now(), Devices: []string{"a.b"}},
	} {
		if err := s.ReadRange(ctx, bad, func(eventstore.RangeItem) error { return nil }); !errors.Is(err, dojot.ErrInvalid) {
			t.Errorf("ReadRange(%+v) = %v; want ErrInvalid", bad, err)
		}
	}
}

// TestReadRangePartitions: a device's readings stored before DATA was
// partitioned (data.<tenant>.<device>) and after (with a partition token)
// are read together, under the subject without the partition.
func TestReadRangePartitions(t *testing.T) {
	ctx := t.Context()
	opts := eventstoretest.Isolated(t, eventstoretest.URL(t))
	opts.DataPartitions = 1
	before := eventstoretest.OpenWith(t, opts)
	t0 := time.Now()
	if _, err := before.AppendData(ctx, "admin", "d1", []byte(`{"v":1}`), ""); err != nil {
		t.Fatal(err)
	}
	opts.DataPartitions = 4
	after := eventstoretest.OpenWith(t, opts)
	for i, dev := range []string{"d1", "d2"} {
		if _, err := after.AppendData(ctx, "admin", dev, fmt.Appendf(nil, `{"v":%d}`, i+2), ""); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := after.DataPartitions(ctx); err != nil || n != 4 {
		t.Fatalf("DataPartitions = %d, %v", n, err)
	}
	d1 := []string{"data:data.admin.d1:{\"v\":1}", "data:data.admin.d1:{\"v\":2}"}
	for _, c := range []struct {
		devices []string
		want    []string
	}{
		{nil, append(d1, "data:data.admin.d2:{\"v\":3}")},
		{[]string{"d1"}, d1},
	} {
		if got := readRange(t, after, eventstore.Range{Tenant: "admin", From: t0, To: time.Now(), Devices: c.devices}); strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("devices %v read\n%s\nwant\n%s", c.devices, strings.Join(got, "\n"), strings.Join(c.want, "\n"))
		}
	}
}
