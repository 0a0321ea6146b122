package kafka_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/bridges/kafka"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/eventstore/eventstoretest"
)

// waitDataConsumer waits until the bridge's DATA consumer exists: it
// starts at the stream's end, so readings published before are not sent.
func waitDataConsumer(tb testing.TB, store *eventstore.Store, name string) {
	tb.Helper()
	waitFor(tb, func() bool {
		_, err := store.JetStream().Consumer(context.Background(), store.DataStream(), name)
		return err == nil
	})
}

// publishReading publishes a reading to DATA as an agent does.
func publishReading(tb testing.TB, store *eventstore.Store, tenant, device, payload, msgID string) uint64 {
	tb.Helper()
	m := nats.NewMsg(store.DataSubject(tenant, device))
	m.Data = []byte(payload)
	if msgID != "" {
		m.Header.Set(jetstream.MsgIDHeader, msgID)
	}
	ack, err := store.JetStream().PublishMsg(context.Background(), m)
	if err != nil {
		tb.Fatal(err)
	}
	return ack.Sequence
}

// TestDataOut: a DATA reading reaches <tenant>.device-data as it is, keyed
// by device, with its DATA sequence and message id in headers.
func TestDataOut(t *testing.T) {
	store := eventstoretest.Open(t)
	brokers := newKafka(t).ListenAddrs()
	startBridge(t, store, brokers)
	waitDataConsumer(t, store, "kafka-bridge-data")
	const reading = `{"metadata":{"deviceid":"c6ea4b","tenant":"admin","timestamp":1528226137452},"attrs":{"humidity":60,"temperature":23}}`
	seq := publishReading(t, store, "admin", "c6ea4b", reading, "mqtt-1")
	seq2 := publishReading(t, store, "admin", "c6ea4b", reading, "")
	recs := readN(t, brokers, "admin.device-data", 2, 10*time.Second)
	for i, want := range []struct {
		seq uint64
		id  string
	}{{seq, "mqtt-1"}, {seq2, "data:" + strconv.FormatUint(seq2, 10)}} {
		m := recs[i]
		if string(m.Value) != reading || string(m.Key) != "c6ea4b" || header(m, kafka.HeaderSeq) != strconv.FormatUint(want.seq, 10) || header(m, kafka.HeaderMsgID) != want.id {
			t.Errorf("record %d = %s key %q seq %q id %q; want the reading, key c6ea4b, seq %d, id %s", i, m.Value, m.Key, header(m, kafka.HeaderSeq), header(m, kafka.HeaderMsgID), want.seq, want.id)
		}
	}
}

