package historytest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/projections"
	"github.com/dojot-es/dojot/projections/history"
)

// NotificationView is a history view of notifications under test.
type NotificationView interface {
	// Notifications applies the NOTIFICATIONS stream.
	Notifications() projections.View
	FindNotifications(ctx context.Context, tenant string, q history.NotificationQuery) ([]history.Notification, error)
}

// OpenNotifications returns a fresh, empty view reading from store.
type OpenNotifications func(t *testing.T, store *eventstore.Store) NotificationView

// RunNotifications runs the notifications suite: what dojot's persister
// keeps (shouldPersist as Python reads it), the message's members and
// ts rendered as dojot's History answers them, every kind of condition
// (subject, metaAttrsFilter members typed int or string, nested paths,
// arrays, numbers of another type), time bounds, limits, the order, tenant
// isolation, and idempotence when part of the stream is applied again.
func RunNotifications(t *testing.T, newStore func(testing.TB) *eventstore.Store, open OpenNotifications) {
	t.Run("Answers", func(t *testing.T) {
		store := newStore(t)
		notes := notificationScenario(t, store)
		v := open(t, store)
		FeedNotifications(t, store, v, rand.New(rand.NewPCG(3, 4)))
		checkNotifications(t, v, notes)
	})
	t.Run("Idempotent", func(t *testing.T) {
		store := newStore(t)
		notes := notificationScenario(t, store)
		v := open(t, store)
		FeedNotifications(t, store, v, rand.New(rand.NewPCG(5, 6)))
		evs := read(t, store.NotificationLog())
		replay(t, v.Notifications(), evs[len(evs)/2:])
		checkNotifications(t, v, notes)
		last, _ := store.NotificationLog().LastSeq(context.Background())
		if cp, err := v.Notifications().Checkpoint(context.Background()); err != nil || cp != last {
			t.Errorf("Notifications checkpoint = %d, %v; want %d", cp, err, last)
		}
	})
	t.Run("Empty", func(t *testing.T) {
		v := open(t, newStore(t))
		got, err := v.FindNotifications(context.Background(), "nta", history.NotificationQuery{Limit: 10})
		if err != nil || len(got) != 0 {
			t.Errorf("FindNotifications on an empty view = %v, %v", got, err)
		}
	})
}

// FeedNotifications applies every notification store holds to v, in
// batches of random sizes. Refusals of bad messages are expected; any
// other failure fails the test.
func FeedNotifications(t testing.TB, store *eventstore.Store, v NotificationView, rnd *rand.Rand) {
	t.Helper()
	evs := read(t, store.NotificationLog())
	ctx := context.Background()
	for len(evs) > 0 {
		n := min(len(evs), 1+rnd.IntN(16))
		batch := evs[:n]
		evs = evs[n:]
		var errs []error
		if a, ok := v.Notifications().(projections.TxApplier); ok {
			refused, err := a.ApplyTx(ctx, batch)
			if err != nil {
				t.Fatalf("historytest: ApplyTx %d..%d: %v", batch[0].Seq, batch[n-1].Seq, err)
			}
			errs = refused
		} else {
			for _, ev := range batch {
				errs = append(errs, v.Notifications().Apply(ctx, ev))
			}
		}
		for i, err := range errs {
			if err != nil && !errors.Is(err, history.ErrNoNotification) {
				t.Fatalf("historytest: apply notification seq %d: %v", batch[i].Seq, err)
			}
		}
	}
}

// note is one notification of the scenario that dojot's persister keeps,
// as History must answer it.
type note struct {
	tenant  string
	seq     uint64
	ts      time.Time
	subject string
	meta    map[string]any
	want    string // the answer's JSON
}

var noteBase = time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)

