package sqlite

import (
	"bytes"
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

func TestSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.sqlite3")
	s, err := New(Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set("k", []byte("v1"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = New(Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Get("k")
	if err != nil || !bytes.Equal(got, []byte("v1")) {
		t.Fatalf("after reopen Get = %q, %v; want v1", got, err)
	}
}

func TestBadPath(t *testing.T) {
	if _, err := New(Config{Path: filepath.Join(t.TempDir(), "missing", "dir", "x.db")}); err == nil {
		t.Fatal("want an error for a path in a missing directory")
	}
}

// TestSQLiteReadCache: reads are served from the process for CacheTTL, a
// write or delete through the same storage is seen at once, and another
// handle on the same file (another process) sees it within CacheTTL.
func TestReadCache(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache.sqlite3")
	a, err := New(Config{Path: path, CacheTTL: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := New(Config{Path: path, CacheTTL: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	if err := a.Set("k", []byte("v1"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.Get("k"); string(got) != "v1" {
		t.Fatalf("b reads %q", got)
	}
	// Through a: seen at once by a, and by b within the TTL.
	if err := a.Delete("k"); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.Get("k"); got != nil {
		t.Fatal("a deleted key is still read from the cache")
	}
	deadline := time.Now().Add(time.Second)
	for {
		got, _ := b.Get("k")
		if got == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("another handle never saw the delete")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := a.Set("k", []byte("v2"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.Get("k"); string(got) != "v2" {
		t.Fatalf("a reads %q after its own write", got)
	}
	// Taking a lease empties the cache: the holder reads what is stored.
	if err := b.db.Set("k", []byte("v3"), time.Hour); err != nil { // behind a's back
		t.Fatal(err)
	}
	if ok, err := a.AcquireLease(context.Background(), "lease", "owner", time.Second); !ok || err != nil {
		t.Fatalf("lease: %v %v", ok, err)
	}
	if got, _ := a.Get("k"); string(got) != "v3" {
		t.Fatalf("after the lease a reads %q, want v3", got)
	}
}

// A read that raced a delete must not put the deleted value back.
func TestReadCacheIgnoresReadsOverlappingWrites(t *testing.T) {
	c := newReadCache(time.Minute, 10)
	gen := c.generation()
	c.forget("k") // a delete lands while the read is in flight
	c.putRead("k", []byte("old"), gen)
	if _, ok := c.get("k"); ok {
		t.Fatal("a read that overlapped a delete was cached")
	}
}

// TestSQLiteDeleteNotUndoneByConcurrentRead: a Get that read the row while
// the DELETE ran must not leave it in the read cache. A deleted session
// served from the cache would outlive its sign-out, and a request that
// loaded it there could write it back.
func TestDeleteNotUndoneByConcurrentRead(t *testing.T) {
	s, err := New(Config{Path: filepath.Join(t.TempDir(), "r.sqlite3"), CacheTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			_, _ = s.Get("k")
		}
	}()
	served := 0
	const rounds = 300
	for range rounds {
		if err := s.Set("k", []byte("session"), time.Hour); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Microsecond)
		if err := s.Delete("k"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond) // the reader's Get in flight ends
		if v, _ := s.Get("k"); v != nil {
			served++
		}
	}
	stop.Store(true)
	<-done
	if served > 0 {
		t.Fatalf("%d of %d deleted values still read back from the cache", served, rounds)
	}
}

// After Close nothing is served, not even from the read cache, and the
// lease fails too.
func TestClose(t *testing.T) {
	s, err := New(Config{Path: filepath.Join(t.TempDir(), "close.sqlite3"), CacheTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set("k", []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get("k"); string(got) != "v" { // cached
		t.Fatalf("Get = %q", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if v, err := s.Get("k"); err == nil {
		t.Errorf("Get after Close = %q, nil; want an error", v)
	}
	if err := s.Set("k", []byte("v2"), time.Hour); err == nil {
		t.Error("Set after Close: want an error")
	}
	if _, err := s.AcquireLease(context.Background(), "l", "o", time.Second); err == nil {
		t.Error("AcquireLease after Close: want an error")
	}
}

// A negative exp is already past: the key is gone, as with every other
// storage (gofiber's SQLite storage would keep it with no expiry at all).
func TestNegativeExpDeletes(t *testing.T) {
	for name, ttl := range map[string]time.Duration{"cache": time.Minute, "no cache": -1} {
		t.Run(name, func(t *testing.T) {
			s, err := New(Config{Path: filepath.Join(t.TempDir(), "neg.sqlite3"), CacheTTL: ttl})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.Set("past", []byte("v"), time.Hour); err != nil {
				t.Fatal(err)
			}
			if err := s.Set("past", []byte("v"), -time.Second); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Get("past"); err != nil || got != nil {
				t.Fatalf("Get after Set with a negative exp = %q, %v; want nil, nil", got, err)
			}
		})
	}
}
