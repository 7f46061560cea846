package fiberlogto_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fiberlogto/sdk/fiberlogto"
	"github.com/fiberlogto/sdk/logtotest"

	"github.com/fiberlogto/sdk/logto"
)

// TestSignInFlow runs the tutorial's whole flow over real HTTP against the
// in-process provider, on every shipped storage.
func TestSignInFlow(t *testing.T) { forEachAdapter(t, testSignInFlow) }

func testSignInFlow(t *testing.T, ad adapter) {
	for name, mk := range storages(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, ad, mk(), func(c *config) {
				c.GetAccessToken = true
				c.Resource = testResource
			})

			// Anonymous.
			if u := h.user(); u["isAuthenticated"] != false {
				t.Fatalf("anonymous /user = %v", u)
			}
			resp, _ := h.do(http.MethodGet, "/protected", map[string]string{"Accept": "text/html"})
			if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), h.baseURL+"/logto/sign-in?returnTo=") {
				t.Fatalf("anonymous page /protected = %d %q, want 302 to sign-in", resp.StatusCode, resp.Header.Get("Location"))
			}
			resp, body := h.do(http.MethodGet, "/protected", map[string]string{"Accept": "application/json"})
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `"error"`) {
				t.Fatalf("anonymous API /protected = %d %s, want 401 JSON", resp.StatusCode, body)
			}

			// The authorization request.
			authURL := h.startSignIn("/logto/sign-in")
			q := authURL.Query()
			if got := authURL.Scheme + "://" + authURL.Host + authURL.Path; got != h.provider.Issuer+"/auth" {
				t.Errorf("authorize endpoint = %s", got)
			}
			for k, want := range map[string]string{
				"client_id":             h.provider.ClientID,
				"redirect_uri":          h.baseURL + "/logto/sign-in-callback",
				"response_type":         "code",
				"code_challenge_method": "S256",
				"prompt":                "consent",
			} {
				if q.Get(k) != want {
					t.Errorf("authorize %s = %q, want %q", k, q.Get(k), want)
				}
			}
			scopes := strings.Fields(q.Get("scope"))
			for _, s := range []string{"openid", "offline_access", "profile", "email", logto.ScopeOrganizations} {
				if !contains(scopes, s) {
					t.Errorf("scope %q missing from %v", s, scopes)
				}
			}
			if r := q["resource"]; !contains(r, testResource) || !contains(r, logto.ResourceOrganizations) {
				t.Errorf("resources = %v", r)
			}
			for _, k := range []string{"state", "nonce", "code_challenge"} {
				if len(q.Get(k)) < 43 { // 256 bits, base64url
					t.Errorf("%s %q is shorter than 256 bits", k, q.Get(k))
				}
			}

			// Callback.
			cb := h.authorize(authURL)
			if cbq, _ := url.Parse(cb); cbq.Query().Get("iss") != h.provider.Issuer {
				t.Fatalf("provider callback lacks iss: %s", cb)
			}
			resp, body = h.get(cb)
			if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != h.baseURL {
				t.Fatalf("callback = %d %q %s", resp.StatusCode, resp.Header.Get("Location"), body)
			}
			if resp.Header.Get("Referrer-Policy") != "no-referrer" || resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("callback headers: %v", resp.Header)
			}
			setCookie := strings.Join(resp.Header.Values("Set-Cookie"), "\n")
			for _, want := range []string{h.cfg.CookieName + "=", "HttpOnly", "SameSite=Lax", "path=/"} {
				if !strings.Contains(strings.ToLower(setCookie), strings.ToLower(want)) {
					t.Errorf("Set-Cookie %q lacks %q", setCookie, want)
				}
			}
			if strings.Contains(strings.ToLower(setCookie), "secure") {
				t.Errorf("Secure cookie on an http BaseURL: %q", setCookie)
			}

			// Signed in.
			u := h.user()
			if u["isAuthenticated"] != true {
				t.Fatalf("/user after sign-in = %v", u)
			}
			claims := claimsOf(t, u)
			if claims["sub"] != logtotest.DemoUser.ID || claims["username"] != logtotest.DemoUser.Username ||
				claims["name"] != logtotest.DemoUser.Name || claims["email"] != logtotest.DemoUser.Email {
				t.Errorf("claims = %v", claims)
			}
			if _, ok := claims["picture"]; !ok {
				t.Errorf("picture claim (null) missing: %v", claims)
			}
			at, _ := u["accessToken"].(string)
			if p := jwtPayload(t, at); p["aud"] != testResource || p["sub"] != logtotest.DemoUser.ID {
				t.Errorf("access token payload = %v", p)
			}
			if sc, _ := u["scopes"].([]any); len(sc) == 0 || sc[0] != "read:data" {
				t.Errorf("scopes = %v", u["scopes"])
			}
			resp, body = h.get("/protected")
			if resp.StatusCode != http.StatusOK || body != "protected resource" {
				t.Fatalf("/protected = %d %q", resp.StatusCode, body)
			}

			// Sign-out.
			cookie := h.sessionCookie().Value
			if !h.sessionStored(cookie) {
				t.Fatal("session not in storage")
			}
			resp, _ = h.get("/logto/sign-out")
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != http.StatusFound || loc.Path != "/oidc/session/end" {
				t.Fatalf("sign-out = %d %q", resp.StatusCode, resp.Header.Get("Location"))
			}
			lq := loc.Query()
			if lq.Get("client_id") != h.provider.ClientID || lq.Get("post_logout_redirect_uri") != h.baseURL || lq.Get("id_token_hint") == "" {
				t.Errorf("end-session query = %v", lq)
			}
			if h.sessionStored(cookie) {
				t.Error("session still in storage after sign-out")
			}
			if h.provider.Calls("revocation") != 1 {
				t.Errorf("revocation calls = %d, want 1", h.provider.Calls("revocation"))
			}
			if u := h.user(); u["isAuthenticated"] != false {
				t.Fatalf("/user after sign-out = %v", u)
			}
			// The old cookie, replayed, is anonymous.
			req, _ := http.NewRequest(http.MethodGet, h.baseURL+"/protected", nil)
			req.Header.Set("Accept", "application/json")
			req.AddCookie(&http.Cookie{Name: h.cfg.CookieName, Value: cookie})
			r2, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			r2.Body.Close()
			if r2.StatusCode != http.StatusUnauthorized {
				t.Errorf("replayed cookie /protected = %d, want 401", r2.StatusCode)
			}
		})
	}
}

