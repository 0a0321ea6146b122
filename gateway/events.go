package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/dojot-es/dojot"
)

// eventLog reads an aggregate's history from the event log a page at a
// time (eventstore.Store): up to n events stored before sequence before
// (0: up to the newest), newest first, with Seq set.
type eventLog interface {
	LoadBefore(ctx context.Context, tenant, kind, id string, before uint64, n int) ([]dojot.Event, error)
}

// Change log paging: newest first, by a sequence cursor.
const (
	defaultEventsLimit = 20
	maxEventsLimit     = 100
	// maxLookback bounds how far past a page the change log looks for
	// the state an update changed: a device actuated 100,000 times since
	// its last update must not cost 100,000 reads. Past it the update's
	// changes are its new values only, flagged previous_unknown.
	maxLookback = 200
	// sharedChunk is how many tenant-wide template events (DELETE
	// /template, POST /import: large, and rare) a template's change log
	// reads at a time.
	sharedChunk = 4
)

// changeEvent is one entry of a change log.
type changeEvent struct {
	Seq           uint64            `json:"seq"`
	Type          string            `json:"type"`
	Time          time.Time         `json:"time"`
	Actor         string            `json:"actor,omitempty"`
	CorrelationID string            `json:"correlation_id,omitempty"`
	Cause         string            `json:"cause,omitempty"`
	Changes       map[string]change `json:"changes"`
	// PreviousUnknown: the state before this update or deletion was not
	// found within maxLookback events, so Changes holds every member's new
	// value (none for a deletion).
	PreviousUnknown bool `json:"previous_unknown,omitempty"`
}

// change is one member's value before and after an event; Old is absent
// where the member was not set (or the aggregate did not exist), New where
// the event removed it.
type change struct {
	Old json.RawMessage `json:"old,omitempty"`
	New json.RawMessage `json:"new,omitempty"`
}

// changePage is the answer of GET /device/:id/events and
// /template/:id/events.
type changePage struct {
	Events     []changeEvent `json:"events"`
	Pagination changePaging  `json:"pagination"`
}

// changePaging: NextBefore is the before= of the next (older) page, set
// when HasMore.
type changePaging struct {
	Limit      int    `json:"limit"`
	HasMore    bool   `json:"has_more"`
	NextBefore uint64 `json:"next_before,omitempty"`
}

// eventsQuery reads before= and limit=.
func eventsQuery(r *http.Request) (before uint64, limit int, err error) {
	q := r.URL.Query()
	limit = defaultEventsLimit
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > maxEventsLimit {
			return 0, 0, &dojot.Error{Kind: dojot.ErrInvalid, Message: "limit must be an integer from 1 to " + strconv.Itoa(maxEventsLimit)}
		}
	}
	if v := q.Get("before"); v != "" {
		if before, err = strconv.ParseUint(v, 10, 64); err != nil || before < 1 {
			return 0, 0, &dojot.Error{Kind: dojot.ErrInvalid, Message: "before must be a positive integer: the next_before of the previous page"}
		}
	}
	return before, limit, nil
}

func (s *Server) deviceEvents(w http.ResponseWriter, r *http.Request, tenant string) error {
	id := pathParam(r, "id")
	notFound := &dojot.Error{Kind: dojot.ErrNotFound, Message: "No such device: " + id}
	if !dojot.ValidToken(id) { // never a subject filter
		return notFound
	}
	h := &changeLog{curs: []*logCursor{{log: s.opts.Events, tenant: tenant, kind: dojot.KindDevice, id: id}}, state: deviceState}
	return s.writeHistory(w, r, h, notFound)
}

func (s *Server) templateEvents(w http.ResponseWriter, r *http.Request, tenant string) error {
	idText := pathParam(r, "id")
	notFound := &dojot.Error{Kind: dojot.ErrNotFound, Message: "No such template: " + idText}
	id := templateParam(idText)
	if id < 1 {
		return notFound
	}
	// A template's own events, and the tenant-wide ones that touch it:
	// DELETE /template deletes it, POST /import replaces or removes it.
	h := &changeLog{curs: []*logCursor{
		{log: s.opts.Events, tenant: tenant, kind: dojot.KindTemplate, id: strconv.Itoa(id)},
		{log: s.opts.Events, tenant: tenant, kind: dojot.KindTemplate, id: dojot.TemplatesAll, shared: true},
		{log: s.opts.Events, tenant: tenant, kind: dojot.KindTemplate, id: dojot.TemplatesImport, shared: true},
	}, state: func(ev dojot.Event) (stateMembers, stateKind) { return templateState(ev, id) }}
	return s.writeHistory(w, r, h, notFound)
}

