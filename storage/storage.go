// Package storage builds the session storages fiberlogto ships with. It
// does not import fiberlogto: each constructor returns a concrete type
// (*SQLiteStorage, *MemoryStorage, *RedisStorage, *PostgresStorage) that
// implements fiber.Storage of Fiber v2 and of Fiber v3 (whose context
// methods, GetWithContext and the like, each type has too), and any other
// fiber.Storage works with fiberlogto as well.
//
// Which one:
//
//   - SQLite: one instance whose sessions must survive restarts (the
//     example's default).
//   - Redis: several instances behind a load balancer. The fastest shared
//     storage: in memory, each key expiring with Redis's own TTL, nothing to
//     garbage-collect. Sessions last as long as the Redis server keeps its data.
//   - Postgres: several instances behind a load balancer when you already run
//     PostgreSQL. Durable: sessions survive restarts of the app and of the
//     database; expired rows are deleted every GCInterval.
//   - Memory: tests and throwaway instances; lost on restart, not shared.
//
// All four also grant the short lease (fiberlogto.Leaser) that keeps two
// instances from refreshing one session at once, and take a key atomically
// (fiberlogto.Taker), so one pending sign-in is used once; fiberlogto finds
// both by a type assertion.
//
// Redis and Postgres bound every call by their CommandTimeout; a context
// method's call ends too when its context does, and the error it returns
// then wraps the context's (errors.Is(err, context.Canceled)).
package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/fiberlogto/sdk/storage/memory"
	"github.com/fiberlogto/sdk/storage/postgres"
	"github.com/fiberlogto/sdk/storage/redis"
	"github.com/gofiber/storage/sqlite3/v2"
)

// SQLiteConfig configures SQLite.
type SQLiteConfig struct {
	// Path of the database file; created when missing.
	//
	// Optional. Default: "./fiberlogto.sqlite3"
	Path string

	// Table holding the sessions.
	//
	// Optional. Default: "fiberlogto_sessions"
	Table string

	// GCInterval is how often expired sessions are deleted.
	//
	// Optional. Default: time.Minute
	GCInterval time.Duration

	// BusyTimeout is how long a write waits for another one to finish before
	// it fails with "database is locked".
	//
	// Optional. Default: 5 * time.Second
	BusyTimeout time.Duration

	// CacheTTL keeps what was read in the process for this long, so a
	// signed-in request rarely reaches SQLite. Writes and deletes through
	// this storage update the cache at once; another process sharing the
	// file sees them within CacheTTL (use Redis or PostgreSQL for several
	// instances). A negative value turns the cache off.
	//
	// Optional. Default: time.Second
	CacheTTL time.Duration

	// CacheSize bounds the number of cached keys.
	//
	// Optional. Default: 10000
	CacheSize int
}

// SQLiteStorage is a session storage in a SQLite file: gofiber's SQLite
// storage behind an in-process read cache (SQLiteConfig.CacheTTL). It
// implements Fiber v2's and Fiber v3's fiber.Storage (the latter's context
// methods included), fiberlogto.Leaser, an atomic lease, so that several
// processes sharing one database file never refresh one session at once,
// and fiberlogto.Taker, an atomic take, so that one pending sign-in is used
// once.
//
// Every write goes through the cache: Set, Delete and Reset and their
// context variants update or forget what it holds before the next read.
type SQLiteStorage struct {
	db    *sqlite3.Storage // reached only through the methods below
	table string
	cache *readCache // nil: off
}

