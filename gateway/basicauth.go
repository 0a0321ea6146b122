package gateway

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/dojot-es/dojot"
)

// Device basic credentials, as dojot's device-basic-authentication service
// serves them (CONTRACT 5b.1): issued on the public port behind the PEP
// (Kong exposes the route with pepkong and jwt), checked on the internal
// port, where dojot's HTTP agent asks without a token.

// basicCredentialsBody is the answer to POST
// /basic-auth/v1/devices/:id/basic-credentials.
type basicCredentialsBody struct {
	Credentials dojot.BasicCredentials `json:"credentials"`
	BasicAuth   string                 `json:"basicAuth"`
}

func (s *Server) mountBasicAuth(r chi.Router) {
	r.With(jsonType(jsonExpress)).Method(http.MethodPost, "/basic-auth/v1/devices/{deviceId}/basic-credentials", tenantHandler(s.setBasicCredentials))
}

// setBasicCredentials gives the caller's tenant's device a new password:
// 200 with it, or 400 {"error":"Device is not valid."} as dojot answers for
// a device that is not the tenant's.
func (s *Server) setBasicCredentials(w http.ResponseWriter, r *http.Request, tenant string) error {
	user, pw, err := s.opts.DeviceCommands.SetBasicCredentials(r.Context(), tenant, pathParam(r, "deviceId"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, basicCredentialsBody{
		Credentials: dojot.BasicCredentials{Username: user, Password: pw},
		BasicAuth:   "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw)),
	})
	return nil
}

var (
	credentialValid   = map[string]string{"message": "The credential is valid."}
	errCredentialsBad = &dojot.Error{Kind: dojot.ErrUnauthorized, Body: map[string]string{"message": "The credential is invalid."}}
)

// authenticateDevice is POST /basic-auth/v1/internal/authentication with
// {"username":"<tenant>@<device id>","password":...}: 200 when the password
// is the device's current one, 401 otherwise (dojot answers a 500 for a
// device without credentials and a 400 for a body that is not JSON; both
// are a 401 here).
func (s *Server) authenticateDevice(w http.ResponseWriter, r *http.Request) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	var in struct {
		Username any `json:"username"`
		Password any `json:"password"`
	}
	if json.Unmarshal(b, &in) != nil {
		return errCredentialsBad
	}
	user, ok1 := in.Username.(string)
	pw, ok2 := in.Password.(string)
	parts := strings.Split(user, "@") // "a@b@c" is a, b, as dojot's destructuring reads it
	if !ok1 || !ok2 || len(parts) < 2 {
		return errCredentialsBad
	}
	if !s.opts.DeviceCommands.CheckDeviceCredentials(parts[0], parts[1], pw) {
		return errCredentialsBad
	}
	writeJSON(w, http.StatusOK, credentialValid)
	return nil
}