// notificationScenario stores notifications of two tenants: kept and
// discarded ones (shouldPersist true, "false", 0, absent...), repeated and
// out-of-order times, nested and array members, numbers of either type,
// and messages the persister refuses. It returns the kept ones.
func notificationScenario(t testing.TB, store *eventstore.Store) []note {
	t.Helper()
	ctx := context.Background()
	var kept []note
	add := func(tenant string, msg map[string]any, keepIt bool, want string) {
		seq, err := store.AppendNotification(ctx, tenant, orderedJSON(msg), fmt.Sprint(msg["msgID"]))
		if err != nil {
			t.Fatalf("historytest: append notification: %v", err)
		}
		if keepIt {
			meta, _ := msg["metaAttrsFilter"].(map[string]any)
			kept = append(kept, note{tenant: tenant, seq: seq, ts: time.UnixMilli(msg["timestamp"].(int64)).UTC(),
				subject: fmt.Sprint(msg["subject"]), meta: meta, want: want})
		}
	}
	persist := []any{true, true, true, "false", 1, false, 0, nil, "", 2.5}
	for i := range 90 {
		tenant := []string{"nta", "ntb"}[i%3/2]
		ts := noteBase.Add(time.Duration(i*7%50) * time.Minute).Add(time.Duration(i%4) * time.Millisecond)
		meta := map[string]any{"priority": []string{"low", "high"}[i%2], "level": i % 5, "loc": map[string]any{"room": fmt.Sprintf("r%d", i%3)}}
		if i%7 == 0 {
			meta["level"] = float64(i%5) + 0.0 // a double: 2.0 matches level=2
			meta["ratio"] = 2.5
		}
		if i%4 == 0 {
			meta["tags"] = []any{"a", fmt.Sprintf("t%d", i%3)}
		}
		p := persist[i%len(persist)]
		if p != nil {
			meta["shouldPersist"] = p
		}
		subject := []string{"user_notification", "alarm", "user_notification", "other"}[i%4]
		msg := map[string]any{"msgID": fmt.Sprintf("m%02d", i), "timestamp": ts.UnixMilli(), "message": fmt.Sprintf("Temp %d too high", i),
			"metaAttrsFilter": meta, "subject": subject}
		keepIt := p != nil && p != false && p != 0 && p != ""
		add(tenant, msg, keepIt, renderNote(msg, ts))
	}
	// What the persister refuses: it is skipped, nothing else is.
	for i, bad := range []string{`not json`, `[1,2]`, `{"msgID":"b1","timestamp":1,"message":"x","subject":"s"}`,
		`{"msgID":"b2","timestamp":1,"metaAttrsFilter":"low","subject":"s"}`,
		`{"_id":5,"msgID":"b3","timestamp":1,"metaAttrsFilter":{"shouldPersist":true}}`,
		`{"msgID":"b4","timestamp":1,"metaAttrsFilter":{"shouldPersist":true,"$where":"x"}}`} {
		if _, err := store.AppendNotification(ctx, "nta", []byte(bad), fmt.Sprintf("bad%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	return kept
}

// orderedJSON writes msg's members in dojot's order (msgID, timestamp,
// message, metaAttrsFilter, subject), as the notification node does;
// encoding/json would sort them.
func orderedJSON(msg map[string]any) []byte {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range []string{"msgID", "timestamp", "message", "metaAttrsFilter", "subject"} {
		if i > 0 {
			b.WriteByte(',')
		}
		kv, _ := json.Marshal(k)
		v, _ := json.Marshal(msg[k])
		if f, ok := msg[k].(map[string]any); ok && k == "metaAttrsFilter" {
			if l, ok := f["level"].(float64); ok { // keep the double a double: 2.0, not 2
				f2 := map[string]any{}
				for kk, vv := range f {
					f2[kk] = vv
				}
				delete(f2, "level")
				v, _ = json.Marshal(f2)
				v = append(v[:len(v)-1], fmt.Sprintf(`,"level":%.1f}`, l)...)
			}
		}
		b.Write(kv)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return []byte(b.String())
}

// renderNote is History's answer for a kept message: its members but
// timestamp in order, metaAttrsFilter as stored (encoding/json's key
// order, level last when a double), ts as Python prints it.
func renderNote(msg map[string]any, ts time.Time) string {
	body := string(orderedJSON(msg))
	// Take the timestamp member out and add ts.
	stamp := fmt.Sprintf(`,"timestamp":%d`, msg["timestamp"].(int64))
	body = strings.Replace(body, stamp, "", 1)
	return body[:len(body)-1] + `,"ts":"` + history.FormatTS(ts) + `"}`
}

// noteQuery is a query of the suite and which kept notes it selects
// (before the limit).
type noteQuery struct {
	name   string
	tenant string
	q      history.NotificationQuery
	sel    func(n note) bool
}

func str(f, v string) history.Match { return history.Match{Field: f, Str: v, IsStr: true} }
func num(f string, v int64) history.Match {
	return history.Match{Field: f, Int: v}
}

func noteQueries() []noteQuery {
	all := func(note) bool { return true }
	metaIs := func(k string, v any) func(n note) bool {
		return func(n note) bool { return fmt.Sprint(n.meta[k]) == fmt.Sprint(v) }
	}
	from, to := noteBase.Add(10*time.Minute), noteBase.Add(30*time.Minute+time.Millisecond)
	inRange := func(n note) bool { return !n.ts.Before(from) && !n.ts.After(to) }
	return []noteQuery{
		{"newest 10", "nta", history.NotificationQuery{Limit: 10}, all},
		{"all", "nta", history.NotificationQuery{}, all},
		{"other tenant", "ntb", history.NotificationQuery{}, all},
		{"unknown tenant", "ntc", history.NotificationQuery{}, func(note) bool { return false }},
		{"subject", "nta", history.NotificationQuery{Match: []history.Match{str("subject", "user_notification")}},
			func(n note) bool { return n.subject == "user_notification" }},
		{"subject int", "nta", history.NotificationQuery{Match: []history.Match{num("subject", 5)}}, func(note) bool { return false }},
		{"priority", "nta", history.NotificationQuery{Limit: 5, Match: []history.Match{str("metaAttrsFilter.priority", "high")}}, metaIs("priority", "high")},
		{"level int matches doubles", "nta", history.NotificationQuery{Match: []history.Match{num("metaAttrsFilter.level", 2)}},
			func(n note) bool { return fmt.Sprint(n.meta["level"]) == "2" }},
		{"level as a string", "nta", history.NotificationQuery{Match: []history.Match{str("metaAttrsFilter.level", "2")}}, func(note) bool { return false }},
		{"ratio 2.5 is no int", "nta", history.NotificationQuery{Match: []history.Match{num("metaAttrsFilter.ratio", 2)}}, func(note) bool { return false }},
		{"shouldPersist 1", "nta", history.NotificationQuery{Match: []history.Match{num("metaAttrsFilter.shouldPersist", 1)}},
			func(n note) bool { return fmt.Sprint(n.meta["shouldPersist"]) == "1" }},
		{"true is not 1", "ntb", history.NotificationQuery{Match: []history.Match{num("metaAttrsFilter.shouldPersist", 1)}},
			func(n note) bool { return fmt.Sprint(n.meta["shouldPersist"]) == "1" }},
		{"nested", "nta", history.NotificationQuery{Match: []history.Match{str("metaAttrsFilter.loc.room", "r1")}},
			func(n note) bool { return n.meta["loc"].(map[string]any)["room"] == "r1" }},
		{"array element", "nta", history.NotificationQuery{Match: []history.Match{str("metaAttrsFilter.tags", "a")}},
			func(n note) bool { return n.meta["tags"] != nil }},
		{"array index", "ntb", history.NotificationQuery{Match: []history.Match{str("metaAttrsFilter.tags.1", "t1")}},
			func(n note) bool { tags, _ := n.meta["tags"].([]any); return len(tags) > 1 && tags[1] == "t1" }},
		{"unknown member", "nta", history.NotificationQuery{Match: []history.Match{str("metaAttrsFilter.nope", "x")}}, func(note) bool { return false }},
		{"two conditions", "nta", history.NotificationQuery{Match: []history.Match{str("subject", "user_notification"), str("metaAttrsFilter.priority", "low")}},
			func(n note) bool { return n.subject == "user_notification" && n.meta["priority"] == "low" }},
		{"dates", "nta", history.NotificationQuery{From: from, To: to}, inRange},
		{"dates and limit", "ntb", history.NotificationQuery{From: from, To: to, Limit: 3}, inRange},
		{"from only", "nta", history.NotificationQuery{From: from.Add(time.Microsecond)}, func(n note) bool { return n.ts.After(from) }},
		{"to only", "nta", history.NotificationQuery{To: to.Add(-time.Microsecond), Match: []history.Match{str("subject", "alarm")}},
			func(n note) bool { return n.ts.Before(to) && n.subject == "alarm" }},
	}
}

// checkNotifications compares every query's answer with the kept notes it
// selects, newest first (ts, then sequence), up to the limit.
func checkNotifications(t *testing.T, v NotificationView, notes []note) {
	t.Helper()
	sorted := slices.Clone(notes)
	slices.SortFunc(sorted, func(a, b note) int {
		if c := b.ts.Compare(a.ts); c != 0 {
			return c
		}
		return int(b.seq) - int(a.seq)
	})
	for _, c := range noteQueries() {
		var want []string
		for _, n := range sorted {
			if n.tenant == c.tenant && c.sel(n) && (c.q.Limit == 0 || len(want) < c.q.Limit) {
				want = append(want, n.want)
			}
		}
		got, err := v.FindNotifications(context.Background(), c.tenant, c.q)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		var gotS []string
		for _, n := range got {
			b, err := n.MarshalJSON()
			if err != nil {
				t.Fatalf("%s: render: %v", c.name, err)
			}
			gotS = append(gotS, string(b))
		}
		if strings.Join(gotS, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: got %d\n%s\nwant %d\n%s", c.name, len(gotS), trunc(strings.Join(gotS, "\n")), len(want), trunc(strings.Join(want, "\n")))
		}
	}
}
