// Package redis is a fiberlogto session storage on a Redis server. Pick it
// for several app instances behind a load balancer: every instance sees
// every session, and it is the fastest shared storage (in memory, each key
// expiring with Redis's own TTL, to the millisecond, nothing to
// garbage-collect), with a read cache in each instance that the server
// keeps coherent. Sessions survive an app restart, and a Redis restart as
// far as the server's own persistence goes. When they must be durable and
// you already run PostgreSQL, pick the postgres package instead; for one
// instance, the sqlite package. Importing it links go-redis but no SQL
// driver.
//
// New returns a *Storage. It implements Fiber v2's and Fiber v3's
// fiber.Storage (context methods included), so it goes straight into
// fiberlogto.Config.Storage. It also implements logto.Leaser
// (logto.Leaser is an alias of it) with server-side scripts, a lease
// atomic across instances. fiberlogto takes the lease for a session's
// refresh and every other write of a session, for a user's back-channel
// logout index, and for a callback's one-time claim on its state, so that
// a code is exchanged once across instances.
//
// # Read cache
//
// Get and GetWithContext read through a cache in the process, so a
// signed-in request whose session did not change makes no round trip to
// Redis. The server keeps it coherent (server-assisted client-side
// caching): each Storage keeps one connection of its own in RESP3 with
// CLIENT TRACKING ON BCAST PREFIX KeyPrefix (named
// "fiberlogto-invalidations" in CLIENT LIST; Redis 6 or later), on which
// Redis pushes the name of every key under KeyPrefix that any client
// changes (every key of the server, all databases, without a KeyPrefix),
// and a flush for FLUSHDB. A write, delete or Reset through one
// instance is therefore seen by every other instance's next read once its
// invalidation has arrived: well under a millisecond on a LAN, and
// promised (and tested, over many writes) within 100 ms; through the
// instance itself, at once. A cached value lives no longer than its key's
// TTL. GetFreshWithContext (logto.FreshReader) always reads from the
// server; fiberlogto uses it for what it rewrites under a lease (a
// refresh, a touch, a sign-out), so a refresh token another instance has
// just rotated is never read stale. Leases are never read through the
// cache.
//
// The cache holds at most Config.CacheSize keys (10,000 by default; a
// session is a few KiB), evicting one at random when full; a negative
// CacheSize turns it off. It caches only while the invalidation channel
// is up: when that connection is lost (killed, the server restarted, or
// no answer within CommandTimeout to the PING it sends every second), the
// instance drops everything it cached and reads from the server until it
// has reconnected and tracks again, so it never serves a value another
// instance changed meanwhile; it then caches again. A server that cannot
// track (before Redis 6, or an ACL user without CLIENT) is read from
// every time.
//
// Every call is bounded by Config.CommandTimeout (and New by
// ConnectTimeout), so an unreachable or silent server fails a request
// instead of hanging it. A context method's call ends as soon as its
// context does, and its error then wraps the context's
// (errors.Is(err, context.Canceled)).
package redis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/fiberlogto/sdk/storage/internal/ctxerr"
	"github.com/fiberlogto/sdk/storage/internal/readcache"
	fiberredis "github.com/gofiber/storage/redis/v3"
	goredis "github.com/redis/go-redis/v9"
)

// Config configures New.
type Config struct {
	// URL of the server: redis://[user:password@]host:port/db, or rediss://
	// for TLS. go-redis query options (dial_timeout, read_timeout,
	// pool_size, ...) are honoured unless a field below overrides them.
	//
	// Required.
	URL string

	// KeyPrefix is put in front of every key, so several apps can share one
	// database. fiberlogto's own keys already start with "fiberlogto:".
	//
	// Optional. Default: ""
	KeyPrefix string

	// ConnectTimeout bounds opening a connection, and New's first PING with
	// CommandTimeout.
	//
	// Optional. Default: the URL's dial_timeout, else 5 * time.Second
	ConnectTimeout time.Duration

	// CommandTimeout bounds each call (socket reads and writes and the call
	// as a whole; each round trip of a Reset under KeyPrefix). The context
	// methods are bounded by it too, and by their caller's context,
	// whichever ends first.
	//
	// Optional. Default: the URL's read_timeout, else 3 * time.Second
	CommandTimeout time.Duration

	// CacheSize bounds the read cache of the process (see the package
	// documentation), in keys: a full cache evicts one at random for a new
	// one. A negative value turns the cache off: every read goes to the
	// server, and no tracking connection is opened.
	//
	// Optional. Default: 10000
	CacheSize int
}

// DefaultCacheSize is Config.CacheSize's default.
const DefaultCacheSize = 10000

