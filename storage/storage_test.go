package storage

import (
	"bytes"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
)

func TestSQLiteSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.sqlite3")
	s, err := SQLite(SQLiteConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set("k", []byte("v1"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = SQLite(SQLiteConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Get("k")
	if err != nil || !bytes.Equal(got, []byte("v1")) {
		t.Fatalf("after reopen Get = %q, %v; want v1", got, err)
	}
}

func TestSQLiteBadPath(t *testing.T) {
	if _, err := SQLite(SQLiteConfig{Path: filepath.Join(t.TempDir(), "missing", "dir", "x.db")}); err == nil {
		t.Fatal("want an error for a path in a missing directory")
	}
}

func TestStoragesConcurrentWrites(t *testing.T) {
	sq, err := SQLite(SQLiteConfig{Path: filepath.Join(t.TempDir(), "c.sqlite3")})
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Close()
	for name, s := range map[string]fiber.Storage{"sqlite": sq, "memory": Memory()} {
		t.Run(name, func(t *testing.T) {
			var wg sync.WaitGroup
			errs := make(chan error, 64)
			for i := 0; i < 32; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					key := string(rune('a' + i%26))
					if err := s.Set(key, []byte{byte(i)}, time.Minute); err != nil {
						errs <- err
					}
					if _, err := s.Get(key); err != nil {
						errs <- err
					}
				}(i)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Errorf("concurrent access: %v", err)
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	s := Memory()
	if err := s.Set("k", []byte("v"), time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	if got, _ := s.Get("k"); got != nil {
		t.Fatalf("expired key still readable: %q", got)
	}
}