// produce writes records (value by value) to topic with kafka-go, as a
// legacy agent would.
func produce(tb testing.TB, brokers []string, topic string, values ...string) {
	tb.Helper()
	w := &kafkago.Writer{Addr: kafkago.TCP(brokers...), RequiredAcks: kafkago.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	msgs := make([]kafkago.Message, len(values))
	for i, v := range values {
		msgs[i] = kafkago.Message{Topic: topic, Key: []byte("k"), Value: []byte(v)}
	}
	// The bridge creates a tenant's topics in the background, so the first
	// write may come before the broker knows the topic: retry only that.
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := w.WriteMessages(context.Background(), msgs...)
		if err == nil {
			return
		}
		if !unknownTopic(err) || time.Now().After(deadline) {
			tb.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// unknownTopic tells whether every failure in err is the broker not knowing
// the topic (yet).
func unknownTopic(err error) bool {
	var we kafkago.WriteErrors
	if !errors.As(err, &we) {
		return errors.Is(err, kafkago.UnknownTopicOrPartition)
	}
	for _, e := range we {
		if e != nil && !errors.Is(e, kafkago.UnknownTopicOrPartition) {
			return false
		}
	}
	return true
}

// dataMsgs returns what DATA holds for tenant/device.
func dataMsgs(tb testing.TB, store *eventstore.Store, tenant, device string) []*jetstream.RawStreamMsg {
	tb.Helper()
	ctx := context.Background()
	st, err := store.JetStream().Stream(ctx, store.DataStream())
	if err != nil {
		tb.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			continue
		}
		if t, d, ok := store.DataDevice(m.Subject); ok && t == tenant && d == device {
			out = append(out, m)
		}
	}
	return out
}

// lastOffset is the next offset of topic's partition 0 (its record count).
func lastOffset(tb testing.TB, brokers []string, topic string) int64 {
	tb.Helper()
	c, err := kafkago.DialLeader(context.Background(), "tcp", brokers[0], topic, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	off, err := c.ReadLastOffset()
	if err != nil {
		tb.Fatal(err)
	}
	return off
}

func reading(tenant, device string) string {
	return `{"metadata":{"deviceid":"` + device + `","tenant":"` + tenant + `","timestamp":1528226137452,"protocol":"lwm2m"},"attrs":{"temperature":23}}`
}

// TestDataIn: what an agent produces on <tenant>.device-data lands in DATA
// (bad records skipped without blocking the partition), for a tenant known
// at start and for one created later, and is not echoed back to Kafka; a
// second reading of the same records (offsets lost) stores nothing twice.
func TestDataIn(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	store := eventstoretest.Open(t)
	brokers := newKafka(t).ListenAddrs()
	appendEvent(t, store, dojot.EventTenantCreated, "acme", dojot.KindTenant, "acme", dojot.TenantCreated{Tenant: "acme"})
	b, stop := runBridge(t, store, kafka.Options{Brokers: brokers})
	waitFor(t, func() bool { return slices.Contains(b.Status().In.Topics, "acme.device-data") })

	bad := []string{
		`not json`,
		`[1,2]`,
		`{"metadata":{"deviceid":"d.1","tenant":"acme"},"attrs":{}}`,
		`{"metadata":{"deviceid":7,"tenant":"acme"},"attrs":{}}`,
		`{"metadata":{"deviceid":"d1","tenant":7},"attrs":{}}`,
		`{"metadata":{"deviceid":"d1","tenant":"acme"},"attrs":[1]}`,
		`{"metadata":{"tenant":"acme"},"attrs":{}}`,
	}
	// A record of another tenant on acme's topic: refused, counted apart.
	cross := `{"metadata":{"deviceid":"d1","tenant":"other"},"attrs":{"temperature":1}}`
	// dojot/history's own fixture: no metadata.tenant, which dojot takes
	// from the topic; its other metadata stays.
	noTenant := `{"metadata":{"deviceid":"d2","protocol":"mqtt","payload":"json","timestamp":1528226137452},"attrs":{"temperature":2}}`
	produce(t, brokers, "acme.device-data", append(bad, cross, reading("acme", "d1"), noTenant)...)
	waitFor(t, func() bool { return len(dataMsgs(t, store, "acme", "d2")) == 1 })
	n := len(bad) + 1 // offset of reading("acme", "d1")
	got := dataMsgs(t, store, "acme", "d1")
	if len(got) != 1 || string(got[0].Data) != reading("acme", "d1") || got[0].Header.Get(kafka.OriginHeader) != kafka.OriginKafka || got[0].Header.Get(jetstream.MsgIDHeader) != "kafka:acme.device-data:0:"+strconv.Itoa(n) {
		t.Fatalf("DATA of acme/d1 = %v; want the record as produced, origin kafka, msg id kafka:acme.device-data:0:%d", got, n)
	}
	if got2 := dataMsgs(t, store, "acme", "d2")[0]; string(got2.Data) != noTenant {
		t.Errorf("DATA of acme/d2 = %s; want the record as produced %s", got2.Data, noTenant)
	}
	// Appended is counted when the reader commits the offsets, after
	// JetStream's acknowledgement: a moment after the readings show in
	// DATA. Wait for the count, then check every figure exactly.
	waitFor(t, func() bool { return b.Status().In.Appended >= 2 })
	if st := b.Status().In; st.Skipped != uint64(len(bad)) || st.CrossTenant != 1 || st.Appended != 2 {
		t.Errorf("In = %+v; want %d skipped, 1 cross-tenant, 2 appended", st, len(bad))
	}

	// Not echoed: once the DATA direction went past it, the topic still
	// holds only what was produced.
	last := dataMsgs(t, store, "acme", "d2")[0].Sequence
	waitFor(t, func() bool { return b.Status().Data.Acked >= last })
	if n := lastOffset(t, brokers, "acme.device-data"); n != int64(len(bad)+3) {
		t.Errorf("acme.device-data holds %d records, want %d (no echo)", n, len(bad)+3)
	}

	// A tenant created later is read at once.
	appendEvent(t, store, dojot.EventTenantCreated, "beta", dojot.KindTenant, "beta", dojot.TenantCreated{Tenant: "beta"})
	waitFor(t, func() bool { return slices.Contains(b.Status().In.Topics, "beta.device-data") })
	produce(t, brokers, "beta.device-data", reading("beta", "b7"))
	waitFor(t, func() bool { return len(dataMsgs(t, store, "beta", "b7")) == 1 })

	// Offsets lost (another group reads everything again): the message
	// ids make JetStream drop every re-append.
	stop()
	b2, _ := runBridge(t, store, kafka.Options{Brokers: brokers, GroupID: "other", Consumer: "other"})
	waitFor(t, func() bool { return b2.Status().In.Appended == 3 })
	if a, b := len(dataMsgs(t, store, "acme", "d1")), len(dataMsgs(t, store, "beta", "b7")); a != 1 || b != 1 {
		t.Errorf("after a second reading DATA holds %d and %d readings, want 1 and 1", a, b)
	}
}

// TestRestartTakesOver: a bridge stopped while its pull was waiting, then
// readings, then a new bridge on the same consumers: the new one delivers
// them within seconds. nats-server pins the stopped run's leftover pull
// when the readings come (it checks the pull's subscriber only after),
// which held every other pull off for PinnedTTL (2 min).
func TestRestartTakesOver(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	store := eventstoretest.Open(t)
	brokers := newKafka(t).ListenAddrs()
	_, stop := runBridge(t, store, kafka.Options{Brokers: brokers})
	waitDataConsumer(t, store, "kafka-bridge-data")
	time.Sleep(200 * time.Millisecond) // its pull is waiting
	stop()
	last := publishReadings(t, store, 100)
	b, _ := runBridge(t, store, kafka.Options{Brokers: brokers})
	waitFor(t, func() bool { return b.Status().Data.Acked >= last })
	if n := len(readN(t, brokers, "admin.device-data", 100, 10*time.Second)); n != 100 {
		t.Errorf("admin.device-data holds %d readings, want 100", n)
	}
}

// TestTwoBridges: two bridges on the same consumers, as two instances on
// one NATS: while readings come in bursts with idle gaps between them (when
// each checks the pin), every reading reaches Kafka, per device in order,
// and a reading is repeated only as an exact copy after its first.
func TestTwoBridges(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	store := eventstoretest.Open(t)
	brokers := newKafka(t).ListenAddrs()
	b1, _ := runBridge(t, store, kafka.Options{Brokers: brokers})
	b2, _ := runBridge(t, store, kafka.Options{Brokers: brokers})
	waitDataConsumer(t, store, "kafka-bridge-data")
	var last uint64
	for range 4 {
		last = publishReadings(t, store, 500)
		time.Sleep(2500 * time.Millisecond)
	}
	waitFor(t, func() bool { return max(b1.Status().Data.Acked, b2.Status().Data.Acked) >= last })
	n := int(lastOffset(t, brokers, "admin.device-data"))
	recs := readN(t, brokers, "admin.device-data", n, 20*time.Second)
	seen := map[string]string{}
	lastT := map[string]int64{}
	for _, m := range recs {
		id := header(m, kafka.HeaderMsgID)
		if v, ok := seen[id]; ok {
			if v != string(m.Value) {
				t.Fatalf("duplicate %s differs from its first copy", id)
			}
			continue
		}
		seen[id] = string(m.Value)
		var r struct {
			Attrs struct{ T int64 } `json:"attrs"`
		}
		if err := json.Unmarshal(m.Value, &r); err != nil {
			t.Fatal(err)
		}
		if d := string(m.Key); r.Attrs.T < lastT[d] {
			t.Fatalf("device %s: reading of %d after one of %d", d, r.Attrs.T, lastT[d])
		}
		lastT[string(m.Key)] = r.Attrs.T
	}
	if len(seen) != 2000 {
		t.Errorf("%d distinct readings in Kafka (%d records), want 2000", len(seen), len(recs))
	}
	t.Logf("%d records for 2000 readings", len(recs))
}

// TestDataOutTooLarge: a reading too large for one Kafka batch is skipped
// (Kafka would refuse it), and the readings after it still go out.
func TestDataOutTooLarge(t *testing.T) {
	store := eventstoretest.Open(t)
	brokers := newKafka(t).ListenAddrs()
	b := startBridge(t, store, brokers)
	waitDataConsumer(t, store, "kafka-bridge-data")
	big := `{"metadata":{"deviceid":"c6ea4b","tenant":"admin"},"attrs":{"blob":"` + strings.Repeat("x", 1_000_000-70) + `"}}`
	publishReading(t, store, "admin", "c6ea4b", big, "")
	last := publishReading(t, store, "admin", "c6ea4b", reading("admin", "c6ea4b"), "")
	recs := readN(t, brokers, "admin.device-data", 1, 10*time.Second)
	if string(recs[0].Value) != reading("admin", "c6ea4b") {
		t.Errorf("first record = %.100s; want the small reading (the large one skipped)", recs[0].Value)
	}
	waitFor(t, func() bool { return b.Status().Data.Acked >= last })
}

// TestNotificationsOut: a flow's notification in NOTIFICATIONS reaches
// <tenant>.dojot.notifications as dojot's message, keyed by tenant, with
// its msgID as the dedupe header.
func TestNotificationsOut(t *testing.T) {
	store := eventstoretest.Open(t)
	brokers := newKafka(t).ListenAddrs()
	startBridge(t, store, brokers)
	waitFor(t, func() bool {
		_, err := store.JetStream().Consumer(context.Background(), store.NotificationsStream(), "kafka-bridge-notify")
		return err == nil
	})
	const n = `{"msgID":"7:f:n:0","timestamp":1600000000000,"message":"Temperature above 32","metaAttrsFilter":{"priority":"low","shouldPersist":true},"subject":"user_notification"}`
	seq, err := store.AppendNotification(context.Background(), "admin", []byte(n), "7:f:n:0")
	if err != nil {
		t.Fatal(err)
	}
	m := readN(t, brokers, "admin.dojot.notifications", 1, 10*time.Second)[0]
	if string(m.Value) != n || string(m.Key) != "admin" || header(m, kafka.HeaderMsgID) != "7:f:n:0" || header(m, kafka.HeaderSeq) != strconv.FormatUint(seq, 10) {
		t.Errorf("record = %s key %q headers %v", m.Value, m.Key, m.Headers)
	}
}

// TestFTPOut: a publish-ftp output in the FTP stream reaches
// <tenant>.dojot.ftp as dojot's message, keyed by tenant, with its msgID
// as the dedupe header; the same msgID again is stored and sent once.
func TestFTPOut(t *testing.T) {
	store := eventstoretest.Open(t)
	brokers := newKafka(t).ListenAddrs()
	b := startBridge(t, store, brokers)
	waitFor(t, func() bool {
		_, err := store.JetStream().Consumer(context.Background(), store.FTPStream(), "kafka-bridge-ftp")
		return err == nil
	})
	const f = `{"metadata":{"msgID":"9:p:f:0","ts":1571858674000,"service":"flowbroker","contentType":"application/vnd.dojot.ftp+json"},"data":{"filename":"a.txt","encoding":"base64","content":"aGk="}}`
	var seq uint64
	for range 2 {
		s, err := store.AppendFTP(context.Background(), "admin", []byte(f), "9:p:f:0")
		if err != nil || seq != 0 && s != seq {
			t.Fatalf("AppendFTP = %d, %v; want %d again", s, err, seq)
		}
		seq = s
	}
	m := readN(t, brokers, "admin.dojot.ftp", 1, 10*time.Second)[0]
	if string(m.Value) != f || string(m.Key) != "admin" || header(m, kafka.HeaderMsgID) != "9:p:f:0" || header(m, kafka.HeaderSeq) != strconv.FormatUint(seq, 10) {
		t.Errorf("record = %s key %q headers %v", m.Value, m.Key, m.Headers)
	}
	waitFor(t, func() bool { return b.Status().FTP.Acked >= seq })
}
