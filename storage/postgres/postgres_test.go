package postgres

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fiberlogto/sdk/internal/testenv"
	"github.com/fiberlogto/sdk/logto"
	"github.com/fiberlogto/sdk/storage/internal/storagetest"
	fiberv2 "github.com/gofiber/fiber/v2"
	fiberv3 "github.com/gofiber/fiber/v3"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The interfaces Storage implements. Only the tests import Fiber and logto:
// the package implements them structurally (storagetest's
// TestEachBackendLinksOnlyItsOwnClient).
var (
	_ fiberv2.Storage            = (*Storage)(nil)
	_ fiberv3.Storage            = (*Storage)(nil)
	_ logto.Leaser               = (*Storage)(nil)
	_ logto.FreshReader          = (*Storage)(nil)
	_ storagetest.CachingStorage = (*Storage)(nil)
)

// pgAdmin connects straight to the test database, to look at and drop what
// the tests made.
func pgAdmin(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), testenv.ServerURL(t, "DATABASE_URL", "PostgreSQL"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func pgExec(t *testing.T, db *pgxpool.Pool, sql string) {
	t.Helper()
	if _, err := db.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// pgTestTable names a table of the test's own, dropped at its end, so tests
// sharing the server never see each other's rows.
func pgTestTable(t *testing.T) string {
	t.Helper()
	db := pgAdmin(t)
	table := "fiberlogto_test_" + storagetest.RandomHex(t)
	t.Cleanup(func() { pgExec(t, db, "DROP TABLE IF EXISTS "+table) })
	return table
}

func pgTestStorage(t *testing.T, cfg Config) func(t *testing.T) *Storage {
	t.Helper()
	cfg.URL = testenv.ServerURL(t, "DATABASE_URL", "PostgreSQL")
	if cfg.Table == "" {
		cfg.Table = pgTestTable(t)
	}
	return func(t *testing.T) *Storage {
		t.Helper()
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

func TestConformance(t *testing.T) {
	open := pgTestStorage(t, Config{})
	// Another instance's write reaches this one's cache within the
	// invalidation delay (TestCoherence).
	storagetest.Run(t, func(t *testing.T) storagetest.Storage { return open(t) }, storagetest.Options{Staleness: invalidationDelay})
}

func TestDefaults(t *testing.T) {
	url := testenv.ServerURL(t, "DATABASE_URL", "PostgreSQL")
	// The default table may hold other tests' sessions: create it, never
	// empty or drop it.
	s, err := New(Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var n int
	if err := pgAdmin(t).QueryRow(context.Background(),
		"SELECT count(*) FROM information_schema.tables WHERE table_name = 'fiberlogto_sessions'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("table fiberlogto_sessions: count %d, %v; want 1", n, err)
	}
	if s.timeout != 5*time.Second {
		t.Errorf("CommandTimeout = %v; want 5s", s.timeout)
	}
	if ct := s.inner.Conn().Config().ConnConfig.ConnectTimeout; ct != 5*time.Second {
		t.Errorf("ConnectTimeout = %v; want 5s", ct)
	}
}

func TestSchemaTable(t *testing.T) {
	db := pgAdmin(t)
	schema := "fiberlogto_test_" + storagetest.RandomHex(t)
	pgExec(t, db, "CREATE SCHEMA "+schema)
	t.Cleanup(func() { pgExec(t, db, "DROP SCHEMA "+schema+" CASCADE") })
	s := pgTestStorage(t, Config{Table: schema + ".sessions"})(t)
	storagetest.MustSet(t, s, "k", "v", time.Minute)
	var v []byte
	if err := db.QueryRow(context.Background(), "SELECT v FROM "+schema+".sessions WHERE k = 'k'").Scan(&v); err != nil || string(v) != "v" {
		t.Fatalf("row in %s.sessions: %q, %v", schema, v, err)
	}
}

// Instances starting at once on a new table all come up.
func TestConcurrentCreate(t *testing.T) {
	url := testenv.ServerURL(t, "DATABASE_URL", "PostgreSQL")
	for round := 0; round < 3; round++ {
		table := pgTestTable(t)
		var wg sync.WaitGroup
		errs := make(chan error, 6)
		for i := 0; i < 6; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := New(Config{URL: url, Table: table})
				if err != nil {
					errs <- err
					return
				}
				s.Close()
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("round %d: %v", round, err)
		}
	}
}

// The garbage collector deletes expired rows.
func TestGC(t *testing.T) {
	table := pgTestTable(t)
	s := pgTestStorage(t, Config{Table: table, GCInterval: time.Second})(t)
	storagetest.MustSet(t, s, "gone", "v", time.Second)
	storagetest.MustSet(t, s, "kept", "v", time.Hour)
	db := pgAdmin(t)
	deadline := time.Now().Add(5 * time.Second)
	for {
		var n int
		if err := db.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d rows 5s after a 1s TTL; want 1", n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	storagetest.MustGet(t, s, "kept", "v")
}

// A query that cannot proceed (the table locked by someone else) ends at
// the command timeout.
func TestCommandTimeout(t *testing.T) {
	table := pgTestTable(t)
	s := pgTestStorage(t, Config{Table: table, CommandTimeout: 300 * time.Millisecond})(t)
	storagetest.MustSet(t, s, "k", "v", time.Minute)

	ctx := context.Background()
	tx, err := pgAdmin(t).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "LOCK TABLE "+pgx.Identifier{table}.Sanitize()+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := s.Get("k"); err == nil {
		t.Fatal("Get on a locked table: want a timeout error")
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Fatalf("Get took %v; want about 300ms", d)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	storagetest.MustGet(t, s, "k", "v") // the pool recovers
}

func TestBadConfig(t *testing.T) {
	storagetest.BadURLs(t, "storage: Postgres: ", map[string]string{
		"empty":       "",
		"garbage":     "::not a url::",
		"scheme":      "mysql://u:s3cr3t-pw@127.0.0.1:3306/db",
		"bad port":    "postgres://u:s3cr3t-pw@127.0.0.1:port/db",
		"bad host":    "postgres://u:s3cr3t-pw@ho st:5432/db",
		"bad option":  "postgres://u:s3cr3t-pw@127.0.0.1:5432/db?connect_timeout=soon",
		"unreachable": "postgres://u:s3cr3t-pw@127.0.0.1:1/db?sslmode=disable",
	}, func(url string) (io.Closer, error) {
		return New(Config{URL: url, ConnectTimeout: time.Second})
	})
	t.Run("table", func(t *testing.T) {
		storagetest.MustFailFast(t, time.Second, func() (io.Closer, error) {
			return New(Config{URL: "postgres://127.0.0.1:1/db", Table: "a.b.c"})
		})
	})
}

func TestWrongPassword(t *testing.T) {
	url := testenv.ServerURL(t, "DATABASE_URL", "PostgreSQL")
	bad := strings.Replace(url, "://", "://nobody:s3cr3t-pw@", 1)
	if i, j := strings.Index(bad, "@"), strings.LastIndex(bad, "@"); i != j {
		bad = bad[:i+1] + bad[j+1:] // drop the URL's own user
	}
	err := storagetest.MustFailFast(t, 5*time.Second, func() (io.Closer, error) { return New(Config{URL: bad}) })
	if strings.Contains(err.Error(), "s3cr3t-pw") {
		t.Errorf("error %q shows the password", err)
	}
}

// A table of the right name but another shape is an error, not a panic.
func TestWrongTable(t *testing.T) {
	table := pgTestTable(t)
	pgExec(t, pgAdmin(t), "CREATE TABLE "+table+" (k TEXT PRIMARY KEY, v TEXT NOT NULL, e BIGINT NOT NULL DEFAULT 0)")
	storagetest.MustFailFast(t, 5*time.Second, func() (io.Closer, error) {
		return New(Config{URL: testenv.ServerURL(t, "DATABASE_URL", "PostgreSQL"), Table: table})
	})
}

// The caller's context reaches the query: cancelling it, or its deadline
// passing, ends a query blocked on a lock at once, long before
// CommandTimeout.
func TestContextEndsQuery(t *testing.T) {
	table := pgTestTable(t)
	s := pgTestStorage(t, Config{Table: table, CommandTimeout: 10 * time.Second})(t)
	storagetest.MustSet(t, s, "k", "v", time.Minute)

	ctx := context.Background()
	tx, err := pgAdmin(t).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "LOCK TABLE "+pgx.Identifier{table}.Sanitize()+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	if _, err := s.GetWithContext(cancelled, "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("GetWithContext, cancelled in flight: %v; want context.Canceled", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("GetWithContext took %v; want about 200ms", d)
	}
	deadline, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start = time.Now()
	if err := s.SetWithContext(deadline, "k", []byte("v2"), time.Minute); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("SetWithContext past its deadline: %v; want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("SetWithContext took %v; want about 200ms", d)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	storagetest.MustGet(t, s, "k", "v") // the pool recovers; the cancelled write never landed
}
