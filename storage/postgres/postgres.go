// Package postgres is a fiberlogto session storage in a PostgreSQL table.
// Pick it for several app instances behind a load balancer when you already
// run PostgreSQL: every instance sees every session, sessions are durable,
// surviving restarts of the app and of the database, and each instance
// keeps a read cache that the database keeps coherent (LISTEN/NOTIFY). For
// the fastest shared storage pick the redis package instead, and for one
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
// # Read cache
//
// Get and GetWithContext read through a cache in the process, so a
// signed-in request whose session did not change makes no round trip to
// the database. The database keeps it coherent: every write, delete and
// lease through any instance notifies the key (pg_notify in the same
// statement, delivered at its commit; Reset notifies everything in the
// TRUNCATE's transaction) on a channel named after the table
// ("fiberlogto_" and a hash of it, so two tables never mix), and each
// Storage keeps one connection of its own outside the pool LISTENing on it
// (application_name "fiberlogto-invalidations" unless the URL names one).
// A write through one instance is therefore seen by every other
// instance's next read once its notification has arrived: about a
// millisecond on a LAN, and promised (and tested, over many writes) within
// 100 ms; through the instance itself, at once. A cached value lives no
// longer than its row. GetFreshWithContext (logto.FreshReader) always
// reads from the database; fiberlogto uses it for what it rewrites under
// a lease (a refresh, a touch, a sign-out), so a refresh token another
// instance has just rotated is never read stale. Every instance on a table
// must be of a version that notifies: writes by anything else (an older
// version, a hand-written UPDATE) reach no cache.
//
// The cache holds at most Config.CacheSize keys (10,000 by default; a
// session is a few KiB), evicting one at random when full; a negative
// CacheSize turns it off (writes still notify, for the other instances).
// It caches only while the listening connection is up: when that
// connection is lost (terminated, the database restarted, or no answer
// within CommandTimeout to the ping it sends after a second without a
// notification), the instance drops everything it cached and reads from
// the database until it listens again, so it never serves a value another
// instance changed meanwhile; it then caches again. The listening
// connection needs a session of its own: point URL at PostgreSQL itself
// or at a pooler in session mode (behind PgBouncer's transaction pooling,
// LISTEN hears nothing: set CacheSize to -1 there).
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
	"github.com/fiberlogto/sdk/storage/internal/readcache"
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

	// CacheSize bounds the read cache of the process (see the package
	// documentation), in keys: a full cache evicts one at random for a new
	// one. A negative value turns the cache off: every read goes to the
	// database, and no listening connection is opened.
	//
	// Optional. Default: 10000
	CacheSize int
}

// DefaultCacheSize is Config.CacheSize's default.
const DefaultCacheSize = 10000

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
			return newStorage(inner, pcfg, cfg), nil
		}
		if attempt < 3 && createRace(err) {
			continue
		}
		return nil, fmt.Errorf("storage: Postgres: open %s table %q: %w", where, cfg.Table, err)
	}
}

