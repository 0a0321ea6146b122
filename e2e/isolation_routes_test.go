package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/dojot-es/dojot/e2e/dojottest"
)

// The isolation matrix's classification of every route of the gateway
// (`dojot routes`): TestIsolationMatrix fails on a route missing here.

// Classes of route: who attacks it and what counts as refused.
const (
	// isoTenantID names one of the victim's resources in its path: both
	// of the attacker's tokens (profile admin and profile user) must be
	// refused, 4xx.
	isoTenantID = "tenant resource"
	// isoCollection is a tenant's collection: it answers the caller's own
	// tenant, so a 2xx is fine as long as nothing of the victim shows and
	// the victim's data stays as it was.
	isoCollection = "tenant collection"
	// isoAdmin is dojot's auth administration (users, groups,
	// permissions, tenants), platform-wide: a token of group "user" is
	// refused, 403. dojot's auth is not per tenant: a user of profile
	// admin administers every tenant's users, by design.
	isoAdmin = "admin only"
	// isoPublic needs no token; it must show nothing of the victim.
	isoPublic = "public"
	// isoCaller acts on the caller only (its password, its tenant's topic
	// name, its ticket) or on the platform (node types, the CA).
	isoCaller = "caller only"
	// isoDevice is an IoT agent's endpoint, authenticated by device
	// credentials or a network server's secret, never by a login token:
	// the attacker's tokens are refused, 4xx.
	isoDevice = "device route"
)

// isoReq is one request of a case: path (with query) and JSON body.
type isoReq struct {
	path, body string
}

// isoRoute says how a route is attacked and checked.
type isoRoute struct {
	class string
	// reqs are the attacks, from victim v's and attacker a's resources.
	// The first names only the victim's: its owner sends it after the
	// attacks, as a control that the route is served and the request
	// valid (a refusal of an invalid request would prove nothing).
	reqs func(v, a *isoTenant) []isoReq
	// want is the status the attacks must have: "4xx", "403", or "any"
	// (below 500, or 501 where the route is not implemented).
	want string
	// control is the status class the owner's request must have: 2 for
	// 2xx, 4 where dojot refuses everyone (its revocation), 5 for a 501
	// (remote flow nodes, not implemented); 0 for no control (said why
	// in a comment).
	control int
	// controlReq replaces the first request for the control.
	controlReq func(v *isoTenant) isoReq
	// check looks at an attack's answer beyond the status (nil: none).
	check func(a *isoTenant, body []byte) error
	// phase orders the attacks: 0 first (in parallel), 1 after (they
	// create in the attacker's tenant), 2 last (they wipe the
	// attacker's tenant).
	phase int
}

func one(path, body string) []isoReq { return []isoReq{{path, body}} }

func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// isoSpareCSR and isoSpareCA are a CSR and a CA certificate no one has
// used yet, made by TestIsolationMatrix.
var isoSpareCSR, isoSpareCA string

