package sqlite

import (
	"path/filepath"
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

// The conformance suite, each "instance" a handle of its own on one file:
// with the read cache off, handles see each other's writes at once; with
// it on (the default), within CacheTTL.
func TestConformance(t *testing.T) {
	for name, c := range map[string]struct {
		cacheTTL time.Duration
		opts     storagetest.Options
	}{
		"no cache":      {cacheTTL: -1},
		"default cache": {opts: storagetest.Options{Staleness: time.Second}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "sessions.sqlite3")
			storagetest.Run(t, func(t *testing.T) storagetest.Storage {
				s, err := New(Config{Path: path, CacheTTL: c.cacheTTL})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = s.Close() })
				return s
			}, c.opts)
		})
	}
}
