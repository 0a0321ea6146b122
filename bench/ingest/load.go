package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// api is the gateway as one user.
type api struct {
	base       string
	http       *http.Client
	user, pass string

	mu    sync.Mutex
	token string
}

// login gets a token; do logs in again when one expires (dojot's tokens
// live 420 s, less than a long run).
func (a *api) login(ctx context.Context) error {
	var login struct{ JWT string }
	if _, err := a.send(ctx, "POST", "/auth", "", map[string]string{"username": a.user, "passwd": a.pass}, &login); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	a.mu.Lock()
	a.token = login.JWT
	a.mu.Unlock()
	return nil
}

// loginTries bounds the logins of one request whose token keeps expiring
// before it is used: with the smoke test's 1 s tokens, a loaded machine
// may take longer than that from one login (maybe another goroutine's, a
// while ago) to the request.
const loginTries = 5

func (a *api) do(ctx context.Context, method, path string, in, out any) (int, error) {
	a.mu.Lock()
	token := a.token
	a.mu.Unlock()
	code, err := a.send(ctx, method, path, token, in, out)
	for try := 0; code == http.StatusUnauthorized && token != "" && try < loginTries; try++ {
		a.mu.Lock()
		stale := a.token == token
		a.mu.Unlock()
		if stale {
			if err := a.login(ctx); err != nil {
				return code, err
			}
		}
		a.mu.Lock()
		token = a.token
		a.mu.Unlock()
		code, err = a.send(ctx, method, path, token, in, out)
	}
	return code, err
}

func (a *api) send(ctx context.Context, method, path, token string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return 0, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, fmt.Errorf("%s %s = %d %.300s", method, path, resp.StatusCode, bytes.TrimSpace(b))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode %.300s: %w", method, path, b, err)
		}
	}
	return resp.StatusCode, nil
}

// setup logs in, creates a template, n devices of it and cfg.Flows flows
// on it, and returns the devices' ids.
func setup(ctx context.Context, a *api, cfg *Config, n int) ([]string, error) {
	if err := a.login(ctx); err != nil {
		return nil, err
	}
	var tmpl struct {
		Template struct {
			ID int `json:"id"`
		} `json:"template"`
	}
	if _, err := a.do(ctx, "POST", "/template", map[string]any{"label": "ingest", "attrs": []map[string]any{
		{"label": "temperature", "type": "dynamic", "value_type": "float"},
		{"label": "n", "type": "dynamic", "value_type": "integer"},
	}}, &tmpl); err != nil {
		return nil, err
	}
	if err := createFlows(ctx, a, cfg, tmpl.Template.ID); err != nil {
		return nil, err
	}
	var created struct {
		Devices []struct {
			ID string `json:"id"`
		} `json:"devices"`
	}
	if _, err := a.do(ctx, "POST", "/device?count="+strconv.Itoa(n),
		map[string]any{"label": "ingest", "templates": []int{tmpl.Template.ID}}, &created); err != nil {
		return nil, err
	}
	if len(created.Devices) != n {
		return nil, fmt.Errorf("POST /device?count=%d created %d devices", n, len(created.Devices))
	}
	ids := make([]string, len(created.Devices))
	for i, d := range created.Devices {
		ids[i] = d.ID
	}
	return ids, nil
}

// device is one simulated device and what happened to its readings.
type device struct {
	id       string
	topic    string
	client   mqttClient
	viaKafka bool // a legacy agent's device: its readings are produced to Kafka

	mu     sync.Mutex
	sentAt []time.Duration // by n, since the run's base time; n=0 is the warm-up
	acked  int             // readings of the window acknowledged
	maxAck int             // highest n acknowledged

	// Only the device's own goroutines touch these.
	sent    int // readings of the window published
	behind  int // readings due while -inflight waited: not sent
	retried int // publishes sent again after a write error
	failed  int // published but no PUBACK (error, or none within 2 min)
	puback  []time.Duration
	lag     []time.Duration // actual publish time minus scheduled time
	err     error           // first failure
	failN   []int           // the failed readings' n, under mu
}

// isFailed reports whether reading n was published and never acknowledged.
func (d *device) isFailed(n int) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Contains(d.failN, n)
}

// sentTime is when reading n was published, if it was.
func (d *device) sentTime(n int) (time.Duration, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if n < 0 || n >= len(d.sentAt) {
		return 0, false
	}
	return d.sentAt[n], true
}

func (d *device) acks() (acked, maxAck int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.acked, d.maxAck
}

func payload(n int) []byte {
	return []byte(`{"temperature":23.5,"n":` + strconv.Itoa(n) + `}`)
}

// connect connects every device's client, cfg.Connect at a time, and
// sends each one's warm-up reading (n=0), waiting for its PUBACK.
// reconnects counts connections lost during the run.
var reconnects atomic.Int64

