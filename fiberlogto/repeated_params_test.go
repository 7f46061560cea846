package fiberlogto_test

// Repeated protocol parameters (RFC 6749 section 3.1: "Request and response
// parameters MUST NOT be included more than once"), on every adapter: each
// entry point that reads protocol parameters refuses a message that repeats
// one, with 400, before anything is used up, and names the parameter (never
// its values) in a WARN record.

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fiberlogto/sdk/logto"
	"github.com/fiberlogto/sdk/logtotest"
)

// callbackParams are the authorization response's parameters.
var callbackParams = []string{"code", "state", "iss", "error", "error_description", "error_uri", "session_state"}

// repeatQuery returns raw with param added once more: with the value it
// has (or "x"), or with another value ("other-value").
func repeatQuery(raw, param string, sameValue bool) string {
	u, _ := url.Parse(raw)
	v := u.Query().Get(param)
	if v == "" {
		v = "x"
		u.RawQuery += "&" + param + "=" + v // absent: twice the same new value
	}
	if !sameValue {
		v = "other-value"
	}
	u.RawQuery += "&" + param + "=" + url.QueryEscape(v)
	return u.String()
}

func TestRepeatedCallbackParameters(t *testing.T) {
	forEachAdapter(t, testRepeatedCallbackParameters)
}

func testRepeatedCallbackParameters(t *testing.T, ad adapter) {
	logs := &logCapture{}
	s := newSecHarness(t, ad, providerSetup{}, func(c *config) { c.Logger = slog.New(logs) })
	for _, param := range callbackParams {
		for _, same := range []bool{true, false} {
			name := param + "/different values"
			if same {
				name = param + "/same value"
			}
			t.Run(name, func(t *testing.T) {
				s.t = t
				cb := s.authorize(s.startSignIn("/logto/sign-in"))
				before := s.snap()
				resp, body := s.callback(repeatQuery(cb, param, same))
				s.wantStatus(resp, body, http.StatusBadRequest)
				if !strings.Contains(body, logto.ErrInvalidRequest.Error()) {
					t.Errorf("body %q does not say the request is malformed", body)
				}
				s.invariants(before, true, true, true) // N K T
				rec := logs.find(slog.LevelWarn, "fiberlogto: sign-in failed", "check=repeated parameter", "parameter="+param)
				if rec == "" {
					t.Fatalf("no WARN record naming %s; records:\n%s", param, strings.Join(logs.lines(), "\n"))
				}
				if q := mustURL(cb).Query(); strings.Contains(rec, q.Get("code")) || strings.Contains(rec, q.Get("state")) || strings.Contains(rec, "other-value") {
					t.Errorf("the record holds a parameter's value: %s", rec)
				}
				// The pending sign-in was left as it was: the genuine
				// callback completes it.
				resp, body = s.callback(cb)
				if resp.StatusCode != http.StatusFound {
					t.Fatalf("the genuine callback after the refused one = %d %.200s", resp.StatusCode, body)
				}
				if s.user()["isAuthenticated"] != true {
					t.Fatal("not signed in after the genuine callback")
				}
				s.cookie = s.sessionCookie().Value
			})
		}
	}
}

func TestRepeatedSignInParameters(t *testing.T) {
	forEachAdapter(t, testRepeatedSignInParameters)
}

