package memory

import (
	"slices"

	"github.com/dojot-es/dojot"
)

// cronState is the cron jobs part of the view (dojot's cron service): per
// tenant, its jobs by id in the order dojot lists them (creation, a PUT
// moving the job to the end as dojot's delete-then-create did), and each
// job subject's last event for the commands' expectations.
type cronState struct {
	tenants map[string]*cronTenant
	seq     uint64 // the last cron job event of any tenant: the scheduler reloads when it moves
}

type cronTenant struct {
	jobs  map[string]*dojot.CronJob
	order []string
	aggs  map[string]agg // per job subject, deleted jobs included
}

func (c *cronState) init() { c.tenants = make(map[string]*cronTenant) }

func (c *cronState) tenant(name string) *cronTenant {
	t := c.tenants[name]
	if t == nil {
		t = &cronTenant{jobs: make(map[string]*dojot.CronJob), aggs: make(map[string]agg)}
		c.tenants[name] = t
	}
	return t
}

func (c *cronState) apply(ev dojot.Event) error {
	t := c.tenant(ev.Tenant)
	a := t.aggs[ev.AggregateID]
	a.seq, a.version = ev.Seq, a.version+1
	t.aggs[ev.AggregateID] = a
	c.seq = max(c.seq, ev.Seq)
	switch ev.Type {
	case dojot.EventCronJobCreated, dojot.EventCronJobUpdated:
		var j dojot.CronJob
		if err := ev.Decode(&j); err != nil {
			return err
		}
		t.drop(j.ID)
		t.order = append(t.order, j.ID)
		t.jobs[j.ID] = &j
	case dojot.EventCronJobDeleted:
		var p dojot.CronJobDeleted
		if err := ev.Decode(&p); err != nil {
			return err
		}
		t.drop(p.ID)
	}
	return nil
}

func (t *cronTenant) drop(id string) {
	if _, ok := t.jobs[id]; !ok {
		return
	}
	delete(t.jobs, id)
	t.order = slices.DeleteFunc(t.order, func(s string) bool { return s == id })
}

// CronJob returns a tenant's cron job.
func (v *View) CronJob(tenant, id string) (dojot.CronJob, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if t := v.cron.tenants[tenant]; t != nil {
		if j := t.jobs[id]; j != nil {
			return *j, true
		}
	}
	return dojot.CronJob{}, false
}

// CronJobs returns a tenant's cron jobs in dojot's order.
func (v *View) CronJobs(tenant string) []dojot.CronJob {
	v.mu.RLock()
	defer v.mu.RUnlock()
	t := v.cron.tenants[tenant]
	if t == nil {
		return []dojot.CronJob{}
	}
	out := make([]dojot.CronJob, 0, len(t.order))
	for _, id := range t.order {
		out = append(out, *t.jobs[id])
	}
	return out
}

// EachCronJob calls fn with every tenant's jobs (under the view's read
// lock: fn must not call the view) and returns the sequence they stand at:
// what the scheduler runs.
func (v *View) EachCronJob(fn func(tenant string, job dojot.CronJob)) uint64 {
	v.mu.RLock()
	defer v.mu.RUnlock()
	for name, t := range v.cron.tenants {
		for _, id := range t.order {
			fn(name, *t.jobs[id])
		}
	}
	return v.cron.seq
}

// CronSeq is the sequence of the last cron job event applied.
func (v *View) CronSeq() uint64 {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.cron.seq
}

func (v *View) cronAggregate(tenant, id string) (seq, version uint64) {
	if t := v.cron.tenants[tenant]; t != nil {
		a := t.aggs[id]
		return a.seq, a.version
	}
	return 0, 0
}
