package fiberlogto_test

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // the driver behind storage.SQLite, to lock the file from outside

	"github.com/fiberlogto/sdk/fiberlogto"
	"github.com/fiberlogto/sdk/storage/sqlite"
)

// recordingStorage wraps a storage, records what is written and can fail on
// purpose, so tests can assert "no session was created" (N), "the session
// is unchanged" (K) and "the transaction is used up" (X) from outside.
type recordingStorage struct {
	Storage // the storage it wraps

	mu      sync.Mutex
	sets    map[string]int // by key prefix
	setExp  []time.Duration
	failSet func(key string) error
	failGet func(key string) error
	failDel func(key string) error
}

func newRecordingStorage(inner Storage) *recordingStorage {
	return &recordingStorage{Storage: inner, sets: map[string]int{}}
}

var errInjected = errors.New("injected storage fault")

func prefixOf(key string) string {
	switch {
	case strings.HasPrefix(key, fiberlogto.SessionKeyPrefixForTest):
		return "session"
	case strings.HasPrefix(key, fiberlogto.ClaimKeyPrefixForTest):
		return "claim"
	}
	return "other"
}

func (s *recordingStorage) SetWithContext(ctx context.Context, key string, val []byte, exp time.Duration) error {
	s.mu.Lock()
	fail := s.failSet
	s.mu.Unlock()
	if fail != nil {
		if err := fail(key); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.sets[prefixOf(key)]++
	if prefixOf(key) == "transaction" {
		s.setExp = append(s.setExp, exp)
	}
	s.mu.Unlock()
	return s.Storage.SetWithContext(ctx, key, val, exp)
}

func (s *recordingStorage) GetWithContext(ctx context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	fail := s.failGet
	s.mu.Unlock()
	if fail != nil {
		if err := fail(key); err != nil {
			return nil, err
		}
	}
	return s.Storage.GetWithContext(ctx, key)
}

func (s *recordingStorage) DeleteWithContext(ctx context.Context, key string) error {
	s.mu.Lock()
	fail := s.failDel
	s.mu.Unlock()
	if fail != nil {
		if err := fail(key); err != nil {
			return err
		}
	}
	return s.Storage.DeleteWithContext(ctx, key)
}

func (s *recordingStorage) setCount(prefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sets[prefix]
}

func (s *recordingStorage) faults(set, get, del func(key string) error) {
	s.mu.Lock()
	s.failSet, s.failGet, s.failDel = set, get, del
	s.mu.Unlock()
}

// onPrefix fails for keys of one kind only.
func onPrefix(prefix string) func(string) error {
	return func(key string) error {
		if prefixOf(key) == prefix {
			return errInjected
		}
		return nil
	}
}

// TestSQLiteBusy: while another process holds SQLite's write lock, a
// sign-in that must write answers 503 with no cookie, and signed-in reads
// go on (WAL mode).
func TestSQLiteBusy(t *testing.T) { forEachAdapter(t, testSQLiteBusy) }

func testSQLiteBusy(t *testing.T, ad adapter) {
	path := filepath.Join(t.TempDir(), "busy.sqlite3")
	st, err := sqlite.New(sqlite.Config{Path: path, BusyTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	h := newHarness(t, ad, st)
	h.signIn()
	first := h.sessionCookie().Value

	db, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=100")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	locked := true
	unlock := func() {
		if locked {
			_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
			_ = conn.Close()
			locked = false
		}
	}
	defer unlock()

	if h.user()["isAuthenticated"] != true {
		t.Fatal("a signed-in read failed while the database was write-locked")
	}
	// Starting a sign-in writes nothing; finishing one claims its state,
	// which cannot be written while the lock is held.
	h.browser.Jar = newJar()
	cb := h.authorize(h.startSignIn("/logto/sign-in"))
	resp, body := h.do(http.MethodGet, cb, map[string]string{"Accept": "text/html"})
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("callback while SQLite is busy: %d %s", resp.StatusCode, body)
	}
	unlock()
	h.signIn()
	if got := h.sessionCookie().Value; got == first || h.user()["isAuthenticated"] != true {
		t.Fatal("sign-in after the lock was released failed")
	}
}
