package postgres

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Lead blocks until this instance holds the applier lease: a session
// advisory lock, taken on a connection of its own (a pooled connection
// would carry the lock back to the pool), tried every 500 ms until it is
// had or ctx is done. The lease context is cancelled when that connection
// fails (it is pinged every second): the database then let the lock go
// and another instance may take it. release unlocks and closes it.
func (v *View) Lead(ctx context.Context) (context.Context, func(), error) {
	const retry = 500 * time.Millisecond
	var conn *pgx.Conn
	for {
		if conn == nil {
			c, err := pgx.ConnectConfig(ctx, v.connCfg)
			if err != nil {
				if ctx.Err() != nil {
					return nil, nil, ctx.Err()
				}
				v.opts.Logger.Warn("postgres view: lease connection failed", "err", err)
			}
			conn = c
		}
		if conn != nil {
			var got bool
			err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", v.leadKey).Scan(&got)
			if err == nil && got {
				break
			}
			if err != nil {
				conn.Close(context.WithoutCancel(ctx))
				conn = nil
				if ctx.Err() == nil {
					v.opts.Logger.Warn("postgres view: asking for the lease failed", "err", err)
				}
			}
		}
		select {
		case <-ctx.Done():
			if conn != nil {
				conn.Close(context.WithoutCancel(ctx))
			}
			return nil, nil, ctx.Err()
		case <-time.After(retry):
		}
	}
	lease, lost := context.WithCancel(ctx)
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-lease.Done():
				return
			case <-tick.C:
				pctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				err := conn.Ping(pctx)
				cancel()
				if err != nil {
					v.opts.Logger.Warn("postgres view: lease lost", "err", err)
					lost()
					return
				}
			}
		}
	}()
	release := sync.OnceFunc(func() {
		close(stop)
		<-stopped
		lost()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if !conn.IsClosed() {
			// Closing the session would free the lock too; unlocking first
			// says so even if the close is slow.
			_, _ = conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", v.leadKey)
		}
		conn.Close(ctx)
	})
	return lease, release, nil
}

// Follow calls fn with the served generation's checkpoint when it moves,
// whoever applied it, until ctx is done: on every NOTIFY of a commit (on a
// connection of its own), and every second by reading it, since
// notifications sent while the connection was down are lost. It
// reconnects after errors. fn is first called with the checkpoint as it
// stands.
func (v *View) Follow(ctx context.Context, fn func(seq uint64)) error {
	first, last := true, uint64(0)
	report := func(gen int, seq uint64) {
		// A commit on another generation than the cached one means a
		// switch: reads move to it before fn says the sequence is there.
		v.cacheServed(gen)
		if first || seq != last {
			first, last = false, seq
			fn(seq)
		}
	}
	for {
		err := v.listen(ctx, report, time.Second)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, errReconnect) {
			continue
		}
		v.opts.Logger.Warn("postgres view: following the checkpoint failed, again in 500ms", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(500 * time.Millisecond):
		}
	}
}
