package eventstore

import (
	"log/slog"
	"time"

	"github.com/dojot-es/dojot"
)

// Options configure a Store. A zero field means its default.
type Options struct {
	// URL of an external NATS (comma-separated for a cluster). Empty runs
	// nats-server embedded in this process.
	URL string
	// DataDir holds the embedded server's JetStream file store, in
	// DataDir/nats. Unused with URL.
	DataDir string
	// Listen ("host:port", port 0 = any free port) makes the embedded server
	// also accept NATS clients: the nats CLI, or a second instance pointed at
	// this one. Empty: no port at all, the Store talks to its server in
	// process.
	Listen string
	// SyncAlways makes the embedded server fsync every write before it
	// acknowledges it. Off (nats-server's default), the file store fsyncs
	// every 2 minutes, so acknowledged writes can be lost on power loss (not
	// on a process crash); on, publishing was measured ~40x slower on this
	// kind of machine. An external server has its own setting.
	SyncAlways bool
	// SyncInterval is how often the embedded server fsyncs when SyncAlways
	// is off (default: nats-server's 2 minutes). A shorter interval narrows
	// the window of acknowledged writes a power loss can take, at a smaller
	// cost than SyncAlways.
	SyncInterval time.Duration
	// Replicas of each stream on a NATS cluster (default 1).
	Replicas int
	// DataMaxAge is how long device readings stay in the DATA stream
	// (default 7 days).
	DataMaxAge time.Duration
	// DataPartitions is how many partitions the DATA stream stores its
	// readings in (data.<partition>.<tenant>.<device>, hashing tenant and
	// device), the unit in which instances share work that keeps each
	// device's order (Work). Default 16; 1: not partitioned. It is the
	// stream's setting: the instance that creates or updates the stream
	// sets it for all, and changing it sends new readings of a device to
	// another partition (order between old and new is not kept).
	DataPartitions int
	// DataMaxBytes caps the DATA stream (default -1: no cap).
	DataMaxBytes int64
	// Duplicates is the window in which an event id is stored only once
	// (default 2 minutes): a retried append inside it is not a second event.
	Duplicates time.Duration
	// ElectionWait bounds how long an append keeps being sent again while
	// its stream elects a leader or the node it went through is lost (a
	// NATS cluster losing a node), before it fails with
	// dojot.ErrUnavailable (default 15 s: nats-server's Raft waits 4 to 9 s
	// without a leader before its followers elect another, plus the vote
	// and the attempt lost with the node). Appends carry a Nats-Msg-Id, so
	// a repeat of one that was stored is answered with its first sequence.
	ElectionWait time.Duration
	// RangeIdle is how long a range read (ReadRange) waits for a message
	// the server said was pending before it asks the server whether one
	// still is (default 5 s); it waits six times that in all before it
	// says the stream is unavailable. A correct read of what is stored
	// never waits so: tests set it to hours, so a read that waits on an
	// idle stream hangs rather than passing a few seconds late.
	RangeIdle time.Duration
	// Timeout bounds each request to JetStream whose context has no deadline
	// (default 5s); also the connect and start-up timeout.
	Timeout time.Duration
	// StreamPrefix is prepended to the stream names (EVENTS, DATA), and
	// SubjectPrefix to their subjects (evt.>, data.>), so several stores can
	// share one NATS without seeing each other (tests). Events keep their
	// logical subject (dojot.Event.Subject); the prefix exists only on the
	// wire.
	StreamPrefix  string
	SubjectPrefix string
	Logger        *slog.Logger
	// Sealer encrypts the secrets of events before they are stored and
	// decrypts them on every read (seal.Sealer: devices' pre-shared keys).
	// Nil stores events as they are.
	Sealer Sealer
}

// Sealer transforms an event's payload on its way into the log (Seal) and
// back (Open). Open must accept what was stored before sealing was on.
type Sealer interface {
	Seal(ev *dojot.Event) error
	Open(ev *dojot.Event) error
}

func (o *Options) setDefaults() {
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.DataMaxAge == 0 {
		o.DataMaxAge = 7 * 24 * time.Hour
	}
	if o.DataPartitions == 0 {
		o.DataPartitions = 16
	}
	if o.DataMaxBytes == 0 {
		o.DataMaxBytes = -1
	}
	if o.Duplicates == 0 {
		o.Duplicates = 2 * time.Minute
	}
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	if o.RangeIdle == 0 {
		o.RangeIdle = 5 * time.Second
	}
	if o.ElectionWait == 0 {
		o.ElectionWait = 15 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}
