package commands

import (
	"context"
	"fmt"
	"slices"

	"github.com/dojot-es/dojot"
)

// errImport is dojot's answer to any import it cannot read.
var errImport = dmInvalid("Failed to import data")

// importInput is a POST /import body, checked whole before anything is
// appended, so a bad import leaves the tenant as it was.
type importInput struct {
	templates []dojot.Template // ids as imported; times set when decided
	devices   []importDevice
}

type importDevice struct {
	id, label string
	templates []dojot.Template // the imported ones it names (unknown ids are dropped, as dojot does)
	overrides []dojot.Override
}

// parseImport reads {"templates":[..],"devices":[..]} as dojot's import
// does: ids are kept (templates, attributes, metadata and devices), a
// device's unknown template ids are ignored, anything unreadable is "Failed
// to import data", a repeated id or (label, type) pair violates the
// attribute constraints.
func parseImport(body []byte) (importInput, error) {
	m, err := decodeObject(body)
	if err != nil {
		return importInput{}, errImport
	}
	rawT, okT := m["templates"].([]any)
	rawD, okD := m["devices"].([]any)
	if !okT || !okD {
		return importInput{}, errImport
	}
	var in importInput
	attrIDs := map[int]bool{}
	byID := map[int]dojot.Template{}
	for _, item := range rawT {
		tm, ok := item.(map[string]any)
		if !ok {
			return in, errImport
		}
		errs := fieldErrs{}
		id, okID := errs.intField(tm, "id", true)
		tin, err := templateFromMap(tm)
		if err != nil || !okID {
			return in, errImport
		}
		if _, ok := tm["attrs"].([]any); !ok {
			return in, errImport
		}
		if _, dup := byID[id]; dup {
			return in, errAttrConstraints
		}
		tp := dojot.Template{ID: id, Label: tin.Label, Attrs: []dojot.Attr{}}
		for _, a := range tin.Attrs {
			if !a.HasID {
				return in, errImport
			}
			if slices.ContainsFunc(tp.Attrs, func(b dojot.Attr) bool { return a.Label == b.Label && a.Type == b.Type }) || attrIDs[a.ID] {
				return in, errAttrConstraints
			}
			attrIDs[a.ID] = true
			na := dojot.Attr{ID: a.ID, Label: a.Label, Type: a.Type, ValueType: a.ValueType, StaticValue: a.StaticValue}
			for _, c := range a.Metadata {
				if !c.HasID {
					return in, errImport
				}
				if attrIDs[c.ID] {
					return in, errAttrConstraints
				}
				attrIDs[c.ID] = true
				na.Metadata = append(na.Metadata, dojot.Attr{ID: c.ID, Label: c.Label, Type: c.Type, ValueType: c.ValueType, StaticValue: c.StaticValue})
			}
			tp.Attrs = append(tp.Attrs, na)
		}
		byID[id] = tp
		in.templates = append(in.templates, tp)
	}
	seen := map[string]bool{}
	for _, item := range rawD {
		dm, ok := item.(map[string]any)
		if !ok {
			return in, errImport
		}
		id, ok := dm["id"].(string)
		if !ok || len(id) > 8 || !dojot.ValidToken(id) {
			return in, errImport
		}
		if seen[id] {
			return in, errAttrConstraints
		}
		seen[id] = true
		din, err := deviceFromMap(dm)
		if err != nil {
			return in, errImport
		}
		dv := importDevice{id: id, label: din.Label}
		for _, raw := range din.Templates {
			tid, ok := pyInt(raw)
			if tp, known := byID[tid]; ok && known && !slices.ContainsFunc(dv.templates, func(t dojot.Template) bool { return t.ID == tid }) {
				dv.templates = append(dv.templates, tp)
			}
		}
		if dv.overrides, err = resolveOverrides(dv.templates, din.Overrides); err != nil {
			return in, errImport
		}
		if checkConflicts(dv.templates, id) != nil {
			return in, errAttrConstraints
		}
		in.devices = append(in.devices, dv)
	}
	return in, nil
}