func connect(ctx context.Context, logw io.Writer, cfg *Config, mqttAddr string, devs []*device, base time.Time) error {
	sem := make(chan struct{}, cfg.Connect)
	errc := make(chan error, len(devs))
	var wg sync.WaitGroup
	for _, d := range devs {
		sem <- struct{}{}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			user := cfg.Tenant + ":" + d.id
			if cfg.Client == "raw" {
				c := newRawClient(mqttAddr, "ingest-"+d.id, user)
				d.client = c
				d.sentAt = append(d.sentAt, time.Since(base))
				if t := c.Publish(d.topic, 1, false, payload(0)); !t.WaitTimeout(60*time.Second) || t.Error() != nil {
					errc <- fmt.Errorf("device %s: connect and warm-up publish: %v", d.id, t.Error())
				}
				return
			}
			opts := paho.NewClientOptions().AddBroker("tcp://" + mqttAddr).SetClientID("ingest-" + d.id).
				SetUsername(user).SetProtocolVersion(4).
				// A device that loses its connection (the agent disconnects a
				// client whose reading JetStream did not store in time)
				// reconnects to its session and sends its unacknowledged
				// readings again, as an at-least-once device does.
				SetCleanSession(false).SetAutoReconnect(true).SetMaxReconnectInterval(time.Second).
				SetConnectRetry(false).SetKeepAlive(60 * time.Second).SetConnectTimeout(30 * time.Second).
				SetWriteTimeout(30 * time.Second).SetOrderMatters(false).
				SetConnectionLostHandler(func(_ paho.Client, err error) {
					if n := reconnects.Add(1); n <= 3 || n%100 == 0 {
						progress(logw, "device %s: connection lost (%d so far): %v", d.id, n, err)
					}
				})
			c := paho.NewClient(opts)
			if t := c.Connect(); !t.WaitTimeout(60*time.Second) || t.Error() != nil {
				errc <- fmt.Errorf("device %s: connect: %v", d.id, t.Error())
				return
			}
			d.client = c
			d.sentAt = append(d.sentAt, time.Since(base))
			if t := c.Publish(d.topic, 1, false, payload(0)); !t.WaitTimeout(60*time.Second) || t.Error() != nil {
				errc <- fmt.Errorf("device %s: warm-up publish: %v", d.id, t.Error())
			}
		}()
	}
	wg.Wait()
	close(errc)
	var errs []error
	for err := range errc {
		if len(errs) < 5 {
			errs = append(errs, err)
		}
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

type pending struct {
	tok paho.Token
	at  time.Duration
	n   int
}

// publish runs device i of n for the window: reading k (from 1) is due at
// start + offset + (k-1)*interval, offset spreading the devices over one
// interval.
func (d *device) publish(ctx context.Context, cfg *Config, i, n int, base time.Time, start time.Duration) {
	interval := time.Duration(float64(time.Second) * float64(n) / cfg.Rate)
	offset := interval * time.Duration(i) / time.Duration(n)
	slots := make(chan struct{}, cfg.InFlight)
	waiting := make(chan pending, cfg.InFlight)
	done := make(chan struct{})
	go func() { // PUBACKs of one connection come in order: wait for them in turn
		defer close(done)
		for p := range waiting {
			ok := p.tok.WaitTimeout(2*time.Minute) && p.tok.Error() == nil
			// A publish whose write failed as the connection dropped
			// errs at once: send it again, as a device would, until
			// the reconnected session acknowledges it.
			for try := 0; !ok && p.tok.Error() != nil && try < 5; try++ {
				d.retried++
				time.Sleep(200 * time.Millisecond)
				p.tok = d.client.Publish(d.topic, 1, false, payload(p.n))
				ok = p.tok.WaitTimeout(2*time.Minute) && p.tok.Error() == nil
			}
			now := time.Since(base)
			<-slots
			if !ok {
				d.failed++
				d.mu.Lock()
				d.failN = append(d.failN, p.n)
				d.mu.Unlock()
				if d.err == nil {
					d.err = fmt.Errorf("reading %d: no PUBACK: %v", p.n, p.tok.Error())
				}
				continue
			}
			d.puback = append(d.puback, now-p.at)
			d.mu.Lock()
			d.acked++
			d.maxAck = max(d.maxAck, p.n)
			d.mu.Unlock()
		}
	}()
	for k := 0; ; k++ {
		due := start + offset + time.Duration(k)*interval
		if due >= start+cfg.Duration || ctx.Err() != nil {
			break
		}
		if w := due - time.Since(base); w > 0 {
			time.Sleep(w)
		}
		select {
		case slots <- struct{}{}:
		default:
			d.behind++
			continue
		}
		now := time.Since(base)
		d.mu.Lock()
		seq := len(d.sentAt)
		d.sentAt = append(d.sentAt, now)
		d.mu.Unlock()
		d.sent++
		d.lag = append(d.lag, now-due)
		waiting <- pending{d.client.Publish(d.topic, 1, false, payload(seq)), now, seq}
	}
	close(waiting)
	<-done
}
