package storage

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fiberlogto/sdk/internal/testenv"
	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
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
	table := "fiberlogto_test_" + randomHex(t)
	t.Cleanup(func() { pgExec(t, db, "DROP TABLE IF EXISTS "+table) })
	return table
}

func pgTestStorage(t *testing.T, cfg PostgresConfig) func(t *testing.T) fiber.Storage {
	t.Helper()
	cfg.URL = testenv.ServerURL(t, "DATABASE_URL", "PostgreSQL")
	if cfg.Table == "" {
		cfg.Table = pgTestTable(t)
	}
	return func(t *testing.T) fiber.Storage {
		t.Helper()
		s, err := Postgres(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

func TestPostgres(t *testing.T) {
	testSharedStorage(t, pgTestStorage(t, PostgresConfig{}))
}

func TestPostgresDefaults(t *testing.T) {
	url := testenv.ServerURL(t, "DATABASE_URL", "PostgreSQL")
	// The default table may hold other tests' sessions: create it, never
	// empty or drop it.
	s, err := Postgres(PostgresConfig{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var n int
	if err := pgAdmin(t).QueryRow(context.Background(),
		"SELECT count(*) FROM information_schema.tables WHERE table_name = 'fiberlogto_sessions'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("table fiberlogto_sessions: count %d, %v; want 1", n, err)
	}
	ps := s
	if ps.timeout != 5*time.Second {
		t.Errorf("CommandTimeout = %v; want 5s", ps.timeout)
	}
	if ct := ps.inner.Conn().Config().ConnConfig.ConnectTimeout; ct != 5*time.Second {
		t.Errorf("ConnectTimeout = %v; want 5s", ct)
	}
}

func TestPostgresSchemaTable(t *testing.T) {
	db := pgAdmin(t)
	schema := "fiberlogto_test_" + randomHex(t)
	pgExec(t, db, "CREATE SCHEMA "+schema)
	t.Cleanup(func() { pgExec(t, db, "DROP SCHEMA "+schema+" CASCADE") })
	s := pgTestStorage(t, PostgresConfig{Table: schema + ".sessions"})(t)
	mustSet(t, s, "k", "v", time.Minute)
	var v []byte
	if err := db.QueryRow(context.Background(), "SELECT v FROM "+schema+".sessions WHERE k = 'k'").Scan(&v); err != nil || string(v) != "v" {
		t.Fatalf("row in %s.sessions: %q, %v", schema, v, err)
	}
}

// Instances starting at once on a new table all come up.
func TestPostgresConcurrentCreate(t *testing.T) {
	url := testenv.ServerURL(t, "DATABASE_URL", "PostgreSQL")
	for round := 0; round < 3; round++ {
		table := pgTestTable(t)
		var wg sync.WaitGroup
		errs := make(chan error, 6)
		for i := 0; i < 6; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := Postgres(PostgresConfig{URL: url, Table: table})
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
func TestPostgresGC(t *testing.T) {
	table := pgTestTable(t)
	s := pgTestStorage(t, PostgresConfig{Table: table, GCInterval: time.Second})(t)
	mustSet(t, s, "gone", "v", time.Second)
	mustSet(t, s, "kept", "v", time.Hour)
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
	mustGet(t, s, "kept", "v")
}

// A query that cannot proceed (the table locked by someone else) ends at
// the command timeout.
func TestPostgresCommandTimeout(t *testing.T) {
	table := pgTestTable(t)
	s := pgTestStorage(t, PostgresConfig{Table: table, CommandTimeout: 300 * time.Millisecond})(t)
	mustSet(t, s, "k", "v", time.Minute)

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
	mustGet(t, s, "k", "v") // the pool recovers
}

func TestPostgresBadConfig(t *testing.T) {
	for name, url := range map[string]string{
		"empty":       "",
		"garbage":     "::not a url::",
		"scheme":      "mysql://u:s3cr3t-pw@127.0.0.1:3306/db",
		"bad port":    "postgres://u:s3cr3t-pw@127.0.0.1:port/db",
		"bad host":    "postgres://u:s3cr3t-pw@ho st:5432/db",
		"bad option":  "postgres://u:s3cr3t-pw@127.0.0.1:5432/db?connect_timeout=soon",
		"unreachable": "postgres://u:s3cr3t-pw@127.0.0.1:1/db?sslmode=disable",
	} {
		t.Run(name, func(t *testing.T) {
			err := mustFailFast(t, 3*time.Second, func() (fiber.Storage, error) {
				return Postgres(PostgresConfig{URL: url, ConnectTimeout: time.Second})
			})
			if !strings.HasPrefix(err.Error(), "storage: Postgres: ") {
				t.Errorf("error %q does not say it is the PostgreSQL storage", err)
			}
			if strings.Contains(err.Error(), "s3cr3t-pw") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
	t.Run("table", func(t *testing.T) {
		mustFailFast(t, time.Second, func() (fiber.Storage, error) {
			return Postgres(PostgresConfig{URL: "postgres://127.0.0.1:1/db", Table: "a.b.c"})
		})
	})
}

func TestPostgresWrongPassword(t *testing.T) {
	url := testenv.ServerURL(t, "DATABASE_URL", "PostgreSQL")
	bad := strings.Replace(url, "://", "://nobody:s3cr3t-pw@", 1)
	if i, j := strings.Index(bad, "@"), strings.LastIndex(bad, "@"); i != j {
		bad = bad[:i+1] + bad[j+1:] // drop the URL's own user
	}
	err := mustFailFast(t, 5*time.Second, func() (fiber.Storage, error) { return Postgres(PostgresConfig{URL: bad}) })
	if strings.Contains(err.Error(), "s3cr3t-pw") {
		t.Errorf("error %q shows the password", err)
	}
}

// A table of the right name but another shape is an error, not a panic.
func TestPostgresWrongTable(t *testing.T) {
	table := pgTestTable(t)
	pgExec(t, pgAdmin(t), "CREATE TABLE "+table+" (k TEXT PRIMARY KEY, v TEXT NOT NULL, e BIGINT NOT NULL DEFAULT 0)")
	mustFailFast(t, 5*time.Second, func() (fiber.Storage, error) {
		return Postgres(PostgresConfig{URL: testenv.ServerURL(t, "DATABASE_URL", "PostgreSQL"), Table: table})
	})
}

// The caller's context reaches the query: cancelling it, or its deadline
// passing, ends a query blocked on a lock at once, long before
// CommandTimeout.
func TestPostgresContextEndsQuery(t *testing.T) {
	table := pgTestTable(t)
	s := pgTestStorage(t, PostgresConfig{Table: table, CommandTimeout: 10 * time.Second})(t).(*PostgresStorage)
	mustSet(t, s, "k", "v", time.Minute)

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
	mustGet(t, s, "k", "v") // the pool recovers; the cancelled write never landed
}
