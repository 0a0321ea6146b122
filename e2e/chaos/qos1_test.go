package chaos

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// dialDevice connects a paho client (MQTT 3.1.1, no reconnection: a lost
// connection shows as failed publishes) as device id of admin, to the
// MQTT listener at addr.
func dialDevice(addr, clientID, id string) (paho.Client, error) {
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(clientID).
		SetUsername("admin:" + id).SetProtocolVersion(4).SetAutoReconnect(false).SetConnectRetry(false).
		SetWriteTimeout(5 * time.Second)
	cl := paho.NewClient(o)
	if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return nil, fmt.Errorf("connect %s: %v", id, tok.Error())
	}
	return cl, nil
}

// qos1Window sends a device's readings {"n":<n>} at QoS 1 as a device
// with an in-flight window does: at most size await their PUBACK, the
// next waits for a place.
type qos1Window struct {
	size  int                     // readings awaiting their PUBACK, at most
	wait  time.Duration           // for one PUBACK; past it, or on an error, the connection is gone
	pause time.Duration           // between two publishes
	next  func() (n int, ok bool) // the next reading's n; false: none left
	acked func(n int)             // reading n got its PUBACK
}

// publish sends device id's readings on cl until stop is closed, next
// has none left or the connection is gone, and returns once every
// reading sent has its PUBACK or has failed.
func (w qos1Window) publish(stop <-chan struct{}, cl paho.Client, id string) {
	inflight := make(chan struct{}, w.size)
	var wg sync.WaitGroup
	defer wg.Wait()
	var failed atomic.Bool
	for {
		select {
		case <-stop:
			return
		case inflight <- struct{}{}:
		}
		if failed.Load() {
			return
		}
		n, ok := w.next()
		if !ok {
			return
		}
		tok := cl.Publish("admin:"+id+"/attrs", 1, false, fmt.Sprintf(`{"n":%d}`, n))
		wg.Go(func() {
			defer func() { <-inflight }()
			if tok.WaitTimeout(w.wait) && tok.Error() == nil {
				w.acked(n)
			} else {
				failed.Store(true)
			}
		})
		time.Sleep(w.pause)
	}
}
