package mqtt

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Retry delays: a broker that is away, or a store that failed a reading
// (the agent reconnects so the broker sends it again), is retried after
// minBackoff, doubling up to maxBackoff.
const (
	minBackoff = 500 * time.Millisecond
	maxBackoff = 30 * time.Second
)

var groupRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// external is the agent as a client of an external broker.
//
// One goroutine (run) owns the connection: it connects, subscribes,
// waits for the connection to be lost (or for onMessage to ask for a
// reconnection) and reconnects with backoff. paho's own reconnection is
// off, so that the agent can reconnect on purpose and log each outage
// once. Messages arrive one at a time, in order (paho's OrderMatters), on
// paho's router goroutine, and each is acknowledged by hand
// (AutoAckDisabled) after JetStream stored it.
type external struct {
	a       *Agent
	c       paho.Client
	url     string // without the password
	filters map[string]byte

	// broken: a reading of this connection was not stored; nothing more is
	// acknowledged on it, and run reconnects so the broker sends again
	// every message not acknowledged.
	broken    atomic.Bool
	failures  atomic.Uint64 // readings not stored in a row
	reconnect chan struct{}
	lost      chan error
	stop      chan struct{}
	done      chan struct{}
	startOnce sync.Once
	stopOnce  sync.Once

	mu sync.Mutex
	st BrokerStatus
}

// BrokerStatus is the connection to the external broker.
type BrokerStatus struct {
	URL       string    `json:"url"` // without the password
	Group     string    `json:"group"`
	ClientID  string    `json:"client_id"`
	Connected bool      `json:"connected"`
	Since     time.Time `json:"since"` // of Connected's current value
	LastError string    `json:"last_error,omitempty"`
}

func newExternal(a *Agent) (*external, error) {
	o := a.opts
	u, err := url.Parse(o.BrokerURL)
	var errs []error
	switch {
	case err != nil:
		errs = append(errs, err)
	case u.Host == "":
		errs = append(errs, errors.New("no host"))
	}
	if err == nil {
		switch u.Scheme {
		case "tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss":
		default:
			errs = append(errs, fmt.Errorf("scheme %q: want tcp, mqtt, ssl, mqtts, ws or wss", u.Scheme))
		}
	}
	if !groupRe.MatchString(o.BrokerGroup) {
		errs = append(errs, fmt.Errorf("group %q: want 1 to 64 letters, digits, _ and -", o.BrokerGroup))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("mqtt: broker %s: %w", redactURL(o.BrokerURL), err)
	}
	e := &external{
		a:   a,
		url: redactURL(o.BrokerURL),
		// Every instance of the group takes its share of the readings; the
		// legacy form starts with an empty level, which Mosquitto matches
		// with the filter //+/+/attrs after the group.
		filters: map[string]byte{
			"$share/" + o.BrokerGroup + "/+/" + KindAttrs:    1,
			"$share/" + o.BrokerGroup + "//+/+/" + KindAttrs: 1,
		},
		reconnect: make(chan struct{}, 1),
		lost:      make(chan error, 1),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
		st:        BrokerStatus{Group: o.BrokerGroup, ClientID: o.ClientID, Since: time.Now()},
	}
	e.st.URL = e.url
	broker := *u
	broker.User = nil
	co := paho.NewClientOptions().AddBroker(broker.String()).SetClientID(o.ClientID).
		SetProtocolVersion(4).
		// A persistent session: the broker keeps the subscriptions and the
		// messages not yet acknowledged while the agent is away, and sends
		// them again when the same client id comes back.
		SetCleanSession(false).
		SetAutoAckDisabled(true).
		SetOrderMatters(true).
		SetAutoReconnect(false).SetConnectRetry(false).SetResumeSubs(false).
		SetKeepAlive(30 * time.Second).SetPingTimeout(10 * time.Second).
		SetConnectTimeout(10 * time.Second).SetWriteTimeout(10 * time.Second).
		SetDefaultPublishHandler(e.onMessage).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			select {
			case e.lost <- err:
			default:
			}
		})
	if u.User != nil {
		co.SetUsername(u.User.Username())
		if pw, ok := u.User.Password(); ok {
			co.SetPassword(pw)
		}
	}
	e.c = paho.NewClient(co)
	return e, nil
}

// redactURL is a broker URL without its password.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

func (e *external) start() {
	e.startOnce.Do(func() { go e.run() })
}

func (e *external) close() {
	e.stopOnce.Do(func() { close(e.stop) })
	e.startOnce.Do(func() { close(e.done) }) // never started
	<-e.done
}

