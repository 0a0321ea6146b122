package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// mqttClient is what a simulated device needs of its MQTT client: paho's,
// or rawClient.
type mqttClient interface {
	Publish(topic string, qos byte, retained bool, payload any) paho.Token
	Disconnect(quiesce uint)
}

// rawClient is the least an MQTT 3.1.1 QoS 1 publisher does, for -client
// raw: a CONNECT (clean session off, no keepalive), PUBLISH packets written
// as they are made, one goroutine reading PUBACKs. paho spends 35-55
// CPU-µs per reading in goroutines, channels and timers beyond the two
// syscalls a reading needs, and the generator shares the server's 2 cores:
// what it saves is the server's. After a lost connection the next Publish
// connects again to the same session; what was awaiting a PUBACK fails,
// and the device sends it again.
type rawClient struct {
	addr, clientID, user string

	mu      sync.Mutex // guards everything below, and the writes
	conn    net.Conn
	nextID  uint16
	waiting map[uint16]*rawToken
	buf     []byte
}

func newRawClient(addr, clientID, user string) *rawClient {
	return &rawClient{addr: addr, clientID: clientID, user: user, waiting: map[uint16]*rawToken{}}
}

// rawToken is a publish awaiting its PUBACK, as a paho.Token.
type rawToken struct {
	done chan struct{}
	err  error
}

func (t *rawToken) Wait() bool { <-t.done; return true }
func (t *rawToken) WaitTimeout(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-t.done:
		return true
	case <-timer.C:
		return false
	}
}
func (t *rawToken) Done() <-chan struct{} { return t.done }
func (t *rawToken) Error() error          { return t.err }

func failedToken(err error) *rawToken {
	t := &rawToken{done: make(chan struct{}), err: err}
	close(t.done)
	return t
}

// appendString appends an MQTT UTF-8 string: two bytes of length, then it.
func appendString(b []byte, s string) []byte {
	return append(append(b, byte(len(s)>>8), byte(len(s))), s...)
}

// appendPacket appends a packet of type header with body.
func appendPacket(b []byte, header byte, body []byte) []byte {
	b = append(b, header)
	for n := len(body); ; { // remaining length, 7 bits per byte
		c := byte(n & 0x7f)
		if n >>= 7; n > 0 {
			c |= 0x80
		}
		b = append(b, c)
		if n == 0 {
			break
		}
	}
	return append(b, body...)
}

// connect dials and sends CONNECT; c.mu is held.
func (c *rawClient) connect() error {
	conn, err := net.DialTimeout("tcp", c.addr, 30*time.Second)
	if err != nil {
		return err
	}
	var body []byte
	body = appendString(body, "MQTT")
	body = append(body, 4, 0x80, 0, 0) // 3.1.1; username, clean session off; keepalive off
	body = appendString(body, c.clientID)
	body = appendString(body, c.user)
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := conn.Write(appendPacket(nil, 0x10, body)); err != nil {
		conn.Close()
		return err
	}
	var ack [4]byte
	if _, err := io.ReadFull(conn, ack[:]); err != nil {
		conn.Close()
		return fmt.Errorf("CONNACK: %w", err)
	}
	if ack[0] != 0x20 || ack[3] != 0 {
		conn.Close()
		return fmt.Errorf("CONNACK % x: refused", ack)
	}
	_ = conn.SetDeadline(time.Time{})
	c.conn = conn
	go c.readAcks(conn)
	return nil
}

// readAcks completes the tokens of the PUBACKs conn brings until it
// fails; then what awaits a PUBACK on it fails.
func (c *rawClient) readAcks(conn net.Conn) {
	r := bufio.NewReader(conn)
	var err error
	for {
		var h byte
		if h, err = r.ReadByte(); err != nil {
			break
		}
		n, shift := 0, 0
		for {
			var b byte
			if b, err = r.ReadByte(); err != nil {
				break
			}
			n |= int(b&0x7f) << shift
			if shift += 7; b&0x80 == 0 {
				break
			}
		}
		if err != nil {
			break
		}
		body := make([]byte, n)
		if _, err = io.ReadFull(r, body); err != nil {
			break
		}
		if h>>4 != 4 || n < 2 { // only PUBACKs are expected
			continue
		}
		id := uint16(body[0])<<8 | uint16(body[1])
		c.mu.Lock()
		if t := c.waiting[id]; t != nil {
			delete(c.waiting, id)
			if n > 2 && body[2] >= 0x80 {
				t.err = fmt.Errorf("PUBACK reason %#x", body[2])
			}
			close(t.done)
		}
		c.mu.Unlock()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != conn {
		return
	}
	conn.Close()
	c.conn = nil
	reconnects.Add(1)
	for id, t := range c.waiting {
		t.err = fmt.Errorf("connection lost: %w", err)
		close(t.done)
		delete(c.waiting, id)
	}
}

// Publish sends a QoS 1 PUBLISH (qos and retained are ignored) of payload
// ([]byte).
func (c *rawClient) Publish(topic string, _ byte, _ bool, payload any) paho.Token {
	p, _ := payload.([]byte)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		if err := c.connect(); err != nil {
			return failedToken(err)
		}
	}
	if len(c.waiting) >= 1<<16-1 {
		return failedToken(errors.New("no free packet id"))
	}
	for c.nextID++; c.nextID == 0 || c.waiting[c.nextID] != nil; c.nextID++ {
	}
	id := c.nextID
	body := appendString(c.buf[:0], topic)
	body = append(body, byte(id>>8), byte(id))
	body = append(body, p...)
	out := appendPacket(make([]byte, 0, len(body)+5), 0x32, body)
	c.buf = body
	t := &rawToken{done: make(chan struct{})}
	c.waiting[id] = t
	if _, err := c.conn.Write(out); err != nil {
		delete(c.waiting, id)
		c.conn.Close() // readAcks fails what else waits
		return failedToken(err)
	}
	return t
}

// Disconnect sends DISCONNECT and closes the connection.
func (c *rawClient) Disconnect(uint) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		_, _ = c.conn.Write([]byte{0xe0, 0})
		c.conn.Close()
		c.conn = nil
	}
}
