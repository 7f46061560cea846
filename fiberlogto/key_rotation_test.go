package fiberlogto_test

// Logto's key rotations (issue 17), on every adapter: an ID token from
// Logto's token endpoint that names a kid the cached key set lacks is
// checked against a key set fetched at once; tokens from outside (bearer,
// back-channel logout) keep the global refetch limit, on a budget of their
// own, so no flood of them delays picking up a rotation.

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fiberlogto/sdk/logtotest"
)

// refreshEveryRequest makes every signed-in /user refresh (the provider's
// access tokens live less than ClockSkew), with a refresh token rotated at
// every refresh and no replay grace: a refresh whose answer the app drops
// ends the grant, as at Logto.
var refreshEveryRequest = providerSetup{options: func(o *logtotest.Options) {
	o.AccessTokenTTL = 30 * time.Second
	o.RotateRefreshTokens = true
	o.ReplayGrace = -1
}}

// TestKeyRotationEverySecond: keys rotated every second while users sign in
// and refresh on every request; no sign-in fails and no session is lost.
func TestKeyRotationEverySecond(t *testing.T) { forEachAdapter(t, testKeyRotationEverySecond) }

func testKeyRotationEverySecond(t *testing.T, ad adapter) {
	for name, store := range storages(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarnessWith(t, ad, store(), refreshEveryRequest, func(c *config) { c.GetAccessToken = true })
			const users, run = 3, 3500 * time.Millisecond
			stop := make(chan struct{})
			var rotations atomic.Int64
			go func() {
				tick := time.NewTicker(time.Second)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						h.provider.RotateKeys()
						rotations.Add(1)
					}
				}
			}()
			var signIns, requests atomic.Int64
			var mu sync.Mutex
			var failures []string
			fail := func(format string, args ...any) {
				mu.Lock()
				failures = append(failures, fmt.Sprintf(format, args...))
				mu.Unlock()
			}
			deadline := time.Now().Add(run)
			var wg sync.WaitGroup
			for u := 0; u < users; u++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					b := browserOf(h)
					for i := 0; time.Now().Before(deadline); i++ {
						if i%8 == 0 { // a new sign-in, in a new browser
							b = browserOf(h)
							if status := b.signIn(); status != http.StatusFound {
								fail("callback = %d", status)
								return
							}
							signIns.Add(1)
						}
						status, authenticated := b.user()
						requests.Add(1)
						if status != http.StatusOK || !authenticated {
							fail("/user = %d authenticated=%v: a session was lost", status, authenticated)
							return
						}
					}
				}()
			}
			wg.Wait()
			close(stop)
			t.Logf("%d rotations, %d sign-ins, %d signed-in requests (each a refresh)", rotations.Load(), signIns.Load(), requests.Load())
			if len(failures) > 0 {
				t.Fatalf("%d failures, first: %s", len(failures), failures[0])
			}
			if rotations.Load() < 3 || signIns.Load() < 3 {
				t.Fatalf("too little happened to tell: %d rotations, %d sign-ins", rotations.Load(), signIns.Load())
			}
		})
	}
}

// browser is one more browser of a harness's app, safe to run beside
// others.
type browser struct {
	h      *harness
	client *http.Client
}

