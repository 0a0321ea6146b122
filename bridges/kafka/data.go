package kafka

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/projections/kafkamsg"
)

// OriginHeader on a DATA message says where it came from; OriginKafka marks
// a reading appended from <tenant>.device-data, which the DATA -> Kafka
// direction skips (and acknowledges) so it is not echoed back.
const (
	OriginHeader = "Dojot-Origin"
	OriginKafka  = "kafka"
)

// newDataPump returns the DATA -> <tenant>.device-data direction: each
// reading as it is (dojot's IoT-agent shape), key = device id, headers
// dojot-seq (its DATA sequence) and dojot-msg-id (its Nats-Msg-Id if the
// publisher set one, else "data:<seq>"). A new consumer starts at the
// stream's end (DeliverNew): turning the bridge on does not replay the
// readings DATA retains into Kafka.
func newDataPump(opts *Options, store *eventstore.Store) *pump {
	p := newPump(opts, store, store.DataStream(), opts.Consumer+"-data", "dojot Kafka bridge: device data")
	p.deliver0 = jetstream.DeliverNewPolicy
	p.gaps = true // DATA expires by age and size
	p.records = func(_ context.Context, m jetstream.Msg, seq uint64) []kafkago.Message {
		h := m.Headers()
		if h.Get(OriginHeader) == OriginKafka {
			return nil
		}
		tenant, device, ok := store.DataDevice(m.Subject())
		if !ok || !dojot.ValidTenant(tenant) || !dojot.ValidToken(device) {
			p.log.Error("kafka bridge: skipping reading on an unexpected subject", "seq", seq, "subject", m.Subject())
			return nil
		}
		s := strconv.AppendUint(nil, seq, 10)
		id := []byte(h.Get(jetstream.MsgIDHeader))
		if len(id) == 0 {
			id = append([]byte("data:"), s...)
		}
		return []kafkago.Message{{
			Topic:   dataTopic(tenant),
			Key:     []byte(device),
			Value:   m.Data(),
			Headers: []kafkago.Header{{Key: HeaderSeq, Value: s}, {Key: HeaderMsgID, Value: id}},
		}}
	}
	return p
}

// newNotifyPump returns the NOTIFICATIONS -> <tenant>.dojot.notifications
// direction: each flow notification as it is (dojot's message), key = the
// tenant (one order per tenant, as dojot's single partition had), headers
// dojot-seq and dojot-msg-id (its msgID). A new consumer starts at the
// stream's end, as the data pump's does.
func newNotifyPump(opts *Options, store *eventstore.Store) *pump {
	return newTenantPump(opts, store, store.NotificationsStream(), store.NotificationSubject(""), "-notify", "notifications", NotificationsSubject)
}

// newFTPPump returns the FTP -> <tenant>.dojot.ftp direction: each
// publish-ftp output as it is (dojot's message, for the kafka2ftp
// connector), keyed and headed as the notifications are (dojot-msg-id its
// metadata.msgID).
func newFTPPump(opts *Options, store *eventstore.Store) *pump {
	return newTenantPump(opts, store, store.FTPStream(), store.FTPSubject(""), "-ftp", "ftp files", kafkamsg.FTPSubject)
}

// newTenantPump is a pump of a stream of tenant messages (subjects
// <prefix><tenant>) to <tenant>.<subject>, each message as it is.
func newTenantPump(opts *Options, store *eventstore.Store, stream, prefix, durable, what, subject string) *pump {
	p := newPump(opts, store, stream, opts.Consumer+durable, "dojot Kafka bridge: "+what)
	p.deliver0 = jetstream.DeliverNewPolicy
	p.gaps = true // these streams expire as DATA does
	p.records = func(_ context.Context, m jetstream.Msg, seq uint64) []kafkago.Message {
		tenant := strings.TrimPrefix(m.Subject(), prefix)
		if !dojot.ValidTenant(tenant) {
			p.log.Error("kafka bridge: skipping a message on an unexpected subject", "seq", seq, "subject", m.Subject())
			return nil
		}
		s := strconv.AppendUint(nil, seq, 10)
		id := []byte(m.Headers().Get(jetstream.MsgIDHeader))
		if len(id) == 0 {
			id = append([]byte(durable[1:]+":"), s...)
		}
		return []kafkago.Message{{
			Topic:   tenant + "." + subject,
			Key:     []byte(tenant),
			Value:   m.Data(),
			Headers: []kafkago.Header{{Key: HeaderSeq, Value: s}, {Key: HeaderMsgID, Value: id}},
		}}
	}
	return p
}

// NotificationsSubject is dojot's notifications subject: flows write
// <tenant>.dojot.notifications.
const NotificationsSubject = kafkamsg.NotificationsSubject

// reading is what a legacy IoT agent writes to <tenant>.device-data.
// Tenant is a pointer: dojot's agents and its persister take the tenant
// from the topic, so metadata.tenant is optional (dojot/history's own
// fixture has none); when present it must name the topic's tenant.
type reading struct {
	Metadata *struct {
		DeviceID string  `json:"deviceid"`
		Tenant   *string `json:"tenant"`
	} `json:"metadata"`
	Attrs json.RawMessage `json:"attrs"`
}

// Why parseReading refuses a record.
var (
	errNotObject = errors.New("not a JSON object")
	errMetadata  = errors.New("metadata.deviceid must be a string (and metadata.tenant, when present)")
	errDeviceID  = errors.New("metadata.deviceid is not a safe subject token")
	errAttrs     = errors.New("attrs must be an object")
	errTopic     = errors.New("not a <tenant>.device-data topic")
	// errCrossTenant: metadata.tenant names another tenant than the topic,
	// a write into one tenant's data from another's topic. It is counted
	// apart from the other refusals (InStatus.CrossTenant).
	errCrossTenant = errors.New("metadata.tenant is not the topic's tenant")
)

// parseReading validates a <tenant>.device-data record and returns its
// tenant (the topic's) and device id. The record is stored as it is, with
// whatever more metadata it carries (protocol, payload, shouldPersist...),
// which dojot's history keeps and returns.
func parseReading(topic string, value []byte) (tenant, device string, err error) {
	tenant, ok := strings.CutSuffix(topic, "."+kafkamsg.DataSubject)
	if !ok || !dojot.ValidTenant(tenant) {
		return "", "", errTopic
	}
	if v := bytes.TrimSpace(value); len(v) == 0 || v[0] != '{' {
		return "", "", errNotObject
	}
	var r reading
	if err := json.Unmarshal(value, &r); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && strings.HasPrefix(te.Field, "metadata") {
			return "", "", errMetadata
		}
		return "", "", errors.Join(errNotObject, err)
	}
	switch {
	case r.Metadata == nil || r.Metadata.DeviceID == "":
		return "", "", errMetadata
	case r.Metadata.Tenant != nil && *r.Metadata.Tenant != tenant:
		return "", "", errCrossTenant
	case !dojot.ValidToken(r.Metadata.DeviceID):
		return "", "", errDeviceID
	}
	if a := bytes.TrimSpace(r.Attrs); len(a) == 0 || a[0] != '{' {
		return "", "", errAttrs
	}
	return tenant, r.Metadata.DeviceID, nil
}