func (e *external) status() BrokerStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.st
}

// set records the connection state; it reports whether it changed.
func (e *external) set(connected bool, err error) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err != nil {
		e.st.LastError = err.Error()
	}
	if e.st.Connected == connected {
		return false
	}
	e.st.Connected, e.st.Since = connected, time.Now()
	return true
}

// run keeps the agent connected until close.
func (e *external) run() {
	defer close(e.done)
	log := e.a.log.With("broker", e.url, "client_id", e.a.opts.ClientID)
	backoff := minBackoff
	// down: the outage was logged (once), so the recovery is logged too.
	down, first := false, true
	wait := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-e.stop:
			return false
		}
	}
	for {
		e.broken.Store(false) // before the broker can send anything again
		err := e.connect()
		select {
		case <-e.stop:
			e.c.Disconnect(0)
			e.set(false, nil)
			return
		default:
		}
		if err != nil {
			e.set(false, err)
			if !down {
				log.Warn("mqtt: broker down, retrying", "err", err)
				down = true
			}
			if !wait(backoff) {
				return
			}
			backoff = min(backoff*2, maxBackoff)
			continue
		}
		e.set(true, nil)
		if down || first {
			log.Info("mqtt: broker up", "group", e.a.opts.BrokerGroup)
			down, first = false, false
		}
		backoff = minBackoff
		select {
		case err := <-e.lost:
			e.set(false, err)
			log.Warn("mqtt: broker down, retrying", "err", err)
			down = true
		case <-e.reconnect:
			// A reading was not stored: reconnect, after a pause that grows
			// while the store keeps failing, so that the broker sends again
			// what was not acknowledged. Logged with the refusal.
			e.c.Disconnect(250)
			e.set(false, errors.New("reconnecting: a reading was not stored"))
			if !wait(retryDelay(e.failures.Load())) {
				return
			}
		case <-e.stop:
			e.c.Disconnect(250)
			e.set(false, nil)
			return
		}
		select { // a loss reported while reconnecting on purpose is old news
		case <-e.lost:
		default:
		}
	}
}

// retryDelay is the pause before the n-th retry in a row (a reconnection
// after n readings in a row were not stored, JetStream being away; the
// n-th delivery of an actuation): minBackoff, doubling up to maxBackoff.
func retryDelay(n uint64) time.Duration {
	d := minBackoff
	for ; n > 1 && d < maxBackoff; n-- {
		d *= 2
	}
	return min(d, maxBackoff)
}

// connect connects and subscribes, or fails with why.
func (e *external) connect() error {
	tok := e.c.Connect()
	if err := waitToken(tok, e.stop); err != nil {
		return err
	}
	sub := e.c.SubscribeMultiple(e.filters, nil)
	if err := waitToken(sub, e.stop); err != nil {
		e.c.Disconnect(0)
		return fmt.Errorf("subscribe: %w", err)
	}
	for f, code := range sub.(*paho.SubscribeToken).Result() {
		if code >= 0x80 {
			e.c.Disconnect(0)
			return fmt.Errorf("subscribe %s: refused by the broker (code %#x)", f, code)
		}
	}
	return nil
}

// waitToken waits for a paho token until stop.
func waitToken(tok paho.Token, stop <-chan struct{}) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-stop:
		return errors.New("closed")
	}
}

// onMessage stores one reading and only then acknowledges it. A refused
// reading is acknowledged (the broker would send it forever otherwise),
// counted and logged as the embedded broker does. A reading that could
// not be stored is not acknowledged, and neither is anything after it on
// this connection: run reconnects and the broker sends them again.
func (e *external) onMessage(_ paho.Client, m paho.Message) {
	if e.broken.Load() {
		return
	}
	a := e.a
	t, err := ParseTopic(m.Topic())
	if err != nil || t.Kind != KindAttrs {
		a.refuse(refusedPublishTopic, nil, "mqtt: topic refused", "topic", m.Topic(), "write", true)
		m.Ack()
		return
	}
	msg, ref := a.reading(t, m.Payload(), time.Now())
	if ref != nil {
		a.refuse(ref.reason, nil, ref.msg, ref.args...)
		m.Ack()
		return
	}
	if err := a.store(nil, t, msg); err != nil {
		a.refuse(refusedStoreFailed, nil, "mqtt: publish not stored", "topic", m.Topic(), "err", err)
		e.failures.Add(1)
		if m.Qos() > 0 && e.broken.CompareAndSwap(false, true) {
			select {
			case e.reconnect <- struct{}{}:
			default:
			}
		}
		return
	}
	e.failures.Store(0)
	m.Ack()
}
