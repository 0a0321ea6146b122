package commands

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/dojot-es/dojot"
)

// DeviceState is what the DeviceManager commands decide against; the
// memory view implements it. Values returned share memory with the view and
// are never modified.
type DeviceState interface {
	Template(tenant string, id int) (dojot.Template, bool)
	TemplateIDs(tenant string) []int
	TemplateCounters(tenant string) dojot.TemplateCounters
	// TemplateJSON and DeviceJSON render as GET shows: what deletes answer
	// and what device.deleted keeps for dojot's "remove" event.
	TemplateJSON(tenant string, id int) ([]byte, bool)
	Device(tenant, id string) (dojot.Device, bool)
	DeviceIDs(tenant string) []string
	DevicesWithTemplate(tenant string, tid int) []string
	DeviceJSON(tenant, id string) ([]byte, bool)
	// DeviceCredentials is the bcrypt hash of a device's basic-auth
	// password (device_credentials.go); ok is false when it has none.
	DeviceCredentials(tenant, id string) (hash string, ok bool)
	// Aggregate is the sequence and version of the last event of an
	// aggregate's subject (0, 0: none), deleted aggregates included.
	Aggregate(tenant, kind, id string) (seq, version uint64)
	// Checkpoint is the sequence of the last event applied; read before a
	// decision, it tells whether the decision saw a consistent state (see
	// fresh).
	Checkpoint(ctx context.Context) (uint64, error)
}

// Devices handles DeviceManager's commands: templates, devices, actuation
// and import.
type Devices struct {
	opts Options
	st   DeviceState

	// BcryptCost is the cost of device password hashes (default
	// bcrypt.DefaultCost, dojot's 10; tests use bcrypt.MinCost). Set
	// before use.
	BcryptCost int

	verified verifiedSet // basic credentials that matched (device_credentials.go)
}

// NewDevices returns the handler; opts.Store and opts.Sync are required.
func NewDevices(opts Options, st DeviceState) *Devices {
	opts.setDefaults()
	return &Devices{opts: opts, st: st}
}

// batchSize bounds one AppendBatch: a count=100000 creation is pipelined in
// slices of this size, so memory stays flat and progress is steady.
const batchSize = 4096

// decideEnv is what a decision may depend on besides state and command.
type decideEnv struct {
	now   time.Time // truncated to microseconds, as dojot's timestamps
	rand  io.Reader
	actor string
}

func (d *Devices) env(ctx context.Context) decideEnv {
	e := decideEnv{now: d.opts.Now().UTC().Truncate(time.Microsecond), rand: d.opts.Rand}
	if id, ok := dojot.IdentityFrom(ctx); ok {
		e.actor = id.Username
	}
	return e
}

// newEvent builds an event of an aggregate, expecting its subject's last
// sequence and numbering its version.
func (e decideEnv) newEvent(st DeviceState, typ, tenant, kind, id string, data any) (dojot.Event, error) {
	ev, err := dojot.NewEvent(typ, tenant, kind, id, e.now, data)
	if err != nil {
		return ev, err
	}
	seq, ver := st.Aggregate(tenant, kind, id)
	ev.Expect, ev.Version, ev.Actor = seq, ver+1, e.actor
	return ev, nil
}

// errMovedDuringDecision sends a decision round again: it is a conflict the
// retry loop handles, never one the user sees unless it keeps happening.
var errMovedDuringDecision = fmt.Errorf("the aggregate changed while the command was decided: %w", dojot.ErrConflict)

// checkpoint is read before each decision (see fresh).
func (d *Devices) checkpoint(ctx context.Context) (uint64, error) {
	cp, err := d.st.Checkpoint(ctx)
	if err != nil {
		return 0, fmt.Errorf("view checkpoint: %w", err)
	}
	return cp, nil
}