// isoRoutes classifies every route by "METHOD pattern" ("* pattern": any
// method, for a handler mounted on every method).
var isoRoutes = map[string]isoRoute{
	// --- public ---
	"POST /auth": {class: isoPublic, want: "4xx", control: 2,
		reqs: func(v, a *isoTenant) []isoReq {
			return one("/auth", jsonOf(map[string]string{"username": v.name + "_admin", "passwd": "not-the-password"}))
		},
		controlReq: func(v *isoTenant) isoReq {
			return isoReq{"/auth", jsonOf(map[string]string{"username": v.name + "_admin", "passwd": dojottest.NewPassword})}
		}},
	"POST /auth/": {class: isoPublic, want: "4xx", control: 2,
		reqs: func(v, a *isoTenant) []isoReq {
			return one("/auth/", jsonOf(map[string]string{"username": v.name + "_admin", "passwd": "not-the-password"}))
		},
		controlReq: func(v *isoTenant) isoReq {
			return isoReq{"/auth/", jsonOf(map[string]string{"username": v.name + "_admin", "passwd": dojottest.NewPassword})}
		}},
	// dojot's auth refuses every revocation (403), its owner's too.
	"* /auth/revoke":    {class: isoPublic, want: "4xx", control: 4, reqs: func(v, a *isoTenant) []isoReq { return one("/auth/revoke", "") }},
	"* /auth/revoke/*":  {class: isoPublic, want: "4xx", control: 4, reqs: func(v, a *isoTenant) []isoReq { return one("/auth/revoke/"+v.name+"_admin", "") }},
	"GET /healthz":      {class: isoPublic, want: "any", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/healthz", "") }},
	"GET /readyz":       {class: isoPublic, want: "any", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/readyz", "") }},
	"GET /openapi.json": {class: isoPublic, want: "any", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/openapi.json", "") }},
	// The web console's page and assets: the same bytes for everyone.
	"GET /":     {class: isoPublic, want: "any", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/", "") }},
	"GET /ui/*": {class: isoPublic, want: "any", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/ui/js/app.js", "") }},
	// No label value names a tenant or a device: nothing of B's shows.
	"GET /metrics": {class: isoPublic, want: "any", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/metrics", "") }},

	// --- caller only ---
	// Changes the caller's own password; no control: the owner's would
	// change the victim's password as asked.
	"POST /auth/password/update": {class: isoCaller, want: "any",
		reqs: func(v, a *isoTenant) []isoReq {
			return one("/auth/password/update", jsonOf(map[string]string{"oldpasswd": "not-the-password", "newpasswd": "Other-Quartz-77"}))
		}},
	// Renews the caller's own token: the new one names the caller's user
	// and tenant, whatever the request says.
	"POST /auth/renew": {class: isoCaller, want: "any", control: 2,
		reqs: func(v, a *isoTenant) []isoReq { return one("/auth/renew", "") },
		check: func(a *isoTenant, body []byte) error {
			var r struct{ JWT string }
			parts := []string{}
			if json.Unmarshal(body, &r) == nil {
				parts = strings.Split(r.JWT, ".")
			}
			var c struct{ Service string }
			if len(parts) != 3 {
				return fmt.Errorf("renewal answered %q, no token", body)
			}
			if raw, err := base64.RawURLEncoding.DecodeString(parts[1]); err != nil || json.Unmarshal(raw, &c) != nil || c.Service != a.name {
				return fmt.Errorf("renewed token's tenant %q, want the caller's %s", c.Service, a.name)
			}
			return nil
		}},
	"GET /topic/{subject}": {class: isoCaller, want: "any", control: 2,
		reqs: func(v, a *isoTenant) []isoReq {
			return []isoReq{{"/topic/device-data", ""}, {"/topic/" + url.PathEscape(v.name+".device-data"), ""}}
		},
		check: func(a *isoTenant, body []byte) error {
			var r struct{ Topic string }
			if err := json.Unmarshal(body, &r); err != nil || len(r.Topic) <= len(a.name) || r.Topic[:len(a.name)+1] != a.name+"." {
				return fmt.Errorf("topic %q is not the caller's tenant %s's", body, a.name)
			}
			return nil
		}},
	"GET /stream/socketio":    {class: isoCaller, want: "any", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/stream/socketio", "") }},
	"GET /kafka-ws/v1/ticket": {class: isoCaller, want: "any", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/kafka-ws/v1/ticket", "") }},
	"GET /flows/nodes":        {class: isoCaller, want: "any", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/flows/nodes", "") }},
	"GET /x509/v1/ca":         {class: isoCaller, want: "any", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/x509/v1/ca", "") }},
	"GET /x509/v1/ca/crl":     {class: isoCaller, want: "any", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/x509/v1/ca/crl", "") }},
	"* /flows/v1/node":        {class: isoCaller, want: "any", control: 5, reqs: func(v, a *isoTenant) []isoReq { return one("/flows/v1/node", "") }},
	"* /flows/v1/node/*":      {class: isoCaller, want: "any", control: 5, reqs: func(v, a *isoTenant) []isoReq { return one("/flows/v1/node/"+v.flow, "") }},
	"POST /flows/v1/replay": {class: isoCaller, want: "any", control: 2,
		// The victim's device's readings replayed through a flow in the
		// body: only the caller's tenant's log is replayed.
		reqs: func(v, a *isoTenant) []isoReq {
			return one("/flows/v1/replay", `{"flow":`+isoFlowNodes(isoNotifyFlow("r", v.dev, "replayed"))+`,"from":0}`)
		}},

	// --- the victim's resources by id ---
	"GET /template/{id}": {class: isoTenantID, want: "4xx", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one(fmt.Sprintf("/template/%d", v.tmpl), "") }},
	"PUT /template/{id}": {class: isoTenantID, want: "4xx", control: 2,
		reqs: func(v, a *isoTenant) []isoReq {
			return one(fmt.Sprintf("/template/%d", v.tmpl), jsonOf(isoTemplateBody("stolen")))
		}},
	// The change logs: the victim's ids name nothing in the attacker's
	// tenant's log (404), and the log never reads across tenants.
	"GET /template/{id}/events":  {class: isoTenantID, want: "4xx", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one(fmt.Sprintf("/template/%d/events", v.tmpl), "") }},
	"GET /device/{id}/events":    {class: isoTenantID, want: "4xx", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/device/"+v.dev+"/events", "") }},
	"DELETE /template/{id}":      {class: isoTenantID, want: "4xx", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one(fmt.Sprintf("/template/%d", v.tmpl2), "") }},
	"GET /device/template/{tid}": {class: isoTenantID, want: "any", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one(fmt.Sprintf("/device/template/%d", v.tmpl), "") }},
	"GET /device/{id}":           {class: isoTenantID, want: "4xx", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/device/"+v.dev, "") }},
	"PUT /device/{id}": {class: isoTenantID, want: "4xx", control: 2,
		reqs: func(v, a *isoTenant) []isoReq {
			return []isoReq{{"/device/" + v.dev, jsonOf(map[string]any{"label": "stolen", "templates": []int{v.tmpl}})},
				{"/device/" + a.dev, jsonOf(map[string]any{"label": "stolen", "templates": []int{v.tmpl}})}}
		}},
	"DELETE /device/{id}": {class: isoTenantID, want: "4xx", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/device/"+v.dev, "") }},
	"PUT /device/{id}/actuate": {class: isoTenantID, want: "4xx", control: 2,
		reqs: func(v, a *isoTenant) []isoReq {
			return one("/device/"+v.dev+"/actuate", `{"attrs":{"target_temperature":1}}`)
		}},
	"POST /device/{id}/template/{tid}": {class: isoTenantID, want: "4xx", control: 2,
		reqs: func(v, a *isoTenant) []isoReq {
			return []isoReq{{fmt.Sprintf("/device/%s/template/%d", v.dev, v.tmpl2), ""},
				{fmt.Sprintf("/device/%s/template/%d", a.dev, v.tmpl2), ""}, {fmt.Sprintf("/device/%s/template/%d", v.dev, a.tmpl2), ""}}
		}},
	"DELETE /device/{id}/template/{tid}": {class: isoTenantID, want: "4xx", control: 2,
		reqs: func(v, a *isoTenant) []isoReq {
			return []isoReq{{fmt.Sprintf("/device/%s/template/%d", v.dev, v.tmpl2), ""}, {fmt.Sprintf("/device/%s/template/%d", a.dev, v.tmpl), ""}}
		}},
	"POST /device/gen_psk/{id}": {class: isoTenantID, want: "4xx", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/device/gen_psk/"+v.dev+"?key_length=16", "") }},
	"PUT /device/{id}/attrs/{label}/psk": {class: isoTenantID, want: "4xx", control: 2,
		// Onto the victim's device, and from it onto the attacker's (which
		// would hand the victim's key over).
		reqs: func(v, a *isoTenant) []isoReq {
			return []isoReq{{"/device/" + v.dev + "/attrs/k/psk?from_dev_id=" + v.dev + "&from_attr_label=k", ""},
				{"/device/" + a.dev + "/attrs/k/psk?from_dev_id=" + v.dev + "&from_attr_label=k", ""},
				{"/device/" + v.dev + "/attrs/k/psk?from_dev_id=" + a.dev + "&from_attr_label=k", ""}}
		}},
	"GET /internal/device/{id}": {class: isoTenantID, want: "4xx", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/internal/device/"+v.dev, "") }},
	"POST /basic-auth/v1/devices/{deviceId}/basic-credentials": {class: isoTenantID, want: "4xx", control: 2,
		reqs: func(v, a *isoTenant) []isoReq { return one("/basic-auth/v1/devices/"+v.dev+"/basic-credentials", "") }},
	"GET /cron/v1/jobs/{id}": {class: isoTenantID, want: "4xx", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/cron/v1/jobs/"+v.cron, "") }},
	// PUT creates a job of the caller's with the id when it has none
	// (dojot's upsert): the victim's stays as it was. Last, so that no
	// other request of A's on the id meets it.
	"PUT /cron/v1/jobs/{id}": {class: isoTenantID, want: "any", control: 2, phase: 2,
		reqs: func(v, a *isoTenant) []isoReq {
			return one("/cron/v1/jobs/"+v.cron, isoCronJob("stolen", "0 0 1 1 *", v.name, v.dev))
		}},
	"DELETE /cron/v1/jobs/{id}": {class: isoTenantID, want: "4xx", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/cron/v1/jobs/"+v.cron, "") }},
	"GET /flows/v1/flow/{id}":   {class: isoTenantID, want: "4xx", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/flows/v1/flow/"+v.flow, "") }},
	"PUT /flows/v1/flow/{id}": {class: isoTenantID, want: "4xx", control: 2,
		reqs: func(v, a *isoTenant) []isoReq {
			return one("/flows/v1/flow/"+v.flow, isoNotifyFlow("stolen", v.dev, "stolen"))
		}},
	"DELETE /flows/v1/flow/{id}":       {class: isoTenantID, want: "4xx", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/flows/v1/flow/"+v.flow, "") }},
	"GET /flows/v1/flow/{id}/status":   {class: isoTenantID, want: "4xx", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/flows/v1/flow/"+v.flow+"/status", "") }},
	"POST /flows/v1/flow/{id}/replay":  {class: isoTenantID, want: "4xx", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/flows/v1/flow/"+v.flow+"/replay", `{"from":0}`) }},
	"GET /history/device/{id}/history": {class: isoTenantID, want: "4xx", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/history/device/"+v.dev+"/history?lastN=10", "") }},
	"GET /history/STH/v1/contextEntities/type/{type}/id/{id}/attributes/{attr}": {class: isoTenantID, want: "any", control: 2,
		reqs: func(v, a *isoTenant) []isoReq {
			return one("/history/STH/v1/contextEntities/type/device/id/"+v.dev+"/attributes/note?lastN=10", "")
		}},
	"GET /x509/v1/certificates/{fp}": {class: isoTenantID, want: "4xx", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/x509/v1/certificates/"+v.certFP, "") }},
	"PATCH /x509/v1/certificates/{fp}": {class: isoTenantID, want: "4xx", control: 2,
		// The victim's certificate given to the attacker's device, and
		// the attacker's certificate claiming the victim's device.
		reqs: func(v, a *isoTenant) []isoReq {
			return []isoReq{{"/x509/v1/certificates/" + v.certFP, `{"belongsTo":{"device":"` + v.dev + `"}}`},
				{"/x509/v1/certificates/" + v.certFP, `{"belongsTo":{"device":"` + a.dev + `"}}`},
				{"/x509/v1/certificates/" + a.certFP, `{"belongsTo":{"device":"` + v.dev + `"}}`}}
		}},
	"DELETE /x509/v1/certificates/{fp}":           {class: isoTenantID, want: "4xx", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/x509/v1/certificates/"+v.certFP, "") }},
	"DELETE /x509/v1/certificates/{fp}/belongsto": {class: isoTenantID, want: "4xx", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/x509/v1/certificates/"+v.certFP+"/belongsto", "") }},
	"GET /x509/v1/trusted-cas/{fp}":               {class: isoTenantID, want: "4xx", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/x509/v1/trusted-cas/"+v.caFP, "") }},
	"PATCH /x509/v1/trusted-cas/{fp}": {class: isoTenantID, want: "4xx", control: 2,
		reqs: func(v, a *isoTenant) []isoReq {
			return one("/x509/v1/trusted-cas/"+v.caFP, `{"allowAutoRegistration":true}`)
		}},
	"DELETE /x509/v1/trusted-cas/{fp}": {class: isoTenantID, want: "4xx", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/x509/v1/trusted-cas/"+v.caFP, "") }},

	// --- the tenant's collections ---
	"GET /template":                       {class: isoCollection, want: "any", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/template", "") }},
	"GET /device":                         {class: isoCollection, want: "any", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/device", "") }},
	"GET /internal/device":                {class: isoCollection, want: "any", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/internal/device", "") }},
	"GET /flows/v1/flow":                  {class: isoCollection, want: "any", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/flows/v1/flow", "") }},
	"GET /cron/v1/jobs":                   {class: isoCollection, want: "any", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/cron/v1/jobs", "") }},
	"GET /x509/v1/certificates":           {class: isoCollection, want: "any", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/x509/v1/certificates", "") }},
	"GET /x509/v1/trusted-cas":            {class: isoCollection, want: "any", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/x509/v1/trusted-cas", "") }},
	"GET /history/notifications/history":  {class: isoCollection, want: "any", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/history/notifications/history", "") }},
	"GET /history/notifications/history/": {class: isoCollection, want: "any", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/history/notifications/history/", "") }},
	"POST /template": {class: isoCollection, want: "any", control: 2, phase: 1,
		reqs: func(v, a *isoTenant) []isoReq { return one("/template", jsonOf(isoTemplateBody("made by "+a.name))) }},
	// A device on the victim's template.
	"POST /device": {class: isoCollection, want: "4xx", control: 2, phase: 1,
		reqs: func(v, a *isoTenant) []isoReq {
			return one("/device", jsonOf(map[string]any{"label": "on-their-template", "templates": []int{v.tmpl}}))
		}},
	// Flows and cron jobs naming the victim's device are saved (dojot
	// does not check ids in them): what they do to it is checked in
	// TestIsolationMatrix's flow and cron cases.
	"POST /flows/v1/flow": {class: isoCollection, want: "any", control: 2, phase: 1,
		reqs: func(v, a *isoTenant) []isoReq { return one("/flows/v1/flow", isoNotifyFlow("theirs", v.dev, "x")) }},
	"POST /cron/v1/jobs": {class: isoCollection, want: "any", control: 2, phase: 1,
		reqs: func(v, a *isoTenant) []isoReq {
			return one("/cron/v1/jobs", isoCronJob("theirs", "0 0 1 1 *", v.name, v.dev))
		}},
	// A certificate for the victim's device, and the victim's
	// certificate registered for the attacker's device.
	"POST /x509/v1/certificates": {class: isoCollection, want: "4xx", control: 2, phase: 1,
		reqs: func(v, a *isoTenant) []isoReq {
			return []isoReq{{"/x509/v1/certificates", jsonOf(map[string]any{"csr": isoSpareCSR, "belongsTo": map[string]any{"device": v.dev}})},
				{"/x509/v1/certificates", jsonOf(map[string]any{"certificatePem": v.certPEM, "belongsTo": map[string]any{"device": a.dev}})}}
		}},
	// The victim's CA registered by the attacker: a trusted CA is the
	// tenant's own (its certificates are its devices'), so another tenant
	// may trust the same CA.
	"POST /x509/v1/trusted-cas": {class: isoCollection, want: "any", control: 2, phase: 1,
		reqs: func(v, a *isoTenant) []isoReq {
			return one("/x509/v1/trusted-cas", jsonOf(map[string]string{"caPem": v.caPEM}))
		},
		controlReq: func(v *isoTenant) isoReq {
			return isoReq{"/x509/v1/trusted-cas", jsonOf(map[string]string{"caPem": isoSpareCA})}
		}},
	// Import replaces the caller's data, here with the victim's ids.
	// No control: the owner's would replace the victim's data.
	"POST /import": {class: isoCollection, want: "any", phase: 2,
		reqs: func(v, a *isoTenant) []isoReq {
			return one("/import", jsonOf(map[string]any{
				"templates": []map[string]any{{"id": v.tmpl, "label": "imported", "attrs": []any{}}},
				"devices":   []map[string]any{{"id": v.dev, "label": "imported", "templates": []int{v.tmpl}}}}))
		}},
	"DELETE /template":      {class: isoCollection, want: "any", control: 2, phase: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/template", "") }},
	"DELETE /device":        {class: isoCollection, want: "any", control: 2, phase: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/device", "") }},
	"DELETE /flows/v1/flow": {class: isoCollection, want: "any", control: 2, phase: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/flows/v1/flow", "") }},
	"DELETE /cron/v1/jobs":  {class: isoCollection, want: "any", control: 2, phase: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/cron/v1/jobs", "") }},

	// --- admin only ---
	"GET /admin/tenants":      {class: isoAdmin, want: "403", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/admin/tenants", "") }},
	"GET /auth/admin/tenants": {class: isoAdmin, want: "403", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/auth/admin/tenants", "") }},
	"GET /auth/user":          {class: isoAdmin, want: "403", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/auth/user", "") }},
	"POST /auth/user": {class: isoAdmin, want: "403", control: 2,
		reqs: func(v, a *isoTenant) []isoReq {
			return one("/auth/user", jsonOf(map[string]string{"username": v.name + "_new", "service": v.name, "email": v.name + "_new@example.com", "name": "N", "profile": "admin"}))
		}},
	"GET /auth/user/{user}": {class: isoAdmin, want: "403", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/auth/user/"+v.victim, "") }},
	"PUT /auth/user/{user}": {class: isoAdmin, want: "403", control: 2,
		reqs: func(v, a *isoTenant) []isoReq {
			return one("/auth/user/"+v.victim, jsonOf(map[string]string{"username": v.name + "_victim", "service": v.name, "email": "stolen@example.com", "name": "stolen"}))
		}},
	"DELETE /auth/user/{user}": {class: isoAdmin, want: "403", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/auth/user/"+v.victim, "") }},
	"GET /auth/pap/permission": {class: isoAdmin, want: "403", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/auth/pap/permission", "") }},
	"POST /auth/pap/permission": {class: isoAdmin, want: "403", control: 2,
		reqs: func(v, a *isoTenant) []isoReq {
			return one("/auth/pap/permission", jsonOf(map[string]string{"name": v.name + "_p2", "path": "/(.*)", "method": "(.*)", "permission": "permit"}))
		}},
	"GET /auth/pap/permission/{perm}": {class: isoAdmin, want: "403", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/auth/pap/permission/"+v.perm, "") }},
	"PUT /auth/pap/permission/{perm}": {class: isoAdmin, want: "403", control: 2,
		reqs: func(v, a *isoTenant) []isoReq {
			return one("/auth/pap/permission/"+v.perm, jsonOf(map[string]string{"name": v.name + "_perm", "path": "/(.*)", "method": "(.*)", "permission": "permit"}))
		}},
	"DELETE /auth/pap/permission/{perm}": {class: isoAdmin, want: "403", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/auth/pap/permission/"+v.perm, "") }},
	"GET /auth/pap/group":                {class: isoAdmin, want: "403", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/auth/pap/group", "") }},
	"POST /auth/pap/group": {class: isoAdmin, want: "403", control: 2,
		reqs: func(v, a *isoTenant) []isoReq {
			return one("/auth/pap/group", jsonOf(map[string]string{"name": v.name + "group2", "description": "d"}))
		}},
	"GET /auth/pap/group/{group}": {class: isoAdmin, want: "403", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/auth/pap/group/"+v.group, "") }},
	"PUT /auth/pap/group/{group}": {class: isoAdmin, want: "403", control: 2,
		reqs: func(v, a *isoTenant) []isoReq {
			return one("/auth/pap/group/"+v.group, jsonOf(map[string]string{"name": v.name + "group", "description": "stolen"}))
		}},
	"DELETE /auth/pap/group/{group}":              {class: isoAdmin, want: "403", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/auth/pap/group/"+v.group, "") }},
	"GET /auth/pap/group/{group}/permissions":     {class: isoAdmin, want: "403", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/auth/pap/group/"+v.group+"/permissions", "") }},
	"GET /auth/pap/group/{group}/users":           {class: isoAdmin, want: "403", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/auth/pap/group/"+v.group+"/users", "") }},
	"GET /auth/pap/user/{user}/allpermissions":    {class: isoAdmin, want: "403", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/auth/pap/user/"+v.victim+"/allpermissions", "") }},
	"GET /auth/pap/user/{user}/directpermissions": {class: isoAdmin, want: "403", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/auth/pap/user/"+v.victim+"/directpermissions", "") }},
	"GET /auth/pap/user/{user}/groups":            {class: isoAdmin, want: "403", control: 2, reqs: func(v, a *isoTenant) []isoReq { return one("/auth/pap/user/"+v.victim+"/groups", "") }},
	// The victim's relations, and the attacker raising itself to admin.
	"POST /auth/pap/usergroup/{from}/{to}": {class: isoAdmin, want: "403", control: 2,
		reqs: func(v, a *isoTenant) []isoReq {
			return []isoReq{{"/auth/pap/usergroup/" + v.victim + "/" + v.group, ""}, {"/auth/pap/usergroup/" + a.name + "_user/admin", ""}}
		}},
	"DELETE /auth/pap/usergroup/{from}/{to}": {class: isoAdmin, want: "403", control: 2,
		reqs: func(v, a *isoTenant) []isoReq { return one("/auth/pap/usergroup/"+v.victim+"/"+v.group, "") }},
	"POST /auth/pap/grouppermissions/{from}/{to}": {class: isoAdmin, want: "403", control: 2,
		reqs: func(v, a *isoTenant) []isoReq {
			return []isoReq{{"/auth/pap/grouppermissions/" + v.group + "/" + v.perm, ""}, {"/auth/pap/grouppermissions/user/all_all", ""}}
		}},
	"DELETE /auth/pap/grouppermissions/{from}/{to}": {class: isoAdmin, want: "403", control: 2,
		reqs: func(v, a *isoTenant) []isoReq { return one("/auth/pap/grouppermissions/"+v.group+"/"+v.perm, "") }},
	"POST /auth/pap/userpermissions/{from}/{to}": {class: isoAdmin, want: "403", control: 2,
		reqs: func(v, a *isoTenant) []isoReq {
			return []isoReq{{"/auth/pap/userpermissions/" + v.victim + "/" + v.perm, ""}, {"/auth/pap/userpermissions/" + a.name + "_user/all_all", ""}}
		}},
	"DELETE /auth/pap/userpermissions/{from}/{to}": {class: isoAdmin, want: "403", control: 2,
		reqs: func(v, a *isoTenant) []isoReq { return one("/auth/pap/userpermissions/"+v.victim+"/"+v.perm, "") }},

	// --- device routes: a login token is no device credential ---
	// Controls: the owner's device credentials are not a token; the
	// HTTP agent's are exercised by newIsoTenant and the agent cases.
	"* /http-agent/v1/*": {class: isoDevice, want: "4xx",
		reqs: func(v, a *isoTenant) []isoReq {
			return one("/http-agent/v1/incoming-messages", `{"tenant":"`+v.name+`","deviceId":"`+v.dev+`","data":{"note":"forged"}}`)
		}},
	"* /iotagent/readings": {class: isoDevice, want: "4xx",
		reqs: func(v, a *isoTenant) []isoReq {
			return one("/iotagent/readings", `{"tenant":"`+v.name+`","deviceId":"`+v.dev+`","readings":[{"note":"forged"}]}`)
		}},
	"* /sigfox":             {class: isoDevice, want: "4xx", reqs: func(v, a *isoTenant) []isoReq { return one("/sigfox", `{"device":"`+v.dev+`","data":"00"}`) }},
	"* /lorawan/chirpstack": {class: isoDevice, want: "4xx", reqs: func(v, a *isoTenant) []isoReq { return one("/lorawan/chirpstack?event=up", `{}`) }},
	"* /lorawan/tts":        {class: isoDevice, want: "4xx", reqs: func(v, a *isoTenant) []isoReq { return one("/lorawan/tts", `{}`) }},
	"* /lorawan/tts/*":      {class: isoDevice, want: "4xx", reqs: func(v, a *isoTenant) []isoReq { return one("/lorawan/tts/uplink", `{}`) }},
	// Opened with a ticket, not a token; tickets are TestIsolationMatrix's
	// Kafka WS cases.
	"GET /kafka-ws/v1/topics/{topic}": {class: isoDevice, want: "4xx",
		reqs: func(v, a *isoTenant) []isoReq { return one("/kafka-ws/v1/topics/"+v.name+".device-data", "") }},
	// The engine's handshake needs no credential (socket.io's token is
	// checked by the socket, and refused with an error packet): its
	// answers must show nothing of the victim. Tokens, used, expired and
	// of another tenant, are TestSocketIO's cases. No control: nothing
	// of B's is named.
	"* /socket.io/*": {class: isoPublic, want: "any",
		reqs: func(v, a *isoTenant) []isoReq { return one("/socket.io/?EIO=3&transport=polling", "") }},
}

// isoFlowNodes is the nodes array of a flow body.
func isoFlowNodes(flow string) string {
	var f struct{ Flow json.RawMessage }
	if err := json.Unmarshal([]byte(flow), &f); err != nil {
		panic(err)
	}
	return string(f.Flow)
}
