package eventstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// maxPending bounds the async publishes in flight on one connection, so a
// huge AppendBatch is met with backpressure instead of unbounded memory.
const maxPending = 4096

// Store is the event log on JetStream. It is safe for concurrent use, and
// any number of Stores (in one process or many) may share one NATS.
type Store struct {
	opts Options
	log  *slog.Logger
	ns   *server.Server // nil with an external NATS
	// unlock releases the data dir (embedded NATS only).
	unlock func()
	nc     *nats.Conn
	js     jetstream.JetStream
	// eventsSt is the EVENTS stream as Open found it: its cached info
	// (AllowDirect) lets reads use direct gets without asking again.
	eventsSt jetstream.Stream
	// dataSt is the DATA stream, likewise, for ReadingAt.
	dataSt jetstream.Stream
	// notifySt is the NOTIFICATIONS stream, for NotificationsRange.
	notifySt jetstream.Stream
	closed   chan struct{} // closed by the connection's ClosedHandler
	// expectSubject: the server honours Nats-Expected-Last-Subject-Sequence-Subject
	// (nats-server 2.11+); older ones ignore the header and would check the
	// event's own subject instead, silently.
	expectSubject bool

	events string // stream names, with StreamPrefix
	data   string
	notify string
	ftp    string

	closeOnce sync.Once
	closeErr  error

	unopenedN atomic.Uint64 // Unopened
}

// embeddedStartTimeout bounds the embedded server's start, recovery of
// its store included.
const embeddedStartTimeout = 2 * time.Minute

// ErrDataDirInUse: another process runs the embedded NATS on the data dir.
var ErrDataDirInUse = errors.New("data dir in use")

