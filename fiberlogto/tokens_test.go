package fiberlogto_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fiberlogto/sdk/fiberlogto"
	"github.com/fiberlogto/sdk/logtotest"

	"github.com/fiberlogto/sdk/logto"
)

// TestRS256 signs in against a provider configured for RS256, as a Logto
// with an RSA signing key is.
func TestRS256(t *testing.T) { forEachAdapter(t, testRS256) }

func testRS256(t *testing.T, ad adapter) {
	h := newHarnessWith(t, ad, nil, providerSetup{options: func(o *logtotest.Options) { o.SigningAlg = "RS256" }})
	h.signIn()
	if h.user()["isAuthenticated"] != true {
		t.Fatal("RS256 ID token not accepted")
	}
}

// TestKeyRotation: after Logto rotates its signing key, the unknown kid makes
// the key set refetch once and sign-in keeps working; discovery is not
// repeated.
func TestKeyRotation(t *testing.T) { forEachAdapter(t, testKeyRotation) }

func testKeyRotation(t *testing.T, ad adapter) {
	h := newHarness(t, ad, nil)
	h.signIn()
	jwks, disc := h.provider.Calls("jwks"), h.provider.Calls("discovery")
	h.provider.RotateKeys()
	h.browser.Jar = newJar()
	h.signIn()
	if h.user()["isAuthenticated"] != true {
		t.Fatal("sign-in after key rotation failed")
	}
	if got := h.provider.Calls("jwks") - jwks; got != 1 {
		t.Errorf("JWKS fetched %d times after rotation, want 1", got)
	}
	if got := h.provider.Calls("discovery") - disc; got != 0 {
		t.Errorf("discovery repeated %d times", got)
	}
}

// TestSignedInRequestIsLocal: a signed-in request with fresh tokens calls
// nothing at Logto.
func TestSignedInRequestIsLocal(t *testing.T) { forEachAdapter(t, testSignedInRequestIsLocal) }

func testSignedInRequestIsLocal(t *testing.T, ad adapter) {
	h := newHarness(t, ad, nil, func(c *config) {
		c.GetAccessToken = true
		c.Resource = testResource
	})
	h.signIn()
	h.user() // fetches the resource token once
	h.provider.ResetCalls()
	for i := 0; i < 10; i++ {
		if h.user()["isAuthenticated"] != true {
			t.Fatal("not signed in")
		}
	}
	for _, ep := range []string{"discovery", "jwks", "token", "userinfo"} {
		if n := h.provider.Calls(ep); n != 0 {
			t.Errorf("%s called %d times by signed-in requests", ep, n)
		}
	}
}

func TestOrganizationTokens(t *testing.T) { forEachAdapter(t, testOrganizationTokens) }

func testOrganizationTokens(t *testing.T, ad adapter) {
	h := newHarness(t, ad, nil, func(c *config) { c.GetOrganizationToken = true })
	h.signIn()
	u := h.user()
	orgs, _ := u["organizationTokens"].(map[string]any)
	org := logtotest.DemoUser.Organizations[0]
	tok, _ := orgs[org].(string)
	if tok == "" {
		t.Fatalf("no organization token for %s: %v", org, u)
	}
	if p := jwtPayload(t, tok); p["aud"] != "urn:logto:organization:"+org {
		t.Fatalf("organization token aud = %v", p["aud"])
	}
	calls := h.provider.Calls("token")
	h.user()
	if h.provider.Calls("token") != calls {
		t.Fatal("a fresh organization token was fetched again")
	}
}

func TestFetchUserInfo(t *testing.T) { forEachAdapter(t, testFetchUserInfo) }

