// Package lorawan is the LoRaWAN IoT agent, imported as agentlorawan:
// uplinks from a LoRaWAN network server become readings of the dojot
// devices whose static attribute dev_eui is the uplink's DevEUI, and
// actuations become downlinks.
//
// Network servers. dojot's agent (dojot/iotagent-lora-everynet) spoke only
// Everynet; this one also takes the HTTP integrations of ChirpStack v4 and
// The Things Stack v3, each on only when configured:
//
//   - ChirpStack v4, HTTP integration with the JSON encoding: POST
//     /lorawan/chirpstack?event=<type> on the gateway's port. Only "up" is
//     read (deviceInfo.devEui; the codec's "object" when the device profile
//     has a codec, else base64 "data"); other events are answered 200 and
//     ignored. The integration's Headers must carry
//     "Authorization: Bearer <secret>".
//   - The Things Stack v3, webhook in the JSON format: POST /lorawan/tts
//     (or any path under it, per message type). A message with
//     "uplink_message" is read (end_device_ids.dev_eui; the payload
//     formatter's "decoded_payload", else base64 "frm_payload"); any other
//     is answered 200 and ignored. The webhook's Additional headers must
//     carry "Authorization: Bearer <secret>" (TTS itself sends only the
//     X-Downlink-* headers, which are not a secret of ours).
//   - Everynet, as dojot: a websocket client to
//     <server>?access_token=<token> reading {"type":"uplink",
//     "meta":{"device":<EUI>},"params":{"payload":<base64>,"rx_time":..}};
//     other types are ignored. A lost connection is retried with backoff
//     (1 s, dojot's interval, doubling to 30 s) and shown in Status.
//
// Devices. Every device whose dev_eui shows the uplink's EUI gets the
// reading (several may share one, as dojot allows); EUIs compare whatever
// their case and byte separators (dojot.NormalEUI). ?tenant= on a
// webhook's URL keeps that tenant's devices; without it, an EUI shown by
// devices of several tenants is refused, 409 (agents.ForTenant: an EUI is
// no secret, and a tenant must not get another's uplinks by claiming it;
// dojot updated every tenant's device). An
// uplink's attrs are the network server's decoded object when it sent one;
// else the decoder the device's static attribute lora_decoder names
// (Decode: "hex", "decentlab", "json"); without one, Everynet's default is
// dojot's DecentLab protocol v2 decoder and the others' is "hex".
// metadata.timestamp is the network server's time of reception (dojot took
// the time of arrival).
//
// Answers. A webhook gets 200 {"stored":<n>} only once JetStream stored
// the reading of every such device (dojot answered nothing: its Everynet
// socket had no acknowledgement). A wrong secret is a 401; an unknown EUI a
// 404; a body that is not the network server's JSON a 400, invalid base64
// a 400, a Protobuf encoding a 415, a payload the device's decoder refuses
// a 422, a body over Options.MaxBody a 413; JetStream failing a 503. Each
// has a JSON body {"error":..}, is counted by reason in Status (/healthz,
// "lorawan") and logged (the first of each kind, then one in a thousand);
// nothing of it is stored, as every device's attrs are decoded before any
// reading is. An Everynet message has no answer: refused or not stored, it
// is counted and logged.
//
// Downlinks. dojot's agent had none. Here an actuation of a device with a
// dev_eui is sent through the network server's HTTP API, its FRMPayload the
// actuation's attrs as JSON (base64 in the request), or what the encoder
// the device's lora_encoder names makes of them (Encode: "json", "hex"), on
// the port of the device's lora_fport (default 1): ChirpStack's REST API,
// POST <url>/api/devices/<devEui>/queue {"queueItem":{"fPort","data"}} with
// "Authorization: Bearer <API token>"; or The Things Stack's
// POST <webhook URL>/devices/<device id>/down/push
// {"downlinks":[{"f_port","frm_payload","priority":"NORMAL"}]} with the API
// key as bearer, the device id being its tts_device_id or
// "eui-<dev_eui>". When both are configured a device's lora_network
// chooses. Each actuation is sent by one instance of the group (the
// durable JetStream consumer lorawan_actuate_<group>,
// eventstore.Store.FollowShared) and retried while the network server is
// unreachable or answers 5xx, 408 or 429; other refusals are logged and
// counted (actuation_failed), not retried.
package lorawan
