package gateway

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/dojot-es/dojot"
)

// NewInternal builds the router of the internal listener: what legacy dojot
// services call on dojot's internal ports (DataBroker's GET /topic/:subject,
// auth's GET /admin/tenants, DeviceManager's GET /internal/device[/:id],
// basic-auth's POST /basic-auth/v1/internal/authentication),
// authenticated as dojot's services authenticate them: the tenant is the
// "service" of a token whose signature is not checked, so the internal
// tokens dojot's services forge (CONTRACT 0) are accepted. Anyone who can
// reach it can read every tenant: serve it on a private network only. The
// handlers are the public port's; New never accepts an unsigned token.
func NewInternal(opts Options) *Server {
	s, r := newServer(opts)
	r.Get("/openapi.json", serveDocument(openAPIInternal))
	r.Group(func(r chi.Router) {
		r.Use(brokerToken)
		r.With(jsonType(jsonExpress)).Method(http.MethodGet, "/topic/{subject}", errorHandler(s.topic))
		r.Method(http.MethodGet, "/admin/tenants", errorHandler(s.listTenants))
	})
	r.Group(func(r chi.Router) {
		r.Use(deviceManagerToken)
		r.Method(http.MethodGet, "/internal/device", tenantHandler(s.listInternalDevices))
		r.Method(http.MethodGet, "/internal/device/{id}", tenantHandler(s.getInternalDevice))
	})
	// dojot's basic-auth checks device passwords for its HTTP agent
	// without a token (tokenParsingInterceptor ignores the path).
	r.With(jsonType(jsonExpress)).Method(http.MethodPost, "/basic-auth/v1/internal/authentication", errorHandler(s.authenticateDevice))
	if s.opts.CA != nil && s.opts.X509Internal != nil && s.opts.X509Services != nil {
		s.mountX509Internal(r) // x509-identity-mgmt's, no token (x509_internal.go)
	}
	s.router = r
	return s
}

var (
	// errBrokerToken is DataBroker's answer to a token that is not three
	// dot-separated segments (authMiddleware.ts).
	errBrokerToken = &dojot.Error{Kind: dojot.ErrUnauthorized, Body: map[string]string{"message": "Invalid authentication token given"}}
	// errDMToken is DeviceManager's answer to a token whose payload has no
	// service (utils.py get_allowed_service).
	errDMToken = &dojot.Error{Kind: dojot.ErrUnauthorized, Message: "Invalid authentication token"}
)

// brokerToken reads the caller's identity as DataBroker's authParse does:
// no Authorization header goes on without one (and is refused for want of
// a service), a token of other than three dot-separated segments, or whose
// payload is not a JSON object, is refused. A "Bearer " prefix falls into
// the first segment, as in dojot.
func brokerToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		if h == "" {
			writeError(w, r, errNoService)
			return
		}
		parts := strings.Split(h, ".")
		if len(parts) != 3 {
			writeError(w, r, errBrokerToken)
			return
		}
		id, ok := unsignedClaims(parts[1])
		if !ok {
			writeError(w, r, errBrokerToken)
			return
		}
		next.ServeHTTP(w, r.WithContext(dojot.WithIdentity(r.Context(), id)))
	})
}

// deviceManagerToken reads the caller's tenant as DeviceManager's
// get_allowed_service does: the second dot-separated segment of the
// Authorization header (so with or without "Bearer ") must be a JSON object
// with a non-empty string "service".
func deviceManagerToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		if h == "" {
			writeError(w, r, errNoToken)
			return
		}
		parts := strings.Split(h, ".")
		if len(parts) < 2 {
			writeError(w, r, errDMToken)
			return
		}
		id, ok := unsignedClaims(parts[1])
		if !ok || id.Tenant == "" {
			writeError(w, r, errDMToken)
			return
		}
		next.ServeHTTP(w, r.WithContext(dojot.WithIdentity(r.Context(), id)))
	})
}

// unsignedClaims decodes a token's payload segment (base64, standard or URL
// alphabet, padding optional, as Node's and Python's decoders accept) into
// the caller's identity; ok is false unless it is a JSON object. A service
// or username that is not a string is left empty.
func unsignedClaims(seg string) (dojot.Identity, bool) {
	seg = strings.TrimRight(strings.TrimSpace(seg), "=")
	seg = strings.NewReplacer("+", "-", "/", "_").Replace(seg)
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return dojot.Identity{}, false
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil || c == nil {
		return dojot.Identity{}, false
	}
	service, _ := c["service"].(string)
	username, _ := c["username"].(string)
	return dojot.Identity{Tenant: service, Username: username}, true
}
