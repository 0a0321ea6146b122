// Package memory is the in-memory view of tenants, users, groups,
// permissions, templates and devices: the embedded default's read model and
// the state commands decide against. It is rebuilt by replaying the EVENTS
// stream at start and follows it afterwards.
package memory

import (
	"context"
	"fmt"
	"sync"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/projections"
)

var (
	_ projections.View         = (*View)(nil)
	_ projections.BatchApplier = (*View)(nil)
)

// View is safe for concurrent use: one writer (the runner) and many readers.
type View struct {
	mu    sync.RWMutex
	seq   uint64
	dm    deviceManager // templates and devices (devices.go)
	auth  authState     // tenants, users, groups, permissions (auth.go)
	certs certState     // certificates, trusted CAs, the CA (certs.go)
	flows flowState     // flows (flows.go)
	cron  cronState     // cron jobs (cronjobs.go)
}

// New returns an empty view.
func New() *View {
	v := &View{}
	v.dm.init()
	v.auth.init()
	v.certs.init()
	v.flows.init()
	v.cron.init()
	return v
}

// Apply applies ev once: events at or below the checkpoint are skipped, so a
// redelivery after a restart changes nothing.
func (v *View) Apply(_ context.Context, ev dojot.Event) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.apply(ev)
}

// ApplyBatch applies evs as Apply would each, under one lock.
func (v *View) ApplyBatch(_ context.Context, evs []dojot.Event) []error {
	var errs []error
	v.mu.Lock()
	defer v.mu.Unlock()
	for i, ev := range evs {
		if err := v.apply(ev); err != nil {
			if errs == nil {
				errs = make([]error, len(evs))
			}
			errs[i] = err
		}
	}
	return errs
}

func (v *View) apply(ev dojot.Event) error {
	if ev.Seq != 0 && ev.Seq <= v.seq {
		return nil
	}
	var err error
	switch ev.Kind {
	case dojot.KindTemplate, dojot.KindDevice:
		err = v.dm.apply(ev)
		if err == nil && ev.Type == dojot.EventDeviceDeleted {
			v.certs.deviceDeleted(ev)
		}
	case dojot.KindCertificate, dojot.KindTrustedCA, dojot.KindCA:
		err = v.certs.apply(ev)
	case dojot.KindTenant, dojot.KindUser, dojot.KindGroup, dojot.KindPermission:
		err = v.auth.apply(ev)
	case dojot.KindFlow:
		err = v.flows.apply(ev)
	case dojot.KindCronJob:
		err = v.cron.apply(ev)
	}
	if ev.Seq > v.seq {
		v.seq = ev.Seq
	}
	if err != nil {
		return fmt.Errorf("apply %s seq %d: %w", ev.Type, ev.Seq, err)
	}
	return nil
}

// Checkpoint is the sequence of the last applied event.
func (v *View) Checkpoint(context.Context) (uint64, error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.seq, nil
}