// Import replaces the tenant's templates and devices (POST /import). It
// appends, in order: a device.deleted per current device (CauseImport:
// dojot sends "remove" for them), one template.imported, and a
// device.created per imported device (CauseImport). Each step waits for the
// view; a conflict with a concurrent write starts over, which is safe since
// the import's outcome does not depend on what it replaces.
func (d *Devices) Import(ctx context.Context, tenant string, body []byte) error {
	in, err := parseImport(body)
	if err != nil {
		return err
	}
	for round := 0; ; round++ {
		retryable, err := d.importOnce(ctx, tenant, in)
		if err == nil || !retryable {
			return err
		}
		if round >= d.opts.Retries {
			return fmt.Errorf("import: %w", err)
		}
		if err := d.opts.Sync.Sync(ctx); err != nil {
			return fmt.Errorf("sync after conflict: %w", err)
		}
	}
}

func (d *Devices) importOnce(ctx context.Context, tenant string, in importInput) (retryable bool, err error) {
	if _, err := d.deleteAll(ctx, tenant, dojot.CauseImport); err != nil {
		return isConflict(err) && !isFinal(err), err
	}
	before, err := d.checkpoint(ctx)
	if err != nil {
		return false, err
	}
	ev, err := decideImportTemplates(d.st, d.env(ctx), tenant, in)
	if err != nil {
		return false, err
	}
	seq, err := d.appendFresh(ctx, before, ev)
	if err != nil {
		return isConflict(err), err
	}
	if err := d.opts.Sync.WaitFor(ctx, seq); err != nil {
		return false, err
	}
	if before, err = d.checkpoint(ctx); err != nil {
		return false, err
	}
	evs, err := decideImportDevices(d.st, d.env(ctx), tenant, in)
	if err != nil {
		return isConflict(err), err
	}
	_, conflicts, err := d.appendBatch(ctx, before, evs)
	if err != nil {
		return false, err
	}
	if conflicts > 0 {
		return true, fmt.Errorf("import devices: %d conflicts: %w", conflicts, dojot.ErrConflict)
	}
	return false, nil
}

func decideImportTemplates(st DeviceState, e decideEnv, tenant string, in importInput) (dojot.Event, error) {
	p := dojot.TemplatesImported{Removed: st.TemplateIDs(tenant), Templates: make([]dojot.Template, len(in.templates))}
	for i, tp := range in.templates {
		tp.Created = e.now
		tp.Attrs = slices.Clone(tp.Attrs)
		for j := range tp.Attrs {
			tp.Attrs[j].Created = e.now
			tp.Attrs[j].Metadata = slices.Clone(tp.Attrs[j].Metadata)
			for k := range tp.Attrs[j].Metadata {
				tp.Attrs[j].Metadata[k].Created = e.now
			}
		}
		p.Templates[i] = tp
	}
	return e.templateEvent(st, st.TemplateCounters(tenant), dojot.EventTemplatesImported, tenant, dojot.TemplatesImport, p)
}

func decideImportDevices(st DeviceState, e decideEnv, tenant string, in importInput) ([]dojot.Event, error) {
	evs := make([]dojot.Event, 0, len(in.devices))
	for _, dv := range in.devices {
		if _, exists := st.Device(tenant, dv.id); exists {
			return nil, fmt.Errorf("import device %s: still present: %w", dv.id, dojot.ErrConflict)
		}
		ids := make([]int, len(dv.templates))
		for i, t := range dv.templates {
			ids[i] = t.ID
		}
		ev, err := e.newEvent(st, dojot.EventDeviceCreated, tenant, dojot.KindDevice, dv.id, dojot.DeviceCreated{
			Device: dojot.Device{ID: dv.id, Label: dv.label, Created: e.now, Templates: ids, Overrides: dv.overrides},
			Cause:  dojot.CauseImport,
		})
		if err != nil {
			return nil, err
		}
		evs = append(evs, ev)
	}
	return evs, nil
}