// Open starts the embedded NATS server (or connects to opts.URL) and creates
// or updates the EVENTS and DATA streams, so calling it on an existing store
// or from several instances at once is fine.
func Open(ctx context.Context, opts Options) (*Store, error) {
	opts.setDefaults()
	s := &Store{
		opts:   opts,
		log:    opts.Logger,
		closed: make(chan struct{}),
		events: opts.StreamPrefix + "EVENTS",
		data:   opts.StreamPrefix + "DATA",
		notify: opts.StreamPrefix + "NOTIFICATIONS",
		ftp:    opts.StreamPrefix + "FTP",
	}
	connOpts := []nats.Option{
		nats.Name("dojot"),
		nats.Timeout(opts.Timeout),
		nats.DrainTimeout(opts.Timeout),
		// An instance outlives a NATS restart or failover: it keeps
		// reconnecting, and requests fail (503) meanwhile.
		nats.MaxReconnects(-1),
		nats.ClosedHandler(func(*nats.Conn) { close(s.closed) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				s.log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { s.log.Info("nats reconnected", "url", redact(nc.ConnectedUrl())) }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			s.log.Warn("nats async error", "subject", subj, "err", err)
		}),
	}
	var err error
	if opts.URL == "" {
		if s.unlock, err = lockDir(opts.DataDir); err != nil {
			return nil, err
		}
		if s.ns, err = startServer(opts); err != nil {
			s.unlock()
			return nil, err
		}
		connOpts = append(connOpts, nats.InProcessServer(s.ns))
		s.nc, err = nats.Connect(s.ns.ClientURL(), connOpts...)
		if err != nil {
			s.ns.Shutdown()
			s.ns.WaitForShutdown()
			s.unlock()
			return nil, fmt.Errorf("connect to embedded nats: %w", err)
		}
	} else {
		s.nc, err = nats.Connect(opts.URL, connOpts...)
		if err != nil {
			return nil, fmt.Errorf("connect to nats %s: %w", redact(opts.URL), err)
		}
	}
	if s.expectSubject = versionAtLeast(s.nc.ConnectedServerVersion(), 2, 11); !s.expectSubject {
		s.log.Warn("nats-server older than 2.11: appends with an ExpectSubject will fail",
			"server_version", s.nc.ConnectedServerVersion())
	}
	s.js, err = jetstream.New(s.nc,
		jetstream.WithDefaultTimeout(opts.Timeout),
		jetstream.WithPublishAsyncMaxPending(maxPending))
	if err == nil {
		err = s.createStreams(ctx)
	}
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

func startServer(opts Options) (*server.Server, error) {
	if opts.DataDir == "" {
		return nil, errors.New("eventstore: the embedded nats server needs a DataDir")
	}
	so := &server.Options{
		ServerName:   "dojot",
		JetStream:    true,
		StoreDir:     filepath.Join(opts.DataDir, "nats"),
		SyncAlways:   opts.SyncAlways,
		SyncInterval: opts.SyncInterval,
		NoSigs:       true, // signals belong to the binary, not to its embedded server
		DontListen:   opts.Listen == "",
	}
	if opts.Listen != "" {
		host, port, err := net.SplitHostPort(opts.Listen)
		if err != nil {
			return nil, fmt.Errorf("nats listen address %q: %w", opts.Listen, err)
		}
		so.Host = host
		if so.Port, err = strconv.Atoi(port); err != nil {
			return nil, fmt.Errorf("nats listen address %q: %w", opts.Listen, err)
		}
		if so.Port == 0 {
			so.Port = server.RANDOM_PORT // nats-server reads 0 as its default 4222
		}
		// The server only reports a busy port by never becoming ready, so
		// try the port first for an error that names it.
		if so.Port > 0 {
			l, err := net.Listen("tcp", opts.Listen)
			if err != nil {
				return nil, fmt.Errorf("nats listen on %s: %w", opts.Listen, err)
			}
			_ = l.Close()
		}
	}
	ns, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	// Always our logger: nats-server's default one exits the process on
	// Fatalf (e.g. a port taken between our check and its listen).
	ns.SetLoggerV2(serverLogger{opts.Logger}, opts.Logger.Enabled(context.Background(), slog.LevelDebug), false, false)
	go ns.Start()
	// Recovering a large file store after a crash (kill -9, power loss)
	// takes longer than a request may wait: the server gets its own,
	// longer bound before the start is given up.
	if !ns.ReadyForConnections(max(opts.Timeout, embeddedStartTimeout)) {
		ns.Shutdown()
		ns.WaitForShutdown()
		where := "in process"
		if opts.Listen != "" {
			where = "on " + opts.Listen
		}
		return nil, fmt.Errorf("embedded nats %s (store %s): not ready after %s", where, so.StoreDir, max(opts.Timeout, embeddedStartTimeout))
	}
	return ns, nil
}

func (s *Store) createStreams(ctx context.Context) error {
	sp := s.opts.SubjectPrefix
	streams := []jetstream.StreamConfig{{
		Name:        s.events,
		Description: "dojot events: every change to tenants, users, templates, devices; kept forever",
		Subjects:    []string{sp + "evt.>"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    s.opts.Replicas,
		Duplicates:  s.opts.Duplicates,
		MaxAge:      0,
		MaxBytes:    -1,
		MaxMsgs:     -1,
		AllowDirect: true,
	},
		s.dataStream(),
		s.outputStream(s.notify, "notify", "dojot notifications: one message per flow notification, on notify.<tenant>, kept as device data is"),
		// Apart from NOTIFICATIONS: only the Kafka bridge reads files, and
		// they are far larger than a notification, so the notifications'
		// readers (history, Kafka WS) do not fetch and skip them.
		s.outputStream(s.ftp, "ftp", "dojot files: one message per publish-ftp output, on ftp.<tenant>, kept as device data is"),
	}
	for i, cfg := range streams {
		st, err := s.js.CreateOrUpdateStream(ctx, cfg)
		if err != nil {
			return fmt.Errorf("create stream %s: %w", cfg.Name, err)
		}
		switch i {
		case 0:
			s.eventsSt = st
		case 1:
			s.dataSt = st
		case 2:
			s.notifySt = st
		}
	}
	return nil
}

// dataStream is DATA's configuration: kept by age and size as the
// outputs are, its readings stored by partition.
func (s *Store) dataStream() jetstream.StreamConfig {
	cfg := s.outputStream(s.data, "data", "dojot device data: one message per reading, kept by age and size")
	cfg.SubjectTransform = s.dataTransform()
	return cfg
}

// outputStream is the config of a stream of the flows' outputs for other
// services (subjects <token>.<tenant>), kept as DATA is.
func (s *Store) outputStream(name, token, desc string) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        name,
		Description: desc,
		Subjects:    []string{s.opts.SubjectPrefix + token + ".>"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    s.opts.Replicas,
		Duplicates:  s.opts.Duplicates,
		MaxAge:      s.opts.DataMaxAge,
		MaxBytes:    s.opts.DataMaxBytes,
		MaxMsgs:     -1,
		AllowDirect: true,
	}
}

// LastSeq is the sequence of the last event stored (0: none).
func (s *Store) LastSeq(ctx context.Context) (uint64, error) {
	info, err := s.eventsSt.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", s.events, unavailable(err))
	}
	return info.State.LastSeq, nil
}

// Conn is the NATS connection, for packages that publish outside EVENTS
// (device data to DATA, actuation to devices).
func (s *Store) Conn() *nats.Conn { return s.nc }

// JetStream is the JetStream context of Conn.
func (s *Store) JetStream() jetstream.JetStream { return s.js }