func testRepeatedSignInParameters(t *testing.T, ad adapter) {
	logs := &logCapture{}
	signUpButton := route{path: "/join", signIn: &logto.SignInOptions{FirstScreen: "register"}}
	h := newHarnessWith(t, ad, nil, providerSetup{routes: []route{signUpButton}}, func(c *config) { c.Logger = slog.New(logs) })
	for _, tc := range []struct{ path, query, param string }{
		{"/logto/sign-in", "login_hint=a%40example.com&login_hint=b%40example.com", "login_hint"},
		{"/logto/sign-in", "first_screen=register&first_screen=register", "first_screen"},
		{"/logto/sign-in", "direct_sign_in=social:google&direct_sign_in=social:github", "direct_sign_in"},
		{"/logto/sign-in", "identifier=email&identifier=phone", "identifier"},
		{"/logto/sign-in", "returnTo=%2Fa&returnTo=%2Fb", "returnTo"},
		{"/logto/sign-up", "login_hint=a&login_hint=a", "login_hint"},
		{"/join", "returnTo=%2Fa&returnTo=%2Fa", "returnTo"},
	} {
		t.Run(tc.path+"?"+tc.query, func(t *testing.T) {
			h.t = t
			h.browser.Jar = newJar()
			resp, body := h.do(http.MethodGet, tc.path+"?"+tc.query, map[string]string{"Accept": "text/html"})
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Fatalf("= %d (Location %q), want 400", resp.StatusCode, resp.Header.Get("Location"))
			}
			if strings.Contains(body, "example.com") || strings.Contains(body, "google") {
				t.Errorf("the answer echoes a value: %.200s", body)
			}
			for _, c := range resp.Cookies() {
				if c.MaxAge >= 0 {
					t.Errorf("cookie %s set for a refused sign-in", c.Name)
				}
			}
			if logs.find(slog.LevelWarn, "fiberlogto: sign-in failed", "check=repeated parameter", "parameter="+tc.param) == "" {
				t.Fatalf("no WARN record naming %s", tc.param)
			}
		})
	}
	// Repeated parameters the routes do not read are not protocol
	// parameters: ignored as before.
	h.t = t
	if resp, _ := h.get("/logto/sign-in?utm_source=a&utm_source=b&login_hint=x"); resp.StatusCode != http.StatusFound {
		t.Fatalf("a repeated unrelated parameter refused the sign-in: %d", resp.StatusCode)
	}
}

func TestRepeatedLogoutToken(t *testing.T) { forEachAdapter(t, testRepeatedLogoutToken) }

func testRepeatedLogoutToken(t *testing.T, ad adapter) {
	logs := &logCapture{}
	h := newHarnessWith(t, ad, nil, backchannelSetup(false), func(c *config) { c.Logger = slog.New(logs) })
	h.signIn()
	cookie := h.sessionCookie().Value
	logoutToken := func() string {
		tok, err := h.provider.SignJWT("logout+jwt", map[string]any{
			"iss": h.provider.Issuer, "aud": h.provider.ClientID, "iat": time.Now().Unix(),
			"jti": "jti-" + time.Now().Format(time.RFC3339Nano), "sub": logtotest.DemoUser.ID,
			"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	post := func(form string) int {
		resp, err := http.Post(h.baseURL+"/logto/backchannel-logout", "application/x-www-form-urlencoded", strings.NewReader(form))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	tok := logoutToken()
	for name, form := range map[string]string{
		"same value":       "logout_token=" + tok + "&logout_token=" + tok,
		"different values": "logout_token=" + tok + "&logout_token=" + logoutToken(),
		"empty second":     "logout_token=" + tok + "&logout_token=",
	} {
		if got := post(form); got != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", name, got)
		}
	}
	if !h.sessionStored(cookie) {
		t.Fatal("a refused logout request ended the session")
	}
	if rec := logs.find(slog.LevelWarn, "fiberlogto: back-channel logout refused", "parameter=logout_token"); rec == "" || strings.Contains(rec, tok[:20]) {
		t.Fatalf("WARN record naming logout_token without its value: %q", rec)
	}
	// The same token, once, is honoured: it was not used up.
	if got := post("logout_token=" + tok); got != http.StatusOK {
		t.Fatalf("the single logout token: %d", got)
	}
	if h.sessionStored(cookie) {
		t.Fatal("the logout token did not end the session")
	}
}

// TestRepeatedAuthorizationHeader: two Authorization headers on an API
// route stay a 400 (RFC 6750 invalid_request), as before.
func TestRepeatedAuthorizationHeader(t *testing.T) {
	forEachAdapter(t, func(t *testing.T, ad adapter) {
		h := apiHarness(t, ad)
		tok, err := h.provider.UserAccessToken(testResource, "read:data")
		if err != nil {
			t.Fatal(err)
		}
		resp, _ := h.call("/api/data", "Bearer "+tok, "Bearer "+tok)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_request") {
			t.Fatalf("two Authorization headers = %d %q, want 400 invalid_request", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	})
}
