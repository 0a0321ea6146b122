package mqtt

import (
	"hash/maphash"
	"runtime"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Pipelined acknowledgement. Waiting for JetStream inside OnPublish would
// hold a client to one reading per round trip, and a PUBACK written per
// reading is one syscall each. So OnPublish only starts the append and
// queues it here; an acker waits for the appends in the order they were
// queued and writes the PUBACKs of a client's stored readings together,
// in the order the client sent them ([MQTT-4.6.0-2]), once nothing more
// is ready. A client's readings always go to the same acker, so its order
// holds; the ackers split the clients to use every core.

// inFlight is one reading on its way into DATA.
type inFlight struct {
	cl    *mochi.Client
	id    uint16 // packet id; QoS 0 readings are queued for the count and the log only
	qos   byte
	topic string
	sent  time.Time
	wait  func(expired <-chan time.Time) (uint64, error)
}

// ackBatch bounds how many stored readings wait for one write.
const ackBatch = 1024

// writeTimeout bounds a PUBACK write: a client that does not read its
// socket must not stall the other clients of its acker.
const writeTimeout = 5 * time.Second

type acker struct {
	a    *Agent
	in   chan inFlight
	done <-chan struct{}

	// ready are the stored QoS 1 readings not yet acknowledged, in order.
	ready []inFlight
	// bufs[i] collects the PUBACKs of the i-th client of a flush.
	bufs  [][]byte
	index map[*mochi.Client]int
	order []*mochi.Client
}

// ackers are an agent's ackers, one per core.
type ackers struct {
	seed   maphash.Seed
	shards []*acker
	done   chan struct{}
}

func newAckers(a *Agent) *ackers {
	n := runtime.GOMAXPROCS(0)
	k := &ackers{seed: maphash.MakeSeed(), done: make(chan struct{})}
	for range n {
		s := &acker{a: a, in: make(chan inFlight, max(4096/n, 256)), done: k.done, index: map[*mochi.Client]int{}}
		k.shards = append(k.shards, s)
		go s.run()
	}
	return k
}

// queue hands a reading to its client's acker; it blocks while that acker
// is full, which slows the client down (its read loop waits) instead of
// growing memory. false: the agent is closing.
func (k *ackers) queue(f inFlight) bool {
	s := k.shards[maphash.String(k.seed, f.cl.ID)%uint64(len(k.shards))]
	select {
	case s.in <- f:
		return true
	case <-k.done:
		return false
	}
}

func (k *ackers) close() { close(k.done) }

func (s *acker) run() {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	timeout := s.a.opts.Timeout
	for {
		var f inFlight
		select {
		case f = <-s.in:
		case <-s.done:
			return
		}
		timer.Reset(time.Until(f.sent.Add(timeout)))
		_, err := f.wait(timer.C)
		timer.Stop()
		if err != nil {
			s.failed(f, err)
		} else {
			s.a.countStored(f.cl)
			if f.qos > 0 {
				s.ready = append(s.ready, f)
			}
		}
		if len(s.in) == 0 || len(s.ready) >= ackBatch {
			s.flush()
		}
	}
}

// failed: a reading JetStream did not store is not acknowledged, and its
// client is disconnected so that it sends it again (with everything after
// it, which is not acknowledged either: the connection is gone). What was
// stored before it is acknowledged first.
func (s *acker) failed(f inFlight, err error) {
	if f.qos > 0 {
		s.flush()
	}
	s.a.notStored(f.cl, f.qos, f.topic, err)
}

// flush writes the ready PUBACKs, one write per client.
func (s *acker) flush() {
	if len(s.ready) == 0 {
		return
	}
	for _, f := range s.ready {
		i, ok := s.index[f.cl]
		if !ok {
			i = len(s.order)
			s.index[f.cl] = i
			s.order = append(s.order, f.cl)
			if i == len(s.bufs) {
				s.bufs = append(s.bufs, make([]byte, 0, 64))
			}
		}
		// A PUBACK with reason Success and no properties: 4 bytes in
		// MQTT 3.1.1 and 5 alike (MQTT 5, 3.4.2.1).
		s.bufs[i] = append(s.bufs[i], packets.Puback<<4, 2, byte(f.id>>8), byte(f.id))
	}
	for i, cl := range s.order {
		if err := writeRaw(cl, s.bufs[i]); err != nil && !cl.Closed() {
			cl.Stop(err)
		}
		s.bufs[i] = s.bufs[i][:0]
	}
	clear(s.ready) // drop the references to clients and closures
	s.ready = s.ready[:0]
	clear(s.order)
	s.order = s.order[:0]
	clear(s.index)
}

// writeRaw writes encoded packets to a client's connection under the lock
// mochi's own Client.WritePacket takes, so they never interleave with a
// packet mochi writes (a PINGRESP, an actuation).
func writeRaw(cl *mochi.Client, b []byte) error {
	cl.Lock()
	defer cl.Unlock()
	if cl.Closed() || cl.Net.Conn == nil {
		return mochi.ErrConnectionClosed
	}
	conn := cl.Net.Conn
	_ = conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := conn.Write(b)
	_ = conn.SetWriteDeadline(time.Time{})
	return err
}
