package fiberlogto_test

import (
	"testing"
)

// signedInRequestCost serves one request and returns what it cost: storage
// calls and calls to the provider.
func signedInRequestCost(e *benchEnv, req []byte) (storageCounts, int64, bool) {
	e.storage.zero()
	e.meter.zero()
	_, u := e.user(req)
	return e.storage.counts(), e.meter.calls.Load(), u.IsAuthenticated
}

// TestSignedInRequestStorageCost: a signed-in request whose tokens are fresh
// reads its session once, writes nothing and calls nothing at the provider
// (issue 5), on every storage and whether or not the request asks for the
// access token.
func TestSignedInRequestStorageCost(t *testing.T) { forEachAdapter(t, testSignedInRequestStorageCost) }

func testSignedInRequestStorageCost(t *testing.T, ad adapter) {
	cases := map[string][]benchOption{
		"claims":       nil,
		"access-token": {func(c *config) { c.GetAccessToken = true }},
	}
	for _, kind := range []string{"memory", "sqlite"} {
		for name, opts := range cases {
			t.Run(kind+"/"+name, func(t *testing.T) {
				e := newBenchEnv(t, ad, newBenchStorage(t, kind), opts...)
				e.signIn()
				req := e.userRequest()
				e.provider.ResetCalls()
				for i := 0; i < 5; i++ {
					c, calls, signedIn := signedInRequestCost(e, req)
					if !signedIn {
						t.Fatalf("request %d: not signed in", i)
					}
					if c.Gets != 1 || c.Writes() != 0 {
						t.Errorf("request %d: storage %+v, want exactly 1 Get and no write", i, c)
					}
					if calls != 0 {
						t.Errorf("request %d: %d calls to the provider, want 0", i, calls)
					}
				}
				for _, ep := range []string{"discovery", "jwks", "token", "userinfo", "revocation", "introspection"} {
					if n := e.provider.Calls(ep); n != 0 {
						t.Errorf("provider %s called %d times by signed-in requests", ep, n)
					}
				}
			})
		}
	}
}

// TestAnonymousRequestStorageCost: a request without a session cookie does
// not reach the storage at all.
func TestAnonymousRequestStorageCost(t *testing.T) {
	forEachAdapter(t, testAnonymousRequestStorageCost)
}

func testAnonymousRequestStorageCost(t *testing.T, ad adapter) {
	e := newBenchEnv(t, ad, newBenchStorage(t, "memory"))
	// Let discovery (started in the background by New) finish first, so its
	// call is not counted against the request.
	if _, err := e.srv.serve(rawGet("/logto/sign-in", "")); err != nil {
		t.Fatal(err)
	}
	c, calls, signedIn := signedInRequestCost(e, rawGet("/user", ""))
	if signedIn || c != (storageCounts{}) || calls != 0 {
		t.Fatalf("anonymous request: signed in %v, storage %+v, provider calls %d; want anonymous and nothing", signedIn, c, calls)
	}
}
