package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dojot-es/dojot"
)

// LoadBefore returns up to n events of one aggregate stored before stream
// sequence before (0: up to its newest), newest first, with Seq set: one
// page of its history. It costs one request per event returned, whatever
// the aggregate's length (Load reads every event, and an ordered consumer
// can only read forward): each step asks the server for the last message
// on the aggregate's subject at or below a sequence (a direct get with
// multi_last and up_to_seq, nats-server 2.11 on). Secrets are opened as
// the views' reads open them: one that does not open is logged and left
// sealed, so a key mismatch cannot hide a device's history. With
// Replicas > 1 any replica may answer each step, so a page read while a
// replica is still applying the last commits may miss an event acknowledged
// milliseconds before (Load reads from the leader).
func (s *Store) LoadBefore(ctx context.Context, tenant, kind, id string, before uint64, n int) ([]dojot.Event, error) {
	subj := s.opts.SubjectPrefix + dojot.Subject(tenant, kind, id)
	// A wildcard in the id would read other aggregates (multi_last takes
	// filters).
	if !dojot.ValidTenant(tenant) || !dojot.ValidToken(kind) || !dojot.ValidToken(id) {
		return nil, fmt.Errorf("load %s before %d: not an aggregate's subject: %w", subj, before, dojot.ErrInvalid)
	}
	if n <= 0 || before == 1 {
		return []dojot.Event{}, nil
	}
	if v := s.nc.ConnectedServerVersion(); !versionAtLeast(v, 2, 11) { // the platform's minimum anyway
		return nil, fmt.Errorf("load %s before %d: nats-server %s has no multi_last direct get (2.11 on): %w", subj, before, v, dojot.ErrUnavailable)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.opts.Timeout)
		defer cancel()
	}
	evs := make([]dojot.Event, 0, min(n, 256))
	var strs interner
	for upTo := uint64(0); len(evs) < n; {
		var m *jetstream.RawStreamMsg
		var err error
		if upTo == 0 {
			// The newest first, whatever before is: the server finds
			// nothing at or below an up_to_seq past the stream's end.
			m, err = s.eventsSt.GetLastMsgForSubject(ctx, subj)
			if err == nil && before > 0 && m.Sequence >= before {
				upTo = before - 1
				continue
			}
		} else {
			m, err = s.lastAtOrBelow(ctx, subj, upTo)
		}
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("load %s before %d: %w", subj, before, unavailable(err))
		}
		var ev dojot.Event
		if err := s.decode(m.Data, &ev, &strs); err != nil {
			return nil, fmt.Errorf("load %s: decode seq %d: %w", subj, m.Sequence, err)
		}
		ev.Seq = m.Sequence
		evs = append(evs, ev)
		if m.Sequence <= 1 {
			break
		}
		upTo = m.Sequence - 1
	}
	return evs, nil
}

// directGetRequest is the part of JetStream's direct get request that
// LoadBefore uses (nats.go's GetMsg has no up_to_seq).
type directGetRequest struct {
	MultiLast []string `json:"multi_last"`
	UpToSeq   uint64   `json:"up_to_seq,omitempty"`
	Batch     int      `json:"batch"`
}

// lastAtOrBelow is the last message on subj stored at or below sequence
// upTo (at most the stream's last), or jetstream.ErrMsgNotFound.
func (s *Store) lastAtOrBelow(ctx context.Context, subj string, upTo uint64) (*jetstream.RawStreamMsg, error) {
	req, err := json.Marshal(directGetRequest{MultiLast: []string{subj}, UpToSeq: upTo, Batch: 1})
	if err != nil {
		return nil, err
	}
	// The server answers with the message (if any) and then an
	// end-of-batch status; the request takes the first reply and the
	// library's response mux drops the rest.
	resp, err := s.nc.RequestWithContext(ctx, jetstream.DefaultAPIPrefix+"DIRECT.GET."+s.events, req)
	if err != nil {
		return nil, err
	}
	if len(resp.Data) == 0 {
		switch status := resp.Header.Get("Status"); status {
		case "404", "204": // no message; 204 is an end of batch with none before it
			return nil, jetstream.ErrMsgNotFound
		case "":
		default:
			return nil, fmt.Errorf("direct get: status %s %s: %w", status, resp.Header.Get("Description"), dojot.ErrUnavailable)
		}
	}
	return directMsg(resp)
}

// directMsg reads a direct get's reply: the message, described by its
// headers.
func directMsg(resp *nats.Msg) (*jetstream.RawStreamMsg, error) {
	seq, err := strconv.ParseUint(resp.Header.Get(jetstream.SequenceHeader), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("direct get: no sequence in the reply: %w", err)
	}
	return &jetstream.RawStreamMsg{Subject: resp.Header.Get(jetstream.SubjectHeader), Sequence: seq, Data: resp.Data, Header: resp.Header}, nil
}