// fresh reports whether ev may be appended after a decision that began when
// the view's checkpoint was before. The view applies events while a command
// is decided, and a decision reads the view several times: it may find an
// aggregate absent (an early read) yet expect the sequence of the event that
// just created it (a later read), and JetStream would accept that append.
// An expectation at or below before is safe: every event up to it was
// applied before the decision read anything. A later one means the
// aggregate moved meanwhile, and the command is decided again.
func fresh(before uint64, ev dojot.Event) bool {
	return ev.NoExpect || ev.Expect <= before
}

// appendOne appends a single decided event with retry-on-conflict.
func (d *Devices) appendOne(ctx context.Context, decide func() (dojot.Event, error)) error {
	return retry(ctx, &d.opts, func() (uint64, error) {
		before, err := d.checkpoint(ctx)
		if err != nil {
			return 0, err
		}
		ev, err := decide()
		if err != nil {
			return 0, err
		}
		return d.appendFresh(ctx, before, ev)
	})
}

// appendFresh appends ev decided from the state at checkpoint before.
func (d *Devices) appendFresh(ctx context.Context, before uint64, ev dojot.Event) (uint64, error) {
	if !fresh(before, ev) {
		return 0, errMovedDuringDecision
	}
	return d.opts.Store.Append(ctx, ev)
}

// appendBatch appends evs, decided from the state at checkpoint before,
// pipelined in slices and waits until the view has them all. It reports, per
// event, whether it was stored; an event whose aggregate moved during the
// decision (see fresh) is not sent and counts as a conflict. The first error
// other than a conflict is returned.
func (d *Devices) appendBatch(ctx context.Context, before uint64, evs []dojot.Event) (stored []bool, conflicts int, err error) {
	stored = make([]bool, len(evs))
	var last uint64
	send := make([]dojot.Event, 0, min(len(evs), batchSize))
	var index []int // position in evs of each event in send
	for from := 0; from < len(evs); from += batchSize {
		to := min(len(evs), from+batchSize)
		send, index = send[:0], index[:0]
		for i := from; i < to; i++ {
			if !fresh(before, evs[i]) {
				conflicts++
				continue
			}
			send = append(send, evs[i])
			index = append(index, i)
		}
		seqs, errs := d.opts.Store.AppendBatch(ctx, send)
		for j := range errs {
			i := index[j]
			switch e := errs[j]; {
			case e == nil:
				stored[i] = true
				last = max(last, seqs[j])
			case isConflict(e):
				conflicts++
			case err == nil:
				err = fmt.Errorf("append %s %s: %w", evs[i].Type, evs[i].AggregateID, e)
			}
		}
	}
	if last > 0 {
		if werr := d.opts.Sync.WaitFor(ctx, last); werr != nil && err == nil {
			err = werr
		}
	}
	return stored, conflicts, err
}

func isConflict(err error) bool { return errors.Is(err, dojot.ErrConflict) }

// --- device creation ---

// CreateDevices creates count devices from one POST /device body. With
// count 1 a client id is honoured; otherwise ids are generated and labels
// numbered (d_0, d_1, ... zero-padded to the digits of count).
func (d *Devices) CreateDevices(ctx context.Context, tenant string, body []byte, count int) ([]dojot.DeviceRef, error) {
	in, err := parseDevice(body)
	if err != nil {
		return nil, err
	}
	if count == 1 {
		var ref dojot.DeviceRef
		err := d.appendOne(ctx, func() (dojot.Event, error) {
			evs, refs, err := decideCreateDevices(d.st, d.env(ctx), tenant, in, 1, nil)
			if err != nil {
				return dojot.Event{}, err
			}
			ref = refs[0]
			return evs[0], nil
		})
		if err != nil {
			return nil, err
		}
		return []dojot.DeviceRef{ref}, nil
	}
	before, err := d.checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	evs, refs, err := decideCreateDevices(d.st, d.env(ctx), tenant, in, count, nil)
	if err != nil {
		return nil, err
	}
	// A generated id taken meanwhile (by another instance) is replaced by a
	// fresh one and only those devices are appended again.
	for round := 0; ; round++ {
		stored, conflicts, err := d.appendBatch(ctx, before, evs)
		if err != nil {
			return nil, err
		}
		if conflicts == 0 {
			return refs, nil
		}
		if round >= d.opts.Retries {
			return nil, fmt.Errorf("create %d devices: %d ids kept conflicting: %w", count, conflicts, dojot.ErrConflict)
		}
		if err := d.opts.Sync.Sync(ctx); err != nil {
			return nil, fmt.Errorf("sync after conflict: %w", err)
		}
		var retryIdx []int
		for i, ok := range stored {
			if !ok {
				retryIdx = append(retryIdx, i)
			}
		}
		if before, err = d.checkpoint(ctx); err != nil {
			return nil, err
		}
		again, newRefs, err := decideCreateDevices(d.st, d.env(ctx), tenant, in, count, retryIdx)
		if err != nil {
			return nil, err
		}
		for j, i := range retryIdx {
			refs[i] = newRefs[j]
		}
		evs = again
	}
}