// SQLite opens (or creates) a SQLite session storage. The database runs in
// WAL mode with a busy timeout, so concurrent requests read while one writes
// instead of failing with SQLITE_BUSY.
func SQLite(cfg SQLiteConfig) (s *SQLiteStorage, err error) {
	if cfg.Path == "" {
		cfg.Path = "./fiberlogto.sqlite3"
	}
	if cfg.Table == "" {
		cfg.Table = "fiberlogto_sessions"
	}
	if cfg.GCInterval <= 0 {
		cfg.GCInterval = time.Minute
	}
	if cfg.BusyTimeout <= 0 {
		cfg.BusyTimeout = 5 * time.Second
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = time.Second
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 10000
	}
	q := url.Values{}
	q.Set("_busy_timeout", fmt.Sprint(cfg.BusyTimeout.Milliseconds()))
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "NORMAL")
	dsn := "file:" + cfg.Path + "?" + q.Encode()

	// gofiber's constructor panics on a bad path; a library returns an error.
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("storage: open SQLite %q: %v", cfg.Path, r)
		}
	}()
	if !validTable(cfg.Table) {
		return nil, fmt.Errorf("storage: SQLite table name %q: letters, digits and _ only", cfg.Table)
	}
	return &SQLiteStorage{db: sqlite3.New(sqlite3.Config{
		Database:   dsn,
		Table:      cfg.Table,
		GCInterval: cfg.GCInterval,
		// One writer at a time is all SQLite does; a small pool avoids
		// piling goroutines on its lock.
		MaxOpenConns:    8,
		MaxIdleConns:    8,
		ConnMaxLifetime: time.Hour,
	}), table: cfg.Table, cache: newReadCache(cfg.CacheTTL, cfg.CacheSize)}, nil
}

// Get reads key, from the cache when it holds a recent read.
func (s *SQLiteStorage) Get(key string) ([]byte, error) {
	return s.GetWithContext(context.Background(), key)
}

// GetWithContext is Get under ctx: a done ctx fails the call, even when
// the cache holds key.
func (s *SQLiteStorage) GetWithContext(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if v, ok := s.cache.get(key); ok {
		return v, nil
	}
	gen := s.cache.generation()
	v, err := s.db.GetWithContext(ctx, key)
	if err == nil {
		s.cache.putRead(key, v, gen)
	}
	return v, err
}

// Set writes key and updates the cache. exp == 0 keeps the value until
// deleted; a negative exp is already past and deletes key. An empty key or
// value is ignored.
func (s *SQLiteStorage) Set(key string, val []byte, exp time.Duration) error {
	return s.SetWithContext(context.Background(), key, val, exp)
}

// SetWithContext is Set under ctx.
func (s *SQLiteStorage) SetWithContext(ctx context.Context, key string, val []byte, exp time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if key == "" || len(val) == 0 {
		return nil
	}
	if exp < 0 {
		// gofiber would store it with no expiry at all.
		return s.DeleteWithContext(ctx, key)
	}
	s.cache.forget(key)
	if err := s.db.SetWithContext(ctx, key, val, exp); err != nil {
		return err
	}
	s.cache.putWritten(key, append([]byte(nil), val...))
	return nil
}

// Delete removes key and its cached value. The value is forgotten again
// once the row is gone: a read that ran while the DELETE did may have
// cached the row, and a deleted session must not be served, nor written
// back by a request that loaded it from the cache.
func (s *SQLiteStorage) Delete(key string) error {
	return s.DeleteWithContext(context.Background(), key)
}

// DeleteWithContext is Delete under ctx.
func (s *SQLiteStorage) DeleteWithContext(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.cache.forget(key)
	err := s.db.DeleteWithContext(ctx, key)
	s.cache.forget(key)
	return err
}

// Reset removes every key and empties the cache, before and after (as
// Delete does).
func (s *SQLiteStorage) Reset() error {
	return s.ResetWithContext(context.Background())
}

// ResetWithContext is Reset under ctx.
func (s *SQLiteStorage) ResetWithContext(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.cache.clear()
	err := s.db.ResetWithContext(ctx)
	s.cache.clear()
	return err
}

// Close stops the garbage collector, closes the database and empties the
// cache, so later calls reach a closed database and fail: the fiber.Storage
// methods, the lease (fiberlogto.Leaser: AcquireLease, ReleaseLease) and
// Take (fiberlogto.Taker) alike. Calling it again is a no-op.
func (s *SQLiteStorage) Close() error {
	s.cache.clear()
	err := s.db.Close()
	s.cache.clear()
	return err
}

