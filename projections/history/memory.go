package history

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/dojot-es/dojot"
)

// Fetcher reads back what the memory index points at: a reading of DATA
// and an event of EVENTS by sequence (eventstore.Store). A sequence that
// holds nothing any more is dojot.ErrNotFound.
type Fetcher interface {
	ReadingAt(ctx context.Context, seq uint64) (dojot.Event, error)
	EventAt(ctx context.Context, seq uint64) (dojot.Event, error)
}

// Memory is the history view kept in the process: for every device and
// attribute, the time and stream sequence of each reading that has it,
// sorted by time. Values stay in JetStream (16 bytes per attribute of a
// reading here, instead of the reading itself) and are read back by
// sequence when asked for. Follow DATA with Readings() and EVENTS with
// Events(), each by its own projections.Runner.
type Memory struct {
	fetch Fetcher

	mu      sync.RWMutex
	tenants map[string]map[string]*device
	dataCP  uint64
	evCP    uint64

	notes notifications // under its own lock (memory_notify.go)
}

// device is one device's history (a dojot collection): it exists once the
// device was created or sent a reading, and outlives the device, as
// dojot's collections do.
type device struct {
	attrs map[string]*series
	// ids are the ids of the readings indexed that have one (a flow's
	// outputs: eventstore sets Event.ID from the Nats-Msg-Id) and their
	// sequence: a copy stored again past DATA's Duplicates window (an
	// input run again long after a crash) is not indexed twice. Plain
	// readings have no id and cost nothing here.
	ids map[string]uint64
}

// series is one attribute's index: ts (epoch ms) and ref (Doc.Ref) side by
// side, sorted by ts then ref.
type series struct {
	ts  []int64
	ref []uint64
}

// NewMemory returns an empty memory history reading values through f.
func NewMemory(f Fetcher) *Memory {
	return &Memory{fetch: f, tenants: make(map[string]map[string]*device)}
}

// Readings is the view of the DATA stream (dojot.EventReading events).
func (m *Memory) Readings() *MemoryReadings { return &MemoryReadings{m} }

// Events is the view of the EVENTS stream (device events, actuations).
func (m *Memory) Events() *MemoryEvents { return &MemoryEvents{m} }

// MemoryReadings applies readings to a Memory (projections.View).
type MemoryReadings struct{ m *Memory }

// Apply indexes one reading; at or below the checkpoint it is a no-op.
func (v *MemoryReadings) Apply(ctx context.Context, ev dojot.Event) error {
	if errs := v.ApplyBatch(ctx, []dojot.Event{ev}); errs != nil {
		return errs[0]
	}
	return nil
}

// ApplyBatch indexes readings under one lock, decoding them before it.
func (v *MemoryReadings) ApplyBatch(_ context.Context, evs []dojot.Event) []error {
	docs := make([][]Doc, len(evs))
	var errs []error
	for i, ev := range evs {
		var err error
		if ev.Type != dojot.EventReading {
			err = fmt.Errorf("history: %s is not a reading", ev.Type)
		} else {
			docs[i], err = ReadingDocs(ev)
		}
		if err != nil {
			if errs == nil {
				errs = make([]error, len(evs))
			}
			errs[i] = err
		}
	}
	m := v.m
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, ev := range evs {
		if ev.Seq <= m.dataCP {
			continue
		}
		m.dataCP = ev.Seq
		if ev.ID != "" && !m.firstCopy(ev) {
			continue
		}
		m.index(ev.Tenant, ev.AggregateID, docs[i])
	}
	return errs
}

// Checkpoint is the sequence of the last reading applied.
func (v *MemoryReadings) Checkpoint(context.Context) (uint64, error) {
	v.m.mu.RLock()
	defer v.m.mu.RUnlock()
	return v.m.dataCP, nil
}

// MemoryEvents applies device events to a Memory (projections.View):
// created and updated devices get a history (dojot creates their
// collection), actuations are stored as readings.
type MemoryEvents struct{ m *Memory }

