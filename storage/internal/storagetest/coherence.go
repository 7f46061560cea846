package storagetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// CachingStorage is a Storage with a process-local read cache that its
// server keeps coherent (redis, postgres): logto.FreshReader's method on
// top of Storage.
type CachingStorage interface {
	Storage
	GetFreshWithContext(ctx context.Context, key string) ([]byte, error)
}

// Coherence is what RunCoherence needs to see inside a caching backend.
type Coherence struct {
	// ServerCalls counts what s has sent its server (commands, or
	// connections taken from its pool): a read served from the cache adds
	// nothing to it, any other call at least one.
	ServerCalls func(s CachingStorage) int64

	// Listening reports whether s's invalidation channel is up (and s
	// caches).
	Listening func(s CachingStorage) bool

	// Cut ends s's invalidation channel from the server's side (CLIENT
	// KILL, pg_terminate_backend) and keeps s from reconnecting until
	// restore is called.
	Cut func(t *testing.T, s CachingStorage) (restore func())

	// Delay is the promise: how long after a write, delete or Reset
	// through one instance another instance may still serve what it had
	// cached.
	Delay time.Duration

	// Rounds is how many writes the delay is measured over. Default: 300
	Rounds int
}

// RunCoherence checks a backend's read cache across two instances on one
// server: a cached read makes no server call; another instance's Set,
// Delete and Reset are seen within c.Delay (the worst delay is logged);
// with its invalidation channel lost an instance reads through, never
// serving what another changed meanwhile, until the channel is back, and
// then caches again. open is as for Run; its handles must be on a
// namespace of the test's own (RunCoherence resets it). The subtests do
// not run in parallel: they measure time.
func RunCoherence(t *testing.T, open func(t *testing.T) CachingStorage, c Coherence) {
	if c.Rounds == 0 {
		c.Rounds = 300
	}
	two := func(t *testing.T) (CachingStorage, CachingStorage) {
		a, b := open(t), open(t)
		for _, s := range []CachingStorage{a, b} {
			waitListening(t, c, s, true, 5*time.Second)
		}
		return a, b
	}

	t.Run("CachedReadMakesNoServerCall", func(t *testing.T) {
		a, b := two(t)
		ctx := context.Background()
		MustSet(t, a, "cached", "v1", time.Hour)
		mustCache(t, c, b, "cached", "v1")
		before := c.ServerCalls(b)
		for range 1000 {
			if got, err := b.GetWithContext(ctx, "cached"); err != nil || string(got) != "v1" {
				t.Fatalf("GetWithContext(cached) = %q, %v; want v1", got, err)
			}
		}
		if n := c.ServerCalls(b) - before; n != 0 {
			t.Fatalf("1000 reads of a cached key made %d server calls; want 0", n)
		}
		// A missing key is cached as missing.
		mustCache(t, c, b, "missing", "")
		// The count moves for what reaches the server: the test can fail.
		before = c.ServerCalls(b)
		if got, err := b.GetFreshWithContext(ctx, "cached"); err != nil || string(got) != "v1" {
			t.Fatalf("GetFreshWithContext(cached) = %q, %v; want v1", got, err)
		}
		if c.ServerCalls(b) == before {
			t.Fatal("GetFreshWithContext made no server call: ServerCalls counts nothing")
		}
		// Leases are never cached: a lease taken on one instance is seen
		// at once on the other.
		acquired, err := b.AcquireLease(ctx, "lease", "B", time.Minute)
		if err != nil || !acquired {
			t.Fatalf("AcquireLease = %v, %v", acquired, err)
		}
		if acquired, err := a.AcquireLease(ctx, "lease", "A", time.Minute); err != nil || acquired {
			t.Fatalf("AcquireLease of a held lease = %v, %v; want false", acquired, err)
		}
	})

	t.Run("InvalidationDelay", func(t *testing.T) {
		a, b := two(t)
		ctx := context.Background()
		var delays, seen []time.Duration
		for i := range c.Rounds {
			key := fmt.Sprintf("k%d", i%5)
			// b caches key as a has last written it.
			cur, err := a.GetFreshWithContext(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			mustCache(t, c, b, key, string(cur))
			var op string
			want := ""
			switch {
			case i%10 == 9:
				op = "Reset"
				err = a.Reset()
			case cur != nil && i%3 == 1:
				op = "Delete"
				err = a.Delete(key)
			default:
				op = "Set"
				want = fmt.Sprintf("v%d", i)
				err = a.Set(key, []byte(want), time.Hour)
			}
			if err != nil {
				t.Fatalf("round %d: %s: %v", i, op, err)
			}
			// The delay is how long after the write returned a read of b
			// could still begin and serve the old value: a read begun
			// later than that serves the new one. (Measured from each
			// read's start, so that the test's own goroutine being
			// descheduled does not count as a stale read.)
			written := time.Now()
			var stale time.Duration
			for {
				at := time.Now()
				got, err := b.GetWithContext(ctx, key)
				if err != nil {
					t.Fatal(err)
				}
				if string(got) == want && (want != "" || got == nil) {
					delays = append(delays, stale)
					seen = append(seen, at.Sub(written))
					break
				}
				if stale = at.Sub(written); stale > time.Second {
					t.Fatalf("round %d: %s on one instance, the other still reads %q after %v", i, op, got, stale)
				}
				time.Sleep(50 * time.Microsecond)
			}
		}
		slices.Sort(delays)
		slices.Sort(seen)
		worst := delays[len(delays)-1]
		t.Logf("invalidation delay over %d writes, deletes and resets (the latest a read began and still served the old value): worst %v, p99 %v, median %v; first read serving the new value: worst %v, median %v",
			len(delays), worst, delays[len(delays)*99/100], delays[len(delays)/2], seen[len(seen)-1], seen[len(seen)/2])
		if worst > c.Delay {
			t.Errorf("worst invalidation delay %v; promised %v", worst, c.Delay)
		}
	})

	t.Run("LostChannel", func(t *testing.T) {
		a, b := two(t)
		ctx := context.Background()
		for _, k := range []string{"k1", "k2"} {
			MustSet(t, a, k, "v1", time.Hour)
			mustCache(t, c, b, k, "v1")
		}
		restore := c.Cut(t, b)
		defer restore()
		waitListening(t, c, b, false, c.Delay)

		// Down: everything cached was dropped, and every read goes to the
		// server, so a write by another instance is seen at once.
		MustSet(t, a, "k1", "v2", time.Hour)
		for i := range 3 {
			before := c.ServerCalls(b)
			if got, err := b.GetWithContext(ctx, "k1"); err != nil || string(got) != "v2" {
				t.Fatalf("read %d with the channel down: %q, %v; want v2", i, got, err)
			}
			if c.ServerCalls(b) == before {
				t.Fatalf("read %d with the channel down was served from the cache", i)
			}
		}
		// A write b hears nothing of, to a key it had cached.
		MustSet(t, a, "k2", "v2", time.Hour)

		restore()
		waitListening(t, c, b, true, 5*time.Second)
		// Back: nothing from before the reconnect is served, and b caches
		// and hears invalidations again.
		mustCache(t, c, b, "k2", "v2")
		mustCache(t, c, b, "k1", "v2")
		MustSet(t, a, "k1", "v3", time.Hour)
		mustGetWithin(t, b, "k1", "v3", c.Delay)
		mustCache(t, c, b, "k1", "v3")
	})

	t.Run("Reconnects", func(t *testing.T) {
		// The channel cut and back at once (the server restarted, say):
		// whichever way the race goes, b never serves a stale value past
		// the delay.
		a, b := two(t)
		for round := range 5 {
			val := fmt.Sprint(round)
			MustSet(t, a, "k", val, time.Hour)
			mustCache(t, c, b, "k", val)
			c.Cut(t, b)()
			MustSet(t, a, "k", val+"-new", time.Hour)
			mustGetWithin(t, b, "k", val+"-new", c.Delay)
			waitListening(t, c, b, true, 5*time.Second)
		}
	})
}

// mustCache reads key through s until it is served from the cache with
// want ("" for missing), or fails after a second.
func mustCache(t *testing.T, c Coherence, s CachingStorage, key, want string) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for {
		got, err := s.GetWithContext(context.Background(), key)
		if err != nil {
			t.Fatalf("Get(%s): %v", key, err)
		}
		before := c.ServerCalls(s)
		again, err := s.GetWithContext(context.Background(), key)
		if err != nil {
			t.Fatalf("Get(%s): %v", key, err)
		}
		cached := c.ServerCalls(s) == before
		same := string(got) == want && (want != "" || got == nil)
		if cached && same && string(again) == string(got) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Get(%s) = %q (cached: %v); want %q, cached", key, got, cached, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitListening(t *testing.T, c Coherence, s CachingStorage, want bool, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for c.Listening(s) != want {
		if time.Now().After(deadline) {
			t.Fatalf("invalidation channel up: %v after %v; want %v", !want, within, want)
		}
		time.Sleep(time.Millisecond)
	}
}

// ReadUntilCached reads key from s until cached says it is in s's
// process-local cache: the first read after a write of the storage's own
// may not be, the write's own invalidation reaching it after the read.
func ReadUntilCached(t *testing.T, s Storage, cached func(key string) bool, key, want string) {
	t.Helper()
	for range 100 {
		MustGet(t, s, key, want)
		if cached(key) {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("%s not cached after 100 reads", key)
}

// Settle caches key and waits until the invalidation of the storage's own
// last write of it has gone by, so that what drops it next is something
// else.
func Settle(t *testing.T, s Storage, cached func(key string) bool, key, want string) {
	t.Helper()
	for range 20 {
		ReadUntilCached(t, s, cached, key, want)
		time.Sleep(100 * time.Millisecond)
		if cached(key) {
			return
		}
	}
	t.Fatalf("%s dropped from the cache again and again", key)
}
