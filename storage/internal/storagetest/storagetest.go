// Package storagetest is the conformance suite of fiberlogto's session
// storages: what every backend (sqlite, memory, redis, postgres) must do,
// fiber.Storage and logto.Leaser, written once. Each backend's tests call
// Run with a way to open it, and a new backend's tests pick it the same
// way; a backend with a read cache that its server keeps coherent (redis,
// postgres) also calls RunCoherence. The helpers (MustSet, MustGet,
// MustFailFast, RandomHex) serve their own tests too. It is imported by
// tests only.
package storagetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// Storage is what every backend implements: Fiber v3's fiber.Storage
// (Fiber v2's is its subset) and logto.Leaser, spelled out so that this
// package imports neither Fiber nor logto. Each backend's tests check the
// real interfaces.
type Storage interface {
	Get(key string) ([]byte, error)
	GetWithContext(ctx context.Context, key string) ([]byte, error)
	Set(key string, val []byte, exp time.Duration) error
	SetWithContext(ctx context.Context, key string, val []byte, exp time.Duration) error
	Delete(key string) error
	DeleteWithContext(ctx context.Context, key string) error
	Reset() error
	ResetWithContext(ctx context.Context) error
	Close() error

	AcquireLease(ctx context.Context, key, owner string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, key, owner string) error
}

// Options say how a backend differs from a shared store whose every
// handle sees every write at once.
type Options struct {
	// InProcess: the data lives in the handle (memory). Open returns a new,
	// empty storage; what the suite checks across two instances it checks
	// on one, and calls after Close need not fail.
	InProcess bool

	// Staleness is how long a handle may still serve what it read or wrote
	// after another handle changed it (sqlite's read cache: CacheTTL).
	// Reads across handles retry for that long.
	Staleness time.Duration
}

// Run runs the suite. open returns a handle on the store of the test t: a
// new one on the same data (key prefix, table, file) at each call, as a
// second app instance would open, unless opts.InProcess. It closes the
// handle at the end of t.
func Run(t *testing.T, open func(t *testing.T) Storage, opts Options) {
	// two returns two instances on the same data.
	two := func(t *testing.T) (Storage, Storage) {
		a := open(t)
		if opts.InProcess {
			return a, a
		}
		return a, open(t)
	}

	t.Run("SetGetDelete", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		if got, err := s.Get("missing"); err != nil || got != nil {
			t.Fatalf("Get(missing) = %q, %v; want nil, nil", got, err)
		}
		MustSet(t, s, "k", "v1", time.Hour)
		MustGet(t, s, "k", "v1")
		MustSet(t, s, "k", "v2", 0)
		MustGet(t, s, "k", "v2")
		bin := []byte{0, 1, 2, 0xff, '\n'}
		if err := s.Set("bin", bin, time.Minute); err != nil {
			t.Fatal(err)
		}
		MustGet(t, s, "bin", string(bin))
		if err := s.Delete("k"); err != nil {
			t.Fatal(err)
		}
		MustGet(t, s, "k", "")
		if err := s.Delete("k"); err != nil {
			t.Fatalf("Delete of a missing key: %v", err)
		}
		// An empty key or value is ignored, as by gofiber's storages.
		MustSet(t, s, "k", "v3", time.Hour)
		for _, exp := range []time.Duration{time.Hour, -time.Second} {
			if err := s.Set("k", nil, exp); err != nil {
				t.Fatalf("Set(k, nil, %v): %v", exp, err)
			}
			if err := s.Set("", []byte("v"), exp); err != nil {
				t.Fatalf("Set(\"\", v, %v): %v", exp, err)
			}
		}
		MustGet(t, s, "k", "v3")
		MustGet(t, s, "", "")
	})
	t.Run("Expiry", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		MustSet(t, s, "short", "v", time.Second)
		MustSet(t, s, "subsecond", "v", 800*time.Millisecond)
		MustSet(t, s, "forever", "v", 0)
		MustSet(t, s, "long", "v", time.Hour)
		// A TTL is a lower bound: nothing is gone before it.
		MustGet(t, s, "short", "v")
		MustGet(t, s, "subsecond", "v")
		// A negative TTL is already past.
		MustSet(t, s, "past", "v", time.Hour)
		MustSet(t, s, "past", "v", -time.Second)
		MustGet(t, s, "past", "")
		time.Sleep(2100 * time.Millisecond)
		MustGet(t, s, "short", "")
		MustGet(t, s, "subsecond", "")
		MustGet(t, s, "forever", "v")
		MustGet(t, s, "long", "v")
	})
	t.Run("Reset", func(t *testing.T) {
		s := open(t) // not parallel: Reset empties the namespace
		MustSet(t, s, "a", "1", time.Hour)
		MustSet(t, s, "b", "2", 0)
		if err := s.Reset(); err != nil {
			t.Fatal(err)
		}
		MustGet(t, s, "a", "")
		MustGet(t, s, "b", "")
		MustSet(t, s, "a", "3", time.Hour)
		MustGet(t, s, "a", "3")
	})
	t.Run("Context", func(t *testing.T) {
		testContext(t, open(t)) // not parallel: ResetWithContext empties the namespace
	})
	t.Run("Concurrent", func(t *testing.T) {
		t.Parallel()
		testConcurrent(t, open(t))
	})
	t.Run("TwoInstances", func(t *testing.T) {
		t.Parallel()
		a, b := two(t)
		testTwoInstances(t, a, b, opts.Staleness)
	})
	t.Run("Lease", func(t *testing.T) {
		t.Parallel()
		a, b := two(t)
		testLease(t, a, b)
	})
	t.Run("Close", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		done := make(chan struct{})
		go func() { defer close(done); _ = s.Close() }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("a second Close blocks")
		}
		if opts.InProcess {
			return
		}
		if err := s.Set("k", []byte("v"), time.Minute); err == nil {
			t.Error("Set after Close: want an error")
		}
		if _, err := s.Get("k"); err == nil {
			t.Error("Get after Close: want an error")
		}
	})
}

