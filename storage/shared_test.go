package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fiberlogto/sdk/fiberlogto"
	"github.com/gofiber/fiber/v2"
	fiberv3 "github.com/gofiber/fiber/v3"
)

func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// testSharedStorage runs the behaviour every shared session storage must
// have. open returns a new instance on the same namespace (key prefix,
// table) each time, as a second app instance would; it closes it at the end
// of the test.
func testSharedStorage(t *testing.T, open func(t *testing.T) fiber.Storage) {
	t.Run("SetGetDelete", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		if got, err := s.Get("missing"); err != nil || got != nil {
			t.Fatalf("Get(missing) = %q, %v; want nil, nil", got, err)
		}
		mustSet(t, s, "k", "v1", time.Hour)
		mustGet(t, s, "k", "v1")
		mustSet(t, s, "k", "v2", 0)
		mustGet(t, s, "k", "v2")
		bin := []byte{0, 1, 2, 0xff, '\n'}
		if err := s.Set("bin", bin, time.Minute); err != nil {
			t.Fatal(err)
		}
		mustGet(t, s, "bin", string(bin))
		if err := s.Delete("k"); err != nil {
			t.Fatal(err)
		}
		mustGet(t, s, "k", "")
		if err := s.Delete("k"); err != nil {
			t.Fatalf("Delete of a missing key: %v", err)
		}
	})

	t.Run("Expiry", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		mustSet(t, s, "short", "v", time.Second)
		mustSet(t, s, "subsecond", "v", 800*time.Millisecond)
		mustSet(t, s, "forever", "v", 0)
		mustSet(t, s, "long", "v", time.Hour)
		// A TTL is a lower bound: nothing is gone before it.
		mustGet(t, s, "short", "v")
		mustGet(t, s, "subsecond", "v")
		mustSet(t, s, "past", "v", time.Hour)
		mustSet(t, s, "past", "v", -time.Second)
		mustGet(t, s, "past", "")

		time.Sleep(2100 * time.Millisecond)
		mustGet(t, s, "short", "")
		mustGet(t, s, "subsecond", "")
		mustGet(t, s, "forever", "v")
		mustGet(t, s, "long", "v")
	})

	t.Run("Reset", func(t *testing.T) {
		s := open(t) // not parallel: Reset empties the namespace
		mustSet(t, s, "a", "1", time.Hour)
		mustSet(t, s, "b", "2", 0)
		if err := s.Reset(); err != nil {
			t.Fatal(err)
		}
		mustGet(t, s, "a", "")
		mustGet(t, s, "b", "")
		mustSet(t, s, "a", "3", time.Hour)
		mustGet(t, s, "a", "3")
	})

	t.Run("Concurrent", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		const workers, rounds = 8, 40
		var wg sync.WaitGroup
		errs := make(chan error, workers*rounds)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; i < rounds; i++ {
					own := fmt.Sprintf("own-%d-%d", w, i)
					val := []byte(fmt.Sprintf("%d/%d", w, i))
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
			}(w)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		mustGet(t, s, "own-3-1", "3/1")
		mustGet(t, s, "own-3-2", "")
	})

	t.Run("TwoInstances", func(t *testing.T) {
		t.Parallel()
		a, b := open(t), open(t)
		mustSet(t, a, "session", "from-a", time.Hour)
		mustGet(t, b, "session", "from-a")
		mustSet(t, b, "session", "from-b", time.Hour)
		mustGet(t, a, "session", "from-b")
		if err := b.Delete("session"); err != nil {
			t.Fatal(err)
		}
		mustGet(t, a, "session", "")
		mustSet(t, b, "ttl", "v", time.Second)
		mustGet(t, a, "ttl", "v")
		time.Sleep(2100 * time.Millisecond)
		mustGet(t, a, "ttl", "")

		// Both instances writing at once, each reading the other's writes.
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for i, pair := range [][2]fiber.Storage{{a, b}, {b, a}} {
			wg.Add(1)
			go func(i int, w, r fiber.Storage) {
				defer wg.Done()
				for n := 0; n < 30; n++ {
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
			}(i, pair[0], pair[1])
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})

	t.Run("Take", func(t *testing.T) {
		t.Parallel()
		testTake(t, open)
	})

	t.Run("Lease", func(t *testing.T) {
		t.Parallel()
		a, b := leaser(t, open(t)), leaser(t, open(t))
		acquire := func(l fiberlogto.Leaser, key, owner string, ttl time.Duration, want bool) {
			t.Helper()
			got, err := l.AcquireLease(key, owner, ttl)
			if err != nil || got != want {
				t.Fatalf("AcquireLease(%s, %s) = %v, %v; want %v", key, owner, got, err, want)
			}
		}
		release := func(l fiberlogto.Leaser, key, owner string) {
			t.Helper()
			if err := l.ReleaseLease(key, owner); err != nil {
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
		for round := 0; round < 10; round++ {
			key := fmt.Sprintf("race-%d", round)
			var (
				wg   sync.WaitGroup
				mu   sync.Mutex
				wins int
			)
			errs := make(chan error, 16)
			for i := 0; i < 16; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					l := a
					if i%2 == 1 {
						l = b
					}
					got, err := l.AcquireLease(key, fmt.Sprintf("owner-%d", i), time.Minute)
					if err != nil {
						errs <- err
						return
					}
					if got {
						mu.Lock()
						wins++
						mu.Unlock()
					}
				}(i)
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
	})

	t.Run("Context", func(t *testing.T) {
		s := open(t) // not parallel: ResetWithContext empties the namespace
		testContextMethods(t, s)
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
		if err := s.Set("k", []byte("v"), time.Minute); err == nil {
			t.Error("Set after Close: want an error")
		}
		if _, err := s.Get("k"); err == nil {
			t.Error("Get after Close: want an error")
		}
	})
}

func leaser(t *testing.T, s fiber.Storage) fiberlogto.Leaser {
	t.Helper()
	l, ok := s.(fiberlogto.Leaser)
	if !ok {
		t.Fatalf("%T does not implement fiberlogto.Leaser", s)
	}
	return l
}

func mustSet(t *testing.T, s fiber.Storage, key, val string, exp time.Duration) {
	t.Helper()
	if err := s.Set(key, []byte(val), exp); err != nil {
		t.Fatalf("Set(%s): %v", key, err)
	}
}

// mustGet checks key holds want; "" means absent.
func mustGet(t *testing.T, s fiber.Storage, key, want string) {
	t.Helper()
	got, err := s.Get(key)
	if err != nil {
		t.Fatalf("Get(%s): %v", key, err)
	}
	if want == "" && got != nil || want != "" && !bytes.Equal(got, []byte(want)) {
		t.Fatalf("Get(%s) = %q; want %q", key, got, want)
	}
}

// mustFailFast checks open returns an error, neither panicking nor hanging.
func mustFailFast(t *testing.T, limit time.Duration, open func() (fiber.Storage, error)) error {
	t.Helper()
	start := time.Now()
	var (
		s   fiber.Storage
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

// testTake checks fiberlogto.Taker: Take returns a key's value once and
// deletes it, an expired key is missing, and of concurrent Takes of one key
// on two instances exactly one gets the value.
func testTake(t *testing.T, open func(t *testing.T) fiber.Storage) {
	first, second := open(t), open(t)
	takers := []fiberlogto.Taker{first.(fiberlogto.Taker), second.(fiberlogto.Taker)}
	if v, err := takers[0].Take("take-missing"); err != nil || v != nil {
		t.Fatalf("Take(missing) = %q, %v; want nil, nil", v, err)
	}
	mustSet(t, first, "take-k", "v", time.Hour)
	if v, err := takers[1].Take("take-k"); err != nil || string(v) != "v" {
		t.Fatalf("Take = %q, %v; want v", v, err)
	}
	mustGet(t, second, "take-k", "") // the taker's own handle (SQLite's read cache is per handle)
	if v, err := takers[0].Take("take-k"); err != nil || v != nil {
		t.Fatalf("second Take = %q, %v; want nil", v, err)
	}

	for round := range 20 {
		key := fmt.Sprintf("take-race-%d", round)
		mustSet(t, first, key, "tx", time.Hour)
		var got sync.WaitGroup
		var mu sync.Mutex
		winners := 0
		for i := range 8 {
			got.Go(func() {
				v, err := takers[i%2].Take(key)
				if err != nil {
					t.Error(err)
				}
				if v != nil {
					mu.Lock()
					winners++
					mu.Unlock()
				}
			})
		}
		got.Wait()
		if winners != 1 {
			t.Fatalf("round %d: %d of 8 concurrent Takes got the value, want 1", round, winners)
		}
	}

	mustSet(t, first, "take-expired", "v", time.Second)
	time.Sleep(2100 * time.Millisecond)
	if v, err := takers[1].Take("take-expired"); err != nil || v != nil {
		t.Fatalf("Take of an expired key = %q, %v; want nil", v, err)
	}
}

// testContextMethods checks the context methods of Fiber v3's
// fiber.Storage: under a live context they do what Get, Set, Delete and
// Reset do; under a cancelled or expired one each returns at once an error
// wrapping the context's, and changes nothing. It resets s.
func testContextMethods(t *testing.T, s fiber.Storage) {
	t.Helper()
	cs, ok := s.(fiberv3.Storage)
	if !ok {
		t.Fatalf("%T does not implement Fiber v3's fiber.Storage", s)
	}
	ctx := context.Background()
	if err := cs.SetWithContext(ctx, "ctx-k", []byte("v1"), time.Hour); err != nil {
		t.Fatal(err)
	}
	mustGet(t, s, "ctx-k", "v1")
	if got, err := cs.GetWithContext(ctx, "ctx-k"); err != nil || string(got) != "v1" {
		t.Fatalf("GetWithContext = %q, %v; want v1", got, err)
	}
	if got, err := cs.GetWithContext(ctx, "ctx-missing"); err != nil || got != nil {
		t.Fatalf("GetWithContext(missing) = %q, %v; want nil, nil", got, err)
	}
	if err := cs.DeleteWithContext(ctx, "ctx-k"); err != nil {
		t.Fatal(err)
	}
	mustGet(t, s, "ctx-k", "")
	mustSet(t, s, "ctx-k", "v2", time.Hour)

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
				v, err := cs.GetWithContext(c.ctx, "ctx-k")
				if v != nil {
					t.Errorf("GetWithContext under a done context returned %q", v)
				}
				return err
			},
			"SetWithContext":    func() error { return cs.SetWithContext(c.ctx, "ctx-k", []byte("v3"), time.Hour) },
			"DeleteWithContext": func() error { return cs.DeleteWithContext(c.ctx, "ctx-k") },
			"ResetWithContext":  func() error { return cs.ResetWithContext(c.ctx) },
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
	mustGet(t, s, "ctx-k", "v2") // none of them went through

	if err := cs.ResetWithContext(ctx); err != nil {
		t.Fatal(err)
	}
	mustGet(t, s, "ctx-k", "")
}
