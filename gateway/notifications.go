package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/dojot-es/dojot/projections/history"
)

// notificationHistory is the notifications history GET
// /history/notifications/history reads: memory or Mongo
// (projections/history).
type notificationHistory interface {
	FindNotifications(ctx context.Context, tenant string, q history.NotificationQuery) ([]history.Notification, error)
}

// mountNotifications serves dojot's History's notifications route; the
// GUI asks for it with a trailing slash, which Falcon strips.
func (s *Server) mountNotifications(r chi.Router) {
	r = r.With(jsonType(jsonFalcon))
	for _, p := range []string{"/history/notifications/history", "/history/notifications/history/"} {
		r.Method(http.MethodGet, p, tenantHandler(s.notificationHistory))
	}
}

// notificationHistory: GET /history/notifications/history, the tenant's
// persisted notifications, newest first: {"notifications":[...]}, an
// empty list when none matches (dojot's persister makes every tenant's
// collection, so there is no 404).
func (s *Server) notificationHistory(w http.ResponseWriter, r *http.Request, tenant string) error {
	asCSV, err := historyFormat(r)
	if err != nil {
		return err
	}
	q, err := notificationQuery(r)
	if err != nil {
		return err
	}
	found, err := s.opts.Notifications.FindNotifications(r.Context(), tenant, q)
	if err != nil {
		return err
	}
	if asCSV {
		b, err := notificationsCSV(found)
		return writeCSV(w, b, err)
	}
	buf := bytes.NewBufferString(`{"notifications":[`)
	for i, n := range found {
		if i > 0 {
			buf.WriteByte(',')
		}
		b, err := n.MarshalJSON()
		if err != nil {
			return err
		}
		buf.Write(b)
	}
	buf.WriteString("]}")
	writeRawJSON(w, http.StatusOK, buf.Bytes())
	return nil
}

// notificationQuery reads the parameters as dojot's History does
// (NotificationHistory.get_query): dateFrom and dateTo bound ts, limit
// caps the answer (10 when there are no dates and no limit, or limit 0;
// a negative one is its absolute value, as pymongo takes it), subject
// matches the subject and any other parameter metaAttrsFilter.<name>; a
// value in double quotes is a string (without its quotes), any other an
// integer. Falcon drops blank values. Where dojot's History fails with a
// 500 (a value neither an integer nor quoted, a repeated parameter, a bad
// date or limit, a name MongoDB refuses) this answers 400 naming the
// parameter.
func notificationQuery(r *http.Request) (history.NotificationQuery, error) {
	var q history.NotificationQuery
	params := r.URL.Query()
	names := make([]string, 0, len(params))
	for name := range params {
		names = append(names, name)
	}
	slices.Sort(names) // one order, for the same answer to the same request
	for _, name := range names {
		var vs []string
		for _, v := range params[name] {
			if v != "" {
				vs = append(vs, v)
			}
		}
		switch {
		case len(vs) == 0:
			continue
		case len(vs) > 1:
			return q, invalidParam(name, "Must be given once.")
		}
		v := vs[0]
		switch name {
		case "dateFrom", "dateTo":
			t, ok := history.ParseISO(v)
			if !ok {
				return q, invalidParam(name, "Must be an ISO-8601 date.")
			}
			if name == "dateFrom" {
				q.From = t
			} else {
				q.To = t
			}
		case "limit":
			n, ok := pyInt(v)
			if !ok {
				return q, invalidParam(name, "Must be integer.")
			}
			q.Limit = max(n, -n)
		default:
			field := name
			if name != "subject" {
				field = "metaAttrsFilter." + name
			}
			if !history.ValidField(field) {
				return q, invalidParam(name, "Must be a member name: no empty part, none starting with $.")
			}
			m := history.Match{Field: field}
			if quoted.MatchString(v) {
				m.Str, m.IsStr = strings.ReplaceAll(v, `"`, ""), true // dojot drops every quote
			} else if n, ok := pyInt(v); ok && n != math.MaxInt && n != -math.MaxInt {
				m.Int = int64(n) // pyInt saturates: beyond int64, which MongoDB cannot compare either
			} else {
				return q, invalidParam(name, `Must be an integer, or a string in double quotes ("user_notification").`)
			}
			q.Match = append(q.Match, m)
		}
	}
	if q.Limit == 0 && q.From.IsZero() && q.To.IsZero() {
		q.Limit = 10
	}
	return q, nil
}

// quoted is dojot's HistoryUtil.check_type: a string is in double quotes.
var quoted = regexp.MustCompile(`^".*"$`)

// notificationsCSV flattens notifications as dojot's History does the
// device history (pandas json_normalize, every non-number quoted): one
// row each, columns msgID, message, metaAttrsFilter.<key>, subject, ts in
// the order first seen. (dojot's own CSV of this route is one cell holding
// Python's text of the whole list.)
func notificationsCSV(found []history.Notification) ([]byte, error) {
	var c csvColumns
	rows := make([]map[string]string, len(found))
	for i, n := range found {
		b, err := n.MarshalJSON()
		if err != nil {
			return nil, err
		}
		rows[i] = map[string]string{}
		dec := json.NewDecoder(bytes.NewReader(b))
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				return nil, err
			}
			if err := flatten(rows[i], c.add, k.(string), v); err != nil {
				return nil, err
			}
		}
	}
	return csvTable(c.cols, rows), nil
}