// testContext checks the context methods of Fiber v3's fiber.Storage:
// under a live context they do what Get, Set, Delete and Reset do; under a
// cancelled or expired one each returns at once an error wrapping the
// context's, and changes nothing. It resets s.
func testContext(t *testing.T, s Storage) {
	ctx := context.Background()
	if err := s.SetWithContext(ctx, "ctx-k", []byte("v1"), time.Hour); err != nil {
		t.Fatal(err)
	}
	MustGet(t, s, "ctx-k", "v1")
	if got, err := s.GetWithContext(ctx, "ctx-k"); err != nil || string(got) != "v1" {
		t.Fatalf("GetWithContext = %q, %v; want v1", got, err)
	}
	if got, err := s.GetWithContext(ctx, "ctx-missing"); err != nil || got != nil {
		t.Fatalf("GetWithContext(missing) = %q, %v; want nil, nil", got, err)
	}
	if err := s.DeleteWithContext(ctx, "ctx-k"); err != nil {
		t.Fatal(err)
	}
	MustGet(t, s, "ctx-k", "")
	MustSet(t, s, "ctx-k", "v2", time.Hour)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	expired, cancel2 := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel2()
	for _, c := range []struct {
		ctx  context.Context
		want error
	}{{cancelled, context.Canceled}, {expired, context.DeadlineExceeded}} {
		calls := map[string]func() error{
			"GetWithContext": func() error {
				v, err := s.GetWithContext(c.ctx, "ctx-k")
				if v != nil {
					t.Errorf("GetWithContext under a done context returned %q", v)
				}
				return err
			},
			"SetWithContext":    func() error { return s.SetWithContext(c.ctx, "ctx-k", []byte("v3"), time.Hour) },
			"DeleteWithContext": func() error { return s.DeleteWithContext(c.ctx, "ctx-k") },
			"ResetWithContext":  func() error { return s.ResetWithContext(c.ctx) },
		}
		for name, call := range calls {
			start := time.Now()
			err := call()
			if !errors.Is(err, c.want) {
				t.Errorf("%s under a done context: %v; want an error wrapping %v", name, err, c.want)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("%s under a done context took %v", name, d)
			}
		}
	}
	MustGet(t, s, "ctx-k", "v2") // none of them went through

	if err := s.ResetWithContext(ctx); err != nil {
		t.Fatal(err)
	}
	MustGet(t, s, "ctx-k", "")
}