// TestRefreshAfterExpiry forces the access token past its expiry: the next
// request refreshes it once, and concurrent requests share that refresh.
func TestRefreshAfterExpiry(t *testing.T) { forEachAdapter(t, testRefreshAfterExpiry) }

func testRefreshAfterExpiry(t *testing.T, ad adapter) {
	for name, mk := range storages(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, ad, mk(), func(c *config) {
				c.GetAccessToken = true
				c.Resource = testResource
			})
			h.signIn()
			first, _ := h.user()["accessToken"].(string)
			if first == "" {
				t.Fatal("no access token")
			}
			if again, _ := h.user()["accessToken"].(string); again != first {
				t.Fatal("a fresh token was replaced")
			}
			before := h.provider.Calls("token")

			h.clock.Advance(2 * time.Hour)
			tokens := make([]string, 20)
			for i, a := range h.concurrentUsers(len(tokens), h.baseURL) {
				tokens[i] = a.AccessToken
			}
			if got := h.provider.Calls("token") - before; got != 1 {
				t.Fatalf("token calls for 20 concurrent requests after expiry = %d, want exactly 1", got)
			}
			for i, tok := range tokens {
				if tok == "" || tok == first || tok != tokens[0] {
					t.Fatalf("request %d got token %.20q (first %.20q, [0] %.20q)", i, tok, first, tokens[0])
				}
			}
		})
	}
}

// TestInvalidGrantSignsOut: a revoked grant makes the next refresh fail with
// invalid_grant; the session ends cleanly and the request is anonymous.
func TestInvalidGrantSignsOut(t *testing.T) { forEachAdapter(t, testInvalidGrantSignsOut) }

func testInvalidGrantSignsOut(t *testing.T, ad adapter) {
	h := newHarness(t, ad, nil, func(c *config) { c.GetAccessToken = true })
	h.signIn()
	cookie := h.sessionCookie().Value
	if u := h.user(); u["isAuthenticated"] != true {
		t.Fatal("not signed in")
	}
	h.revoke(fiberlogto.RefreshTokenForTest(h.storage, cookie))
	h.clock.Advance(2 * time.Hour)
	if u := h.user(); u["isAuthenticated"] != false {
		t.Fatalf("after invalid_grant /user = %v", u)
	}
	if h.sessionStored(cookie) {
		t.Error("session kept after invalid_grant")
	}
	resp, _ := h.do(http.MethodGet, "/protected", map[string]string{"Accept": "text/html"})
	if resp.StatusCode != http.StatusFound {
		t.Errorf("/protected after invalid_grant = %d, want 302 to sign-in", resp.StatusCode)
	}
}

