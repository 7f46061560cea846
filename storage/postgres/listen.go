package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fiberlogto/sdk/storage/internal/readcache"
	"github.com/jackc/pgx/v5"
)

// heartbeat is how often the listening connection, when it has heard
// nothing, checks it is alive: one that does not answer within
// CommandTimeout is lost.
const heartbeat = time.Second

// listenerName is the listening connection's application_name in
// pg_stat_activity, unless the URL names one.
const listenerName = "fiberlogto-invalidations"

// flushPayload is the notification of a Reset: everything changed. No key
// is empty (Set and Delete ignore the empty key).
const flushPayload = ""

// maxPayloadKey is the longest key a notification names (PostgreSQL takes
// payloads under 8000 bytes). A longer key is never cached; its
// notification names a hash of it, which no cached key matches.
const maxPayloadKey = 4000

// channelName is the NOTIFY channel of a table, "fiberlogto_" and a hash of
// its quoted schema-qualified name: every instance on one table derives
// the same, two tables never share one, and it fits PostgreSQL's 63 bytes.
func channelName(table string) string {
	h := sha256.Sum256([]byte(table))
	return "fiberlogto_" + hex.EncodeToString(h[:12])
}

// payload is what a write of key notifies.
func payload(key string) string {
	if len(key) <= maxPayloadKey {
		return key
	}
	h := sha256.Sum256([]byte(key))
	return "#" + hex.EncodeToString(h[:])
}

// listener keeps the storage's one invalidation channel: a connection of
// its own, outside the pool, LISTENing on the table's channel, on which
// every write, delete and Reset through any instance arrives (the
// statements notify in the same statement or transaction, so at commit).
// It tells the cache (readcache.Cache.SetLive) whether it listens, and
// reconnects when the connection is lost.
type listener struct {
	config  *pgx.ConnConfig
	channel string
	timeout time.Duration // LISTEN, and a heartbeat's answer
	cache   *readcache.Cache

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu   sync.Mutex
	conn *pgx.Conn // the current connection, nil between two

	held atomic.Bool // tests: stay disconnected (hold)
}

func newListener(config *pgx.ConnConfig, channel string, timeout time.Duration, cache *readcache.Cache) *listener {
	config = config.Copy()
	if config.RuntimeParams["application_name"] == "" {
		config.RuntimeParams["application_name"] = listenerName
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &listener{config: config, channel: channel, timeout: timeout, cache: cache, ctx: ctx, cancel: cancel, done: make(chan struct{})}
}

// start connects once, so that New returns a storage that caches, then
// keeps the channel up in the background.
func (l *listener) start() {
	conn, err := l.connect()
	go l.run(conn, err)
}

// run serves conn (when err is nil) and reconnects whenever the channel is
// lost, until close.
func (l *listener) run(conn *pgx.Conn, err error) {
	defer close(l.done)
	backoff := 50 * time.Millisecond
	for {
		if err == nil {
			l.serve(conn)
			backoff = 50 * time.Millisecond
		} else if err != errHeld {
			backoff = min(2*backoff, 2*time.Second)
		}
		select {
		case <-l.ctx.Done():
			return
		case <-time.After(backoff):
		}
		if l.held.Load() {
			conn, err = nil, errHeld
			continue
		}
		conn, err = l.connect()
	}
}

var errHeld = errors.New("held")

// connect opens the listening connection; the cache is live once it
// returns without an error.
func (l *listener) connect() (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(l.ctx, l.config.ConnectTimeout+l.timeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, l.config)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{l.channel}.Sanitize()); err != nil {
		conn.Close(context.Background())
		return nil, err
	}
	l.mu.Lock()
	l.conn = conn
	l.mu.Unlock()
	if l.ctx.Err() != nil { // closed meanwhile: stay off
		conn.Close(context.Background())
		return nil, l.ctx.Err()
	}
	// Every commit from now on reaches this connection: a read begun after
	// this may be cached.
	l.cache.SetLive(true)
	return conn, nil
}

// serve waits for notifications on conn until it fails: each drops its
// key from the cache (a Reset's, everything). A connection that fails, or
// does not answer a heartbeat within CommandTimeout, is lost: the cache
// drops everything and reads through until the next connection listens.
func (l *listener) serve(conn *pgx.Conn) {
	defer func() {
		l.cache.SetLive(false)
		l.mu.Lock()
		l.conn = nil
		l.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
		conn.Close(ctx)
		cancel()
	}()
	for {
		ctx, cancel := context.WithTimeout(l.ctx, heartbeat)
		n, err := conn.WaitForNotification(ctx)
		timedOut := ctx.Err() == context.DeadlineExceeded
		cancel()
		if err != nil {
			if !timedOut || l.ctx.Err() != nil || conn.IsClosed() {
				return
			}
			ctx, cancel := context.WithTimeout(l.ctx, l.timeout)
			err = conn.Ping(ctx)
			cancel()
			if err != nil {
				return
			}
			continue
		}
		if n.Payload == flushPayload {
			l.cache.Flush()
		} else {
			l.cache.Invalidate(n.Payload)
		}
	}
}

// close stops the channel and waits for its goroutine.
func (l *listener) close() {
	l.cancel()
	<-l.done
	l.cache.SetLive(false)
}

// pid returns the backend PID of the listening connection, 0 between two
// (tests).
func (l *listener) pid() uint32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return 0
	}
	return l.conn.PgConn().PID()
}

// hold keeps the channel from reconnecting until the returned func is
// called (tests).
func (l *listener) hold() (release func()) {
	l.held.Store(true)
	return func() { l.held.Store(false) }
}