// decideCreateDevices decides the device.created events of a POST /device.
// only, when set, lists the label indexes to decide (a retry after id
// conflicts); otherwise all count devices are.
func decideCreateDevices(st DeviceState, e decideEnv, tenant string, in deviceInput, count int, only []int) ([]dojot.Event, []dojot.DeviceRef, error) {
	if only == nil {
		only = make([]int, count)
		for i := range only {
			only[i] = i
		}
	}
	var givenID string
	if in.ID != nil && count == 1 {
		s, ok := in.ID.(string)
		if !ok || !deviceIDRe.MatchString(s) {
			return nil, nil, dmInvalid([]string{"Device ID must be 2-6 characters and must be hexadecimal (0-9,a-f,A-F)."})
		}
		givenID = s
	}
	templates, err := resolveTemplates(st, tenant, in.Templates)
	if err != nil {
		return nil, nil, err
	}
	overrides, err := resolveOverrides(templates, in.Overrides)
	if err != nil {
		return nil, nil, err
	}
	width := len(strconv.Itoa(count))
	taken := make(map[string]bool, len(only))
	evs := make([]dojot.Event, 0, len(only))
	refs := make([]dojot.DeviceRef, 0, len(only))
	for _, i := range only {
		id := givenID
		if id == "" {
			if id, err = newDeviceID(st, e.rand, tenant, taken); err != nil {
				return nil, nil, err
			}
		} else if _, exists := st.Device(tenant, id); exists {
			return nil, nil, dmInvalid(`duplicate key value violates unique constraint "devices_pkey"`)
		}
		taken[id] = true
		if err := checkConflicts(templates, id); err != nil {
			return nil, nil, err
		}
		label := in.Label
		if count != 1 {
			label = fmt.Sprintf("%s_%0*d", in.Label, width, i)
		}
		dv := dojot.Device{ID: id, Label: label, Created: e.now, Templates: templateIDs(templates), Overrides: overrides}
		ev, err := e.newEvent(st, dojot.EventDeviceCreated, tenant, dojot.KindDevice, id, dojot.DeviceCreated{Device: dv})
		if err != nil {
			return nil, nil, err
		}
		evs = append(evs, ev)
		refs = append(refs, dojot.DeviceRef{ID: id, Label: label})
	}
	return evs, refs, nil
}

// newDeviceID draws dojot's '%05x' % randrange(16**6) until it finds an id
// that is neither in the view nor already drawn; like dojot it gives up
// after 10 attempts.
func newDeviceID(st DeviceState, rnd io.Reader, tenant string, taken map[string]bool) (string, error) {
	var b [4]byte
	for range 10 {
		if _, err := io.ReadFull(rnd, b[:]); err != nil {
			return "", fmt.Errorf("device id: %w", err)
		}
		id := fmt.Sprintf("%05x", binary.BigEndian.Uint32(b[:])%(1<<24))
		if _, exists := st.Device(tenant, id); !exists && !taken[id] {
			return id, nil
		}
	}
	return "", &dojot.Error{Kind: dojot.ErrInternal, Message: "Failed to generate unique device_id"}
}

