package history

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/dojot-es/dojot"
)

// notifications is the memory history's notifications: each tenant's
// persisted notifications as BSON documents, sorted by ts then sequence.
// They are kept whole (not read back from the stream as readings are):
// a query filters on their members, and notifications are few next to
// readings. Bounded by the NOTIFICATIONS stream's retention (Trim).
type notifications struct {
	mu      sync.RWMutex
	tenants map[string][]Notification
	cp      uint64
}

// Notifications is the view of the NOTIFICATIONS stream
// (dojot.EventNotification events).
func (m *Memory) Notifications() *MemoryNotifications { return &MemoryNotifications{&m.notes} }

// MemoryNotifications applies notifications to a Memory (projections.View).
type MemoryNotifications struct{ n *notifications }

// Apply stores one notification when dojot's persister would; at or
// below the checkpoint it is a no-op.
func (v *MemoryNotifications) Apply(_ context.Context, ev dojot.Event) error {
	var doc Notification
	var persist bool
	var err error
	if ev.Type != dojot.EventNotification {
		err = fmt.Errorf("%w: %s", ErrNoNotification, ev.Type)
	} else {
		doc, persist, err = NotificationDoc(ev)
	}
	n := v.n
	n.mu.Lock()
	defer n.mu.Unlock()
	if ev.Seq <= n.cp {
		return nil
	}
	n.cp = ev.Seq
	if err != nil || !persist {
		return err
	}
	if n.tenants == nil {
		n.tenants = map[string][]Notification{}
	}
	s := n.tenants[ev.Tenant]
	i := len(s) // mostly an append: notifications arrive in time order
	for i > 0 && before(doc, s[i-1]) {
		i--
	}
	n.tenants[ev.Tenant] = slices.Insert(s, i, doc)
	return nil
}

// before orders notifications by ts then sequence.
func before(a, b Notification) bool {
	return a.TS.Before(b.TS) || a.TS.Equal(b.TS) && a.Seq < b.Seq
}

// Checkpoint is the sequence of the last notification applied.
func (v *MemoryNotifications) Checkpoint(context.Context) (uint64, error) {
	v.n.mu.RLock()
	defer v.n.mu.RUnlock()
	return v.n.cp, nil
}

// FindNotifications returns the tenant's notifications q selects, newest
// first (ts, then stream order).
func (m *Memory) FindNotifications(_ context.Context, tenant string, q NotificationQuery) ([]Notification, error) {
	n := &m.notes
	n.mu.RLock()
	defer n.mu.RUnlock()
	s := n.tenants[tenant]
	var out []Notification
	for i := len(s) - 1; i >= 0; i-- {
		if q.Limit > 0 && len(out) >= q.Limit {
			break
		}
		d := s[i]
		if !q.To.IsZero() && d.TS.After(q.To) {
			continue
		}
		if !q.From.IsZero() && d.TS.Before(q.From) {
			break
		}
		if q.Matches(d.Doc) {
			out = append(out, d)
		}
	}
	return out, nil
}

// trim drops the notifications before first (the NOTIFICATIONS stream's
// first sequence), as the stream dropped them; it returns how many.
func (n *notifications) trim(first uint64) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	dropped := 0
	for t, s := range n.tenants {
		keep := slices.DeleteFunc(s, func(d Notification) bool { return d.Seq < first })
		dropped += len(s) - len(keep)
		if len(keep) == 0 {
			delete(n.tenants, t)
		} else {
			n.tenants[t] = slices.Clip(keep)
		}
	}
	return dropped
}