// newStorage wraps gofiber's storage with the statements that notify, the
// cache and its listener.
func newStorage(inner *fiberpostgres.Storage, pcfg *pgxpool.Config, cfg Config) *Storage {
	table := sanitizeTable(cfg.Table)
	channel := channelName(table)
	stmts := sqlkit.New(table, sqlkit.Dollar)
	s := &Storage{
		inner:   inner,
		pool:    inner.Conn(),
		channel: channel,
		timeout: cfg.CommandTimeout,
		sqlGet:  "SELECT v, e FROM " + table + " WHERE k = $1",
		// Each write notifies its key in the same statement: the
		// notification goes out at the commit, when every instance reads
		// the new row. A write that changes no row notifies nothing.
		sqlSet: "WITH w AS (INSERT INTO " + table + " (k, v, e) VALUES ($1, $2, $3) " +
			"ON CONFLICT (k) DO UPDATE SET v = excluded.v, e = excluded.e RETURNING 1) " +
			"SELECT pg_notify($4, $5) FROM w",
		sqlDelete: "WITH d AS (DELETE FROM " + table + " WHERE k = $1 RETURNING 1) " +
			"SELECT pg_notify($2, $3) FROM d",
		// One simple-protocol query: one implicit transaction.
		sqlReset:   "TRUNCATE TABLE " + table + "; NOTIFY " + pgx.Identifier{channel}.Sanitize() + ", ''",
		sqlAcquire: "WITH a AS (" + stmts.Acquire + " RETURNING 1) SELECT pg_notify($5, $6) FROM a",
		sqlRelease: "WITH r AS (" + stmts.Release + " RETURNING 1) SELECT pg_notify($3, $4) FROM r",
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if s.cache = readcache.New(cfg.CacheSize); s.cache != nil {
		s.listener = newListener(pcfg.ConnConfig, channel, cfg.CommandTimeout, s.cache)
		s.listener.start()
	}
	return s
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
// v2's and Fiber v3's fiber.Storage, logto.Leaser and logto.FreshReader.
// Every call is bounded by CommandTimeout; a context method's also by its
// caller's context, whose error the returned error then wraps.
type Storage struct {
	inner    *fiberpostgres.Storage // creates the table, collects garbage
	pool     *pgxpool.Pool
	channel  string
	timeout  time.Duration
	cache    *readcache.Cache // nil: off
	listener *listener        // its invalidation channel; nil with the cache off

	sqlGet, sqlSet, sqlDelete, sqlReset, sqlAcquire, sqlRelease string

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

// GetWithContext is Get under ctx, through the read cache: a value cached
// since another instance's write is served until that write's
// notification arrives (about a millisecond on a LAN; promised within
// 100 ms).
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
	if len(key) > maxPayloadKey {
		return s.GetFreshWithContext(ctx, key)
	}
	t, ok := s.cache.Begin(key)
	if !ok {
		return s.GetFreshWithContext(ctx, key)
	}
	v, e, err := s.get(ctx, key)
	var exp int64
	if e != 0 {
		exp = e * int64(time.Second)
	}
	s.cache.End(key, t, v, exp, err == nil)
	return v, err
}

// GetFreshWithContext is GetWithContext from the database itself, past the
// read cache (logto.FreshReader): for what is read to be rewritten.
func (s *Storage) GetFreshWithContext(ctx context.Context, key string) ([]byte, error) {
	if key == "" {
		return nil, nil
	}
	v, _, err := s.get(ctx, key)
	return v, err
}

// get reads key and its row's expiry (unix seconds, 0 for never, or for a
// missing or expired row, which reads as nil).
func (s *Storage) get(ctx context.Context, key string) ([]byte, int64, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	var (
		v []byte
		e int64
	)
	err := s.pool.QueryRow(ctx, s.sqlGet, key).Scan(&v, &e)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, ctxerr.Wrap(ctx, err)
	}
	if e != 0 && e <= time.Now().Unix() {
		return nil, 0, nil
	}
	return v, e, nil
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
	var e int64
	if exp > 0 {
		// The expiry is kept in whole seconds, rounded up, so a TTL is a
		// lower bound (one under a second is never expired at once).
		e = time.Now().Add(exp + time.Second - time.Nanosecond).Unix()
	}
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	defer s.cache.Invalidate(key) // read your writes, at once
	_, err := s.pool.Exec(ctx, s.sqlSet, key, val, e, s.channel, payload(key))
	return ctxerr.Wrap(ctx, err)
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
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	defer s.cache.Invalidate(key)
	_, err := s.pool.Exec(ctx, s.sqlDelete, key, s.channel, payload(key))
	return ctxerr.Wrap(ctx, err)
}

// Reset empties the table (TRUNCATE), and every instance's cache.
func (s *Storage) Reset() error {
	return s.ResetWithContext(context.Background())
}

// ResetWithContext is Reset under ctx.
func (s *Storage) ResetWithContext(ctx context.Context) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	defer s.cache.Flush()
	_, err := s.pool.Exec(ctx, s.sqlReset)
	return ctxerr.Wrap(ctx, err)
}

// AcquireLease takes key for owner until ttl passes, unless another owner
// holds an unexpired lease (logto.Leaser): one INSERT ... ON CONFLICT
// DO UPDATE ... WHERE, atomic in PostgreSQL. The lease is a row of the
// table like any key, its expiry rounded up to the second; taking it
// notifies its key like any write, so no cache keeps an old one.
func (s *Storage) AcquireLease(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	defer s.cache.Invalidate(key)
	args := append(sqlkit.AcquireArgs(key, owner, ttl, time.Now()), s.channel, payload(key))
	tag, err := s.pool.Exec(ctx, s.sqlAcquire, args...)
	if err != nil {
		return false, ctxerr.Wrap(ctx, err)
	}
	return tag.RowsAffected() == 1, nil
}

// ReleaseLease gives key up if owner holds it (logto.Leaser).
func (s *Storage) ReleaseLease(ctx context.Context, key, owner string) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	defer s.cache.Invalidate(key)
	_, err := s.pool.Exec(ctx, s.sqlRelease, key, []byte(owner), s.channel, payload(key))
	return ctxerr.Wrap(ctx, err)
}

// Close stops the listener and the garbage collector, closes the pool and
// drops the read cache; later calls fail. Calling it again is a no-op
// (gofiber's Close would block forever).
func (s *Storage) Close() error {
	s.closeOnce.Do(func() {
		if s.listener != nil {
			s.listener.close()
		}
		_ = s.inner.Close()
	})
	return nil
}