// NotificationsStream is the name of the NOTIFICATIONS stream, with
// StreamPrefix.
func (s *Store) NotificationsStream() string { return s.notify }

// DataStream is the name of the DATA stream and DataSubject the subject of
// one device's readings in it, both with the store's prefixes.
func (s *Store) DataStream() string { return s.data }

// dataTransform stores a reading published on data.<tenant>.<device> on
// data.<partition>.<tenant>.<device> (Options.DataPartitions). The
// partition comes first so that a partition's consumer filters on a
// literal prefix (data.<p>.*.*), which the server's subject index answers
// from that partition's subjects alone; with the partition last
// (data.*.*.<p>) every lookup walked every device's subject, and a bare
// consumer of 16 partitions cost 70 CPU-µs a reading instead of 11.
func (s *Store) dataTransform() *jetstream.SubjectTransformConfig {
	if s.opts.DataPartitions <= 1 {
		return nil
	}
	sp := s.opts.SubjectPrefix
	return &jetstream.SubjectTransformConfig{Source: sp + "data.*.*",
		Destination: fmt.Sprintf("%sdata.{{partition(%d,1,2)}}.{{wildcard(1)}}.{{wildcard(2)}}", sp, s.opts.DataPartitions)}
}

// DataFilters are the filters of tenant's readings of device ("*": all its
// devices) as DATA stores them: data.<tenant>.<device> (before the stream
// was partitioned) and data.<partition>.<tenant>.<device>.
func (s *Store) DataFilters(tenant, device string) []string {
	sp := s.opts.SubjectPrefix
	return []string{sp + "data." + tenant + "." + device, sp + "data.*." + tenant + "." + device}
}

// DataSubject is where device readings of tenant/deviceID are published.
func (s *Store) DataSubject(tenant, deviceID string) string {
	return s.opts.SubjectPrefix + "data." + tenant + "." + deviceID
}

// NotificationSubject is the NOTIFICATIONS subject of a tenant's
// notifications.
func (s *Store) NotificationSubject(tenant string) string {
	return s.opts.SubjectPrefix + "notify." + tenant
}

// EventsStream is the name of the EVENTS stream, with StreamPrefix.
func (s *Store) EventsStream() string { return s.events }

// ClientURL is where other NATS clients reach this store's server: the
// embedded server's address when it listens, else the external URL, else "".
func (s *Store) ClientURL() string {
	switch {
	case s.ns != nil && s.opts.Listen != "":
		return s.ns.ClientURL()
	case s.ns == nil:
		return s.opts.URL
	}
	return ""
}

// Close drains the connection (pending publishes and acks complete) and
// stops the embedded server.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if err := s.nc.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			s.closeErr = fmt.Errorf("drain nats: %w", err)
			s.nc.Close()
		}
		<-s.closed
		if s.ns != nil {
			s.ns.Shutdown()
			s.ns.WaitForShutdown()
			s.unlock()
		}
	})
	return s.closeErr
}

// unavailable marks errors that mean "NATS cannot answer now" as
// dojot.ErrUnavailable (503), leaving everything else as it is.
func unavailable(err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout),
		errors.Is(err, nats.ErrNoResponders), errors.Is(err, jetstream.ErrNoStreamResponse),
		errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrDisconnected),
		errors.Is(err, nats.ErrConnectionReconnecting), errors.Is(err, jetstream.ErrTooManyStalledMsgs),
		errors.Is(err, jetstream.ErrAsyncPublishTimeout):
		return fmt.Errorf("%w: %w", dojot.ErrUnavailable, err)
	}
	return err
}

// versionAtLeast reports whether the semantic version v ("2.9.10") is at
// least major.minor.
func versionAtLeast(v string, major, minor int) bool {
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// redact hides passwords in (comma-separated) NATS URLs before they reach
// an error or a log.
func redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}

// serverLogger sends the embedded server's log to slog. Its notices (the
// start-up banner) are debug records; Fatalf never exits.
type serverLogger struct{ l *slog.Logger }

func (g serverLogger) Noticef(format string, v ...any) {
	g.l.Debug("nats: " + fmt.Sprintf(format, v...))
}
func (g serverLogger) Warnf(format string, v ...any) { g.l.Warn("nats: " + fmt.Sprintf(format, v...)) }
func (g serverLogger) Fatalf(format string, v ...any) {
	g.l.Error("nats: " + fmt.Sprintf(format, v...))
}
func (g serverLogger) Errorf(format string, v ...any) {
	g.l.Error("nats: " + fmt.Sprintf(format, v...))
}
func (g serverLogger) Debugf(format string, v ...any) {
	g.l.Debug("nats: " + fmt.Sprintf(format, v...))
}
func (g serverLogger) Tracef(format string, v ...any) {}
