package fiberlogto_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fiberlogto/sdk/fiberlogto"
	"github.com/fiberlogto/sdk/logtotest"
	"github.com/fiberlogto/sdk/storage/memory"
)

// Writes that race across instances sharing a storage. fiber.Storage has
// no compare-and-set, so each of these is serialised by the storage's lease
// (Storage.Memory's here, shared as one store would be), and each test pins
// the interleaving that loses without it.

// slowStore is one instance's handle on a shared memory storage whose
// reads or writes of some keys wait, to hold a race window open. The lease
// methods are the shared storage's own.
type slowStore struct {
	*memory.Storage
	prefix   string
	getDelay time.Duration
	// pauseSet, once true, makes the next Set under prefix announce itself
	// on reached and wait for release (once).
	pauseSet         atomic.Bool
	once             sync.Once
	reached, release chan struct{}
}

// Get reads, then waits before answering, as a slow network would.
func (s *slowStore) GetWithContext(ctx context.Context, key string) ([]byte, error) {
	v, err := s.Storage.GetWithContext(ctx, key)
	if strings.HasPrefix(key, s.prefix) {
		time.Sleep(s.getDelay)
	}
	return v, err
}

func (s *slowStore) SetWithContext(ctx context.Context, key string, val []byte, exp time.Duration) error {
	if s.pauseSet.Load() && strings.HasPrefix(key, s.prefix) {
		s.once.Do(func() { close(s.reached); <-s.release })
	}
	return s.Storage.SetWithContext(ctx, key, val, exp)
}

