package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fiberlogto/sdk/fiberlogto"
	"github.com/gofiber/fiber/v2"
	fiberv3 "github.com/gofiber/fiber/v3"
)

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
