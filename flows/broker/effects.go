package broker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/flows"
	"github.com/dojot-es/dojot/flows/ftp"
)

// effects are the side effects this version performs: readings as a
// device, actuations, notifications and publish-ftp's files (stored in
// their streams), uploads to FTP servers, contexts, HTTP calls and cron
// jobs (through the cron commands, in process).
func (b *Broker) effects() flows.Effects {
	h := b.opts.HTTP
	if h == nil {
		h = &http.Client{Timeout: 30 * time.Second}
	}
	up := b.opts.Uploader
	if up == nil {
		up = &ftp.Uploader{}
	}
	return flows.Effects{Data: dataSink{b}, Actuator: actuateSink{b}, Notifier: notifySink{b}, FTP: ftpSink{b}, Uploader: up,
		Context: b.opts.Contexts, HTTP: h, Cron: b.opts.Cron}
}

type ftpSink struct{ b *Broker }

// PublishFTP stores publish-ftp's message in the FTP stream, its
// metadata.msgID (the output's id) as the dedupe id; the Kafka bridge
// puts it on <tenant>.dojot.ftp.
func (s ftpSink) PublishFTP(ctx context.Context, tenant string, f flows.FTPFile) error {
	payload, err := marshal(f)
	if err != nil {
		return fmt.Errorf("publish-ftp: %w", err)
	}
	_, err = s.b.opts.Store.AppendFTP(ctx, tenant, payload, f.Metadata.MsgID)
	return err
}

type notifySink struct{ b *Broker }

// Notify stores the notification in the NOTIFICATIONS stream, its msgID
// (the output's id) as the dedupe id.
func (s notifySink) Notify(ctx context.Context, tenant string, n flows.Notification) error {
	payload, err := marshal(n)
	if err != nil {
		return fmt.Errorf("notification: %w", err)
	}
	_, err = s.b.opts.Store.AppendNotification(ctx, tenant, payload, n.MsgID)
	return err
}

// marshal is JSON as dojot's flowbroker (JSON.stringify) writes it: <, >
// and & as they are, not escaped as encoding/json does by default.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

type dataSink struct{ b *Broker }

// PublishData stores a reading as the device, with the output's id as its
// dedupe id and its depth in a header (a loop through device data is cut
// at the engine's MaxDepth).
func (s dataSink) PublishData(ctx context.Context, d flows.DeviceData) error {
	attrs, err := json.Marshal(d.Attrs)
	if err != nil {
		return fmt.Errorf("device out: attrs: %w", err)
	}
	if len(attrs) == 0 || attrs[0] != '{' {
		return fmt.Errorf("device out: attrs must be an object, not %s", attrs)
	}
	_, err = s.b.opts.Store.AppendFlowData(ctx, d.Tenant, d.DeviceID, dojot.Reading(d.Tenant, d.DeviceID, d.Timestamp, attrs), d.ID, d.Depth)
	return err
}

type actuateSink struct{ b *Broker }

// Actuate sends the configuration through the commands (the device's
// actuators only), the output's id as the event's, its depth in the event
// (a flow that actuates the device whose configure events start it is cut
// at the engine's MaxDepth, as a device out loop is).
func (s actuateSink) Actuate(ctx context.Context, a flows.Actuation) error {
	body, err := json.Marshal(map[string]any{"attrs": a.Attrs})
	if err != nil {
		return fmt.Errorf("actuate: attrs: %w", err)
	}
	return s.b.opts.Actuator.ActuateAs(ctx, a.Tenant, a.DeviceID, body, a.ID, a.Depth)
}

// KV is a key-value bucket (eventstore.KV).
type KV interface {
	Get(ctx context.Context, key string) ([]byte, uint64, error)
	CompareAndSet(ctx context.Context, key string, value []byte, revision uint64) error
}

// KVContexts keeps the flows' contexts in a key-value bucket, keyed as
// dojot's context manager named them.
type KVContexts struct{ KV KV }

func key(k flows.ContextKey) string {
	return eventstore.KVKey(k.Tenant, k.FlowID, k.NodeType, k.NodeID, k.Name)
}

func (c KVContexts) Get(ctx context.Context, k flows.ContextKey) ([]byte, uint64, error) {
	return c.KV.Get(ctx, key(k))
}

func (c KVContexts) CompareAndSet(ctx context.Context, k flows.ContextKey, value []byte, revision uint64) error {
	return c.KV.CompareAndSet(ctx, key(k), value, revision)
}
