// Package postgres is a fiberlogto session storage in a PostgreSQL table.
// Pick it for several app instances behind a load balancer when you already
// run PostgreSQL: every instance sees every session at once, and sessions
// are durable, surviving restarts of the app and of the database. For the
// fastest shared storage pick the redis package instead, and for one
// instance the sqlite package. Importing it links pgx but no Redis client
// and no SQLite.
//
// New returns a *Storage. It implements Fiber v2's and Fiber v3's
// fiber.Storage (context methods included), so it goes straight into
// fiberlogto.Config.Storage. It also implements logto.Leaser
// (logto.Leaser is an alias of it) with one INSERT ... ON CONFLICT, a
// lease atomic across instances. fiberlogto takes the lease for a session's
// refresh and every other write of a session, for a user's back-channel
// logout index, and for a callback's one-time claim on its state, so that
// a code is exchanged once across instances.
//
// Every call is bounded by Config.CommandTimeout (and opening a connection
// by ConnectTimeout), so an unreachable or stuck database fails a request
// instead of hanging it. A context method's call ends as soon as its
// context does, and its error then wraps the context's
// (errors.Is(err, context.Canceled)).
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/fiberlogto/sdk/storage/internal/ctxerr"
	"github.com/fiberlogto/sdk/storage/internal/sqlkit"
	fiberpostgres "github.com/gofiber/storage/postgres/v3"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Config configures New.
type Config struct {
	// URL of the database: postgres://user:password@host:port/db?sslmode=...
	// (or a libpq key=value string). pgx's options, such as pool_max_conns
	// and connect_timeout, are honoured unless a field below overrides them.
	//
	// Required.
	URL string

	// Table holding the sessions, "table" or "schema.table"; created when
	// missing. Every instance must name the same one.
	//
	// Optional. Default: "fiberlogto_sessions"
	Table string

	// GCInterval is how often expired rows are deleted. Expired rows are
	// never returned meanwhile. At least a second.
	//
	// Optional. Default: time.Minute
	GCInterval time.Duration

	// ConnectTimeout bounds opening a connection.
	//
	// Optional. Default: the URL's connect_timeout, else 5 * time.Second
	ConnectTimeout time.Duration

	// CommandTimeout bounds each call. The context methods are bounded by
	// it too, and by their caller's context, whichever ends first.
	//
	// Optional. Default: 5 * time.Second
	CommandTimeout time.Duration
}

// New connects to the PostgreSQL database at cfg.URL, creates its table
// when missing, and returns a *Storage on it. Each instance deletes expired
// rows every GCInterval. Nothing is deleted at startup; Reset empties the
// table only.
//
// Expiry is kept in whole seconds: a value lives at least its TTL and at
// most a second longer.
func New(cfg Config) (*Storage, error) {
	if cfg.URL == "" {
		return nil, errors.New("storage: Postgres: URL is required")
	}
	if cfg.Table == "" {
		cfg.Table = "fiberlogto_sessions"
	}
	if strings.Count(cfg.Table, ".") > 1 {
		return nil, fmt.Errorf("storage: Postgres: Table %q: want \"table\" or \"schema.table\"", cfg.Table)
	}
	if cfg.GCInterval < time.Second {
		cfg.GCInterval = time.Minute
	}
	if cfg.CommandTimeout <= 0 {
		cfg.CommandTimeout = 5 * time.Second
	}
	pcfg, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		// pgx's parse errors hide the password.
		return nil, fmt.Errorf("storage: Postgres: bad URL: %w", err)
	}
	switch {
	case cfg.ConnectTimeout > 0:
		pcfg.ConnConfig.ConnectTimeout = cfg.ConnectTimeout
	case pcfg.ConnConfig.ConnectTimeout == 0:
		pcfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	where := fmt.Sprintf("%s:%d/%s", pcfg.ConnConfig.Host, pcfg.ConnConfig.Port, pcfg.ConnConfig.Database)

	// Instances starting together on a new table race to create it; the
	// loser sees "already exists" and finds the table on its next try.
	for attempt := 1; ; attempt++ {
		inner, err := newPostgres(pcfg, cfg, pcfg.ConnConfig.ConnectTimeout+3*cfg.CommandTimeout)
		if err == nil {
			return &Storage{inner: inner, stmts: sqlkit.New(sanitizeTable(cfg.Table), sqlkit.Dollar), timeout: cfg.CommandTimeout}, nil
		}
		if attempt < 3 && createRace(err) {
			continue
		}
		return nil, fmt.Errorf("storage: Postgres: open %s table %q: %w", where, cfg.Table, err)
	}
}