// resolveTemplates looks up a body's template ids in order (404 for an
// unknown one, as assert_template_exists).
func resolveTemplates(st DeviceState, tenant string, ids []any) ([]dojot.Template, error) {
	out := make([]dojot.Template, 0, len(ids))
	for _, raw := range ids {
		id, ok := pyInt(raw)
		if _, isBool := raw.(bool); isBool {
			ok = false
		}
		if f, isNum := raw.(json.Number); isNum && ok && f.String() != strconv.Itoa(id) {
			ok = false // 1.5 matches no integer id
		}
		tp, found := st.Template(tenant, id)
		if !ok || !found {
			return nil, dmNotFound("No such template: %s", pyText(raw))
		}
		out = append(out, tp)
	}
	return out, nil
}

func templateIDs(ts []dojot.Template) []int {
	ids := make([]int, len(ts))
	for i, t := range ts {
		ids[i] = t.ID
	}
	return ids
}

// checkConflicts is dojot's device_template trigger: a template cannot
// join a device that already has an attribute with one of its (label,
// type) pairs, its own attributes included (so a repeated template
// conflicts with itself, unless it has none: then the primary key says so).
func checkConflicts(ts []dojot.Template, deviceID string) error {
	for i, t := range ts {
		for _, prev := range ts[:i] {
			if prev.ID == t.ID && len(t.Attrs) == 0 {
				return dmInvalid(`duplicate key value violates unique constraint "device_template_pkey"`)
			}
			for _, a := range prev.Attrs {
				if slices.ContainsFunc(t.Attrs, func(b dojot.Attr) bool { return a.Label == b.Label && a.Type == b.Type }) {
					return dmInvalid(fmt.Sprintf("Template (%d) cannot be added to device (%s) as it has standing attribute conflicts", t.ID, deviceID))
				}
			}
		}
	}
	return nil
}

// resolveOverrides turns a body's "attrs" into overrides, with dojot's
// messages for unknown templates and attributes.
func resolveOverrides(ts []dojot.Template, in []overrideInput) ([]dojot.Override, error) {
	var out []dojot.Override
	set := func(id int, v string) {
		for i := range out {
			if out[i].AttrID == id {
				out[i].StaticValue = v
				return
			}
		}
		out = append(out, dojot.Override{AttrID: id, StaticValue: v})
	}
	for _, o := range in {
		tid, ok := pyInt(o.TemplateID)
		i := slices.IndexFunc(ts, func(t dojot.Template) bool { return t.ID == tid })
		if !ok || i < 0 {
			// dojot formats the template it did not find, which is None.
			return nil, dmInvalid("Unknown template None in attr list")
		}
		target, ok := pyInt(o.ID)
		if !ok {
			return nil, dmInvalid(fmt.Sprintf("Unknown attribute %s in override list", pyText(o.ID)))
		}
		j := slices.IndexFunc(ts[i].Attrs, func(a dojot.Attr) bool { return a.ID == target })
		if j < 0 {
			return nil, dmInvalid(fmt.Sprintf("Unknown attribute %d in override list", target))
		}
		attr := ts[i].Attrs[j]
		if o.StaticValue != nil {
			if err := checkLen(*o.StaticValue, 128); err != nil {
				return nil, err
			}
			set(attr.ID, *o.StaticValue)
		}
		found := true
		for _, m := range o.Metadata {
			mid, ok := pyInt(m.ID)
			if !ok {
				return nil, dmInvalid(fmt.Sprintf("Unknown metadata attribute %s in override list", pyText(m.ID)))
			}
			k := slices.IndexFunc(attr.Metadata, func(c dojot.Attr) bool { return c.ID == mid })
			found = k >= 0
			if found && m.StaticValue != nil {
				if err := checkLen(*m.StaticValue, 128); err != nil {
					return nil, err
				}
				set(mid, *m.StaticValue)
			}
		}
		// dojot reuses one flag for the attribute and its metadata, so only
		// the last metadata entry decides.
		if !found {
			return nil, dmInvalid(fmt.Sprintf("Unknown attribute %d in override list", target))
		}
	}
	return out, nil
}

