// Package kafkamsg renders events as the Kafka messages dojot's services
// write for them (CONTRACT.md 2, 4.4, 10): the device manager's
// create/update/remove/configure/template.update on
// <tenant>.dojot.device-manager.device, auth's CREATE/DELETE on
// dojot-management.dojot.tenancy, and x509-identity-mgmt's ownership and
// trusted-CA messages (x509.go). A device message carries the whole
// device as it is after the event, so rendering needs a view that has
// applied the log up to that event: the Kafka bridge and Kafka WS each
// keep one (projections/memory).
package kafkamsg

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/dojot-es/dojot"
)

// Topic names, as dojot's services use them.
const (
	TenancyTopic  = dojot.ManagementTenant + ".dojot.tenancy"
	DeviceSubject = "dojot.device-manager.device"
	DataSubject   = "device-data"
)

// DeviceTopic is a tenant's device manager topic.
func DeviceTopic(tenant string) string { return tenant + "." + DeviceSubject }

// DevicesTopic is the device topic under the name dojot's architecture
// page gives it (plural).
func DevicesTopic(tenant string) string { return DeviceTopic(tenant) + "s" }

// DataTopic is a tenant's IoT agents' topic, <tenant>.device-data.
func DataTopic(tenant string) string { return tenant + "." + DataSubject }

// The flows' outputs for other services: notifications (FLOWS.md 5) and
// publish-ftp's files for the kafka2ftp connector (FLOWS.md 4.8).
const (
	NotificationsSubject = "dojot.notifications"
	FTPSubject           = "dojot.ftp"
)

// NotificationsTopic is a tenant's notifications topic.
func NotificationsTopic(tenant string) string { return tenant + "." + NotificationsSubject }

// FTPTopic is a tenant's publish-ftp topic.
func FTPTopic(tenant string) string { return tenant + "." + FTPSubject }

// View is what rendering reads: the state after the event
// (projections/memory.View).
type View interface {
	DeviceJSON(tenant, id string) ([]byte, bool)
	InternalDeviceJSON(tenant, id string) ([]byte, bool)
	DevicesWithTemplate(tenant string, templateID int) []string
	TemplateJSON(tenant string, id int) ([]byte, bool)
	x509View // x509.go
}

// Message is one Kafka message: its topic, key (the device id, the
// tenant, template.<id>) and JSON value.
type Message struct {
	Topic, Key string
	Value      []byte
}

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

// Render returns the messages dojot writes for ev (none for most events),
// with view already holding ev's effect. An event it cannot render (a
// payload that does not decode, a device the view lacks) is an error
// next to what it could render.
func Render(view View, ev dojot.Event) ([]Message, error) {
	var out []Message
	var errs []error
	add := func(topic, key string, v any) {
		val, err := json.Marshal(v)
		if err != nil { // only raw JSON the view or the event holds
			errs = append(errs, fmt.Errorf("encode %s: %w", ev.Type, err))
			return
		}
		out = append(out, Message{Topic: topic, Key: key, Value: val})
	}
	device := func(event, id string, internal bool) {
		var data []byte
		var ok bool
		if internal {
			data, ok = view.InternalDeviceJSON(ev.Tenant, id)
		} else {
			data, ok = view.DeviceJSON(ev.Tenant, id)
		}
		if !ok {
			errs = append(errs, fmt.Errorf("%s: device %s/%s not in the view", ev.Type, ev.Tenant, id))
			return
		}
		add(DeviceTopic(ev.Tenant), id, deviceMessage{Event: event, Meta: meta{Service: ev.Tenant}, Data: data})
	}
	decode := func(v any) bool {
		if err := ev.Decode(v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ev.Type, err))
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
			add(DeviceTopic(ev.Tenant), ev.AggregateID, deviceMessage{Event: "remove", Meta: meta{Service: ev.Tenant}, Data: p.Rendered})
		}
	case dojot.EventDeviceActuated:
		var p dojot.DeviceActuated
		if decode(&p) {
			data, _ := json.Marshal(configureData{ID: ev.AggregateID, Attrs: p.Attrs})
			ts := p.Timestamp
			add(DeviceTopic(ev.Tenant), ev.AggregateID, deviceMessage{Event: "configure", Meta: meta{Service: ev.Tenant, Timestamp: &ts}, Data: data})
		}
	case dojot.EventTemplateUpdated:
		var p dojot.TemplateUpdated
		if !decode(&p) {
			break
		}
		// dojot's TemplateHandler: "update" for each affected device, then
		// "template.update" listing them.
		affected := view.DevicesWithTemplate(ev.Tenant, p.ID)
		if affected == nil {
			affected = []string{}
		}
		for _, id := range affected {
			device("update", id, false)
		}
		tp, ok := view.TemplateJSON(ev.Tenant, p.ID)
		if !ok {
			errs = append(errs, fmt.Errorf("%s: template %s/%d not in the view", ev.Type, ev.Tenant, p.ID))
			break
		}
		data, _ := json.Marshal(templateUpdateData{Affected: affected, Template: tp})
		add(DeviceTopic(ev.Tenant), "template."+strconv.Itoa(p.ID), deviceMessage{Event: "template.update", Meta: meta{Service: ev.Tenant}, Data: data})
	case dojot.EventTenantCreated, dojot.EventTenantDeleted:
		var p dojot.TenantCreated // TenantDeleted has the same shape
		if !decode(&p) {
			break
		}
		typ := "CREATE"
		if ev.Type == dojot.EventTenantDeleted {
			typ = "DELETE"
		}
		add(TenancyTopic, TenantOf(ev, p), tenancyMessage{Type: typ, Tenant: TenantOf(ev, p)})
	}
	x, err := renderX509(view, ev)
	if err != nil {
		errs = append(errs, err)
	}
	out = append(out, x...)
	return out, joinErrs(errs)
}

// TenantOf is the tenant a tenant event names (the payload's, else the
// event's).
func TenantOf(ev dojot.Event, p dojot.TenantCreated) string {
	if p.Tenant == "" {
		return ev.Tenant
	}
	return p.Tenant
}

func joinErrs(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return fmt.Errorf("%w (and %d more)", errs[0], len(errs)-1)
}
