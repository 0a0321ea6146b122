package dojot

import (
	"encoding/json"
	"time"
)

// KindFlow is the aggregate kind of flows (dojot's flowbroker).
const KindFlow = "flow"

// Flow event types. Every flow event of a tenant is appended with
// ExpectSubject = Subject(tenant, KindFlow, "*"): flows change rarely, and
// one writer at a time per tenant lets DELETE /flows/v1/flow remove them all
// in one event.
const (
	EventFlowCreated     = "flow.created"
	EventFlowUpdated     = "flow.updated"
	EventFlowDeleted     = "flow.deleted"
	EventFlowsAllDeleted = "flow.all_deleted" // aggregate FlowsAll
)

// EventNotification is never stored in EVENTS: it is the type a flow
// notification from the NOTIFICATIONS stream carries when a projection
// follows it (eventstore.NotificationLog). Data is dojot's message as
// stored, Tenant its tenant, Time when JetStream stored it.
const EventNotification = "flow.notification"

// FlowsAll is the aggregate id of flow.all_deleted.
const FlowsAll = "_all"

// Flow is a tenant's flow as stored in events: its node-RED node list
// exactly as the client sent it (Nodes, a JSON array), which the flow
// engine parses.
type Flow struct {
	ID      string          `json:"id"` // a UUID v4, as dojot's
	Name    string          `json:"name"`
	Enabled bool            `json:"enabled"`
	Nodes   json.RawMessage `json:"flow"`
	Created time.Time       `json:"created"`
	Updated time.Time       `json:"updated"`
}

// FlowCreated is the payload of flow.created.
type FlowCreated struct {
	Flow
}

// FlowUpdated is the payload of flow.updated: the whole flow after the
// change.
type FlowUpdated struct {
	Flow
}

// FlowDeleted is the payload of flow.deleted.
type FlowDeleted struct {
	ID string `json:"id"`
}

// FlowsAllDeleted is the payload of flow.all_deleted: every flow of the
// tenant went at once.
type FlowsAllDeleted struct {
	IDs []string `json:"ids"`
}
