// Package sqlite is a fiberlogto session storage in a SQLite file. Pick it
// for one app instance whose sessions must survive restarts (it is the
// example app's default); to share sessions between instances pick the
// redis or postgres package, and for tests or a throwaway instance the
// memory package. Import it alone and your binary links SQLite (cgo,
// mattn/go-sqlite3) but no Redis or PostgreSQL client.
//
// New returns a *Storage. It implements Fiber v2's and Fiber v3's
// fiber.Storage (context methods included), so it goes straight into
// fiberlogto.Config.Storage. It also implements logto.Leaser
// (logto.Leaser is an alias of it) with one INSERT ... ON CONFLICT, a
// lease atomic across the processes sharing the file. fiberlogto takes the
// lease for a session's refresh and every other write of a session, for a
// user's back-channel logout index, and for a callback's one-time claim on
// its state, so that a code is exchanged once.
//
// Reads are cached in the process for CacheTTL (a second by default); writes
// through the storage update the cache at once, so the storage reads its
// own writes; taking a lease empties the cache. Another process on the same
// file sees this one's writes within CacheTTL. Calls wait on a locked
// database for at most BusyTimeout; a context method's call also ends with
// its context.
package sqlite

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/fiberlogto/sdk/storage/internal/sqlkit"
	"github.com/gofiber/storage/sqlite3/v2"
)

// Config configures New.
type Config struct {
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
	// file sees them within CacheTTL (use the redis or postgres package for
	// several instances). A negative value turns the cache off.
	//
	// Optional. Default: time.Second
	CacheTTL time.Duration

	// CacheSize bounds the number of cached keys.
	//
	// Optional. Default: 10000
	CacheSize int
}

// Storage is a session storage in a SQLite file: gofiber's SQLite storage
// behind an in-process read cache (Config.CacheTTL). It implements Fiber
// v2's and Fiber v3's fiber.Storage (the latter's context methods
// included) and logto.Leaser, a lease atomic across the processes sharing
// one database file: with it, fiberlogto's instances on that file never
// write one session, or one user's back-channel logout index, at once, and
// claim a callback's state once.
//
// Every write goes through the cache: Set, Delete and Reset and their
// context variants update or forget what it holds before the next read.
type Storage struct {
	db    *sqlite3.Storage // reached only through the methods below
	stmts sqlkit.Statements
	cache *readCache // nil: off
}

// New opens the SQLite file cfg.Path, creating it and its table when
// missing, and returns a *Storage on it. The database runs in WAL mode with
// a busy timeout, so concurrent requests read while one writes instead of
// failing with SQLITE_BUSY.
func New(cfg Config) (s *Storage, err error) {
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
	return &Storage{db: sqlite3.New(sqlite3.Config{
		Database:   dsn,
		Table:      cfg.Table,
		GCInterval: cfg.GCInterval,
		// One writer at a time is all SQLite does; a small pool avoids
		// piling goroutines on its lock.
		MaxOpenConns:    8,
		MaxIdleConns:    8,
		ConnMaxLifetime: time.Hour,
	}), stmts: sqlkit.New(cfg.Table, sqlkit.Question), cache: newReadCache(cfg.CacheTTL, cfg.CacheSize)}, nil
}

// Get reads key, from the cache when it holds a recent read.
func (s *Storage) Get(key string) ([]byte, error) {
	return s.GetWithContext(context.Background(), key)
}

// GetWithContext is Get under ctx: a done ctx fails the call, even when
// the cache holds key.
func (s *Storage) GetWithContext(ctx context.Context, key string) ([]byte, error) {
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
func (s *Storage) Set(key string, val []byte, exp time.Duration) error {
	return s.SetWithContext(context.Background(), key, val, exp)
}

// SetWithContext is Set under ctx.
func (s *Storage) SetWithContext(ctx context.Context, key string, val []byte, exp time.Duration) error {
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
func (s *Storage) Delete(key string) error {
	return s.DeleteWithContext(context.Background(), key)
}

// DeleteWithContext is Delete under ctx.
func (s *Storage) DeleteWithContext(ctx context.Context, key string) error {
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
func (s *Storage) Reset() error {
	return s.ResetWithContext(context.Background())
}

// ResetWithContext is Reset under ctx.
func (s *Storage) ResetWithContext(ctx context.Context) error {
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
// methods and the lease (logto.Leaser: AcquireLease, ReleaseLease) alike.
// Calling it again is a no-op.
func (s *Storage) Close() error {
	s.cache.clear()
	err := s.db.Close()
	s.cache.clear()
	return err
}

// AcquireLease takes key for owner until ttl passes, unless another owner
// holds an unexpired lease (logto.Leaser): one INSERT ... ON CONFLICT
// DO UPDATE ... WHERE, atomic in SQLite, so exact across the processes
// sharing the file. The lease is a row of the table like any key, its
// expiry rounded up to the second.
//
// Taking it, or taking it again, empties the read cache: the holder is
// about to read and rewrite what the lease guards (a session, a logout
// index), and must see what another process may have written within
// CacheTTL.
func (s *Storage) AcquireLease(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	res, err := s.db.Conn().ExecContext(ctx, s.stmts.Acquire, sqlkit.AcquireArgs(key, owner, ttl, time.Now())...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	ok := err == nil && n == 1
	if ok {
		s.cache.clear()
	}
	return ok, err
}

// ReleaseLease gives key up if owner holds it (logto.Leaser).
func (s *Storage) ReleaseLease(ctx context.Context, key, owner string) error {
	_, err := s.db.Conn().ExecContext(ctx, s.stmts.Release, key, []byte(owner))
	return err
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