// --- device update ---

// UpdateDevice replaces a device's label, templates and overrides (PUT
// /device/:id); its creation time is kept.
func (d *Devices) UpdateDevice(ctx context.Context, tenant, id string, body []byte) error {
	in, err := parseDevice(body)
	if err != nil {
		return err
	}
	return d.appendOne(ctx, func() (dojot.Event, error) {
		return decideUpdateDevice(d.st, d.env(ctx), tenant, id, in)
	})
}

func decideUpdateDevice(st DeviceState, e decideEnv, tenant, id string, in deviceInput) (dojot.Event, error) {
	old, ok := st.Device(tenant, id)
	if !ok {
		return dojot.Event{}, dmNotFound("No such device: %s", id)
	}
	templates, err := resolveTemplates(st, tenant, in.Templates)
	if err != nil {
		return dojot.Event{}, err
	}
	overrides, err := resolveOverrides(templates, in.Overrides)
	if err != nil {
		return dojot.Event{}, err
	}
	if err := checkConflicts(templates, id); err != nil {
		return dojot.Event{}, err
	}
	now := e.now
	dv := dojot.Device{ID: id, Label: in.Label, Created: old.Created, Updated: &now, Templates: templateIDs(templates), Overrides: overrides}
	// dojot deletes and re-inserts the row: its pre-shared keys go too.
	return e.newEvent(st, dojot.EventDeviceUpdated, tenant, dojot.KindDevice, id, dojot.DeviceUpdated{Device: dv})
}

// --- device removal ---

// DeleteDevice removes a device and returns it as it was.
func (d *Devices) DeleteDevice(ctx context.Context, tenant, id string) (json.RawMessage, error) {
	var removed json.RawMessage
	err := d.appendOne(ctx, func() (dojot.Event, error) {
		ev, r, err := decideDeleteDevice(d.st, d.env(ctx), tenant, id, "")
		removed = r
		return ev, err
	})
	return removed, err
}

func decideDeleteDevice(st DeviceState, e decideEnv, tenant, id, cause string) (dojot.Event, json.RawMessage, error) {
	rendered, ok := st.DeviceJSON(tenant, id)
	if !ok {
		return dojot.Event{}, nil, dmNotFound("No such device: %s", id)
	}
	ev, err := e.newEvent(st, dojot.EventDeviceDeleted, tenant, dojot.KindDevice, id,
		dojot.DeviceDeleted{ID: id, Cause: cause, Rendered: rendered})
	return ev, rendered, err
}

// DeleteAllDevices removes every device of the tenant (DELETE /device) and
// returns them as they were, in id order.
func (d *Devices) DeleteAllDevices(ctx context.Context, tenant string) ([]json.RawMessage, error) {
	return d.deleteAll(ctx, tenant, dojot.CauseDeleteAll)
}

// deleteAll appends a device.deleted per device, again for the ones that
// changed meanwhile, until none is left.
func (d *Devices) deleteAll(ctx context.Context, tenant, cause string) ([]json.RawMessage, error) {
	var removed []json.RawMessage
	for round := 0; ; round++ {
		before, err := d.checkpoint(ctx)
		if err != nil {
			return removed, err
		}
		e := d.env(ctx)
		ids := d.st.DeviceIDs(tenant)
		evs := make([]dojot.Event, 0, len(ids))
		rendered := make([]json.RawMessage, 0, len(ids))
		for _, id := range ids {
			ev, r, err := decideDeleteDevice(d.st, e, tenant, id, cause)
			if err != nil {
				continue // gone meanwhile
			}
			evs = append(evs, ev)
			rendered = append(rendered, r)
		}
		stored, conflicts, err := d.appendBatch(ctx, before, evs)
		for i, ok := range stored {
			if ok {
				removed = append(removed, rendered[i])
			}
		}
		if err != nil || conflicts == 0 {
			slices.SortFunc(removed, func(a, b json.RawMessage) int { return compareIDs(a, b) })
			return removed, err
		}
		if round >= d.opts.Retries {
			return removed, fmt.Errorf("delete all devices: %w", dojot.ErrConflict)
		}
		if err := d.opts.Sync.Sync(ctx); err != nil {
			return removed, fmt.Errorf("sync after conflict: %w", err)
		}
	}
}

