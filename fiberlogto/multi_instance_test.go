package fiberlogto_test

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fiberlogto/sdk/fiberlogto"
	"github.com/fiberlogto/sdk/internal/testenv"
	"github.com/fiberlogto/sdk/logtotest"
	"github.com/fiberlogto/sdk/storage/memory"
	"github.com/fiberlogto/sdk/storage/postgres"
	fiberredis "github.com/fiberlogto/sdk/storage/redis"
	"github.com/fiberlogto/sdk/storage/sqlite"
)

// secondInstance starts another app on the harness's storage and provider,
// with its own fiberlogto instance (its own in-process locks), as a second
// replica behind a load balancer would be. It returns its base URL.
func (h *harness) secondInstance(store Storage) string {
	h.t.Helper()
	return h.secondInstanceWith(store, nil)
}

// secondInstanceWith is secondInstance with edit applied to its config (an
// instance restarted with another config).
func (h *harness) secondInstanceWith(store Storage, edit func(*config)) string {
	h.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.t.Fatal(err)
	}
	cfg := h.cfg
	cfg.Storage = store
	if edit != nil {
		edit(&cfg)
	}
	mw, err := h.adapter.new(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	serve(h.t, mw.app(userRoute), ln, h.browser)
	return "http://" + ln.Addr().String()
}

// sharedStorages opens, for each shared storage kind, a new handle on one
// shared store per call, as each instance of an app would. Redis and
// PostgreSQL come from REDIS_URL and DATABASE_URL (make test starts real
// servers); unset, they fail in CI and are skipped elsewhere.
func sharedStorages(t *testing.T) map[string]func(t *testing.T) func() Storage {
	return map[string]func(t *testing.T) func() Storage{
		"sqlite": func(t *testing.T) func() Storage {
			path := filepath.Join(t.TempDir(), "shared.sqlite3")
			return func() Storage {
				s, err := sqlite.New(sqlite.Config{Path: path})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = s.Close() })
				return s
			}
		},
		"redis": func(t *testing.T) func() Storage {
			url := testenv.ServerURL(t, "REDIS_URL", "Redis")
			prefix := "test-" + strings.ReplaceAll(t.Name(), "/", "-") + "-" + newJarID() + ":"
			return func() Storage {
				s, err := fiberredis.New(fiberredis.Config{URL: url, KeyPrefix: prefix})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = s.Close() })
				return s
			}
		},
		"postgres": func(t *testing.T) func() Storage {
			url := testenv.ServerURL(t, "DATABASE_URL", "PostgreSQL")
			table := "t_" + newJarID()
			return func() Storage {
				s, err := postgres.New(postgres.Config{URL: url, Table: table})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = s.Close() })
				return s
			}
		},
	}
}

// newJarID is a short random name part.
func newJarID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// TestRefreshRaceAcrossInstances: two instances sharing a storage see one
// expired access token at once, many times over. With the storage's lease
// exactly one refresh runs per expiry, the other instance uses its tokens,
// and the rotating refresh token is never replayed (no grant is revoked),
// even with Logto's replay grace switched off.
func TestRefreshRaceAcrossInstances(t *testing.T) { forEachAdapter(t, testRefreshRaceAcrossInstances) }

func testRefreshRaceAcrossInstances(t *testing.T, ad adapter) {
	for name, shared := range sharedStorages(t) {
		t.Run(name, func(t *testing.T) {
			open := shared(t)
			refreshRace(t, ad, open(), open())
		})
	}
}

func refreshRace(t *testing.T, ad adapter, first, second Storage) {
	h := newHarnessWith(t, ad, first, providerSetup{options: func(o *logtotest.Options) {
		o.RotateRefreshTokens = true
		o.ReplayGrace = -1 // no grace: any replay revokes the grant
	}}, func(c *config) {
		c.GetAccessToken = true
		c.Resource = testResource
	})
	other := h.secondInstance(second)
	h.signIn()
	cookie := h.sessionCookie().Value

	const rounds = 10
	for round := 0; round < rounds; round++ {
		h.clock.Advance(2 * time.Hour)
		before := h.provider.Calls("token")
		results := make([]string, 8)
		for i, a := range h.concurrentUsers(len(results), h.baseURL, other) {
			if !a.IsAuthenticated {
				t.Errorf("round %d request %d: signed out (status %d)", round, i, a.Status)
			}
			results[i] = a.AccessToken
		}
		if got := h.provider.Calls("token") - before; got != 1 {
			t.Fatalf("round %d: %d refreshes across two instances, want 1", round, got)
		}
		for i := range results {
			if results[i] != results[0] {
				t.Fatalf("round %d: instances answered different tokens", round)
			}
		}
	}
	rt := fiberlogto.RefreshTokenForTest(h.storage, cookie)
	if rt == "" || h.provider.GrantRevoked(rt) || !h.provider.RefreshTokenActive(rt) {
		t.Fatal("the grant was revoked: a rotating refresh token was replayed")
	}
}