// Apply applies one event; at or below the checkpoint it is a no-op.
func (v *MemoryEvents) Apply(_ context.Context, ev dojot.Event) error {
	var docs []Doc
	var err error
	switch ev.Type {
	case dojot.EventDeviceActuated:
		docs, err = ActuationDocs(ev)
	}
	m := v.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if ev.Seq <= m.evCP {
		return nil
	}
	m.evCP = ev.Seq
	switch ev.Type {
	case dojot.EventDeviceCreated, dojot.EventDeviceUpdated:
		m.device(ev.Tenant, ev.AggregateID)
	case dojot.EventDeviceActuated:
		if err == nil {
			m.index(ev.Tenant, ev.AggregateID, docs)
		}
	}
	return err
}

// Checkpoint is the sequence of the last event applied.
func (v *MemoryEvents) Checkpoint(context.Context) (uint64, error) {
	v.m.mu.RLock()
	defer v.m.mu.RUnlock()
	return v.m.evCP, nil
}

// device returns (creating it) a device's history; m.mu is held.
func (m *Memory) device(tenant, id string) *device {
	devs := m.tenants[tenant]
	if devs == nil {
		devs = make(map[string]*device)
		m.tenants[tenant] = devs
	}
	d := devs[id]
	if d == nil {
		d = &device{attrs: make(map[string]*series)}
		devs[id] = d
	}
	return d
}

// firstCopy records a reading's id and says whether it is the first
// reading of its device with that id; m.mu is held.
func (m *Memory) firstCopy(ev dojot.Event) bool {
	d := m.device(ev.Tenant, ev.AggregateID)
	if _, ok := d.ids[ev.ID]; ok {
		return false
	}
	if d.ids == nil {
		d.ids = make(map[string]uint64)
	}
	d.ids[ev.ID] = ev.Seq
	return true
}

// index adds docs (one reading) to a device's history; m.mu is held.
func (m *Memory) index(tenant, id string, docs []Doc) {
	d := m.device(tenant, id)
	for _, doc := range docs {
		s := d.attrs[doc.Attr]
		if s == nil {
			s = &series{}
			d.attrs[doc.Attr] = s
		}
		s.insert(doc.TS.UnixMilli(), doc.Ref)
	}
}

// insert keeps the series sorted; readings mostly arrive in time order,
// so it is usually an append.
func (s *series) insert(ts int64, ref uint64) {
	n := len(s.ts)
	if n == 0 || ts > s.ts[n-1] || ts == s.ts[n-1] && ref > s.ref[n-1] {
		s.ts = append(s.ts, ts)
		s.ref = append(s.ref, ref)
		return
	}
	i, _ := slices.BinarySearchFunc(s.ts, ts, func(a, b int64) int {
		if a <= b { // after every equal time: refs grow with arrival
			return -1
		}
		return 1
	})
	s.ts = slices.Insert(s.ts, i, ts)
	s.ref = slices.Insert(s.ref, i, ref)
}

// Known says whether the device has a history in the tenant (dojot: its
// collection exists).
func (m *Memory) Known(_ context.Context, tenant, id string) (bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, ok := m.tenants[tenant][id]
	return ok, nil
}

// Find returns the docs q selects of a device's attribute, newest first
// unless q.Oldest; none (not an error) when the device or the attribute
// has no history.
func (m *Memory) Find(ctx context.Context, tenant, id string, q Query) ([]Doc, error) {
	// A window of candidates is copied under the lock and read back
	// outside it; blank values and expired readings are skipped, so a
	// limited query may need a second, larger window.
	want := q.Limit
	window := want + want/4 + 8
	if want <= 0 {
		window = -1
	}
	var docs []Doc
	seen := 0
	for {
		refs, total := m.candidates(tenant, id, q, window)
		var err error
		if docs, err = m.read(ctx, refs[min(seen, len(refs)):], q.Attr, docs, want); err != nil {
			return nil, err
		}
		seen = len(refs)
		if want > 0 && len(docs) >= want || len(refs) >= total {
			return docs, nil
		}
		window = -1
	}
}

// candidates returns the refs of the docs q selects, in q's order, at most
// window of them (-1: all), and how many there are in all.
func (m *Memory) candidates(tenant, id string, q Query, window int) ([]uint64, int) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	d := m.tenants[tenant][id]
	if d == nil {
		return nil, 0
	}
	s := d.attrs[q.Attr]
	if s == nil {
		return nil, 0
	}
	lo, hi := 0, len(s.ts)
	if !q.From.IsZero() {
		lo, _ = slices.BinarySearch(s.ts, q.From.UnixMilli())
	}
	if !q.To.IsZero() {
		hi, _ = slices.BinarySearch(s.ts, q.To.UnixMilli()+1)
	}
	total := max(hi-lo, 0)
	n := total
	if window >= 0 {
		n = min(n, window)
	}
	refs := make([]uint64, n)
	if q.Oldest {
		copy(refs, s.ref[lo:lo+n])
	} else {
		for i := range n {
			refs[i] = s.ref[hi-1-i]
		}
	}
	return refs, total
}

