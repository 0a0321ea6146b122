package kafka

import (
	"encoding/json"
	"strconv"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/dojot-es/dojot"
)

// Topic names, as dojot's services use them (CONTRACT.md 2, 4.4, 10).
const (
	tenancyTopic  = dojot.ManagementTenant + ".dojot.tenancy"
	deviceSubject = "dojot.device-manager.device"
)

func deviceTopic(tenant string) string { return tenant + "." + deviceSubject }

// devicesTopic is the device topic under the name dojot's architecture page
// gives it (plural), written too with Options.DevicesTopic.
func devicesTopic(tenant string) string { return deviceTopic(tenant) + "s" }

// dataSubject is the IoT agents' subject: <tenant>.device-data.
const dataSubject = "device-data"

func dataTopic(tenant string) string { return tenant + "." + dataSubject }

// Record headers: a consumer drops a duplicate device event by
// (HeaderEventID, HeaderPart), a duplicate reading by HeaderMsgID.
const (
	HeaderEventID = "dojot-event-id"
	HeaderSeq     = "dojot-seq"
	HeaderPart    = "dojot-part"
	HeaderMsgID   = "dojot-msg-id"
)

// deviceMessage is dojot's KafkaNotifier message on the device topic.
type deviceMessage struct {
	Event string          `json:"event"`
	Meta  meta            `json:"meta"`
	Data  json.RawMessage `json:"data"`
}

type meta struct {
	Service   string `json:"service"`
	Timestamp *int64 `json:"timestamp,omitempty"`
}

type configureData struct {
	ID    string          `json:"id"`
	Attrs json.RawMessage `json:"attrs"`
}

type templateUpdateData struct {
	Affected []string        `json:"affected"`
	Template json.RawMessage `json:"template"`
}

type tenancyMessage struct {
	Type   string `json:"type"`
	Tenant string `json:"tenant"`
}

// records maps one event, already applied to b.view, to its Kafka records
// (none for most events).
func (b *Bridge) records(ev dojot.Event) []kafkago.Message {
	var out []kafkago.Message
	add := func(topic, key string, v any) {
		val, err := json.Marshal(v)
		if err != nil { // only raw JSON the view or the event holds
			b.log.Error("kafka bridge: encode record", "seq", ev.Seq, "type", ev.Type, "err", err)
			return
		}
		out = append(out, kafkago.Message{
			Topic: topic,
			Key:   []byte(key),
			Value: val,
			Headers: []kafkago.Header{
				{Key: HeaderEventID, Value: []byte(ev.ID)},
				{Key: HeaderSeq, Value: strconv.AppendUint(nil, ev.Seq, 10)},
				{Key: HeaderPart, Value: strconv.AppendInt(nil, int64(len(out)), 10)},
			},
		})
	}
	device := func(event, id string, internal bool) {
		var data []byte
		var ok bool
		if internal {
			data, ok = b.view.InternalDeviceJSON(ev.Tenant, id)
		} else {
			data, ok = b.view.DeviceJSON(ev.Tenant, id)
		}
		if !ok {
			b.log.Error("kafka bridge: device not in view", "seq", ev.Seq, "type", ev.Type, "tenant", ev.Tenant, "device_id", id)
			return
		}
		add(deviceTopic(ev.Tenant), id, deviceMessage{Event: event, Meta: meta{Service: ev.Tenant}, Data: data})
	}
	decode := func(v any) bool {
		if err := ev.Decode(v); err != nil {
			b.log.Error("kafka bridge: skipping event", "seq", ev.Seq, "err", err)
			return false
		}
		return true
	}
	switch ev.Type {
	case dojot.EventDeviceCreated:
		var p dojot.DeviceCreated
		if decode(&p) && (p.Cause == "" || p.Cause == dojot.CauseImport) {
			device("create", ev.AggregateID, false)
		}
	case dojot.EventDeviceUpdated:
		var p dojot.DeviceUpdated
		if decode(&p) {
			switch p.Cause {
			case "":
				device("update", ev.AggregateID, false)
			case dojot.CausePSK:
				device("update", ev.AggregateID, true)
			}
		}
	case dojot.EventDeviceDeleted:
		var p dojot.DeviceDeleted
		if decode(&p) && p.Cause != dojot.CauseDeleteAll && len(p.Rendered) > 0 {
			add(deviceTopic(ev.Tenant), ev.AggregateID, deviceMessage{Event: "remove", Meta: meta{Service: ev.Tenant}, Data: p.Rendered})
		}
	case dojot.EventDeviceActuated:
		var p dojot.DeviceActuated
		if decode(&p) {
			data, _ := json.Marshal(configureData{ID: ev.AggregateID, Attrs: p.Attrs})
			ts := p.Timestamp
			add(deviceTopic(ev.Tenant), ev.AggregateID, deviceMessage{Event: "configure", Meta: meta{Service: ev.Tenant, Timestamp: &ts}, Data: data})
		}
	case dojot.EventTemplateUpdated:
		var p dojot.TemplateUpdated
		if !decode(&p) {
			break
		}
		// dojot's TemplateHandler: "update" for each affected device, then
		// "template.update" listing them.
		affected := b.view.DevicesWithTemplate(ev.Tenant, p.ID)
		if affected == nil {
			affected = []string{}
		}
		for _, id := range affected {
			device("update", id, false)
		}
		tp, ok := b.view.TemplateJSON(ev.Tenant, p.ID)
		if !ok {
			b.log.Error("kafka bridge: template not in view", "seq", ev.Seq, "tenant", ev.Tenant, "template_id", p.ID)
			break
		}
		data, _ := json.Marshal(templateUpdateData{Affected: affected, Template: tp})
		add(deviceTopic(ev.Tenant), "template."+strconv.Itoa(p.ID), deviceMessage{Event: "template.update", Meta: meta{Service: ev.Tenant}, Data: data})
	case dojot.EventTenantCreated, dojot.EventTenantDeleted:
		var p dojot.TenantCreated // TenantDeleted has the same shape
		if !decode(&p) {
			break
		}
		if p.Tenant == "" {
			p.Tenant = ev.Tenant
		}
		typ := "CREATE"
		// As dojot's data-broker: ready for the tenant's consumers and
		// agents; the inbound reader follows once they exist.
		b.wantTenantTopics(p.Tenant)
		b.tenantEvent = true
		if ev.Type == dojot.EventTenantDeleted {
			typ = "DELETE"
		}
		add(tenancyTopic, p.Tenant, tenancyMessage{Type: typ, Tenant: p.Tenant})
	}
	if b.opts.DevicesTopic {
		for _, m := range out {
			if m.Topic == deviceTopic(ev.Tenant) {
				m.Topic = devicesTopic(ev.Tenant)
				out = append(out, m)
			}
		}
	}
	return out
}
