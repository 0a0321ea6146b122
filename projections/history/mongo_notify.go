package history

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/dojot-es/dojot"
)

// notificationsColl is the item of dojot's <tenant>_notifications.
const notificationsColl = "notifications"

// Notifications is the view of the NOTIFICATIONS stream: each notification
// dojot's persister would keep is a document of <tenant>_notifications,
//
//	{_id:<stream sequence>, msgID, message, metaAttrsFilter, subject, ts:<date, ms>}
//
// the message's members in its order (timestamp taken out, ts added), so
// dojot's own History reads them; _id, an int64, makes a notification
// applied twice stored once and orders those of the same ts. The
// collection has dojot's indexes (ts; attr and ts; the TTL on ts) and one
// on ts and _id for the order here.
func (m *Mongo) Notifications() *MongoView { return m.view("notifications") }

// notificationDocs is what the notifications view stores of ev: its
// document, or nothing when dojot's persister discards it.
func notificationDocs(ev dojot.Event) ([]any, bool, error) {
	if ev.Type != dojot.EventNotification {
		return nil, false, fmt.Errorf("%w: %s", ErrNoNotification, ev.Type)
	}
	if !dojot.ValidTenant(ev.Tenant) {
		return nil, false, fmt.Errorf("%w: tenant %q", ErrNoNotification, ev.Tenant)
	}
	n, persist, err := NotificationDoc(ev)
	if err != nil || !persist {
		return nil, false, err
	}
	doc := bson.D{{Key: "_id", Value: int64(ev.Seq)}}
	elems, err := n.Doc.Elements()
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrNoNotification, err)
	}
	for _, e := range elems {
		doc = append(doc, bson.E{Key: e.Key(), Value: e.Value()})
	}
	return []any{doc}, true, nil
}

// FindNotifications returns the tenant's notifications q selects, newest
// first (ts, then stream order), as dojot's History queries them.
func (m *Mongo) FindNotifications(ctx context.Context, tenant string, q NotificationQuery) ([]Notification, error) {
	filter := bson.D{}
	for _, c := range q.Match {
		filter = append(filter, bson.E{Key: c.Field, Value: c.value()})
	}
	if ts := tsRange(q.From, q.To); len(ts) > 0 {
		filter = append(filter, bson.E{Key: "ts", Value: ts})
	}
	opts := options.Find().SetSort(bson.D{{Key: "ts", Value: -1}, {Key: "_id", Value: -1}})
	if q.Limit > 0 {
		opts.SetLimit(int64(q.Limit))
	}
	name := collection(tenant, notificationsColl)
	cur, err := m.db.Collection(name).Find(ctx, filter, opts)
	if err != nil {
		return nil, wrap("find", err)
	}
	defer cur.Close(ctx)
	var out []Notification
	for cur.Next(ctx) {
		var n Notification
		doc := bson.D{}
		for _, e := range mustElements(cur.Current) {
			switch k := e.Key(); {
			case k == "_id":
				if e.Value().Type == bson.TypeInt64 {
					n.Seq = uint64(e.Value().Int64())
				}
			case k == "@timestamp", k == "@version": // dojot's History leaves them out
			default:
				if k == "ts" {
					n.TS, _ = e.Value().TimeOK()
					n.TS = n.TS.UTC()
				}
				doc = append(doc, bson.E{Key: k, Value: e.Value()})
			}
		}
		if n.Doc, err = bson.Marshal(doc); err != nil {
			return nil, fmt.Errorf("history: notification in %s: %w", name, err)
		}
		out = append(out, n)
	}
	if err := cur.Err(); err != nil {
		return nil, wrap("find", err)
	}
	return out, nil
}

// mustElements are a document's elements as the server sent it (a
// malformed one has none).
func mustElements(d bson.Raw) []bson.RawElement {
	elems, _ := d.Elements()
	return elems
}

// tsRange is the ts condition of From and To (inclusive), to the
// millisecond Mongo stores: from the first millisecond at or after From.
func tsRange(from, to time.Time) bson.D {
	ts := bson.D{}
	if !from.IsZero() {
		f := from.Truncate(time.Millisecond)
		if f.Before(from) {
			f = f.Add(time.Millisecond)
		}
		ts = append(ts, bson.E{Key: "$gte", Value: bson.NewDateTimeFromTime(f)})
	}
	if !to.IsZero() {
		ts = append(ts, bson.E{Key: "$lte", Value: bson.NewDateTimeFromTime(to.Truncate(time.Millisecond))})
	}
	return ts
}

// ValidField says whether a query field is a path MongoDB takes as one:
// no $ operator, no empty segment, no NUL.
func ValidField(f string) bool {
	if f == "" || strings.ContainsRune(f, 0) {
		return false
	}
	for p := range strings.SplitSeq(f, ".") {
		if p == "" || strings.HasPrefix(p, "$") {
			return false
		}
	}
	return true
}