func testFetchUserInfo(t *testing.T, ad adapter) {
	h := newHarness(t, ad, nil, func(c *config) { c.FetchUserInfo = true })
	h.signIn()
	u := h.user()
	info, _ := u["userInfo"].(map[string]any)
	if info["sub"] != logtotest.DemoUser.ID || info["username"] != logtotest.DemoUser.Username {
		t.Fatalf("userInfo = %v", u["userInfo"])
	}
	calls := h.provider.Calls("userinfo")
	h.user()
	if h.provider.Calls("userinfo") != calls {
		t.Fatal("userinfo fetched again within UserInfoTTL")
	}
	h.clock.Advance(10 * time.Minute)
	h.user()
	if h.provider.Calls("userinfo") != calls+1 {
		t.Fatal("userinfo not fetched again after UserInfoTTL")
	}
}

// TestTransientRefreshFailureKeepsSession: Logto answering 503 on refresh is
// a 503 for the request, and the session and its refresh token stay.
func TestTransientRefreshFailureKeepsSession(t *testing.T) {
	forEachAdapter(t, testTransientRefreshFailureKeepsSession)
}

func testTransientRefreshFailureKeepsSession(t *testing.T, ad adapter) {
	h := newHarness(t, ad, nil, func(c *config) { c.GetAccessToken = true })
	h.signIn()
	cookie := h.sessionCookie().Value
	rt := fiberlogto.RefreshTokenForTest(h.storage, cookie)
	h.clock.Advance(2 * time.Hour)
	h.provider.SetTokenHook(func(w http.ResponseWriter, r *http.Request) bool {
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	})
	resp, _ := h.do(http.MethodGet, "/user", map[string]string{"Accept": "application/json"})
	if resp.StatusCode != http.StatusServiceUnavailable && resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("refresh against a failing Logto = %d, want 503/502", resp.StatusCode)
	}
	if got := fiberlogto.RefreshTokenForTest(h.storage, cookie); got != rt {
		t.Fatal("refresh token lost after a transient failure")
	}
	h.provider.SetTokenHook(nil)
	if h.user()["isAuthenticated"] != true {
		t.Fatal("session lost after a transient refresh failure")
	}
}

// TestFetchPerRoute: one route asks for userinfo and an access token, the
// others don't, all on one middleware instance.
func TestFetchPerRoute(t *testing.T) { forEachAdapter(t, testFetchPerRoute) }

