// Package sigfox is dojot's Sigfox IoT agent (dojot/iotagent-sigfox),
// imported as agentsigfox: the endpoint of a Sigfox backend's custom JSON
// callback, POST /sigfox, on the gateway's port.
//
// dojot's contract, kept: the callback body is a JSON object whose
// "device" is the Sigfox id; the device is the dojot device whose static
// attribute "device" shows that id (memory.View.DevicesByStatic). The
// reading's attrs are the whole body, with "timestamp" (Unix seconds)
// rewritten as an ISO-8601 string as JavaScript's toISOString writes it,
// and "station_coordinates":"<station_lat>,<station_lng>" added. A
// callback configured for dojot, e.g.
//
//	{"device":"{device}","timestamp":{time},"data":"{data}","station_lat":{lat},"station_lng":{lng}}
//
// works unchanged; the answer is 200 with an empty body.
//
// Fixed on purpose. dojot's agent had no authentication: here the callback
// must carry the shared secret (Options.Secret) as the header
// "Authorization: Bearer <secret>" (a Sigfox callback's custom header),
// else 401. dojot published the reading under every tenant with whatever
// device id its cache held (undefined for an unknown id) and answered 200
// before anything was stored: here an unknown Sigfox id is a 404, nothing
// stored; with ?tenant=<t> only that tenant's devices are candidates (a
// device of another tenant is refused the same way); a Sigfox id shared by
// several devices of one tenant is stored for each, as dojot's LoRaWAN
// agent does for a shared EUI, but one shown by devices of several tenants
// is a 409 unless ?tenant= names one (agents.ForTenant: an id is no
// secret, and a tenant must not get another's uplinks by claiming it). A 200 means JetStream stored the reading of every such
// device. A body without station_lat/station_lng is stored without
// station_coordinates (dojot crashed with a 500), one whose timestamp is
// not a number of seconds is a 400 (dojot: 500). metadata.timestamp is the
// message's time (dojot took the time of arrival). Every refusal is
// counted by reason in Status and logged (the first of each kind, then one
// in a thousand).
package sigfox