// New connects to the Redis server at cfg.URL, checks it answers, and
// returns a *Storage on it. Nothing is deleted at startup.
//
// Reset deletes the keys under KeyPrefix only; with no KeyPrefix it flushes
// the whole database (FLUSHDB), other apps' keys included.
func New(cfg Config) (*Storage, error) {
	if cfg.URL == "" {
		return nil, errors.New("storage: Redis: URL is required")
	}
	opts, err := goredis.ParseURL(cfg.URL)
	if err != nil {
		// net/url's errors quote the whole URL, password included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("storage: Redis: bad URL: %v", err)
	}
	switch {
	case cfg.ConnectTimeout > 0:
		opts.DialTimeout = cfg.ConnectTimeout
	case opts.DialTimeout == 0:
		opts.DialTimeout = 5 * time.Second
	}
	switch {
	case cfg.CommandTimeout > 0:
		opts.ReadTimeout, opts.WriteTimeout = cfg.CommandTimeout, cfg.CommandTimeout
	case opts.ReadTimeout == 0:
		opts.ReadTimeout = 3 * time.Second
	}
	if opts.WriteTimeout == 0 {
		opts.WriteTimeout = opts.ReadTimeout
	}
	callTimeout := opts.ReadTimeout
	if callTimeout <= 0 {
		// read_timeout=-1 in the URL asked for none; still bound the call.
		callTimeout = 3 * time.Second
	}
	// A call's deadline (dial, pool wait, read, write) comes from its context.
	opts.ContextTimeoutEnabled = true

	client := goredis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), opts.DialTimeout+callTimeout)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("storage: Redis: connect to %s: %w", opts.Addr, err)
	}
	// NewFromConnection, unlike New, never panics and takes our client with
	// its timeouts; the client stays ours to close.
	s := &Storage{
		inner:   fiberredis.NewFromConnection(client),
		client:  client,
		prefix:  cfg.KeyPrefix,
		timeout: callTimeout,
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if s.cache = readcache.New(cfg.CacheSize); s.cache != nil {
		s.tracker = newTracker(opts, cfg.KeyPrefix, callTimeout, s.cache)
		s.tracker.start()
	}
	return s, nil
}

// Storage is a session storage on a Redis server. It implements Fiber
// v2's and Fiber v3's fiber.Storage, logto.Leaser and logto.FreshReader.
// Every call is bounded by CommandTimeout; a context method's also by its
// caller's context, whose error the returned error then wraps.
type Storage struct {
	inner     *fiberredis.Storage
	client    *goredis.Client
	prefix    string
	timeout   time.Duration
	cache     *readcache.Cache // nil: off
	tracker   *tracker         // its invalidation channel; nil with the cache off
	closeOnce sync.Once
	closeErr  error
}

// ctx bounds one call from parent by CommandTimeout.
func (s *Storage) ctx(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, s.timeout)
}

// redisCall runs one call of s under parent, bounded by CommandTimeout.
//
// go-redis ends a call at its context's deadline, but not when the context
// is cancelled before it (redis/go-redis#2556): a cancelled caller would
// wait out CommandTimeout. So when parent can be cancelled, the call runs
// in a goroutine of its own and redisCall returns as soon as parent is
// done; the abandoned call still ends by CommandTimeout. Plain Get, Set,
// ... (context.Background) call go-redis directly.
func redisCall[T any](s *Storage, parent context.Context, call func(ctx context.Context) (T, error)) (T, error) {
	ctx, cancel := s.ctx(parent)
	if parent.Done() == nil {
		defer cancel()
		v, err := call(ctx)
		return v, ctxerr.Wrap(ctx, err)
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer cancel()
		v, err := call(ctx)
		done <- result{v, ctxerr.Wrap(ctx, err)}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-parent.Done():
		var zero T
		return zero, parent.Err()
	}
}

// Get returns the value of key, nil when it is missing.
func (s *Storage) Get(key string) ([]byte, error) {
	return s.GetWithContext(context.Background(), key)
}

// GetWithContext is Get under ctx, through the read cache: a value cached
// since another instance's write is served until that write's
// invalidation arrives (well under a millisecond on a LAN; promised
// within 100 ms).
func (s *Storage) GetWithContext(ctx context.Context, key string) ([]byte, error) {
	if key == "" {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if v, ok := s.cache.Get(key); ok {
		return v, nil
	}
	t, ok := s.cache.Begin(key)
	if !ok {
		return s.GetFreshWithContext(ctx, key)
	}
	return redisCall(s, ctx, func(ctx context.Context) ([]byte, error) {
		// End runs here, in the call's goroutine, however early redisCall
		// returns.
		start := time.Now()
		v, ttl, err := s.getWithTTL(ctx, key)
		var exp int64
		if ttl > 0 {
			exp = start.Add(ttl).UnixNano()
		}
		// ttl -2: the key went away between GET and PTTL; its
		// invalidation is on its way, cache nothing.
		s.cache.End(key, t, v, exp, err == nil && ttl != -2)
		return v, err
	})
}

// getWithTTL reads key and its TTL in one round trip: ttl is -1 for a key
// without expiry (or a missing key), -2 for one gone between the two
// reads. Any change of the key in between is invalidated anyway.
func (s *Storage) getWithTTL(ctx context.Context, key string) ([]byte, time.Duration, error) {
	var (
		get *goredis.StringCmd
		ttl *goredis.DurationCmd
	)
	_, err := s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		get = p.Get(ctx, s.prefix+key)
		ttl = p.PTTL(ctx, s.prefix+key)
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, 0, err
	}
	v, err := get.Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, -1, nil
	}
	if err != nil {
		return nil, 0, err
	}
	d, err := ttl.Result()
	if err != nil {
		return nil, 0, err
	}
	if d == -2 || d == -1 {
		return v, d, nil
	}
	if d <= 0 { // expiring right now
		return v, -2, nil
	}
	return v, d, nil
}

