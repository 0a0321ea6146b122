package lorawan

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/gorilla/websocket"
)

// Backoff between Everynet connection attempts: minBackoff (dojot's
// LORA_RECONN_INTERVAL default), doubling up to maxBackoff, back to
// minBackoff once connected.
const (
	minBackoff = time.Second
	maxBackoff = 30 * time.Second
)

// everynetHost is the server's address for logs and /healthz (never the
// token).
func everynetHost(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Host
	}
	return ""
}

// everynetURL is <EverynetURL>?access_token=<token>, as dojot's agent dials.
func (a *Agent) everynetURL() string {
	u, _ := url.Parse(a.opts.EverynetURL) // checked by New
	q := u.Query()
	q.Set("access_token", a.opts.EverynetToken)
	u.RawQuery = q.Encode()
	return u.String()
}

// Run is dojot's Everynet mode, when configured: it reads the network
// server's websocket until ctx is done, reconnecting with backoff when the
// connection fails or cannot be made, and stores each uplink as the
// webhooks do. It returns nil once ctx is done (at once without Everynet).
func (a *Agent) Run(ctx context.Context) error {
	if a.opts.EverynetURL == "" {
		return nil
	}
	host := everynetHost(a.opts.EverynetURL)
	backoff, down := minBackoff, false
	for {
		connected, err := a.everynetSession(ctx)
		if ctx.Err() != nil {
			return nil
		}
		a.mu.Lock()
		a.evConnected, a.evErr = false, err.Error()
		a.mu.Unlock()
		if connected {
			backoff, down = minBackoff, false
		}
		if !down {
			a.log.Warn("lorawan: everynet down, retrying", "server", host, "err", err, "retry_in", backoff.String())
			down = true
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// everynetSession is one connection; it reports whether it was made.
func (a *Agent) everynetSession(ctx context.Context) (bool, error) {
	dialer := websocket.Dialer{HandshakeTimeout: a.opts.Timeout}
	conn, resp, err := dialer.DialContext(ctx, a.everynetURL(), nil)
	if err != nil {
		if resp != nil {
			return false, fmt.Errorf("connect: %s", resp.Status)
		}
		return false, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	conn.SetReadLimit(a.opts.MaxBody)
	stop := context.AfterFunc(ctx, func() {
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		_ = conn.Close()
	})
	defer stop()
	a.mu.Lock()
	a.evConnected, a.evErr = true, ""
	a.mu.Unlock()
	a.log.Info("lorawan: everynet connected", "server", everynetHost(a.opts.EverynetURL))
	for {
		kind, msg, err := conn.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				a.count(everynet, refuse(refusedTooLarge, 0, "message larger than %d bytes", a.opts.MaxBody))
			}
			return true, fmt.Errorf("read: %w", err)
		}
		if kind != websocket.TextMessage && kind != websocket.BinaryMessage {
			continue
		}
		// No ack on this websocket: a message refused or not stored is
		// counted and logged, and gone (as in dojot).
		up, isUplink, err := everynet.parse(msg)
		if err == nil && !isUplink {
			a.ignored.Add(1)
			continue
		}
		if err == nil {
			_, err = a.ingest(everynet, up, "")
		}
		if err != nil {
			a.count(everynet, err)
		}
	}
}