// writeHistory answers one page of h. An aggregate with no event at all
// never existed: notFound. A deleted one still has its events, which are
// listed (the log keeps them).
func (s *Server) writeHistory(w http.ResponseWriter, r *http.Request, h *changeLog, notFound error) error {
	before, limit, err := eventsQuery(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	h.start(before, limit+1)
	// The page and one more event: whether there is a next page.
	evs, err := h.read(ctx, nil, limit+1, nil)
	if err != nil {
		return err
	}
	if len(evs) == 0 && before > 0 {
		// Past the oldest event, or a cursor of some other aggregate's:
		// an empty page of an aggregate that exists.
		h.start(0, 1)
		newest, err := h.read(ctx, nil, 1, nil)
		if err != nil {
			return err
		}
		if len(newest) > 0 {
			writeJSON(w, http.StatusOK, changePage{Events: []changeEvent{}, Pagination: changePaging{Limit: limit}})
			return nil
		}
	}
	if len(evs) == 0 {
		return notFound
	}
	page := changePage{Events: make([]changeEvent, 0, min(len(evs), limit)), Pagination: changePaging{Limit: limit}}
	if len(evs) > limit {
		page.Pagination.HasMore = true
		page.Pagination.NextBefore = evs[limit-1].ev.Seq
	}
	// Each state an update changed is the next older one that carries a
	// state: in the page, or up to maxLookback events past it.
	if needsLookback(evs, limit) {
		if evs, err = h.read(ctx, evs, maxLookback, func(e loggedEvent) bool { return e.kind != stateNone }); err != nil {
			return err
		}
	}
	exhausted := h.exhausted()
	for i := range min(len(evs), limit) {
		page.Events = append(page.Events, describe(evs, i, exhausted))
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

// needsLookback reports whether the oldest state-bearing event of the
// page has no older state-bearing event read after it.
func needsLookback(evs []loggedEvent, limit int) bool {
	oldest := -1
	for i := range min(len(evs), limit) {
		if evs[i].kind != stateNone {
			oldest = i
		}
	}
	if oldest < 0 {
		return false
	}
	for _, ev := range evs[oldest+1:] {
		if ev.kind != stateNone {
			return false
		}
	}
	return true
}

// describe renders evs[i], its changes taken against the next older event
// in evs that carries a state; when there is none, the state before was
// nothing if the whole history was read (exhausted), else unknown.
func describe(evs []loggedEvent, i int, exhausted bool) changeEvent {
	e := evs[i]
	out := changeEvent{Seq: e.ev.Seq, Type: e.ev.Type, Time: e.ev.Time, Actor: e.ev.Actor, CorrelationID: e.ev.CorrelationID, Cause: e.cause, Changes: map[string]change{}}
	if e.kind == stateNone {
		for k, v := range e.members {
			out.Changes[k] = change{New: v}
		}
		return out
	}
	var prev stateMembers
	known := exhausted
	for _, older := range evs[i+1:] {
		if older.kind != stateNone {
			prev, known = older.members, true
			if older.kind == stateGone {
				prev = nil
			}
			break
		}
	}
	out.PreviousUnknown = !known
	if e.kind == stateGone {
		if known { // else gone from a state not read: nothing to show
			out.Changes = diff(prev, nil)
		}
		return out
	}
	out.Changes = diff(prev, e.members)
	return out
}

// stateKind says what an event does to its aggregate's state.
type stateKind int

const (
	stateNone stateKind = iota // no state (an actuation): its members are what it sent
	stateFull                  // the whole state after it (created, updated, imported)
	stateGone                  // the aggregate is gone (deleted)
)

// stateMembers is a state's members by name, each as JSON; the lists of items
// with ids (a template's attrs, a device's overrides) are keyed by id, so
// that only the items that differ are listed as changes.
type stateMembers map[string]json.RawMessage

// loggedEvent is an event of the log with what the change log reads of it.
type loggedEvent struct {
	ev      dojot.Event
	kind    stateKind
	members stateMembers
	cause   string
}

// keyedLists are the state members that are lists of items with an id:
// compared item by item.
var keyedLists = map[string]string{"attrs": "id", "overrides": "attr_id", "psks": "attr_id"}

// deviceState reads a device event. Secrets never leave it: a device's
// pre-shared keys are reduced to the attribute ids that have one (a key
// replaced still shows as a change, compared before the values go), and a
// basic-auth password's hash is not read at all.
func deviceState(ev dojot.Event) (stateMembers, stateKind) {
	switch ev.Type {
	case dojot.EventDeviceCreated, dojot.EventDeviceUpdated:
		return objectMembers(ev.Data), stateFull
	case dojot.EventDeviceDeleted:
		return stateMembers{}, stateGone
	case dojot.EventDeviceActuated:
		var a dojot.DeviceActuated
		if ev.Decode(&a) != nil || len(a.Attrs) == 0 {
			return stateMembers{}, stateNone
		}
		return stateMembers{"attrs": a.Attrs}, stateNone
	}
	return stateMembers{}, stateNone // device.credentials_set and any later type: no state shown
}

// templateState reads a template event for template id; a tenant-wide
// event that does not touch it is nil.
func templateState(ev dojot.Event, id int) (stateMembers, stateKind) {
	switch ev.Type {
	case dojot.EventTemplateCreated, dojot.EventTemplateUpdated:
		return objectMembers(ev.Data), stateFull
	case dojot.EventTemplateDeleted:
		return stateMembers{}, stateGone
	case dojot.EventTemplatesDeleted:
		var p dojot.TemplatesDeleted
		if ev.Decode(&p) == nil && slices.Contains(p.IDs, id) {
			return stateMembers{}, stateGone
		}
	case dojot.EventTemplatesImported:
		var p dojot.TemplatesImported
		if ev.Decode(&p) != nil {
			return nil, stateNone
		}
		for _, t := range p.Templates {
			if t.ID == id {
				b, err := json.Marshal(t)
				if err != nil {
					return nil, stateNone
				}
				return objectMembers(b), stateFull
			}
		}
		if slices.Contains(p.Removed, id) {
			return stateMembers{}, stateGone
		}
	}
	return nil, stateNone
}

// notState are the members of a payload that are not state that changes:
// the id, timestamps that change with everything, a device event's cause
// (shown apart) and a deleted device's rendering.
var notState = []string{"id", "created", "updated", "cause", "rendered"}

// objectMembers reads the state members of a JSON object; a psks_sealed
// (sealed under a key this instance has not) stands as psks, which redact
// shows as "sealed".
func objectMembers(data []byte) stateMembers {
	var m stateMembers
	if json.Unmarshal(data, &m) != nil || m == nil {
		return stateMembers{}
	}
	for _, k := range notState {
		delete(m, k)
	}
	if v, ok := m["psks_sealed"]; ok {
		delete(m, "psks_sealed")
		m["psks"] = v
	}
	return m
}

// causeOf is a device event's cause (dojot.CauseImport...), if any.
func causeOf(data []byte) string {
	var c struct {
		Cause string `json:"cause"`
	}
	_ = json.Unmarshal(data, &c) // a payload without one has none
	return c.Cause
}

// diff lists the members that differ between prev and cur (nil: none).
func diff(prev, cur stateMembers) map[string]change {
	out := map[string]change{}
	for k := range merged(prev, cur) {
		o, n := prev[k], cur[k]
		if key, ok := keyedLists[k]; ok {
			if o, n, changed := diffList(o, n, key); changed {
				out[k] = change{Old: redact(k, o), New: redact(k, n)}
			}
			continue
		}
		if !bytes.Equal(compact(o), compact(n)) {
			out[k] = change{Old: o, New: n}
		}
	}
	return out
}

func merged(a, b stateMembers) map[string]bool {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	return keys
}

// diffList compares two JSON arrays of objects item by item, by key: the
// items of each that the other has not exactly (nil for none).
func diffList(o, n json.RawMessage, key string) (json.RawMessage, json.RawMessage, bool) {
	oi, ok1 := itemsByKey(o, key)
	ni, ok2 := itemsByKey(n, key)
	if !ok1 || !ok2 { // not a list of items: compared whole
		changed := !bytes.Equal(compact(o), compact(n))
		return o, n, changed
	}
	var oldOut, newOut []json.RawMessage
	for _, it := range oi {
		if !containsItem(ni, it) {
			oldOut = append(oldOut, it.raw)
		}
	}
	for _, it := range ni {
		if !containsItem(oi, it) {
			newOut = append(newOut, it.raw)
		}
	}
	if oldOut == nil && newOut == nil {
		return nil, nil, false
	}
	return listJSON(oldOut), listJSON(newOut), true
}

type keyedItem struct {
	key string
	raw json.RawMessage
}

func itemsByKey(list json.RawMessage, key string) ([]keyedItem, bool) {
	if len(list) == 0 || string(list) == "null" {
		return nil, true
	}
	var raws []json.RawMessage
	if json.Unmarshal(list, &raws) != nil {
		return nil, false
	}
	items := make([]keyedItem, 0, len(raws))
	for _, raw := range raws {
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			return nil, false
		}
		items = append(items, keyedItem{key: string(obj[key]), raw: compact(raw)})
	}
	return items, true
}

func containsItem(items []keyedItem, it keyedItem) bool {
	for _, o := range items {
		if o.key == it.key && bytes.Equal(o.raw, it.raw) {
			return true
		}
	}
	return false
}

func listJSON(items []json.RawMessage) json.RawMessage {
	if items == nil {
		return nil
	}
	b, _ := json.Marshal(items)
	return b
}

func compact(b json.RawMessage) []byte {
	if len(b) == 0 {
		return nil
	}
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return b
	}
	return buf.Bytes()
}

// redact shows a member without its secrets: a device's psks as the
// attribute ids that hold a key, a sealed value as "sealed".
func redact(name string, v json.RawMessage) json.RawMessage {
	if name != "psks" || len(v) == 0 {
		return v
	}
	var items []struct {
		AttrID json.RawMessage `json:"attr_id"`
	}
	if json.Unmarshal(v, &items) != nil {
		return json.RawMessage(`"sealed"`)
	}
	out := make([]map[string]json.RawMessage, len(items))
	for i, it := range items {
		out[i] = map[string]json.RawMessage{"attr_id": it.AttrID}
	}
	b, _ := json.Marshal(out)
	return b
}

// changeLog merges the backward reads of one or more aggregates into one
// newest-first sequence of the events state says concern the aggregate
// whose log it is.
type changeLog struct {
	curs  []*logCursor
	state func(dojot.Event) (stateMembers, stateKind)
}

// start (re)positions every cursor before sequence before, reading chunk
// events at a time (sharedChunk for a tenant-wide aggregate's).
func (h *changeLog) start(before uint64, chunk int) {
	for _, c := range h.curs {
		c.buf, c.before, c.done, c.chunk = nil, before, false, chunk
		if c.shared {
			c.chunk = sharedChunk
		}
	}
}

// next is the newest event not yet returned that concerns the aggregate.
func (h *changeLog) next(ctx context.Context) (loggedEvent, bool, error) {
	for {
		var newest *logCursor
		for _, c := range h.curs {
			ev, err := c.peek(ctx)
			if err != nil {
				return loggedEvent{}, false, err
			}
			if ev != nil && (newest == nil || ev.Seq > newest.buf[0].Seq) {
				newest = c
			}
		}
		if newest == nil {
			return loggedEvent{}, false, nil
		}
		ev := newest.buf[0]
		newest.buf = newest.buf[1:]
		members, kind := h.state(ev)
		if members == nil {
			continue // a tenant-wide event about other aggregates
		}
		return loggedEvent{ev: ev, kind: kind, members: members, cause: causeOf(ev.Data)}, true, nil
	}
}

// read appends up to n more events to evs, and stops after one that
// until accepts (nil: none).
func (h *changeLog) read(ctx context.Context, evs []loggedEvent, n int, until func(loggedEvent) bool) ([]loggedEvent, error) {
	for range n {
		ev, ok, err := h.next(ctx)
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		evs = append(evs, ev)
		if until != nil && until(ev) {
			break
		}
	}
	return evs, nil
}

// exhausted reports whether every cursor has read its whole history.
func (h *changeLog) exhausted() bool {
	for _, c := range h.curs {
		if !c.done || len(c.buf) > 0 {
			return false
		}
	}
	return true
}

// logCursor reads one aggregate's events backwards, chunk at a time.
type logCursor struct {
	log              eventLog
	tenant, kind, id string
	shared           bool // a tenant-wide aggregate's: read sharedChunk at a time
	chunk            int
	before           uint64 // the next read's before (0: from the newest)
	buf              []dojot.Event
	done             bool
}

// peek is the cursor's next event (nil: none left), read if need be.
func (c *logCursor) peek(ctx context.Context) (*dojot.Event, error) {
	if len(c.buf) == 0 && !c.done {
		evs, err := c.log.LoadBefore(ctx, c.tenant, c.kind, c.id, c.before, c.chunk)
		if err != nil {
			return nil, err
		}
		c.buf, c.done = evs, len(evs) < c.chunk
		if len(evs) > 0 {
			c.before = evs[len(evs)-1].Seq
			if c.before <= 1 {
				c.done = true
			}
		}
	}
	if len(c.buf) == 0 {
		return nil, nil
	}
	return &c.buf[0], nil
}