// GetFreshWithContext is GetWithContext from the server itself, past the
// read cache (logto.FreshReader): for what is read to be rewritten.
func (s *Storage) GetFreshWithContext(ctx context.Context, key string) ([]byte, error) {
	if key == "" {
		return nil, nil
	}
	return redisCall(s, ctx, func(ctx context.Context) ([]byte, error) {
		return s.inner.GetWithContext(ctx, s.prefix+key)
	})
}

// Set stores val for exp; exp == 0 keeps it until deleted. A negative exp is
// already past: the key is deleted, as SQLite and PostgreSQL would read it
// (go-redis would otherwise keep the key forever).
func (s *Storage) Set(key string, val []byte, exp time.Duration) error {
	return s.SetWithContext(context.Background(), key, val, exp)
}

// SetWithContext is Set under ctx. When ctx ends first, the value may or
// may not have been stored.
func (s *Storage) SetWithContext(ctx context.Context, key string, val []byte, exp time.Duration) error {
	if key == "" || len(val) == 0 {
		return nil // as gofiber's storages do
	}
	if exp < 0 {
		return s.DeleteWithContext(ctx, key)
	}
	if ctx.Done() != nil {
		// redisCall may return while the call still runs: it must not
		// read a buffer the caller has since reused.
		val = bytes.Clone(val)
	}
	_, err := redisCall(s, ctx, func(ctx context.Context) (struct{}, error) {
		defer s.cache.Invalidate(key) // read your writes, at once
		return struct{}{}, s.inner.SetWithContext(ctx, s.prefix+key, val, exp)
	})
	return err
}

// Delete removes key.
func (s *Storage) Delete(key string) error {
	return s.DeleteWithContext(context.Background(), key)
}

// DeleteWithContext is Delete under ctx.
func (s *Storage) DeleteWithContext(ctx context.Context, key string) error {
	if key == "" {
		return nil
	}
	_, err := redisCall(s, ctx, func(ctx context.Context) (struct{}, error) {
		defer s.cache.Invalidate(key)
		return struct{}{}, s.inner.DeleteWithContext(ctx, s.prefix+key)
	})
	return err
}

// Reset deletes every key under the prefix, or flushes the database when
// there is none.
func (s *Storage) Reset() error {
	return s.ResetWithContext(context.Background())
}

// ResetWithContext is Reset under ctx: CommandTimeout bounds each round
// trip, ctx the whole walk.
func (s *Storage) ResetWithContext(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	defer s.cache.Flush()
	if s.prefix == "" {
		_, err := redisCall(s, ctx, func(ctx context.Context) (struct{}, error) {
			return struct{}{}, s.inner.ResetWithContext(ctx)
		})
		return err
	}
	// Scanning a large database takes many round trips: bound each, not the
	// whole walk.
	pattern := globEscape(s.prefix) + "*"
	var cursor uint64
	for {
		next, err := redisCall(s, ctx, func(ctx context.Context) (uint64, error) {
			keys, next, err := s.client.Scan(ctx, cursor, pattern, 500).Result()
			if err == nil && len(keys) > 0 {
				err = s.client.Unlink(ctx, keys...).Err()
			}
			return next, err
		})
		if err != nil {
			return err
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// The lease's scripts (logto.Leaser) run atomically on the server.
var (
	acquireLease = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == false or v == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`)
	releaseLease = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)
)

// AcquireLease takes key for owner until ttl passes, unless another owner
// holds it (logto.Leaser). The lease is a key like any other under
// KeyPrefix, expiring with a Redis TTL; owner taking it again extends it.
func (s *Storage) AcquireLease(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	ms := ttl.Milliseconds()
	if ms < 1 {
		ms = 1
	}
	n, err := redisCall(s, ctx, func(ctx context.Context) (int, error) {
		defer s.cache.Invalidate(key)
		return acquireLease.Run(ctx, s.client, []string{s.prefix + key}, owner, ms).Int()
	})
	return n == 1, err
}

// ReleaseLease gives key up if owner holds it (logto.Leaser).
func (s *Storage) ReleaseLease(ctx context.Context, key, owner string) error {
	_, err := redisCall(s, ctx, func(ctx context.Context) (struct{}, error) {
		defer s.cache.Invalidate(key)
		return struct{}{}, releaseLease.Run(ctx, s.client, []string{s.prefix + key}, owner).Err()
	})
	return err
}

// Close closes the connections (the tracking one too) and drops the read
// cache; later calls fail. Calling it again is a no-op.
func (s *Storage) Close() error {
	s.closeOnce.Do(func() {
		if s.tracker != nil {
			s.tracker.close()
		}
		_ = s.inner.Close() // a borrowed client: only marks the storage closed
		s.closeErr = s.client.Close()
	})
	return s.closeErr
}

// globEscape quotes Redis glob characters so a prefix matches literally.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