// read appends to docs the attr doc of each ref, up to want (0: all).
func (m *Memory) read(ctx context.Context, refs []uint64, attr string, docs []Doc, want int) ([]Doc, error) {
	for _, ref := range refs {
		if want > 0 && len(docs) >= want {
			break
		}
		d, ok, err := m.doc(ctx, ref, attr)
		if err != nil {
			return nil, err
		}
		if ok && !Blank(d.Value) {
			docs = append(docs, d)
		}
	}
	return docs, nil
}

// doc reads one reading or actuation back and picks attr's doc; ok is
// false when it is gone from the stream (expired).
func (m *Memory) doc(ctx context.Context, ref uint64, attr string) (Doc, bool, error) {
	var ev dojot.Event
	var err error
	var docs []Doc
	if ref&RefEvent != 0 {
		if ev, err = m.fetch.EventAt(ctx, ref&^RefEvent); err == nil {
			docs, err = ActuationDocs(ev)
		}
	} else if ev, err = m.fetch.ReadingAt(ctx, ref); err == nil {
		docs, err = ReadingDocs(ev)
	}
	if errors.Is(err, dojot.ErrNotFound) {
		return Doc{}, false, nil
	}
	if err != nil {
		return Doc{}, false, fmt.Errorf("history: read back %d: %w", ref&^RefEvent, err)
	}
	if i := indexAttr(docs, attr); i >= 0 {
		return docs[i], true, nil
	}
	return Doc{}, false, nil
}

// Trim drops what the streams no longer hold: readings before first (the
// DATA stream's first sequence) and actuations older than before (dojot's
// TTL on ts; EVENTS keeps them forever). It returns how many index
// entries it dropped.
func (m *Memory) Trim(first uint64, before time.Time) int {
	cut := before.UnixMilli()
	m.mu.Lock()
	defer m.mu.Unlock()
	dropped := 0
	for _, devs := range m.tenants {
		for _, d := range devs {
			for _, s := range d.attrs {
				dropped += s.trim(first, cut)
			}
			// An expired reading's id goes with it: a copy stored
			// later is then the only one the view shows.
			maps.DeleteFunc(d.ids, func(_ string, seq uint64) bool { return seq < first })
		}
	}
	return dropped
}

func (s *series) trim(first uint64, cut int64) int {
	keep := 0
	for i, ref := range s.ref {
		if ref&RefEvent == 0 && ref < first || ref&RefEvent != 0 && s.ts[i] < cut {
			continue
		}
		s.ts[keep], s.ref[keep] = s.ts[i], ref
		keep++
	}
	dropped := len(s.ref) - keep
	if dropped > 0 {
		s.ts, s.ref = slices.Clip(s.ts[:keep]), slices.Clip(s.ref[:keep])
	}
	return dropped
}

// Ranger says which readings the DATA stream and which notifications the
// NOTIFICATIONS stream still hold (eventstore.Store).
type Ranger interface {
	DataRange(ctx context.Context) (first, last uint64, err error)
	NotificationsRange(ctx context.Context) (first, last uint64, err error)
}

// KeepRetention trims m every interval to what DATA and NOTIFICATIONS
// hold and to maxAge, until ctx is done.
func (m *Memory) KeepRetention(ctx context.Context, r Ranger, maxAge, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if first, last, err := r.NotificationsRange(ctx); err == nil {
			if first == 0 { // the stream holds none: all expired
				first = last + 1
			}
			m.notes.trim(first)
		}
		first, _, err := r.DataRange(ctx)
		if err != nil {
			continue // NATS away: the next tick tries again
		}
		m.Trim(first, time.Now().Add(-maxAge))
	}
}

// Attrs are the attributes a device has history of, sorted.
func (m *Memory) Attrs(_ context.Context, tenant, id string) ([]string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	d := m.tenants[tenant][id]
	if d == nil {
		return nil, nil
	}
	return slices.Sorted(maps.Keys(d.attrs)), nil
}
