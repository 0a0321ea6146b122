package eventstore

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	"github.com/dojot-es/dojot"
)

// encodeEvent is json.Marshal(ev) for the envelope, written directly: a
// batch of 100,000 new devices spent more client CPU in encoding/json's
// reflection than in publishing, and the client shares the cores with the
// embedded server. Strings that need escaping, and times json.Marshal would
// reject, go through json.Marshal. Data is checked and compacted as
// json.Marshal would (json.Compact), so an invalid payload never reaches
// the log, where every reader would have to skip it.
func encodeEvent(ev dojot.Event) ([]byte, error) {
	if !plain(ev.ID) || !plain(ev.Type) || !plain(ev.Tenant) || !plain(ev.Kind) ||
		!plain(ev.AggregateID) || !plain(ev.Actor) || !plain(ev.CorrelationID) || ev.Time.Year() < 0 || ev.Time.Year() > 9999 {
		return json.Marshal(ev)
	}
	var buf bytes.Buffer
	buf.Grow(160 + len(ev.ID) + len(ev.Type) + len(ev.Tenant) + len(ev.AggregateID) + len(ev.Actor) + len(ev.CorrelationID) + len(ev.Data))
	buf.WriteString(`{"id":"`)
	buf.WriteString(ev.ID)
	buf.WriteString(`","type":"`)
	buf.WriteString(ev.Type)
	buf.WriteString(`","tenant":"`)
	buf.WriteString(ev.Tenant)
	buf.WriteString(`","kind":"`)
	buf.WriteString(ev.Kind)
	buf.WriteString(`","aggregate_id":"`)
	buf.WriteString(ev.AggregateID)
	buf.WriteString(`","version":`)
	buf.Write(strconv.AppendUint(buf.AvailableBuffer(), ev.Version, 10))
	buf.WriteString(`,"time":"`)
	buf.Write(ev.Time.AppendFormat(buf.AvailableBuffer(), time.RFC3339Nano))
	buf.WriteByte('"')
	if ev.Actor != "" {
		buf.WriteString(`,"actor":"`)
		buf.WriteString(ev.Actor)
		buf.WriteByte('"')
	}
	if ev.CorrelationID != "" {
		buf.WriteString(`,"correlation_id":"`)
		buf.WriteString(ev.CorrelationID)
		buf.WriteByte('"')
	}
	buf.WriteString(`,"data":`)
	if ev.Data == nil {
		buf.WriteString("null")
	} else if err := json.Compact(&buf, ev.Data); err != nil {
		return json.Marshal(ev) // for json.Marshal's error message
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// plain reports whether json.Marshal writes s as it is between quotes:
// printable ASCII without '"', '\\' and the HTML characters it escapes.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}
