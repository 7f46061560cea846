package memory

import (
	"testing"
	"time"

	"github.com/fiberlogto/sdk/logto"
	"github.com/fiberlogto/sdk/storage/internal/storagetest"
	fiberv2 "github.com/gofiber/fiber/v2"
	fiberv3 "github.com/gofiber/fiber/v3"
)

// The interfaces Storage implements. Only the tests import Fiber and logto:
// the package implements them structurally (storagetest's
// TestEachBackendLinksOnlyItsOwnClient).
var (
	_ fiberv2.Storage     = (*Storage)(nil)
	_ fiberv3.Storage     = (*Storage)(nil)
	_ logto.Leaser        = (*Storage)(nil)
	_ storagetest.Storage = (*Storage)(nil)
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storagetest.Storage {
		s := New()
		t.Cleanup(func() { _ = s.Close() })
		return s
	}, storagetest.Options{InProcess: true})
}

// The garbage collector deletes expired keys.
func TestGC(t *testing.T) {
	s := &Storage{data: make(map[string]memoryEntry), done: make(chan struct{})}
	go s.gc(50 * time.Millisecond)
	defer s.Close()
	storagetest.MustSet(t, s, "gone", "v", time.Millisecond)
	storagetest.MustSet(t, s, "kept", "v", time.Hour)
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.RLock()
		n := len(s.data)
		s.mu.RUnlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d keys 5s after a 1ms TTL; want 1", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	storagetest.MustGet(t, s, "kept", "v")
}
