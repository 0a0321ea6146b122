package history

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dojot-es/dojot"
)

// ErrNoNotification: a NOTIFICATIONS message the persister cannot store
// (not a JSON object, no metaAttrsFilter object, a member MongoDB refuses).
// It is skipped with a log line, as dojot's persister skips it.
var ErrNoNotification = errors.New("not a notification")

// Notification is one stored notification as dojot's persister keeps it:
// the message's members in their order, timestamp taken out and ts (a
// date) added, as a BSON document (Doc, without _id). Seq is its
// NOTIFICATIONS sequence, which orders notifications of the same ts.
type Notification struct {
	Doc bson.Raw
	TS  time.Time
	Seq uint64
}

// MarshalJSON renders n as dojot's History answers it: the document's
// members in order, values as Python's json prints what pymongo read,
// ts as FormatTS.
func (n Notification) MarshalJSON() ([]byte, error) {
	return appendJSON(nil, bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: n.Doc})
}

// NotificationQuery selects a tenant's notifications, as dojot's History
// reads GET /notifications/history's parameters: newest first.
type NotificationQuery struct {
	// From and To bound ts, inclusive; a zero time is no bound.
	From, To time.Time
	// Limit is how many at most (0: all).
	Limit int
	// Match are equality conditions that must all hold.
	Match []Match
}

// Match is one equality condition of a notifications query, as MongoDB
// evaluates {<field>: <value>}: Field is a dotted path ("subject",
// "metaAttrsFilter.priority"), the value an int64 (Str false) or a string.
// A path through an array looks into each of its documents, and an array
// at the end matches when one of its elements is the value; an int64
// matches any number of the same value, never a boolean.
type Match struct {
	Field string
	Int   int64
	Str   string
	IsStr bool
}

// value is m's value as the Mongo driver encodes it.
func (m Match) value() any {
	if m.IsStr {
		return m.Str
	}
	return m.Int
}

// NotificationDoc is what dojot's persister stores of a notification from
// NOTIFICATIONS (dojot.EventNotification): persist is false when
// metaAttrsFilter.shouldPersist is absent or false as Python reads it
// (false, null, 0, "", [] or {}), which dojot's persister discards. The
// message's timestamp becomes ts as the readings' does (parseTS); with
// none, or one that cannot be read, ts is when JetStream stored it (dojot
// would drop the message).
func NotificationDoc(ev dojot.Event) (n Notification, persist bool, err error) {
	// One decoding, straight to the BSON document: the memory view keeps
	// it as is, the Mongo one inserts it.
	v, err := bsonOf(ev.Data)
	if err != nil {
		return n, false, fmt.Errorf("%w: %w", ErrNoNotification, err)
	}
	doc, ok := v.(bson.D)
	if !ok {
		return n, false, fmt.Errorf("%w: not a JSON object", ErrNoNotification)
	}
	if slicesIndexKey(doc, "_id") >= 0 {
		return n, false, fmt.Errorf("%w: a member named _id", ErrNoNotification)
	}
	var meta bson.D
	if i := slicesIndexKey(doc, "metaAttrsFilter"); i >= 0 {
		meta, _ = doc[i].Value.(bson.D)
	}
	if meta == nil {
		return n, false, fmt.Errorf("%w: metaAttrsFilter is not an object", ErrNoNotification)
	}
	if i := slicesIndexKey(meta, "shouldPersist"); i < 0 || !pyTruthy(meta[i].Value) {
		return n, false, nil
	}
	ts, ok := time.Time{}, false
	if i := slicesIndexKey(doc, "timestamp"); i >= 0 {
		ts, ok = tsValue(doc[i].Value)
		doc = slices.Delete(doc, i, i+1)
	}
	if !ok {
		ts = ev.Time
	}
	n.TS, n.Seq = ts.UTC().Truncate(time.Millisecond), ev.Seq
	// ts replaces a member of that name in place, as Python's dict does,
	// and else comes last.
	if i := slicesIndexKey(doc, "ts"); i >= 0 {
		doc[i].Value = bson.NewDateTimeFromTime(n.TS)
	} else {
		doc = append(doc, bson.E{Key: "ts", Value: bson.NewDateTimeFromTime(n.TS)})
	}
	if n.Doc, err = bson.Marshal(doc); err != nil {
		return n, false, fmt.Errorf("%w: %w", ErrNoNotification, err)
	}
	return n, true, nil
}

// pyTruthy is Python's truth of a decoded JSON value (bsonOf's types).
func pyTruthy(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case bool:
		return v
	case int64:
		return v != 0
	case float64:
		return v != 0
	case string:
		return v != ""
	case bson.A:
		return len(v) > 0
	case bson.D:
		return len(v) > 0
	}
	return true
}

// Matches says whether a stored notification meets every condition of q
// but its time bounds, as MongoDB would (Match).
func (q NotificationQuery) Matches(doc bson.Raw) bool {
	for _, m := range q.Match {
		if !matchPath(bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: doc}, strings.Split(m.Field, "."), m) {
			return false
		}
	}
	return true
}

// matchPath is MongoDB's equality on a dotted path: through documents by
// key, through arrays by looking into each element (or, for a numeric
// key, also at that index), and at the end an equal value or an array
// holding one.
func matchPath(v bson.RawValue, path []string, m Match) bool {
	if len(path) == 0 {
		if equalMatch(v, m) {
			return true
		}
		if v.Type == bson.TypeArray {
			vals, _ := v.Array().Values()
			for _, e := range vals {
				if equalMatch(e, m) {
					return true
				}
			}
		}
		return false
	}
	switch v.Type {
	case bson.TypeEmbeddedDocument:
		e, err := v.Document().LookupErr(path[0])
		return err == nil && matchPath(e, path[1:], m)
	case bson.TypeArray:
		if e, err := bson.Raw(v.Array()).LookupErr(path[0]); err == nil && matchPath(e, path[1:], m) {
			return true
		}
		vals, _ := v.Array().Values()
		for _, e := range vals {
			if e.Type == bson.TypeEmbeddedDocument && matchPath(e, path, m) {
				return true
			}
		}
	}
	return false
}

// equalMatch compares one stored value with m's as MongoDB's $eq does:
// numbers by value whatever their type, strings exactly.
func equalMatch(v bson.RawValue, m Match) bool {
	if m.IsStr {
		return v.Type == bson.TypeString && v.StringValue() == m.Str
	}
	switch v.Type {
	case bson.TypeInt32:
		return int64(v.Int32()) == m.Int
	case bson.TypeInt64:
		return v.Int64() == m.Int
	case bson.TypeDouble:
		f := v.Double()
		// Exact: an int64 beyond 2^53 equals no double it rounds to.
		return f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 && int64(f) == m.Int && float64(m.Int) == f
	}
	return false
}
