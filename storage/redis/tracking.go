package redis

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fiberlogto/sdk/storage/internal/readcache"
	goredis "github.com/redis/go-redis/v9"
)

// heartbeat is how often the tracking connection PINGs the server: a
// channel that has heard nothing (no PONG, no invalidation) for heartbeat +
// CommandTimeout is lost.
const heartbeat = time.Second

// trackingName is the tracking connection's name in CLIENT LIST.
const trackingName = "fiberlogto-invalidations"

// tracker keeps the storage's one invalidation channel: a RESP3 connection
// of its own with CLIENT TRACKING ON BCAST PREFIX KeyPrefix, on which the
// server pushes the name of every key under the prefix that anyone
// changes (writes, deletes, expiries, evictions) and a null for FLUSHDB
// and FLUSHALL. It tells the cache (readcache.Cache.SetLive) whether it
// listens, and reconnects when the connection is lost.
type tracker struct {
	opts    *goredis.Options
	prefix  string
	timeout time.Duration // each handshake, and a PING's answer
	cache   *readcache.Cache

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu   sync.Mutex
	conn net.Conn // the current connection, nil between two
	id   int64    // its CLIENT ID

	held atomic.Bool // tests: stay disconnected (hold)
}

func newTracker(opts *goredis.Options, prefix string, timeout time.Duration, cache *readcache.Cache) *tracker {
	ctx, cancel := context.WithCancel(context.Background())
	return &tracker{opts: opts, prefix: prefix, timeout: timeout, cache: cache, ctx: ctx, cancel: cancel, done: make(chan struct{})}
}

// start connects once, so that New returns a storage that caches when the
// server tracks, then keeps the channel up in the background.
func (tr *tracker) start() {
	conn, r, err := tr.connect()
	go tr.run(conn, r, err)
}

// run serves conn (when first is nil) and reconnects whenever the channel
// is lost, until close: soon after a lost connection, every 30 s after the
// server refused to track (a server older than Redis 6, an ACL without
// CLIENT).
func (tr *tracker) run(conn net.Conn, r *bufio.Reader, err error) {
	defer close(tr.done)
	backoff := 50 * time.Millisecond
	for {
		if err == nil {
			tr.serve(conn, r)
			backoff = 50 * time.Millisecond
		}
		wait := backoff
		var refused redisError
		switch {
		case err == nil || err == errHeld:
		case errors.As(err, &refused):
			wait = 30 * time.Second
		default:
			backoff = min(2*backoff, 2*time.Second)
		}
		select {
		case <-tr.ctx.Done():
			return
		case <-time.After(wait):
		}
		if tr.held.Load() {
			conn, r, err = nil, nil, errHeld
			continue
		}
		conn, r, err = tr.connect()
	}
}

var errHeld = errors.New("held")

// connect dials the server and turns tracking on; the cache is live once
// it returns without an error.
func (tr *tracker) connect() (net.Conn, *bufio.Reader, error) {
	o := tr.opts
	d := &net.Dialer{Timeout: o.DialTimeout, KeepAlive: 30 * time.Second}
	var (
		conn net.Conn
		err  error
	)
	ctx, cancel := context.WithTimeout(tr.ctx, o.DialTimeout)
	defer cancel()
	if o.TLSConfig != nil {
		conn, err = (&tls.Dialer{NetDialer: d, Config: o.TLSConfig}).DialContext(ctx, o.Network, o.Addr)
	} else {
		conn, err = d.DialContext(ctx, o.Network, o.Addr)
	}
	if err != nil {
		return nil, nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(tr.timeout))
	hello := []string{"HELLO", "3"}
	if o.Password != "" || o.Username != "" {
		user := o.Username
		if user == "" {
			user = "default"
		}
		hello = append(hello, "AUTH", user, o.Password)
	}
	hello = append(hello, "SETNAME", trackingName)
	track := []string{"CLIENT", "TRACKING", "ON", "BCAST"}
	if tr.prefix != "" {
		track = append(track, "PREFIX", tr.prefix)
	}
	w := bufio.NewWriter(conn)
	writeCommand(w, hello...)
	writeCommand(w, track...)
	r := bufio.NewReader(conn)
	var id int64
	err = w.Flush()
	if err == nil {
		id, err = helloID(r)
	}
	if err == nil {
		var ok respValue
		if ok, err = readValue(r); err == nil && ok.str != "OK" {
			err = fmt.Errorf("CLIENT TRACKING: %q", ok.str)
		}
	}
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	tr.mu.Lock()
	tr.conn, tr.id = conn, id
	tr.mu.Unlock()
	if tr.ctx.Err() != nil { // closed meanwhile: stay off
		conn.Close()
		return nil, nil, tr.ctx.Err()
	}
	tr.cache.SetLive(true)
	return conn, r, nil
}

// helloID reads HELLO's answer, a map, and returns its id.
func helloID(r *bufio.Reader) (int64, error) {
	v, err := readValue(r)
	if err != nil {
		return 0, err
	}
	for i := 0; i+1 < len(v.arr); i += 2 {
		if v.arr[i].str == "id" {
			return v.arr[i+1].int, nil
		}
	}
	return 0, errors.New("HELLO: no id")
}

