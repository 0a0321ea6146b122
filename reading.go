package dojot

import "strconv"

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