// newPostgres runs gofiber's constructor, which panics on any failure, on a
// pool of our own (for its timeouts), and turns a panic into an error.
func newPostgres(pcfg *pgxpool.Config, cfg Config, timeout time.Duration) (s *fiberpostgres.Storage, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, pcfg.Copy())
	if err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			pool.Close()
			if e, ok := r.(error); ok {
				s, err = nil, e
			} else {
				s, err = nil, fmt.Errorf("%v", r)
			}
		}
	}()
	return fiberpostgres.NewWithContext(ctx, fiberpostgres.Config{
		DB:         pool,
		Table:      cfg.Table,
		GCInterval: cfg.GCInterval,
	}), nil
}

// createRace reports whether err is another instance creating the same table
// or index at the same moment.
func createRace(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code {
	case "42P07", // duplicate_table
		"42710", // duplicate_object
		"23505": // unique_violation (on the catalog)
		return true
	}
	return false
}

// sanitizeTable quotes "table" or "schema.table" as gofiber does.
func sanitizeTable(table string) string {
	schema, name, ok := strings.Cut(table, ".")
	if !ok {
		schema, name = "public", table
	}
	return pgx.Identifier{schema, name}.Sanitize()
}

// Storage is a session storage in a PostgreSQL table. It implements Fiber
// v2's and Fiber v3's fiber.Storage and logto.Leaser. Every call is bounded
// by CommandTimeout; a context method's also by its caller's context, whose
// error the returned error then wraps.
type Storage struct {
	inner     *fiberpostgres.Storage
	stmts     sqlkit.Statements
	timeout   time.Duration
	closeOnce sync.Once
}

// ctx bounds one call from parent by CommandTimeout.
func (s *Storage) ctx(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, s.timeout)
}

// Get returns the value of key, nil when it is missing or expired.
func (s *Storage) Get(key string) ([]byte, error) {
	return s.GetWithContext(context.Background(), key)
}

// GetWithContext is Get under ctx.
func (s *Storage) GetWithContext(ctx context.Context, key string) ([]byte, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	v, err := s.inner.GetWithContext(ctx, key)
	return v, ctxerr.Wrap(ctx, err)
}

// Set stores val for exp; exp == 0 keeps it until deleted, a negative exp
// deletes it.
func (s *Storage) Set(key string, val []byte, exp time.Duration) error {
	return s.SetWithContext(context.Background(), key, val, exp)
}

// SetWithContext is Set under ctx.
func (s *Storage) SetWithContext(ctx context.Context, key string, val []byte, exp time.Duration) error {
	if key == "" || len(val) == 0 {
		return nil // as gofiber's storages do
	}
	if exp < 0 {
		return s.DeleteWithContext(ctx, key)
	}
	if exp > 0 {
		// gofiber stores the deadline truncated to the second, so a TTL
		// would end up to a second early and one under a second could be
		// expired at once; this rounds the deadline up instead.
		exp += time.Second - time.Nanosecond
	}
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	return ctxerr.Wrap(ctx, s.inner.SetWithContext(ctx, key, val, exp))
}

// Delete removes key.
func (s *Storage) Delete(key string) error {
	return s.DeleteWithContext(context.Background(), key)
}

// DeleteWithContext is Delete under ctx.
func (s *Storage) DeleteWithContext(ctx context.Context, key string) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	return ctxerr.Wrap(ctx, s.inner.DeleteWithContext(ctx, key))
}

// Reset empties the table (TRUNCATE).
func (s *Storage) Reset() error {
	return s.ResetWithContext(context.Background())
}

// ResetWithContext is Reset under ctx.
func (s *Storage) ResetWithContext(ctx context.Context) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	return ctxerr.Wrap(ctx, s.inner.ResetWithContext(ctx))
}

// AcquireLease takes key for owner until ttl passes, unless another owner
// holds an unexpired lease (logto.Leaser): one INSERT ... ON CONFLICT
// DO UPDATE ... WHERE, atomic in PostgreSQL. The lease is a row of the
// table like any key, its expiry rounded up to the second.
func (s *Storage) AcquireLease(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	tag, err := s.inner.Conn().Exec(ctx, s.stmts.Acquire, sqlkit.AcquireArgs(key, owner, ttl, time.Now())...)
	if err != nil {
		return false, ctxerr.Wrap(ctx, err)
	}
	return tag.RowsAffected() == 1, nil
}

// ReleaseLease gives key up if owner holds it (logto.Leaser).
func (s *Storage) ReleaseLease(ctx context.Context, key, owner string) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	_, err := s.inner.Conn().Exec(ctx, s.stmts.Release, key, []byte(owner))
	return ctxerr.Wrap(ctx, err)
}

// Close stops the garbage collector and closes the pool; later calls fail.
// Calling it again is a no-op (gofiber's Close would block forever).
func (s *Storage) Close() error {
	s.closeOnce.Do(func() { _ = s.inner.Close() })
	return nil
}
