package http

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/dojot-es/dojot"
)

// legacy is POST /iotagent/readings of dojot's first HTTP agent
// (dojot/iotagent-http): {"tenant","deviceId","readings":[{"timestamp":
// "<RFC 3339>",...attrs}]}. Each reading is published without its
// timestamp (which becomes metadata.timestamp) and with "device":<id>,
// answered 200 {"message":"Successfully published"}; errors are
// {"message":...}. The device is the client certificate's (or the basic
// credentials') and body ids, when given, must name it; with no
// credentials (Insecure only) the body's ids are the identity, as on that
// agent's plain port.
func (a *Agent) legacy(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		return legacyRefusal(refusedBadBody, http.StatusMethodNotAllowed, "Method not allowed")
	}
	body, err := a.body(r)
	if err != nil {
		return err
	}
	var in struct {
		Tenant   *string                       `json:"tenant"`
		DeviceID *string                       `json:"deviceId"`
		Readings *[]map[string]json.RawMessage `json:"readings"`
	}
	if jsonType(body) != "object" || json.Unmarshal(body, &in) != nil {
		return legacyRefusal(refusedBadBody, http.StatusBadRequest, "The body must be a JSON object with tenant, deviceId and readings")
	}
	var id dojot.CertIdentity
	bodyIDs := in.Tenant != nil && in.DeviceID != nil
	anonymous := (r.TLS == nil || len(r.TLS.PeerCertificates) == 0) && r.Header.Get("Authorization") == ""
	if anonymous {
		if !a.opts.Insecure {
			return legacyRefusal(refusedAuth, http.StatusBadRequest, "Unable to authenticate")
		}
		if !bodyIDs {
			return legacyRefusal(refusedAuth, http.StatusUnauthorized, "Missing attribute tenant or deviceId")
		}
		id = dojot.CertIdentity{Tenant: *in.Tenant, Device: *in.DeviceID}
		if !dojot.ValidTenant(id.Tenant) || !dojot.ValidToken(id.Device) {
			return legacyRefusal(refusedUnknownDevice, http.StatusNotFound, "No such device")
		}
		if _, ok := a.opts.Devices.Device(id.Tenant, id.Device); !ok {
			return legacyRefusal(refusedUnknownDevice, http.StatusNotFound, "No such device")
		}
	} else {
		var rf *refusal
		if id, err = a.identify(r); err != nil {
			if errors.As(err, &rf) {
				return legacyRefusal(rf.reason, http.StatusUnauthorized, "Client certificate is invalid.")
			}
			return err
		}
		if bodyIDs && (*in.Tenant != id.Tenant || *in.DeviceID != id.Device) {
			return legacyRefusal(refusedAuth, http.StatusUnauthorized, "Connection rejected for "+*in.DeviceID+
				" due to invalid client certificate. The tenant and deviceid sent in the body are not the same as the certificate.")
		}
	}
	if in.Readings == nil {
		return legacyRefusal(refusedBadBody, http.StatusBadRequest, "Missing attribute readings")
	}
	readings := make([][]byte, 0, len(*in.Readings))
	for _, rd := range *in.Readings {
		ts := a.opts.Now().UnixMilli()
		if raw, ok := rd["timestamp"]; ok {
			var s string
			if json.Unmarshal(raw, &s) == nil {
				if t, ok := parseDateTime(strings.TrimSpace(s)); ok {
					ts = t.UnixMilli()
				}
			}
			delete(rd, "timestamp")
		}
		rd["device"], _ = json.Marshal(id.Device)
		attrs, err := json.Marshal(rd)
		if err != nil {
			return legacyRefusal(refusedBadBody, http.StatusBadRequest, "A reading is not a JSON object")
		}
		readings = append(readings, dojot.Reading(id.Tenant, id.Device, ts, attrs))
	}
	if errs := a.store(id, readings); errs != nil {
		return legacyRefusal(refusedStoreFailed, http.StatusServiceUnavailable, "Readings not stored; send them again")
	}
	writeJSON(w, http.StatusOK, map[string]string{"message": "Successfully published"})
	return nil
}

func legacyRefusal(r reason, code int, msg string) *refusal {
	return &refusal{r, code, map[string]string{"message": msg}}
}