func testConcurrent(t *testing.T, s Storage) {
	const workers, rounds = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				own := fmt.Sprintf("own-%d-%d", w, i)
				val := fmt.Appendf(nil, "%d/%d", w, i)
				if err := s.Set(own, val, time.Minute); err != nil {
					errs <- err
					return
				}
				// Everyone writes and reads one hot key too.
				if err := s.Set("hot", val, time.Minute); err != nil {
					errs <- err
					return
				}
				got, err := s.Get(own)
				if err != nil || !bytes.Equal(got, val) {
					errs <- fmt.Errorf("Get(%s) = %q, %v; want %q", own, got, err, val)
					return
				}
				if _, err := s.Get("hot"); err != nil {
					errs <- err
					return
				}
				if i%2 == 0 {
					if err := s.Delete(own); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	MustGet(t, s, "own-3-1", "3/1")
	MustGet(t, s, "own-3-2", "")
}

// testTwoInstances: each instance reads the other's writes, within
// staleness.
func testTwoInstances(t *testing.T, a, b Storage, staleness time.Duration) {
	MustSet(t, a, "session", "from-a", time.Hour)
	mustGetWithin(t, b, "session", "from-a", staleness)
	MustSet(t, b, "session", "from-b", time.Hour)
	mustGetWithin(t, a, "session", "from-b", staleness)
	if err := b.Delete("session"); err != nil {
		t.Fatal(err)
	}
	mustGetWithin(t, a, "session", "", staleness)
	MustSet(t, b, "ttl", "v", time.Second)
	mustGetWithin(t, a, "ttl", "v", staleness)
	time.Sleep(2100 * time.Millisecond)
	mustGetWithin(t, a, "ttl", "", staleness)

	// Both instances writing at once, each reading the other's writes
	// (keys it never read before, so at once even with a cache).
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i, pair := range [][2]Storage{{a, b}, {b, a}} {
		w, r := pair[0], pair[1]
		wg.Go(func() {
			for n := range 30 {
				key, val := fmt.Sprintf("x-%d-%d", i, n), []byte(fmt.Sprint(n))
				if err := w.Set(key, val, time.Minute); err != nil {
					errs <- err
					return
				}
				if got, err := r.Get(key); err != nil || !bytes.Equal(got, val) {
					errs <- fmt.Errorf("other instance: Get(%s) = %q, %v; want %q", key, got, err, val)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// testLease checks logto.Leaser on two instances: one owner at a
// time, the owner again, release by the owner only, expiry, a race of
// many owners with exactly one winner, and a cancelled context.
func testLease(t *testing.T, a, b Storage) {
	ctx := context.Background()
	acquire := func(l Storage, key, owner string, ttl time.Duration, want bool) {
		t.Helper()
		got, err := l.AcquireLease(ctx, key, owner, ttl)
		if err != nil || got != want {
			t.Fatalf("AcquireLease(%s, %s) = %v, %v; want %v", key, owner, got, err, want)
		}
	}
	release := func(l Storage, key, owner string) {
		t.Helper()
		if err := l.ReleaseLease(ctx, key, owner); err != nil {
			t.Fatalf("ReleaseLease(%s, %s): %v", key, owner, err)
		}
	}
	acquire(a, "lease", "A", time.Minute, true)
	acquire(b, "lease", "B", time.Minute, false)
	acquire(a, "lease", "A", time.Minute, true) // the owner again
	release(b, "lease", "B")                    // not the owner: no effect
	acquire(b, "lease", "B", time.Minute, false)
	release(a, "lease", "A")
	acquire(b, "lease", "B", time.Minute, true)
	release(b, "lease", "B")

	// An expired lease is anyone's; one under its TTL is not.
	acquire(a, "expiring", "A", time.Second, true)
	acquire(b, "expiring", "B", time.Minute, false)
	time.Sleep(2100 * time.Millisecond)
	acquire(b, "expiring", "B", time.Minute, true)
	acquire(a, "expiring", "A", time.Minute, false)

	// Many owners on two instances at once: exactly one wins each key.
	for round := range 10 {
		key := fmt.Sprintf("race-%d", round)
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			wins int
		)
		errs := make(chan error, 16)
		for i := range 16 {
			wg.Go(func() {
				l := a
				if i%2 == 1 {
					l = b
				}
				got, err := l.AcquireLease(ctx, key, fmt.Sprintf("owner-%d", i), time.Minute)
				if err != nil {
					errs <- err
					return
				}
				if got {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if wins != 1 {
			t.Fatalf("round %d: %d owners hold the lease at once; want 1", round, wins)
		}
	}

	// The request's context reaches the storage: a cancelled one takes no
	// lease.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if got, err := a.AcquireLease(cancelled, "cancelled", "A", time.Minute); err == nil || got {
		t.Fatalf("AcquireLease with a cancelled context = %v, %v; want an error", got, err)
	}
	acquire(b, "cancelled", "B", time.Minute, true)
}

// RandomHex returns 12 random hex digits, to name a test's own key prefix
// or table.
func RandomHex(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// MustSet stores val under key for exp, or fails the test.
func MustSet(t testing.TB, s interface {
	Set(key string, val []byte, exp time.Duration) error
}, key, val string, exp time.Duration) {
	t.Helper()
	if err := s.Set(key, []byte(val), exp); err != nil {
		t.Fatalf("Set(%s): %v", key, err)
	}
}

// MustGet checks key holds want; "" means absent (nil).
func MustGet(t testing.TB, s interface {
	Get(key string) ([]byte, error)
}, key, want string) {
	t.Helper()
	got, err := s.Get(key)
	if err != nil {
		t.Fatalf("Get(%s): %v", key, err)
	}
	if want == "" && got != nil || want != "" && !bytes.Equal(got, []byte(want)) {
		t.Fatalf("Get(%s) = %q; want %q", key, got, want)
	}
}

// mustGetWithin is MustGet, retried for up to within.
func mustGetWithin(t testing.TB, s Storage, key, want string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got, err := s.Get(key)
		if err != nil {
			t.Fatalf("Get(%s): %v", key, err)
		}
		if want == "" && got == nil || want != "" && bytes.Equal(got, []byte(want)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Get(%s) = %q; want %q (within %v)", key, got, want, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// MustFailFast checks open returns an error within limit, neither
// panicking nor hanging, and returns the error.
func MustFailFast(t testing.TB, limit time.Duration, open func() (io.Closer, error)) error {
	t.Helper()
	start := time.Now()
	var (
		s   io.Closer
		err error
	)
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("panicked: %v", r)
			}
		}()
		s, err = open()
	}()
	if err == nil {
		s.Close()
		t.Fatal("want an error")
	}
	if d := time.Since(start); d > limit {
		t.Errorf("took %v to fail; want under %v", d, limit)
	}
	return err
}

// BadURLs checks that each URL fails fast through open, with an error that
// starts with prefix (so the user knows which storage refused) and never
// shows the password s3cr3t-pw.
func BadURLs(t *testing.T, prefix string, urls map[string]string, open func(url string) (io.Closer, error)) {
	t.Helper()
	for name, url := range urls {
		t.Run(name, func(t *testing.T) {
			err := MustFailFast(t, 3*time.Second, func() (io.Closer, error) { return open(url) })
			if !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("error %q does not start with %q", err, prefix)
			}
			if strings.Contains(err.Error(), "s3cr3t-pw") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}
