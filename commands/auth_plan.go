package commands

import (
	"github.com/dojot-es/dojot"
)

// authPlan collects the events of one auth decision. Each event states the
// expectation its append must meet, computed from the state as if the whole
// plan were appended at once; authAppend chains the expectations of events
// that follow one another in the plan.
type authPlan struct {
	s    AuthState
	meta AuthMeta
	evs  []dojot.Event
	ids  map[string]int64 // ids allocated by this plan, per kind
	err  error
}

func newAuthPlan(s AuthState, m AuthMeta) *authPlan {
	return &authPlan{s: s, meta: m, ids: map[string]int64{}}
}

// nextID allocates the next id of a management kind.
func (p *authPlan) nextID(kind string) int64 {
	if p.ids[kind] == 0 {
		p.ids[kind] = p.s.MaxID(kind)
	}
	p.ids[kind]++
	return p.ids[kind]
}

// onSubject adds an event that expects its own subject to be as the state
// knows it.
func (p *authPlan) onSubject(typ, tenant, kind, id string, data any) {
	p.add(typ, tenant, kind, id, data, false)
}

// onKind adds an event that expects no other event of its (management)
// kind to have been stored since the state: it allocates ids and claims
// names and emails.
func (p *authPlan) onKind(typ, kind, id string, data any) {
	p.add(typ, dojot.ManagementTenant, kind, id, data, true)
}

func (p *authPlan) add(typ, tenant, kind, id string, data any, wholeKind bool) {
	if p.err != nil {
		return
	}
	ev, err := dojot.NewEvent(typ, tenant, kind, id, p.meta.At, data)
	if err != nil {
		p.err = err
		return
	}
	ev.Actor = p.meta.Actor
	seq, version := p.s.SubjectPos(ev.Subject())
	for _, prev := range p.evs {
		if prev.Subject() == ev.Subject() {
			version++
		}
	}
	ev.Version = version + 1
	if wholeKind {
		ev.ExpectSubject = dojot.Subject(dojot.ManagementTenant, kind, "*")
		ev.Expect = p.s.KindSeq(kind)
	} else {
		ev.Expect = seq
	}
	p.evs = append(p.evs, ev)
}

func (p *authPlan) done() ([]dojot.Event, error) {
	if p.err != nil {
		return nil, p.err
	}
	return p.evs, nil
}

// tenantCreated adds tenant.created for t unless it is active.
func (p *authPlan) tenantCreated(t string) {
	if !p.s.TenantActive(t) {
		p.onSubject(dojot.EventTenantCreated, t, dojot.KindTenant, t, dojot.TenantCreated{Tenant: t})
	}
}

// tenantDeleted adds tenant.deleted for t if it is active and the user
// leaving it is its last.
func (p *authPlan) tenantDeleted(t string) {
	if p.s.TenantActive(t) && p.s.ServiceUsers(t) <= 1 {
		p.onSubject(dojot.EventTenantDeleted, t, dojot.KindTenant, t, dojot.TenantDeleted{Tenant: t})
	}
}

// reconcileTenant emits the lifecycle event that makes tenant t active iff
// it has users.
type reconcileTenant struct {
	AuthMeta
	Tenant string
}

func (c reconcileTenant) decideAuth(s AuthState) ([]dojot.Event, error) {
	p := newAuthPlan(s, c.AuthMeta)
	users, active := s.ServiceUsers(c.Tenant), s.TenantActive(c.Tenant)
	switch {
	case users > 0 && !active:
		p.onSubject(dojot.EventTenantCreated, c.Tenant, dojot.KindTenant, c.Tenant, dojot.TenantCreated{Tenant: c.Tenant})
	case users == 0 && active:
		p.onSubject(dojot.EventTenantDeleted, c.Tenant, dojot.KindTenant, c.Tenant, dojot.TenantDeleted{Tenant: c.Tenant})
	}
	return p.done()
}
