package dojot

import (
	"encoding/json"
	"time"
)

// KindCronJob is the aggregate kind of the jobs of dojot's cron service
// (/cron/v1/jobs): one subject per job, evt.<tenant>.cronjob.<id>.
const KindCronJob = "cronjob"

// Cron job event types.
const (
	EventCronJobCreated = "cronjob.created"
	EventCronJobUpdated = "cronjob.updated" // PUT /cron/v1/jobs/:id replaced it
	EventCronJobDeleted = "cronjob.deleted"
)

// CronJob is a job as dojot's cron service stores and answers it: its
// spec (time, timezone, name, description and the http and/or broker
// action, as the client sent them), plus what this platform keeps.
type CronJob struct {
	ID          string          `json:"id"`
	Time        string          `json:"time"`
	Timezone    string          `json:"timezone"` // "UTC" unless given
	Name        string          `json:"name,omitempty"`
	Description string          `json:"description,omitempty"`
	HTTP        json.RawMessage `json:"http,omitempty"`   // a CronHTTPAction as sent
	Broker      json.RawMessage `json:"broker,omitempty"` // a CronBrokerAction as sent
	// RequestID is the flow output that created the job (flows.CronJobs),
	// empty for the API's jobs.
	RequestID string    `json:"request_id,omitempty"`
	Created   time.Time `json:"created"` // when it was created or last replaced
}

// CronHTTPAction is the request a job performs at each tick.
type CronHTTPAction struct {
	Method    string            `json:"method"`
	Headers   map[string]string `json:"headers,omitempty"`
	URL       string            `json:"url"`
	Body      json.RawMessage   `json:"body,omitempty"`
	Criterion float64           `json:"criterion,omitempty"` // 1 (default): 2xx; 2: 2xx and sregex matches; 3: 2xx and fregex does not
	SRegex    string            `json:"sregex,omitempty"`
	FRegex    string            `json:"fregex,omitempty"`
}

// CronBrokerAction is the message a job publishes at each tick, on
// <tenant>.<Subject> in dojot.
type CronBrokerAction struct {
	Subject string          `json:"subject"`
	Message json.RawMessage `json:"message"`
}

// The broker subjects a job may publish to (dojot's cron config
// actions.broker.allowed.subjects).
const (
	CronSubjectDevices    = "dojot.device-manager.device" // a configure message: an actuation
	CronSubjectDeviceData = "device-data"                 // a reading as the device
)

// CronConfigure is the dojot.device-manager.device message a job sends:
// a configure event, an actuation of data.attrs on device data.id.
type CronConfigure struct {
	Event string `json:"event"`
	Data  struct {
		ID    string          `json:"id"`
		Attrs json.RawMessage `json:"attrs"`
	} `json:"data"`
}

// CronDeviceData is the device-data message a job publishes: a reading of
// attrs as device metadata.deviceid.
type CronDeviceData struct {
	Metadata struct {
		DeviceID string `json:"deviceid"`
	} `json:"metadata"`
	Attrs json.RawMessage `json:"attrs"`
}

// CronJobCreated is the payload of cronjob.created.
type CronJobCreated struct {
	CronJob
}

// CronJobUpdated is the payload of cronjob.updated: the whole job after
// PUT.
type CronJobUpdated struct {
	CronJob
}

// CronJobDeleted is the payload of cronjob.deleted.
type CronJobDeleted struct {
	ID string `json:"id"`
}