// serve reads conn until it fails: invalidations go to the cache, PONGs
// prove the channel alive. A connection that fails, or stays silent past
// heartbeat + timeout, is lost: the cache drops everything and reads
// through until the next connection listens.
func (tr *tracker) serve(conn net.Conn, r *bufio.Reader) {
	stop := make(chan struct{})
	defer func() {
		tr.cache.SetLive(false)
		close(stop)
		conn.Close()
		tr.mu.Lock()
		tr.conn = nil
		tr.mu.Unlock()
	}()
	go func() { // close ends the read at once
		select {
		case <-tr.ctx.Done():
			conn.Close()
		case <-stop:
		}
	}()
	go func() {
		t := time.NewTicker(heartbeat)
		defer t.Stop()
		ping := []byte("*1\r\n$4\r\nPING\r\n")
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			_ = conn.SetWriteDeadline(time.Now().Add(tr.timeout))
			if _, err := conn.Write(ping); err != nil {
				conn.Close()
				return
			}
		}
	}()
	for {
		_ = conn.SetReadDeadline(time.Now().Add(heartbeat + tr.timeout))
		v, err := readValue(r)
		if err != nil {
			return
		}
		if v.kind != '>' || len(v.arr) < 2 || v.arr[0].str != "invalidate" {
			continue // PONG, or a push of another kind
		}
		keys := v.arr[1]
		if keys.kind == '_' || keys.null {
			tr.cache.Flush() // FLUSHDB, FLUSHALL
			continue
		}
		for _, k := range keys.arr {
			if key, ok := strings.CutPrefix(k.str, tr.prefix); ok {
				tr.cache.Invalidate(key)
			}
		}
	}
}

// close stops the channel and waits for its goroutine.
func (tr *tracker) close() {
	tr.cancel()
	tr.mu.Lock()
	if tr.conn != nil {
		tr.conn.Close()
	}
	tr.mu.Unlock()
	<-tr.done
	tr.cache.SetLive(false)
}

// clientID returns the CLIENT ID of the current tracking connection, 0
// between two (tests).
func (tr *tracker) clientID() int64 {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.conn == nil {
		return 0
	}
	return tr.id
}

// hold keeps the channel from reconnecting until the returned func is
// called (tests).
func (tr *tracker) hold() (release func()) {
	tr.held.Store(true)
	return func() { tr.held.Store(false) }
}

func writeCommand(w *bufio.Writer, args ...string) {
	w.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		w.WriteString("$" + strconv.Itoa(len(a)) + "\r\n")
		w.WriteString(a)
		w.WriteString("\r\n")
	}
}

// respValue is a RESP2 or RESP3 value, as much of it as the tracking
// connection needs.
type respValue struct {
	kind byte        // the type byte: '+', '$', ':', '*', '%', '>', '_', ...
	str  string      // simple and bulk strings, verbatim strings, errors
	int  int64       // integers
	arr  []respValue // arrays, sets, pushes; maps as key, value, key, ...
	null bool        // RESP2's null bulk string or array
}

// redisError is an error the server answered.
type redisError string

func (e redisError) Error() string { return string(e) }

// maxLen bounds a length the server announces.
const maxLen = 512 << 20

// readValue reads one value; an error reply is returned as a redisError.
func readValue(r *bufio.Reader) (respValue, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return respValue{}, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return respValue{}, fmt.Errorf("RESP: bad line %q", line)
	}
	kind, body := line[0], line[1:len(line)-2]
	v := respValue{kind: kind}
	switch kind {
	case '+':
		v.str = body
	case '-':
		return v, redisError(body)
	case ':':
		if v.int, err = strconv.ParseInt(body, 10, 64); err != nil {
			return v, fmt.Errorf("RESP: bad integer %q", body)
		}
	case '_':
		v.null = true
	case ',', '#', '(':
		v.str = body
	case '$', '=', '!':
		n, err := strconv.Atoi(body)
		if err != nil || n > maxLen {
			return v, fmt.Errorf("RESP: bad length %q", body)
		}
		if n < 0 {
			v.null = true
			return v, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return v, err
		}
		v.str = string(buf[:n])
		if kind == '!' {
			return v, redisError(v.str)
		}
	case '*', '~', '>', '%', '|':
		n, err := strconv.Atoi(body)
		if err != nil || n > maxLen {
			return v, fmt.Errorf("RESP: bad length %q", body)
		}
		if n < 0 {
			v.null = true
			return v, nil
		}
		if kind == '%' || kind == '|' {
			n *= 2
		}
		v.arr = make([]respValue, n)
		for i := range v.arr {
			if v.arr[i], err = readValue(r); err != nil {
				var re redisError
				if !errors.As(err, &re) { // an error inside an array is a value
					return v, err
				}
			}
		}
		if kind == '|' { // attributes precede the value they describe
			return readValue(r)
		}
	default:
		return v, fmt.Errorf("RESP: unknown type %q", kind)
	}
	return v, nil
}