func TestSignUpOpensRegistration(t *testing.T) { forEachAdapter(t, testSignUpOpensRegistration) }

func testSignUpOpensRegistration(t *testing.T, ad adapter) {
	h := newHarness(t, ad, nil)
	u := h.startSignIn("/logto/sign-up")
	if u.Query().Get("first_screen") != "register" {
		t.Fatalf("sign-up first_screen = %q", u.Query().Get("first_screen"))
	}
}

func TestReturnTo(t *testing.T) { forEachAdapter(t, testReturnTo) }

func testReturnTo(t *testing.T, ad adapter) {
	for path, want := range map[string]string{
		"/protected?x=1":       "/protected?x=1",
		"//evil.example/":      "",
		"https://evil.example": "",
		"/\\evil.example":      "",
		"protected":            "",
	} {
		t.Run(path, func(t *testing.T) {
			h := newHarness(t, ad, nil)
			cb := h.authorize(h.startSignIn("/logto/sign-in?returnTo=" + url.QueryEscape(path)))
			resp, _ := h.get(cb)
			if loc := resp.Header.Get("Location"); loc != h.baseURL+want {
				t.Fatalf("returnTo %q: callback went to %q, want %q", path, loc, h.baseURL+want)
			}
		})
	}
}

func TestSignOutCrossSiteRefused(t *testing.T) { forEachAdapter(t, testSignOutCrossSiteRefused) }

func testSignOutCrossSiteRefused(t *testing.T, ad adapter) {
	h := newHarness(t, ad, nil)
	h.signIn()
	cookie := h.sessionCookie().Value
	for _, hdr := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site"},
		{"Origin": "https://evil.example"},
		{"Referer": "https://evil.example/page"},
	} {
		resp, body := h.do(http.MethodGet, "/logto/sign-out", hdr)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("sign-out with %v = %d %s, want 403", hdr, resp.StatusCode, body)
		}
	}
	if !h.sessionStored(cookie) || h.user()["isAuthenticated"] != true {
		t.Fatal("a refused sign-out ended the session")
	}
	resp, _ := h.do(http.MethodGet, "/logto/sign-out", map[string]string{"Sec-Fetch-Site": "same-origin", "Referer": h.baseURL + "/"})
	if resp.StatusCode != http.StatusFound || h.sessionStored(cookie) {
		t.Fatalf("same-origin sign-out = %d, stored %v", resp.StatusCode, h.sessionStored(cookie))
	}
}

func TestProviderDownAtStart(t *testing.T) { forEachAdapter(t, testProviderDownAtStart) }

func testProviderDownAtStart(t *testing.T, ad adapter) {
	down := providerSetup{before: func(p *logtotest.Provider) { p.SetDown(true) }}
	h := newHarnessWith(t, ad, nil, down, func(c *config) { c.DiscoveryRetryInterval = time.Millisecond })
	// The app is up; sign-in says Logto is unavailable.
	resp, body := h.do(http.MethodGet, "/logto/sign-in", map[string]string{"Accept": "text/html"})
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("sign-in while Logto is down = %d %s, want 503", resp.StatusCode, body)
	}
	if resp, body := h.get("/"); resp.StatusCode != http.StatusOK || body != "home" {
		t.Fatalf("public page while Logto is down = %d %q", resp.StatusCode, body)
	}
	h.provider.SetDown(false)
	time.Sleep(5 * time.Millisecond) // past DiscoveryRetryInterval
	h.signIn()
	if h.user()["isAuthenticated"] != true {
		t.Fatal("not signed in after Logto came back")
	}
}

func TestEncryptionAtRest(t *testing.T) { forEachAdapter(t, testEncryptionAtRest) }

func testEncryptionAtRest(t *testing.T, ad adapter) {
	key := []byte("0123456789abcdef0123456789abcdef")
	h := newHarness(t, ad, nil, func(c *config) { c.EncryptionKey = key })
	h.signIn()
	cookie := h.sessionCookie().Value
	raw, err := h.storage.Get(fiberlogto.StorageKeyForTest(cookie))
	if err != nil || len(raw) == 0 {
		t.Fatalf("stored record: %v", err)
	}
	if strings.Contains(string(raw), logtotest.DemoUser.Username) || strings.Contains(string(raw), "eyJ") {
		t.Fatal("stored record holds clear text")
	}
	if h.user()["isAuthenticated"] != true {
		t.Fatal("encrypted session not readable")
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
