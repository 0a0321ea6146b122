package memory

import (
	"slices"

	"github.com/dojot-es/dojot"
)

// flowState is the flows part of the view (dojot's flowbroker): per
// tenant, its flows by id in creation order, and where each tenant's flow
// events stand in the stream.
type flowState struct {
	tenants map[string]*flowTenant
}

type flowTenant struct {
	flows    map[string]*dojot.Flow
	order    []string          // ids in creation order, as dojot's storage lists them
	versions map[string]uint64 // events per flow id, deleted ones included
	seq      uint64            // the tenant's last flow event
}

func (f *flowState) init() { f.tenants = make(map[string]*flowTenant) }

func (f *flowState) tenant(name string) *flowTenant {
	t := f.tenants[name]
	if t == nil {
		t = &flowTenant{flows: make(map[string]*dojot.Flow), versions: make(map[string]uint64)}
		f.tenants[name] = t
	}
	return t
}

func (f *flowState) apply(ev dojot.Event) error {
	t := f.tenant(ev.Tenant)
	t.seq = ev.Seq
	t.versions[ev.AggregateID]++
	switch ev.Type {
	case dojot.EventFlowCreated, dojot.EventFlowUpdated:
		var fl dojot.Flow
		if err := ev.Decode(&fl); err != nil {
			return err
		}
		if _, ok := t.flows[fl.ID]; !ok {
			t.order = append(t.order, fl.ID)
		}
		t.flows[fl.ID] = &fl
	case dojot.EventFlowDeleted:
		var p dojot.FlowDeleted
		if err := ev.Decode(&p); err != nil {
			return err
		}
		t.drop(p.ID)
	case dojot.EventFlowsAllDeleted:
		var p dojot.FlowsAllDeleted
		if err := ev.Decode(&p); err != nil {
			return err
		}
		for _, id := range p.IDs {
			t.drop(id)
		}
	}
	return nil
}

func (t *flowTenant) drop(id string) {
	if _, ok := t.flows[id]; !ok {
		return
	}
	delete(t.flows, id)
	t.order = slices.DeleteFunc(t.order, func(s string) bool { return s == id })
}

// Flow returns a tenant's flow.
func (v *View) Flow(tenant, id string) (dojot.Flow, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if t := v.flows.tenants[tenant]; t != nil {
		if fl := t.flows[id]; fl != nil {
			return *fl, true
		}
	}
	return dojot.Flow{}, false
}

// Flows returns a tenant's flows in creation order.
func (v *View) Flows(tenant string) []dojot.Flow {
	v.mu.RLock()
	defer v.mu.RUnlock()
	t := v.flows.tenants[tenant]
	if t == nil {
		return []dojot.Flow{}
	}
	out := make([]dojot.Flow, 0, len(t.order))
	for _, id := range t.order {
		out = append(out, *t.flows[id])
	}
	return out
}

// FlowIDs returns a tenant's flow ids in creation order.
func (v *View) FlowIDs(tenant string) []string {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if t := v.flows.tenants[tenant]; t != nil {
		return slices.Clone(t.order)
	}
	return nil
}

// FlowsSeq is the stream sequence of the tenant's last flow event.
func (v *View) FlowsSeq(tenant string) uint64 {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if t := v.flows.tenants[tenant]; t != nil {
		return t.seq
	}
	return 0
}

// FlowVersion is the number of events of a flow id (deleted ones too).
func (v *View) FlowVersion(tenant, id string) uint64 {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if t := v.flows.tenants[tenant]; t != nil {
		return t.versions[id]
	}
	return 0
}
