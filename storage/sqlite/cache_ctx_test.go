package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestSQLiteContextWritesKeepCacheCoherent: a write, delete or reset
// through the context methods is seen by the next Get at once, as one
// through Set, Delete and Reset is; none may leave a stale read in the
// cache for CacheTTL.
func TestContextWritesKeepCacheCoherent(t *testing.T) {
	ctx := context.Background()
	for name, write := range map[string]func(s *Storage) (want string, err error){
		"SetWithContext": func(s *Storage) (string, error) {
			return "v2", s.SetWithContext(ctx, "k", []byte("v2"), time.Hour)
		},
		"DeleteWithContext": func(s *Storage) (string, error) {
			return "", s.DeleteWithContext(ctx, "k")
		},
		"ResetWithContext": func(s *Storage) (string, error) {
			return "", s.ResetWithContext(ctx)
		},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := New(Config{Path: filepath.Join(t.TempDir(), "ctx.sqlite3"), CacheTTL: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.Set("k", []byte("v1"), time.Hour); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Get("k"); err != nil || string(got) != "v1" { // now cached
				t.Fatalf("Get = %q, %v; want v1", got, err)
			}
			want, err := write(s)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Get("k")
			if err != nil || string(got) != want || (want == "" && got != nil) {
				t.Fatalf("Get after %s = %q, %v; want %q", name, got, err, want)
			}
			// GetWithContext reads through the same cache.
			if got, err := s.GetWithContext(ctx, "k"); err != nil || string(got) != want || (want == "" && got != nil) {
				t.Fatalf("GetWithContext after %s = %q, %v; want %q", name, got, err, want)
			}
		})
	}
}
