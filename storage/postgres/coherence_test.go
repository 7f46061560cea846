package postgres

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fiberlogto/sdk/storage/internal/storagetest"
)

// invalidationDelay is the package's promise: another instance's write,
// delete or Reset is seen within it.
const invalidationDelay = 100 * time.Millisecond

// serverCalls counts the connections s took from its pool: every query
// takes one, a read served from the cache none (the listener's connection
// is not the pool's).
func serverCalls(s storagetest.CachingStorage) int64 {
	return s.(*Storage).pool.Stat().AcquireCount()
}

// TestCoherence: two instances on one table, each with its read cache:
// storagetest.RunCoherence, the channel cut by pg_terminate_backend of the
// listener's backend.
func TestCoherence(t *testing.T) {
	// No garbage collection during the test: it would take a connection.
	open := pgTestStorage(t, Config{GCInterval: time.Hour})
	admin := pgAdmin(t)
	storagetest.RunCoherence(t, func(t *testing.T) storagetest.CachingStorage { return open(t) }, storagetest.Coherence{
		ServerCalls: serverCalls,
		Listening:   func(s storagetest.CachingStorage) bool { return s.(*Storage).cache.Live() },
		Cut: func(t *testing.T, cs storagetest.CachingStorage) func() {
			t.Helper()
			s := cs.(*Storage)
			pid := s.listener.pid()
			if pid == 0 {
				t.Fatal("no listening connection to cut")
			}
			release := s.listener.hold()
			var ok bool
			if err := admin.QueryRow(context.Background(), "SELECT pg_terminate_backend($1)", int64(pid)).Scan(&ok); err != nil || !ok {
				t.Fatalf("pg_terminate_backend(%d): %v, %v", pid, ok, err)
			}
			return release
		},
		Delay: invalidationDelay,
	})
}

// The listener is a connection of its own, named in pg_stat_activity,
// LISTENing on the table's channel; two tables' channels differ, so a
// write to one invalidates nothing cached from the other; a write by
// another client that notifies like the storage is heard.
func TestListener(t *testing.T) {
	s := pgTestStorage(t, Config{GCInterval: time.Hour})(t)
	other := pgTestStorage(t, Config{GCInterval: time.Hour})(t)
	if !s.cache.Live() {
		t.Fatal("New returned before the cache was live")
	}
	if s.channel == other.channel || len(s.channel) > 63 || !strings.HasPrefix(s.channel, "fiberlogto_") {
		t.Fatalf("channels %q and %q: want two, fiberlogto_..., at most 63 bytes", s.channel, other.channel)
	}
	admin := pgAdmin(t)
	ctx := context.Background()
	var app, query string
	if err := admin.QueryRow(ctx, "SELECT application_name, query FROM pg_stat_activity WHERE pid = $1", int64(s.listener.pid())).Scan(&app, &query); err != nil {
		t.Fatal(err)
	}
	if app != listenerName || !strings.Contains(query, "LISTEN") {
		t.Fatalf("listener: application_name %q, query %q; want %s, LISTEN", app, query, listenerName)
	}

	storagetest.MustSet(t, s, "k", "v", time.Hour)
	settle(t, s, "k", "v")
	storagetest.MustSet(t, other, "k", "other", time.Hour)
	time.Sleep(100 * time.Millisecond)
	if _, ok := s.cache.Get("k"); !ok {
		t.Fatal("a write to another table invalidated this one's cache")
	}
	if _, err := admin.Exec(ctx, "SELECT pg_notify($1, 'k')", s.channel); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(invalidationDelay)
	for {
		if _, ok := s.cache.Get("k"); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a notification by another client did not invalidate the cached key")
		}
		time.Sleep(time.Millisecond)
	}
}

// A key too long to name in a notification is never cached, and its
// writes notify a hash of it.
func TestLongKey(t *testing.T) {
	open := pgTestStorage(t, Config{GCInterval: time.Hour})
	a, b := open(t), open(t)
	key := strings.Repeat("k", 9000)
	storagetest.MustSet(t, a, key, "v1", time.Hour)
	storagetest.MustGet(t, b, key, "v1")
	storagetest.MustGet(t, b, key, "v1")
	if _, ok := b.cache.Get(key); ok {
		t.Fatal("a key longer than a notification is cached")
	}
	storagetest.MustSet(t, a, key, "v2", time.Hour)
	storagetest.MustGet(t, b, key, "v2")
	if err := a.Delete(key); err != nil {
		t.Fatal(err)
	}
	storagetest.MustGet(t, b, key, "")
}

// CacheSize bounds the cache; a negative one turns it off, and no
// listening connection is opened.
func TestCacheSize(t *testing.T) {
	open := pgTestStorage(t, Config{GCInterval: time.Hour, CacheSize: 10})
	small := open(t)
	for i := range 50 {
		k := "k" + strings.Repeat("x", i)
		storagetest.MustSet(t, small, k, "v", time.Hour)
		storagetest.MustGet(t, small, k, "v")
		if n := small.cache.Len(); n > 10 {
			t.Fatalf("%d keys cached; want at most CacheSize, 10", n)
		}
	}
	off := pgTestStorage(t, Config{GCInterval: time.Hour, CacheSize: -1})(t)
	if off.cache != nil || off.listener != nil {
		t.Fatal("CacheSize -1: want no cache and no listener")
	}
	storagetest.MustSet(t, off, "k", "v", time.Hour)
	storagetest.MustGet(t, off, "k", "v")
	before := serverCalls(off)
	storagetest.MustGet(t, off, "k", "v")
	if serverCalls(off) == before {
		t.Fatal("CacheSize -1: a read was served without the database")
	}
	d := pgTestStorage(t, Config{GCInterval: time.Hour})(t)
	if d.cache == nil || DefaultCacheSize != 10000 {
		t.Fatal("the default cache is on, 10000 keys")
	}
}

// A value is cached no longer than its row lives (the garbage collector
// deletes expired rows without notifying).
func TestCacheKeepsExpiry(t *testing.T) {
	s := pgTestStorage(t, Config{GCInterval: time.Hour})(t)
	storagetest.MustSet(t, s, "k", "v", time.Second)
	readUntilCached(t, s, "k", "v")
	time.Sleep(2100 * time.Millisecond)
	if v, ok := s.cache.Get("k"); ok {
		t.Fatalf("cached %q past its expiry", v)
	}
	storagetest.MustGet(t, s, "k", "")
}

// readUntilCached and settle are storagetest's, on s's cache.
func readUntilCached(t *testing.T, s *Storage, key, want string) {
	t.Helper()
	storagetest.ReadUntilCached(t, s, inCache(s), key, want)
}

func settle(t *testing.T, s *Storage, key, want string) {
	t.Helper()
	storagetest.Settle(t, s, inCache(s), key, want)
}

func inCache(s *Storage) func(string) bool {
	return func(key string) bool { _, ok := s.cache.Get(key); return ok }
}
