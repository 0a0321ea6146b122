package dojot

import (
	"encoding/json"
	"strconv"
	"time"
)

// Reading is a device reading in dojot's IoT-agent shape, as the DATA
// stream holds it and every agent publishes it:
// {"metadata":{"deviceid","tenant","timestamp"},"attrs":...}, timestamp in
// epoch ms. tenant and device must be valid names (they are written
// unescaped: ValidTenant, ValidToken); attrs is a JSON object, kept as the
// device sent it.
func Reading(tenant, device string, ts int64, attrs []byte) []byte {
	b := make([]byte, 0, len(attrs)+len(tenant)+len(device)+80)
	b = append(b, `{"metadata":{"deviceid":"`...)
	b = append(b, device...)
	b = append(b, `","tenant":"`...)
	b = append(b, tenant...)
	b = append(b, `","timestamp":`...)
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, `},"attrs":`...)
	b = append(b, attrs...)
	return append(b, '}')
}

// ReadingTime is a reading's time in epoch ms, as dojot's v2k bridge takes
// it: the payload's own "timestamp" member (raw, nil when absent) when it
// is a number of ms or an RFC 3339 string, else now.
func ReadingTime(raw json.RawMessage, now time.Time) int64 {
	if len(raw) > 0 {
		var v any
		if json.Unmarshal(raw, &v) == nil {
			switch v := v.(type) {
			case float64:
				if v >= 0 && v < 1<<53 {
					return int64(v)
				}
			case string:
				if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
					return t.UnixMilli()
				}
			}
		}
	}
	return now.UnixMilli()
}
