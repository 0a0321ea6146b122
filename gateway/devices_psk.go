package gateway

import (
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/dojot-es/dojot"
)

// errPSKLength answers a key_length that is not an integer. dojot's int()
// raised outside its handler's error handling and Flask answered a bare
// 500; a badly written parameter is the client's error (a 500 would also
// count as a server failure wherever errors are watched).
var errPSKLength = &dojot.Error{Kind: dojot.ErrInvalid, Message: "key_length must be an integer"}

// genPSK is POST /device/gen_psk/:id?key_length=N[&attrs=a,b]: 200 with
// the new keys, or 204 when the device has no psk attribute.
func (s *Server) genPSK(w http.ResponseWriter, r *http.Request, tenant string) error {
	q := r.URL.Query()
	v, ok := q["key_length"]
	if !ok || len(v) == 0 {
		return &dojot.Error{Kind: dojot.ErrInvalid, Message: "Missing key_length parameter"}
	}
	n, ok := pyInt(v[0])
	if !ok {
		return errPSKLength
	}
	var attrs []string
	if a, ok := q["attrs"]; ok && len(a) > 0 {
		attrs = strings.Split(a[0], ",")
	}
	keys, err := s.opts.DeviceCommands.GenPSK(r.Context(), tenant, pathParam(r, "id"), n, attrs)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		writeRawJSON(w, http.StatusNoContent, nil)
		return nil
	}
	writeJSON(w, http.StatusOK, keys)
	return nil
}

// copyPSK is PUT /device/:id/attrs/:label/psk?from_dev_id=&from_attr_label=.
func (s *Server) copyPSK(w http.ResponseWriter, r *http.Request, tenant string) error {
	q := r.URL.Query()
	from, ok1 := q["from_dev_id"]
	fromLabel, ok2 := q["from_attr_label"]
	if !ok1 || !ok2 || len(from) == 0 || len(fromLabel) == 0 {
		return &dojot.Error{Kind: dojot.ErrInvalid, Message: "Missing mandatory parameter: from_dev_id or/and from_attr_label"}
	}
	err := s.opts.DeviceCommands.CopyPSK(r.Context(), tenant, pathParam(r, "id"), pathParam(r, "label"), from[0], fromLabel[0])
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listInternalDevices is GET /internal/device: GET /device with the keys.
func (s *Server) listInternalDevices(w http.ResponseWriter, r *http.Request, tenant string) error {
	return s.writeDevices(w, r, tenant, s.opts.DeviceView.ListInternalDevices)
}

// getInternalDevice is GET /internal/device/:id: GET /device/:id with the
// keys.
func (s *Server) getInternalDevice(w http.ResponseWriter, r *http.Request, tenant string) error {
	return writeDevice(w, r, tenant, s.opts.DeviceView.InternalDeviceJSON)
}

// pyInt reads s as Python's int(s) reads ASCII text: surrounding
// whitespace, an optional sign, digits with single underscores between
// them. A value beyond int's range saturates (it is out of any bound the
// caller checks either way).
func pyInt(s string) (int, bool) {
	s = strings.TrimSpace(s)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" || s[0] == '_' || s[len(s)-1] == '_' || strings.Contains(s, "__") {
		return 0, false
	}
	digits := strings.ReplaceAll(s, "_", "")
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(digits)
	if err != nil { // only a range error is left
		n = math.MaxInt
	}
	if neg {
		n = -n
	}
	return n, true
}