func testFetchPerRoute(t *testing.T, ad adapter) {
	h := newHarnessWith(t, ad, nil, providerSetup{routes: []route{{
		path: "/user/info", fetch: &logto.FetchOptions{UserInfo: true, AccessToken: true, Resource: testResource},
		answer: answerUser,
	}}})
	h.signIn()
	if u := h.user(); u["userInfo"] != nil || u["accessToken"] != nil {
		t.Fatalf("/user got extras: %v", u)
	}
	resp, body := h.get("/user/info")
	var u map[string]any
	if err := json.Unmarshal([]byte(body), &u); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/user/info = %d %s", resp.StatusCode, body)
	}
	if info, _ := u["userInfo"].(map[string]any); info["sub"] != logtotest.DemoUser.ID {
		t.Fatalf("userInfo = %v", u["userInfo"])
	}
	if p := jwtPayload(t, u["accessToken"].(string)); p["aud"] != testResource {
		t.Fatalf("access token aud = %v", p["aud"])
	}
	// Anonymous: Fetch lets the request through untouched.
	h.browser.Jar = newJar()
	resp, body = h.get("/user/info")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"isAuthenticated":false`) {
		t.Fatalf("anonymous /user/info = %d %s", resp.StatusCode, body)
	}
}

// TestUserInfoRejectedTokenIsRefreshed: Logto rejecting the stored access
// token at userinfo (revoked) makes one refresh and one retry, not a 502.
func TestUserInfoRejectedTokenIsRefreshed(t *testing.T) {
	forEachAdapter(t, testUserInfoRejectedTokenIsRefreshed)
}

func testUserInfoRejectedTokenIsRefreshed(t *testing.T, ad adapter) {
	h := newHarness(t, ad, nil, func(c *config) { c.FetchUserInfo = true; c.UserInfoTTL = time.Second })
	h.signIn()
	cookie := h.sessionCookie().Value
	h.revokeAccess(fiberlogto.AccessTokenForTest(h.storage, cookie, ""))
	h.clock.Advance(2 * time.Second)
	tokenCalls := h.provider.Calls("token")
	u := h.user()
	if info, _ := u["userInfo"].(map[string]any); info["sub"] != logtotest.DemoUser.ID {
		t.Fatalf("userInfo after a rejected token = %v", u)
	}
	if got := h.provider.Calls("token") - tokenCalls; got != 1 {
		t.Fatalf("token calls = %d, want 1 refresh", got)
	}
}

// TestFetchAfterRequireAuthSignedOut: a route guarded by RequireAuth whose
// Fetch finds the grant revoked answers as the guard does (401 for an API,
// sign-in for a page), never running the handler for an anonymous user.
func TestFetchAfterRequireAuthSignedOut(t *testing.T) {
	forEachAdapter(t, testFetchAfterRequireAuthSignedOut)
}

func testFetchAfterRequireAuthSignedOut(t *testing.T, ad adapter) {
	for _, tc := range []struct {
		accept string
		want   int
	}{{"application/json", http.StatusUnauthorized}, {"text/html", http.StatusFound}} {
		t.Run(tc.accept, func(t *testing.T) {
			ran := false
			h := newHarnessWith(t, ad, nil, providerSetup{routes: []route{{
				path: "/access-token", guard: true,
				fetch: &logto.FetchOptions{AccessToken: true, Resource: testResource},
				ran:   func() { ran = true }, answer: answerAccessToken,
			}}})
			h.signIn()
			h.revoke(fiberlogto.RefreshTokenForTest(h.storage, h.sessionCookie().Value))
			h.clock.Advance(2 * time.Hour)
			resp, body := h.do(http.MethodGet, "/access-token", map[string]string{"Accept": tc.accept})
			if resp.StatusCode != tc.want || ran {
				t.Fatalf("= %d %q, handler ran %v; want %d and no handler", resp.StatusCode, body, ran, tc.want)
			}
			if tc.want == http.StatusFound && !strings.Contains(resp.Header.Get("Location"), "/logto/sign-in") {
				t.Errorf("Location %q, want the sign-in route", resp.Header.Get("Location"))
			}
		})
	}
}

// TestConfigAccessTokenWithoutRefreshToken: with GetAccessToken in Config,
// a session that cannot get a new access token (signed in without a refresh
// token) keeps the site up once its first token expires: the user stays
// signed in with no access token, and a route that asks with Fetch gets the
// error.
func TestConfigAccessTokenWithoutRefreshToken(t *testing.T) {
	forEachAdapter(t, testConfigAccessTokenWithoutRefreshToken)
}

func testConfigAccessTokenWithoutRefreshToken(t *testing.T, ad adapter) {
	h := newHarnessWith(t, ad, nil, providerSetup{routes: []route{{
		path: "/needs-token", fetch: &logto.FetchOptions{AccessToken: true}, answer: answerAccessToken,
	}}}, func(c *config) {
		c.GetAccessToken = true
		c.Prompt = []string{"login"} // Logto issues no refresh token without consent
	})
	h.signIn()
	if fiberlogto.RefreshTokenForTest(h.storage, h.sessionCookie().Value) != "" {
		t.Fatal("the provider issued a refresh token with prompt=login")
	}
	if u := h.user(); u["accessToken"] == "" {
		t.Fatal("no access token right after sign-in")
	}
	h.clock.Advance(2 * time.Hour)
	if u := h.user(); u["isAuthenticated"] != true || u["accessToken"] != nil && u["accessToken"] != "" {
		t.Fatalf("/user after the token expired: %v; want signed in without a token", u)
	}
	if resp, body := h.do(http.MethodGet, "/needs-token", map[string]string{"Accept": "application/json"}); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/needs-token = %d %s, want 401 (ErrNoToken)", resp.StatusCode, body)
	}
}