// TestConcurrentSignInsAllIndexed: one user signs in many times at once
// across two instances sharing a storage. Every session must land in the
// user's index, or a back-channel logout for the user would miss it: the
// index's read-modify-write is serialised by the storage's lease (memory
// and SQLite too) and, inside an instance, by a lock.
func TestConcurrentSignInsAllIndexed(t *testing.T) {
	storages := sharedStorages(t)
	storages["memory"] = func(t *testing.T) func() Storage {
		s := memory.New()
		return func() Storage { return s }
	}
	for name, shared := range storages {
		t.Run(name, func(t *testing.T) {
			open := shared(t)
			first, second := open(), open()
			instances := []func(string) (string, error){
				fiberlogto.SignInRecorderForTest(first),
				fiberlogto.SignInRecorderForTest(second),
			}
			const signIns = 16
			ids := make(chan string, signIns)
			var wg sync.WaitGroup
			for i := range signIns {
				wg.Go(func() {
					id, err := instances[i%2]("user-1")
					if err != nil {
						t.Error(err)
						return
					}
					ids <- id
				})
			}
			wg.Wait()
			close(ids)
			indexed := map[string]bool{}
			// Through a new handle: an instance's SQLite read cache may
			// hold the list as it last wrote it for up to CacheTTL.
			for _, k := range fiberlogto.IndexedForTest(open(), "user-1") {
				indexed[k] = true
			}
			missing := 0
			for id := range ids {
				if !indexed[fiberlogto.StorageKeyForTest(id)] {
					missing++
				}
			}
			if missing > 0 || len(indexed) != signIns {
				t.Fatalf("%d of %d concurrent sign-ins missing from the user's index (%d indexed)", missing, signIns, len(indexed))
			}
		})
	}
}

// TestChangesSeenAcrossInstances: two instances on one shared storage,
// Redis and PostgreSQL with their process-local caches on: a sign-out, a
// back-channel logout and a refresh on one instance are seen by the other
// within 100 ms (the worst delay is logged; SQLite's within its CacheTTL).
func TestChangesSeenAcrossInstances(t *testing.T) { forEachAdapter(t, testChangesSeenAcrossInstances) }

func testChangesSeenAcrossInstances(t *testing.T, ad adapter) {
	for name, shared := range sharedStorages(t) {
		t.Run(name, func(t *testing.T) {
			open := shared(t)
			h := newHarnessWith(t, ad, open(), backchannelSetup(false), func(c *config) { c.GetAccessToken = true })
			other := h.secondInstance(open())
			// seenWithin polls the other instance until ok says its /user
			// answer shows the change, and returns how long that took.
			seenWithin := func(what string, ok func(userAnswer) bool) time.Duration {
				t.Helper()
				start := time.Now()
				for {
					answers := h.concurrentUsers(1, other)
					if ok(answers[0]) {
						return time.Since(start)
					}
					if time.Since(start) > 2*time.Second {
						t.Fatalf("%s: the other instance still answers %+v after 2 s", what, answers[0])
					}
					time.Sleep(2 * time.Millisecond)
				}
			}
			signedIn := func() {
				h.browser.Jar = newJar()
				h.signIn()
				// The other instance reads the session (and caches it).
				seenWithin("sign-in", func(u userAnswer) bool { return u.IsAuthenticated })
				for i := 0; i < 3; i++ {
					h.concurrentUsers(1, other)
				}
			}
			// Redis and PostgreSQL promise 100 ms; two handles on one
			// SQLite file see each other's writes within its read
			// cache's CacheTTL (1 s), as documented.
			limit := 100 * time.Millisecond
			if name == "sqlite" {
				limit = 1500 * time.Millisecond
			}
			var worst time.Duration
			note := func(d time.Duration) {
				worst = max(worst, d)
				if d > limit {
					t.Errorf("the change took %v to reach the other instance, want at most %v", d, limit)
				}
			}

			signedIn()
			if resp, _ := h.get("/logto/sign-out"); resp.StatusCode != http.StatusFound {
				t.Fatalf("sign-out: %d", resp.StatusCode)
			}
			note(seenWithin("sign-out", func(u userAnswer) bool { return !u.IsAuthenticated }))

			signedIn()
			h.endLogtoSession() // Logto's back-channel logout reaches the first instance
			note(seenWithin("back-channel logout", func(u userAnswer) bool { return !u.IsAuthenticated }))

			signedIn()
			before := h.concurrentUsers(1, other)[0].AccessToken
			h.clock.Advance(2 * time.Hour) // the access token expires: the first instance refreshes
			if u := h.user(); u["isAuthenticated"] != true || u["accessToken"] == before {
				t.Fatalf("the refresh on the first instance: %v", u)
			}
			note(seenWithin("refresh", func(u userAnswer) bool { return u.AccessToken != before && u.AccessToken != "" }))
			t.Logf("worst delay for a change to reach the other instance: %v", worst)
		})
	}
}
