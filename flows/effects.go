package flows

import (
	"context"
	"encoding/json"
	"net/http"
)

// Effects are the side effects nodes perform, each behind the smallest
// interface that does it. The wiring fills them with the streams, the
// commands and the key-value bucket; tests and the sandbox use a
// Recorder. A nil field makes the nodes that need it fail with a clear
// error instead of panicking. An effect that could not store its output
// (the stream is down) returns an error wrapping dojot.ErrUnavailable:
// Run then fails so the input is retried instead of acked; any other
// error only ends the branch. Every output carries a deterministic id
// (DeviceData.ID, Actuation.ID, Notification.MsgID, FTPFile's msgID):
// store it as the de-duplication id, so a retried input does not publish
// twice.
type Effects struct {
	Data     DataPublisher // device out, multi device out
	Actuator Actuator      // actuate, multi actuate
	Notifier Notifier      // notification
	FTP      FTPPublisher  // publish-ftp
	Uploader FTPUploader   // ftp
	HTTP     HTTPDoer      // http
	Cron     CronJobs      // cron, cron-batch
	Context  ContextStore  // get context, cumulative sum, merge data
}

// DeviceData is a reading a flow publishes as a device (dojot's
// device-data record, metadata.timestamp = Timestamp).
type DeviceData struct {
	ID        string // deterministic output id (Call.NextID)
	Tenant    string
	DeviceID  string
	Timestamp int64 // ms
	Attrs     any
	Depth     int // carry it with the stored reading, give it back as Input.Depth
}

// DataPublisher stores a reading in the DATA stream.
type DataPublisher interface {
	PublishData(ctx context.Context, d DeviceData) error
}

// Actuation is a configure a flow sends to a device. It goes through the
// commands, which check the attrs against the device's actuators.
type Actuation struct {
	ID        string
	Tenant    string
	DeviceID  string
	Timestamp int64 // ms
	Attrs     any
	Depth     int
}

// Actuator sends an actuation to a device.
type Actuator interface {
	Actuate(ctx context.Context, a Actuation) error
}

// Notification is dojot's <tenant>.dojot.notifications message (FLOWS.md
// 5). MsgID is the deterministic output id instead of a random UUID, so a
// redelivered input notifies once.
type Notification struct {
	MsgID           string         `json:"msgID"`
	Timestamp       int64          `json:"timestamp"`
	Message         string         `json:"message"`
	MetaAttrsFilter map[string]any `json:"metaAttrsFilter"`
	Subject         string         `json:"subject"`
}

// Notifier stores a notification in the notifications stream.
type Notifier interface {
	Notify(ctx context.Context, tenant string, n Notification) error
}

// FTPFile is publish-ftp's <tenant>.dojot.ftp message (FLOWS.md 4.8).
type FTPFile struct {
	Metadata struct {
		MsgID       string `json:"msgID"`
		TS          int64  `json:"ts"`
		Service     string `json:"service"`
		ContentType string `json:"contentType"`
	} `json:"metadata"`
	Data struct {
		Filename string `json:"filename"`
		Encoding string `json:"encoding"`
		Content  any    `json:"content"`
	} `json:"data"`
}

// FTPPublisher puts a file message on the tenant's dojot.ftp topic.
type FTPPublisher interface {
	PublishFTP(ctx context.Context, tenant string, f FTPFile) error
}

// FTPUpload is one file the ftp node stores on a server.
type FTPUpload struct {
	URL      string // ftp://host[:port] or ftps://
	Username string
	Password string
	Filename string
	Content  []byte
}

// FTPUploader stores a file on an FTP server.
type FTPUploader interface {
	Upload(ctx context.Context, u FTPUpload) error
}

// HTTPDoer performs the http node's requests; *http.Client is one.
type HTTPDoer interface {
	Do(req *http.Request) (*http.Response, error)
}

// CronJobs is dojot's cron service API (/cron/v1/jobs): job is the JSON
// request body ({"time","name","description","broker"|"http"}). requestID
// is the deterministic output id: a retried input creates the job again
// with the same requestID, which must give the same job, not a second one.
type CronJobs interface {
	CreateJob(ctx context.Context, tenant, requestID string, job json.RawMessage) (jobID string, err error)
	RemoveJob(ctx context.Context, tenant, jobID string) error
}

// ContextKey names a context as dojot's layout does: tenant
// "<tenant>/<name>", flow "<tenant>/<flow>/<name>", node instance
// "<tenant>/<flow>/<node type>/<node id>/<name>". The store encodes it
// as its keys allow (JetStream KV keys take no spaces).
type ContextKey struct {
	Tenant, FlowID, NodeType, NodeID, Name string
}

// String is dojot's key layout, for logs; it is ambiguous when a name
// holds a "/": a store keys the fields one by one (flows/broker uses
// eventstore.KVKey).
func (k ContextKey) String() string {
	s := k.Tenant
	for _, p := range []string{k.FlowID, k.NodeType, k.NodeID, k.Name} {
		if p != "" {
			s += "/" + p
		}
	}
	return s
}

// ContextStore holds the contexts as JSON objects with a revision, for
// compare-and-set. Get of a missing key gives nil, 0. CompareAndSet
// stores value only if the key is still at revision (0: must not exist)
// and fails with an error wrapping dojot.ErrConflict otherwise; the nodes
// then read again and retry.
type ContextStore interface {
	Get(ctx context.Context, key ContextKey) (value []byte, revision uint64, err error)
	CompareAndSet(ctx context.Context, key ContextKey, value []byte, revision uint64) error
}
