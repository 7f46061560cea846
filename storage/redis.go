package storage

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	fiberredis "github.com/gofiber/storage/redis/v3"
	"github.com/redis/go-redis/v9"
)

// RedisConfig configures Redis.
type RedisConfig struct {
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

	// CommandTimeout bounds each Get, Set and Delete (socket reads and writes
	// and the call as a whole).
	//
	// Optional. Default: the URL's read_timeout, else 3 * time.Second
	CommandTimeout time.Duration
}

// Redis connects to a Redis session storage and checks the server answers.
// Pick it for several instances behind a load balancer: every instance sees
// every session, and it is the fastest shared storage (in memory, each key
// expiring with Redis's own TTL, to the millisecond, with nothing to
// garbage-collect). Sessions survive an app restart, and a Redis restart only
// as far as the server's own persistence goes. Nothing is deleted at startup.
//
// Reset deletes the keys under KeyPrefix only; with no KeyPrefix it flushes
// the whole database (FLUSHDB), other apps' keys included.
func Redis(cfg RedisConfig) (fiber.Storage, error) {
	if cfg.URL == "" {
		return nil, errors.New("storage: Redis: URL is required")
	}
	opts, err := redis.ParseURL(cfg.URL)
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

	client := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), opts.DialTimeout+callTimeout)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("storage: Redis: connect to %s: %w", opts.Addr, err)
	}
	// NewFromConnection, unlike New, never panics and takes our client with
	// its timeouts; the client stays ours to close.
	return &redisStorage{
		inner:   fiberredis.NewFromConnection(client),
		client:  client,
		prefix:  cfg.KeyPrefix,
		timeout: callTimeout,
	}, nil
}

type redisStorage struct {
	inner     *fiberredis.Storage
	client    *redis.Client
	prefix    string
	timeout   time.Duration
	closeOnce sync.Once
	closeErr  error
}

func (s *redisStorage) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.timeout)
}

func (s *redisStorage) Get(key string) ([]byte, error) {
	if key == "" {
		return nil, nil
	}
	ctx, cancel := s.ctx()
	defer cancel()
	return s.inner.GetWithContext(ctx, s.prefix+key)
}

// Set stores val for exp; exp == 0 keeps it until deleted. A negative exp is
// already past: the key is deleted, as SQLite and PostgreSQL would read it
// (go-redis would otherwise keep the key forever).
func (s *redisStorage) Set(key string, val []byte, exp time.Duration) error {
	if key == "" {
		return nil
	}
	if exp < 0 {
		return s.Delete(key)
	}
	ctx, cancel := s.ctx()
	defer cancel()
	return s.inner.SetWithContext(ctx, s.prefix+key, val, exp)
}

func (s *redisStorage) Delete(key string) error {
	if key == "" {
		return nil
	}
	ctx, cancel := s.ctx()
	defer cancel()
	return s.inner.DeleteWithContext(ctx, s.prefix+key)
}

// Reset deletes every key under the prefix, or flushes the database when
// there is none.
func (s *redisStorage) Reset() error {
	if s.prefix == "" {
		ctx, cancel := s.ctx()
		defer cancel()
		return s.inner.ResetWithContext(ctx)
	}
	// Scanning a large database takes many round trips: bound each, not the
	// whole walk.
	pattern := globEscape(s.prefix) + "*"
	var cursor uint64
	for {
		ctx, cancel := s.ctx()
		keys, next, err := s.client.Scan(ctx, cursor, pattern, 500).Result()
		if err == nil && len(keys) > 0 {
			err = s.client.Unlink(ctx, keys...).Err()
		}
		cancel()
		if err != nil {
			return err
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// The scripts run atomically on the server.
var (
	acquireLease = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == false or v == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`)
	// takeKey returns the value of KEYS[1] and deletes it (nil when missing).
	takeKey = redis.NewScript(`
local v = redis.call("GET", KEYS[1])
if v then redis.call("DEL", KEYS[1]) end
return v`)
	releaseLease = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)
)

// AcquireLease takes key for owner until ttl passes, unless another owner
// holds it (fiberlogto.Leaser). The key expires with a Redis TTL; owner
// taking it again extends it.
func (s *redisStorage) AcquireLease(key, owner string, ttl time.Duration) (bool, error) {
	ms := ttl.Milliseconds()
	if ms < 1 {
		ms = 1
	}
	ctx, cancel := s.ctx()
	defer cancel()
	n, err := acquireLease.Run(ctx, s.client, []string{s.prefix + key}, owner, ms).Int()
	return n == 1, err
}

// Take returns the value of key and deletes it (fiberlogto.Taker): of
// concurrent Takes of a key, on any instance, one gets the value. A script
// rather than GETDEL, which needs Redis 6.2: this works from 2.6 on.
func (s *redisStorage) Take(key string) ([]byte, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	v, err := takeKey.Run(ctx, s.client, []string{s.prefix + key}).Text()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return []byte(v), nil
}

// ReleaseLease gives key up if owner holds it.
func (s *redisStorage) ReleaseLease(key, owner string) error {
	ctx, cancel := s.ctx()
	defer cancel()
	return releaseLease.Run(ctx, s.client, []string{s.prefix + key}, owner).Err()
}

// Close closes the connections; later calls fail. Calling it again is a
// no-op.
func (s *redisStorage) Close() error {
	s.closeOnce.Do(func() {
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
