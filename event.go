package dojot

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nuid"
)

// Event is the envelope of every change stored in the EVENTS stream, under
// the subject evt.<tenant>.<kind>.<aggregate id>. Data holds the payload of
// Type (the structs in this package); everything a view shows is in it, so
// replaying the log into an empty view reproduces the same state.
type Event struct {
	ID          string    `json:"id"`
	Type        string    `json:"type"`
	Tenant      string    `json:"tenant"`
	Kind        string    `json:"kind"`
	AggregateID string    `json:"aggregate_id"`
	Version     uint64    `json:"version"` // 1-based position in the aggregate's history
	Time        time.Time `json:"time"`
	Actor       string    `json:"actor,omitempty"`
	// CorrelationID is the id of the request that caused the event (its
	// X-Request-Id), so that whoever acts on or logs about the event can
	// be traced back to it; empty for events no request caused.
	CorrelationID string          `json:"correlation_id,omitempty"`
	Data          json.RawMessage `json:"data"`

	// Seq is the stream sequence: set by the store on append and on read.
	Seq uint64 `json:"-"`

	// The optimistic-concurrency condition of the append, never stored.
	// By default the last sequence stored on the event's own subject must be
	// Expect (0: nothing stored yet, so the aggregate id is claimed).
	// ExpectSubject moves the check to another subject or a wildcard filter
	// (e.g. evt.t1.template.* to allocate the next template id); NoExpect
	// turns it off.
	Expect        uint64 `json:"-"`
	ExpectSubject string `json:"-"`
	NoExpect      bool   `json:"-"`
}

// Subject is where the event is stored.
func (e Event) Subject() string { return Subject(e.Tenant, e.Kind, e.AggregateID) }

// Subject names an aggregate's subject in the EVENTS stream.
func Subject(tenant, kind, id string) string { return "evt." + tenant + "." + kind + "." + id }

// NewEvent builds an event with a fresh id; time is when the command decided it.
func NewEvent(typ, tenant, kind, id string, at time.Time, data any) (Event, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("encode %s: %w", typ, err)
	}
	return Event{ID: nuid.Next(), Type: typ, Tenant: tenant, Kind: kind, AggregateID: id, Time: at.UTC(), Data: raw}, nil
}

// Context returns ctx carrying the event's correlation id as the request id,
// for a consumer to log about the event (and act on it) as part of the
// request that caused it.
func (e Event) Context(ctx context.Context) context.Context {
	if e.CorrelationID == "" {
		return ctx
	}
	return WithRequestID(ctx, e.CorrelationID)
}

// Decode unmarshals the event's payload into v.
func (e Event) Decode(v any) error {
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("decode %s %s: %w", e.Type, e.ID, err)
	}
	return nil
}