// getWithSession GETs base+path with only the session cookie (no browser
// jar, no redirects followed) and returns the status, 0 on a transport
// error.
func getWithSession(h *harness, base, path, cookie string) int {
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	req.Header.Set("Cookie", h.cfg.CookieName+"="+cookie)
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// rotatingBackchannelSetup: back-channel logout by sid, and refresh tokens
// rotated at every refresh.
func rotatingBackchannelSetup() providerSetup {
	setup := backchannelSetup(true)
	setup.options = func(o *logtotest.Options) {
		backchannelSetup(true).options(o)
		o.RotateRefreshTokens = true
	}
	return setup
}

// TestCallbackOnceAcrossInstances: the same callback reaching two instances
// at once (a reload behind a load balancer) exchanges the code once. Two
// exchanges of one code make Logto revoke the grant of the first. The
// callback claims its state with a lease before the exchange; reads of the
// claim key are slow here, holding the window open for a plain
// read-then-write.
func TestCallbackOnceAcrossInstances(t *testing.T) {
	forEachAdapter(t, testCallbackOnceAcrossInstances)
}

func testCallbackOnceAcrossInstances(t *testing.T, ad adapter) {
	for name, wrap := range map[string]func(*slowStore) Storage{
		"leaser": func(s *slowStore) Storage { return s },
	} {
		t.Run(name, func(t *testing.T) {
			mem := memory.New()
			slow := func() Storage {
				return wrap(&slowStore{Storage: mem, prefix: fiberlogto.ClaimKeyPrefixForTest, getDelay: 50 * time.Millisecond})
			}
			h := newHarness(t, ad, slow())
			other := h.secondInstance(slow())

			cb := h.authorize(h.startSignIn("/logto/sign-in"))
			u, err := url.Parse(cb)
			if err != nil {
				t.Fatal(err)
			}
			before := h.provider.Calls("token")
			statuses := make([]int, 2)
			// Both carry the browser's cookies as they are now: the
			// sign-in cookie, no session yet (with the jar, the later one
			// could carry the winner's session, and go home as a replay).
			var cookies []string
			for _, c := range h.browser.Jar.Cookies(mustURL(h.baseURL + "/logto/")) {
				cookies = append(cookies, c.Name+"="+c.Value)
			}
			var wg sync.WaitGroup
			for i, base := range []string{h.baseURL, other} {
				wg.Go(func() {
					req, _ := http.NewRequest(http.MethodGet, base+u.RequestURI(), nil)
					req.Header.Set("Cookie", strings.Join(cookies, "; "))
					resp, err := http.DefaultTransport.RoundTrip(req)
					if err != nil {
						t.Error(err)
						return
					}
					resp.Body.Close()
					statuses[i] = resp.StatusCode
					if resp.StatusCode == http.StatusFound {
						h.browser.Jar.SetCookies(mustURL(base), resp.Cookies())
					}
				})
			}
			wg.Wait()
			if got := h.provider.Calls("token") - before; got != 1 {
				t.Fatalf("the code was exchanged %d times by two instances, want once (answers %v)", got, statuses)
			}
			if (statuses[0] == http.StatusFound) == (statuses[1] == http.StatusFound) {
				t.Errorf("answers %v: want one sign-in and one refused replay", statuses)
			}
			if !h.user()["isAuthenticated"].(bool) {
				t.Error("not signed in after the callback that won")
			}
		})
	}
}

// TestTouchDoesNotUndoRotation: instance B writes the session back (its
// idle-timeout touch) while instance A refreshes it and Logto rotates the
// refresh token. B's write must not put the rotated-out token back: with
// no replay grace, the next refresh would then revoke the grant.
func TestTouchDoesNotUndoRotation(t *testing.T) { forEachAdapter(t, testTouchDoesNotUndoRotation) }

func testTouchDoesNotUndoRotation(t *testing.T, ad adapter) {
	mem := memory.New()
	h := newHarnessWith(t, ad, mem, providerSetup{options: func(o *logtotest.Options) {
		o.RotateRefreshTokens = true
		o.ReplayGrace = -1
	}}, func(c *config) { c.GetAccessToken = true })
	paused := &slowStore{Storage: mem, prefix: fiberlogto.SessionKeyPrefixForTest,
		reached: make(chan struct{}), release: make(chan struct{})}
	paused.pauseSet.Store(true)
	otherBase := h.secondInstance(paused)

	h.signIn()
	cookie := h.sessionCookie().Value
	rt0 := fiberlogto.RefreshTokenForTest(mem, cookie)
	h.clock.Advance(2 * time.Hour) // the access token has expired and the touch is due

	// B loads the record for its touch and stops just
	// before writing it back.
	doneB := make(chan struct{})
	go func() {
		defer close(doneB)
		getWithSession(h, otherBase, "/user", cookie)
	}()
	<-paused.reached

	// A refreshes meanwhile; B finishes its write while A waits or works.
	answerA := make(chan map[string]any, 1)
	go func() { answerA <- h.user() }()
	time.Sleep(100 * time.Millisecond)
	close(paused.release)
	<-doneB
	if a := <-answerA; a["isAuthenticated"] != true || a["accessToken"] == "" {
		t.Fatalf("A: %v", a)
	}
	rt1 := fiberlogto.RefreshTokenForTest(mem, cookie)
	if rt1 == rt0 {
		t.Fatal("the stored refresh token is the rotated-out one: B's write undid A's rotation")
	}
	h.clock.Advance(2 * time.Hour)
	if a := h.user(); a["isAuthenticated"] != true {
		t.Fatalf("the next refresh signed the user out: %v", a)
	}
	if h.provider.GrantRevoked(rt1) {
		t.Fatal("the grant was revoked")
	}
}

// TestSignOutDuringRefreshOnAnotherInstance: a sign-out on instance B while
// instance A is between Logto's refresh answer and saving it. The sign-out
// must not be undone by A's save: the session stays deleted, and the
// refresh token Logto just issued is the one revoked.
func TestSignOutDuringRefreshOnAnotherInstance(t *testing.T) {
	forEachAdapter(t, testSignOutDuringRefreshOnAnotherInstance)
}

func testSignOutDuringRefreshOnAnotherInstance(t *testing.T, ad adapter) {
	mem := memory.New()
	slowA := &slowStore{Storage: mem, prefix: fiberlogto.SessionKeyPrefixForTest,
		reached: make(chan struct{}), release: make(chan struct{})}
	h := newHarnessWith(t, ad, slowA, providerSetup{options: func(o *logtotest.Options) {
		o.RotateRefreshTokens = true
	}}, func(c *config) { c.GetAccessToken = true })
	otherBase := h.secondInstance(mem)

	h.signIn()
	cookie := h.sessionCookie().Value
	// The access token is due for a refresh; the idle-timeout touch is not.
	h.clock.Advance(time.Hour - h.cfg.ClockSkew + 30*time.Second)
	slowA.pauseSet.Store(true)

	doneA := make(chan struct{})
	go func() {
		defer close(doneA)
		h.do(http.MethodGet, "/user", map[string]string{"Accept": "application/json"})
	}()
	<-slowA.reached // A has the rotated tokens and is about to save them

	doneB := make(chan int, 1)
	go func() { doneB <- getWithSession(h, otherBase, "/logto/sign-out", cookie) }()
	time.Sleep(100 * time.Millisecond)
	close(slowA.release)
	<-doneA
	if status := <-doneB; status != http.StatusFound {
		t.Fatalf("sign-out on B = %d", status)
	}
	if h.sessionStored(cookie) {
		t.Fatal("the session signed out on B is in storage again: A's refresh saved it after the delete")
	}
}

// TestBackchannelLogoutDuringRefreshOnAnotherInstance: Logto's back-channel
// logout reaches instance A while instance B is between Logto's refresh
// answer and saving it. The session must stay ended: B's save must not
// bring it back.
func TestBackchannelLogoutDuringRefreshOnAnotherInstance(t *testing.T) {
	forEachAdapter(t, testBackchannelLogoutDuringRefreshOnAnotherInstance)
}

func testBackchannelLogoutDuringRefreshOnAnotherInstance(t *testing.T, ad adapter) {
	mem := memory.New()
	h := newHarnessWith(t, ad, mem, rotatingBackchannelSetup(), func(c *config) { c.GetAccessToken = true })
	slowB := &slowStore{Storage: mem, prefix: fiberlogto.SessionKeyPrefixForTest,
		reached: make(chan struct{}), release: make(chan struct{})}
	otherBase := h.secondInstance(slowB)

	h.signIn()
	cookie := h.sessionCookie().Value
	step := time.Hour - h.cfg.ClockSkew + 30*time.Second
	h.clock.Advance(step)
	slowB.pauseSet.Store(true)

	doneB := make(chan struct{})
	go func() {
		defer close(doneB)
		getWithSession(h, otherBase, "/user", cookie)
	}()
	<-slowB.reached // B has the rotated tokens and is about to save them
	// Back to Logto's time: A checks the logout token's iat against it.
	h.clock.Advance(-step)

	ended := make(chan struct{})
	go func() {
		defer close(ended)
		h.endLogtoSession() // Logto posts the logout token to A
	}()
	time.Sleep(100 * time.Millisecond)
	close(slowB.release)
	<-doneB
	<-ended
	if h.sessionStored(cookie) {
		t.Fatal("the session ended by the back-channel logout is in storage again: B's refresh saved it afterwards")
	}
}

// TestBackchannelLogoutDuringSlowRefresh: the back-channel logout cannot
// wait out a refresh that Logto answers slowly (3 s, beyond the 2 s a
// deleter waits for the lease), so it deletes the session while the
// refresh is in flight. The refresh must then not save it back.
func TestBackchannelLogoutDuringSlowRefresh(t *testing.T) {
	forEachAdapter(t, testBackchannelLogoutDuringSlowRefresh)
}

func testBackchannelLogoutDuringSlowRefresh(t *testing.T, ad adapter) {
	mem := memory.New()
	h := newHarnessWith(t, ad, mem, rotatingBackchannelSetup(), func(c *config) { c.GetAccessToken = true })
	otherBase := h.secondInstance(mem)

	h.signIn()
	cookie := h.sessionCookie().Value
	step := time.Hour - h.cfg.ClockSkew + 30*time.Second
	h.clock.Advance(step)
	h.provider.Misbehave(logtotest.Misbehavior{Delay: map[string]time.Duration{"token": 3 * time.Second}})

	doneB := make(chan struct{})
	go func() {
		defer close(doneB)
		getWithSession(h, otherBase, "/user", cookie)
	}()
	time.Sleep(300 * time.Millisecond) // B holds the lease, waiting on Logto
	h.clock.Advance(-step)             // Logto's time, for the logout token's iat
	h.endLogtoSession()
	<-doneB
	if h.sessionStored(cookie) {
		t.Fatal("the session ended by the back-channel logout is stored again: the slow refresh saved it")
	}
}

// TestSignOutDeletesBeforeCallingLogto: sign-out deletes the session before
// it revokes the refresh token at Logto, so no lease or lock is held while
// Logto answers, however slowly.
func TestSignOutDeletesBeforeCallingLogto(t *testing.T) {
	forEachAdapter(t, testSignOutDeletesBeforeCallingLogto)
}

func testSignOutDeletesBeforeCallingLogto(t *testing.T, ad adapter) {
	h := newHarness(t, ad, nil)
	h.signIn()
	cookie := h.sessionCookie().Value
	h.provider.Misbehave(logtotest.Misbehavior{Delay: map[string]time.Duration{"revocation": time.Second}})
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.get("/logto/sign-out")
	}()
	time.Sleep(300 * time.Millisecond) // sign-out is waiting on the revocation
	if h.sessionStored(cookie) {
		t.Fatal("the session is still stored while sign-out waits on Logto")
	}
	<-done
	if h.provider.Calls("revocation") != 1 {
		t.Fatalf("%d revocations, want 1", h.provider.Calls("revocation"))
	}
}