func browserOf(h *harness) *browser {
	return &browser{h: h, client: &http.Client{
		Jar:           newJar(),
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// signIn runs the whole sign-in and returns the callback's status (0 when
// a step before it failed).
func (b *browser) signIn() int {
	resp, err := b.client.Get(b.h.baseURL + "/logto/sign-in")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	cb, err := b.h.provider.SignIn(b.h.t.Context(), b.client, resp.Header.Get("Location"), logtotest.DemoUser.Username, logtotest.DemoUser.Password)
	if err != nil {
		return 0
	}
	if resp, err = b.client.Get(cb); err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// user GETs /user as an API call.
func (b *browser) user() (status int, authenticated bool) {
	req, _ := http.NewRequest(http.MethodGet, b.h.baseURL+"/user", nil)
	req.Header.Set("Accept", "application/json")
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	var u userAnswer
	_ = decodeJSON(resp.Body, &u)
	return resp.StatusCode, u.IsAuthenticated
}

// TestKeyRotationAfterAFlood: a flood of bearer and back-channel logout
// tokens naming unknown kids spends the refetch budget of tokens from
// outside; Logto rotates its keys just after, and the first refresh and the
// first sign-in with the new key succeed at once, without waiting out that
// budget's cooldown.
func TestKeyRotationAfterAFlood(t *testing.T) { forEachAdapter(t, testKeyRotationAfterAFlood) }

func testKeyRotationAfterAFlood(t *testing.T, ad adapter) {
	setup := backchannelSetup(false)
	setup.routes = apiRoutes[:1]
	setup.options = func(o *logtotest.Options) {
		backchannelSetup(false).options(o)
		refreshEveryRequest.options(o)
	}
	h := newHarnessWith(t, ad, nil, setup, func(c *config) { c.GetAccessToken = true })
	h.signIn()
	for i := 0; i < 50; i++ {
		kid := fmt.Sprintf("flood-%d", i)
		if i%2 == 0 {
			if got := postLogoutToken(t, h.baseURL, forgedJWT(t, kid, "logout+jwt")); got != http.StatusBadRequest {
				t.Fatalf("logout token with an unknown kid: %d", got)
			}
		} else if resp, _ := h.call("/api/data", "Bearer "+forgedJWT(t, kid, "at+jwt")); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("bearer token with an unknown kid: %d", resp.StatusCode)
		}
	}
	h.provider.RotateKeys() // the clock does not move: the flood's cooldown still runs
	start := time.Now()
	if u := h.user(); u["isAuthenticated"] != true {
		t.Fatalf("the first refresh after the rotation signed the user out: %v", u)
	}
	h.browser.Jar = newJar()
	h.signIn()
	if h.user()["isAuthenticated"] != true {
		t.Fatal("the first sign-in after the rotation failed")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("picking up the rotation took %v", d)
	}
	// A forged bearer token is still refused without a fetch: its budget's
	// cooldown runs on.
	jwks := h.provider.Calls("jwks")
	if resp, _ := h.call("/api/data", "Bearer "+forgedJWT(t, "after-rotation", "at+jwt")); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bearer token with an unknown kid: %d", resp.StatusCode)
	}
	if got := h.provider.Calls("jwks") - jwks; got != 0 {
		t.Fatalf("a token from outside made %d JWKS fetches during the cooldown", got)
	}
}

// TestRefreshWhileJWKSDown: Logto rotated its keys and the refresh token,
// and the app cannot fetch the new key (the JWKS endpoint is down): the
// request answers 503 and the session stays, with the successor of the
// refresh token Logto consumed; once the JWKS is back, the next request
// refreshes with it and the user is still signed in.
func TestRefreshWhileJWKSDown(t *testing.T) { forEachAdapter(t, testRefreshWhileJWKSDown) }

func testRefreshWhileJWKSDown(t *testing.T, ad adapter) {
	h := newHarnessWith(t, ad, nil, refreshEveryRequest, func(c *config) { c.GetAccessToken = true })
	h.signIn()
	h.provider.RotateKeys()
	h.provider.Misbehave(logtotest.Misbehavior{JWKSDown: true})
	for i := 0; i < 2; i++ {
		resp, body := h.do(http.MethodGet, "/user", map[string]string{"Accept": "application/json"})
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("/user while the new key cannot be fetched = %d %s, want 503", resp.StatusCode, body)
		}
		time.Sleep(1100 * time.Millisecond) // past the failed fetch's retry interval
	}
	if !h.sessionStored(h.sessionCookie().Value) {
		t.Fatal("the session was dropped")
	}
	h.provider.Misbehave(logtotest.Misbehavior{})
	if u := h.user(); u["isAuthenticated"] != true {
		t.Fatalf("signed out after the JWKS came back: %v", u)
	}
}
