package eventstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dojot-es/dojot"
)

// NotificationLog is the NOTIFICATIONS stream read as a log of events of
// type dojot.EventNotification, so projections.Runner can follow it as it
// follows DATA (the notifications history). Notifications expire as
// readings do, so its sequences have gaps.
type NotificationLog struct{ s *Store }

// NotificationLog returns the NOTIFICATIONS stream as a projection source.
func (s *Store) NotificationLog() NotificationLog { return NotificationLog{s} }

// Subscribe calls fn with every notification from sequence from on, in
// order, then with each new one, until ctx is done or fn fails (see
// Store.Subscribe). A message on a subject that names no tenant is logged
// and skipped.
func (l NotificationLog) Subscribe(ctx context.Context, from uint64, fn func(dojot.Event) error) error {
	s := l.s
	prefix := s.NotificationSubject("")
	return s.consume(ctx, s.notify, from, func(m jetstream.Msg, seq uint64) error {
		md, err := m.Metadata()
		if err != nil {
			return nil
		}
		tenant, ok := strings.CutPrefix(m.Subject(), prefix)
		if !ok || !dojot.ValidTenant(tenant) {
			s.log.Error("subscribe: skipping a notification on a subject that names no tenant", "stream", s.notify, "seq", seq, "subject", m.Subject())
			return nil
		}
		return fn(dojot.Event{Type: dojot.EventNotification, Kind: "notification", Tenant: tenant,
			Time: md.Timestamp, Data: m.Data(), Seq: seq})
	})
}

// LastSeq is the sequence of the last notification stored (0: none).
func (l NotificationLog) LastSeq(ctx context.Context) (uint64, error) {
	_, last, err := l.s.NotificationsRange(ctx)
	return last, err
}

// NotificationsRange is the sequence of the first notification the
// NOTIFICATIONS stream still holds and of the last one stored (0, 0: none
// yet), as DataRange is DATA's.
func (s *Store) NotificationsRange(ctx context.Context) (first, last uint64, err error) {
	return streamRange(ctx, s.notifySt, s.notify)
}

// FollowNotifications calls fn with each notification of tenant from
// start on, in order, with its stream sequence, then with each new one,
// until ctx is done or fn fails, as FollowData does for readings (Kafka
// WS's <tenant>.dojot.notifications).
func (s *Store) FollowNotifications(ctx context.Context, tenant string, start Start, fn func(seq uint64, data []byte) error) error {
	if !dojot.ValidTenant(tenant) {
		return fmt.Errorf("follow notifications of %q: not a tenant: %w", tenant, dojot.ErrInvalid)
	}
	return s.follow(ctx, s.notify, []string{s.NotificationSubject(tenant)}, start, fn)
}

// FTPStream is the name of the FTP stream (publish-ftp's files), with
// StreamPrefix.
func (s *Store) FTPStream() string { return s.ftp }

// FTPSubject is the FTP subject of a tenant's files.
func (s *Store) FTPSubject(tenant string) string { return s.opts.SubjectPrefix + "ftp." + tenant }

// AppendFTP stores a publish-ftp output (dojot's <tenant>.dojot.ftp
// message, as is) in the FTP stream on ftp.<tenant>, with msgID (its
// metadata.msgID, the output's deterministic id) as its dedupe id.
func (s *Store) AppendFTP(ctx context.Context, tenant string, payload []byte, msgID string) (uint64, error) {
	return s.appendTenant(ctx, "ftp file", s.FTPSubject(tenant), tenant, payload, msgID)
}

// appendTenant stores a tenant's message on subject with msgID as its
// dedupe id (AppendNotification, AppendFTP).
func (s *Store) appendTenant(ctx context.Context, what, subject, tenant string, payload []byte, msgID string) (uint64, error) {
	if !dojot.ValidTenant(tenant) {
		return 0, fmt.Errorf("append %s %q: not a tenant: %w", what, tenant, dojot.ErrInvalid)
	}
	m := &nats.Msg{Subject: subject, Data: payload}
	if msgID != "" {
		m.Header = nats.Header{jetstream.MsgIDHeader: []string{msgID}}
	}
	seq, err := s.publish(ctx, m)
	if err != nil {
		return 0, fmt.Errorf("append %s %s: %w", what, tenant, err)
	}
	return seq, nil
}