// Take returns the value of key and deletes it in one statement (DELETE
// ... RETURNING; fiberlogto.Taker): of concurrent Takes of a key, in this
// process or another on the same file, one gets the value. It always reads
// the database, never the cache.
func (s *SQLiteStorage) Take(key string) ([]byte, error) {
	s.cache.forget(key)
	defer s.cache.forget(key)
	return takeSQL(s.db.Conn().QueryRow("DELETE FROM "+s.table+" WHERE k = ? RETURNING v, e", key).Scan)
}

// takeSQL reads what a DELETE ... RETURNING v, e returned: nothing, or a
// value that had expired (e, unix seconds, 0 for never), is missing.
func takeSQL(scan func(dest ...any) error) ([]byte, error) {
	var v []byte
	var e int64
	if err := scan(&v, &e); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return nil, err
	}
	if e != 0 && e <= time.Now().Unix() {
		return nil, nil
	}
	return v, nil
}

// AcquireLease takes key for owner until ttl passes, unless another owner
// holds an unexpired lease: one INSERT ... ON CONFLICT DO UPDATE ... WHERE,
// atomic in SQLite.
//
// Taking it empties the read cache: the holder is about to refresh, and
// must see what another process may have written within CacheTTL.
func (s *SQLiteStorage) AcquireLease(key, owner string, ttl time.Duration) (bool, error) {
	ok, err := acquireLeaseSQL(s.db.Conn().Exec, "?", s.table, key, owner, ttl)
	if ok {
		s.cache.clear()
	}
	return ok, err
}

// ReleaseLease gives key up if owner holds it.
func (s *SQLiteStorage) ReleaseLease(key, owner string) error {
	_, err := s.db.Conn().Exec("DELETE FROM "+s.table+" WHERE k = ? AND v = ?", key, []byte(owner))
	return err
}

// acquireLeaseSQL is the lease for the SQL storages: the row is inserted, or
// taken over when it has expired or is already this owner's. The storages
// keep the expiry in unix seconds in column e.
func acquireLeaseSQL(exec func(query string, args ...any) (sql.Result, error), ph, table, key, owner string, ttl time.Duration) (bool, error) {
	now := time.Now()
	exp := now.Add(ttl).Unix() + 1
	p := func(i int) string {
		if ph == "?" {
			return "?"
		}
		return fmt.Sprintf("$%d", i)
	}
	q := "INSERT INTO " + table + " (k, v, e) VALUES (" + p(1) + ", " + p(2) + ", " + p(3) + ") " +
		"ON CONFLICT (k) DO UPDATE SET v = excluded.v, e = excluded.e " +
		"WHERE " + table + ".e <= " + p(4) + " OR " + table + ".v = excluded.v"
	res, err := exec(q, key, []byte(owner), exp, now.Unix())
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

func validTable(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range name {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// MemoryStorage is memory.Storage.
//
// Deprecated: use github.com/fiberlogto/sdk/storage/memory.
type MemoryStorage = memory.Storage

// Memory is memory.New.
//
// Deprecated: use github.com/fiberlogto/sdk/storage/memory.
func Memory() *MemoryStorage { return memory.New() }

// RedisStorage is redis.Storage.
//
// Deprecated: use github.com/fiberlogto/sdk/storage/redis.
type RedisStorage = redis.Storage

// RedisConfig is redis.Config.
//
// Deprecated: use github.com/fiberlogto/sdk/storage/redis.
type RedisConfig = redis.Config

// Redis is redis.New.
//
// Deprecated: use github.com/fiberlogto/sdk/storage/redis.
func Redis(cfg RedisConfig) (*RedisStorage, error) { return redis.New(cfg) }

// PostgresStorage is postgres.Storage.
//
// Deprecated: use github.com/fiberlogto/sdk/storage/postgres.
type PostgresStorage = postgres.Storage

// PostgresConfig is postgres.Config.
//
// Deprecated: use github.com/fiberlogto/sdk/storage/postgres.
type PostgresConfig = postgres.Config

// Postgres is postgres.New.
//
// Deprecated: use github.com/fiberlogto/sdk/storage/postgres.
func Postgres(cfg PostgresConfig) (*PostgresStorage, error) { return postgres.New(cfg) }