// compareIDs orders rendered devices by id (only needed when a retry
// appended some later).
func compareIDs(a, b json.RawMessage) int {
	var x, y struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(a, &x)
	_ = json.Unmarshal(b, &y)
	switch {
	case x.ID < y.ID:
		return -1
	case x.ID > y.ID:
		return 1
	}
	return 0
}

// --- templates of a device ---

// AddTemplate associates template tid with a device (POST
// /device/:id/template/:tid); dojot sends no event for it.
func (d *Devices) AddTemplate(ctx context.Context, tenant, deviceID, tid string) error {
	return d.appendOne(ctx, func() (dojot.Event, error) {
		return decideAddTemplate(d.st, d.env(ctx), tenant, deviceID, tid)
	})
}

func decideAddTemplate(st DeviceState, e decideEnv, tenant, deviceID, tidText string) (dojot.Event, error) {
	dv, ok := st.Device(tenant, deviceID)
	if !ok {
		return dojot.Event{}, dmNotFound("No such device: %s", deviceID)
	}
	tid, err := strconv.Atoi(tidText)
	tp, found := st.Template(tenant, tid)
	if err != nil || !found {
		return dojot.Event{}, dmNotFound("No such template: %s", tidText)
	}
	ts := make([]dojot.Template, 0, len(dv.Templates)+1)
	for _, id := range dv.Templates {
		if t, ok := st.Template(tenant, id); ok {
			ts = append(ts, t)
		}
	}
	if err := checkConflicts(append(ts, tp), deviceID); err != nil {
		return dojot.Event{}, err
	}
	dv.Templates = append(slices.Clone(dv.Templates), tid)
	return e.newEvent(st, dojot.EventDeviceUpdated, tenant, dojot.KindDevice, deviceID,
		dojot.DeviceUpdated{Device: dv, Cause: dojot.CauseTemplateAdded})
}

// RemoveTemplate dissociates template tid from a device; the device's
// overrides of that template's attributes go with it.
func (d *Devices) RemoveTemplate(ctx context.Context, tenant, deviceID, tid string) error {
	return d.appendOne(ctx, func() (dojot.Event, error) {
		return decideRemoveTemplate(d.st, d.env(ctx), tenant, deviceID, tid)
	})
}

func decideRemoveTemplate(st DeviceState, e decideEnv, tenant, deviceID, tidText string) (dojot.Event, error) {
	dv, ok := st.Device(tenant, deviceID)
	if !ok {
		return dojot.Event{}, dmNotFound("No such device: %s", deviceID)
	}
	tid, err := strconv.Atoi(tidText)
	if err != nil || !slices.Contains(dv.Templates, tid) {
		return dojot.Event{}, dmNotFound("Device %s is not associated with template %s", deviceID, tidText)
	}
	dv.Templates = slices.DeleteFunc(slices.Clone(dv.Templates), func(id int) bool { return id == tid })
	if tp, ok := st.Template(tenant, tid); ok && len(dv.Overrides) > 0 {
		ids := map[int]bool{}
		for _, a := range tp.Attrs {
			ids[a.ID] = true
			for _, m := range a.Metadata {
				ids[m.ID] = true
			}
		}
		dv.Overrides = slices.DeleteFunc(slices.Clone(dv.Overrides), func(o dojot.Override) bool { return ids[o.AttrID] })
	}
	// dojot keeps the device's pre-shared keys of that template's
	// attributes: they show again if the template comes back.
	return e.newEvent(st, dojot.EventDeviceUpdated, tenant, dojot.KindDevice, deviceID,
		dojot.DeviceUpdated{Device: dv, Cause: dojot.CauseTemplateRemoved})
}
