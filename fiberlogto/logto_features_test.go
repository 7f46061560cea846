package fiberlogto_test

// Logto features no SDK offered (issue 21), on every adapter, against the
// in-process provider: magic links (one-time tokens), token exchange
// (impersonation, with and without an actor), personal access tokens on
// API routes, the actor claim, and recent sign-in.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fiberlogto/sdk/logto"
	"github.com/fiberlogto/sdk/logtotest"
)

// secondUser is another user of the provider: a support agent who acts
// for DemoUser.
var secondUser = logtotest.User{
	ID: "agent-user-id", Username: "agent", Password: "agent-password", Name: "Support Agent",
	Email: "agent@example.test", EmailVerified: true,
	ResourceScopes: map[string][]string{testResource: {"read:data"}},
}

// exchangeSetup lets the app exchange tokens, with two users.
var exchangeSetup = providerSetup{options: func(o *logtotest.Options) {
	o.AllowTokenExchange = true
	o.Users = []logtotest.User{logtotest.DemoUser, secondUser}
}}

// TestMagicLinkSignIn: a sign-in link carrying a one-time token and its
// email signs the user in without a password; the same link again ends on
// Logto's invalid-link page, and the app gets no callback.
func TestMagicLinkSignIn(t *testing.T) { forEachAdapter(t, testMagicLinkSignIn) }

func testMagicLinkSignIn(t *testing.T, ad adapter) {
	h := newHarness(t, ad, nil)
	email := logtotest.DemoUser.Email
	ott := h.provider.MustOneTimeToken(t, email, 10*time.Minute)
	link := "/logto/sign-in?one_time_token=" + url.QueryEscape(ott) + "&login_hint=" + url.QueryEscape(email)
	authURL := h.startSignIn(link)
	if q := authURL.Query(); q.Get("one_time_token") != ott || q.Get("login_hint") != email {
		t.Fatalf("the authorization request lacks the one-time token or its email: %s", authURL)
	}
	cb, err := h.provider.SignIn(context.Background(), h.browser, authURL.String(), "", "")
	if err != nil {
		t.Fatalf("magic-link sign-in at the provider: %v", err)
	}
	if resp, body := h.get(cb); resp.StatusCode != http.StatusFound {
		t.Fatalf("callback = %d %s", resp.StatusCode, body)
	}
	if u := h.user(); u["isAuthenticated"] != true || claimsOf(t, u)["sub"] != logtotest.DemoUser.ID {
		t.Fatalf("after the magic link: %v", u)
	}
	// The token is used up.
	h.browser.Jar = newJar()
	if _, err := h.provider.SignIn(context.Background(), h.browser, h.startSignIn(link).String(), "", ""); err == nil || !strings.Contains(err.Error(), "nvalid link") {
		t.Fatalf("the same magic link again: %v, want Logto's invalid-link page", err)
	}
	// A malformed token is not forwarded.
	if authURL := h.startSignIn("/logto/sign-in?one_time_token=%3Cscript%3E&login_hint=x"); authURL.Query().Has("one_time_token") {
		t.Fatalf("a malformed one-time token was forwarded: %s", authURL)
	}
}

// TestTokenExchange: a support tool exchanges an impersonation subject
// token for an access token of the user, as itself or with the signed-in
// agent as actor (act); Logto's refusals come back named.
func TestTokenExchange(t *testing.T) { forEachAdapter(t, testTokenExchange) }

func testTokenExchange(t *testing.T, ad adapter) {
	var req logto.TokenExchangeRequest
	var mu sync.Mutex
	set := func(r logto.TokenExchangeRequest) { mu.Lock(); req = r; mu.Unlock() }
	routes := []route{{path: "/support/exchange", answer: answerExchange, with: func() logto.TokenExchangeRequest {
		mu.Lock()
		defer mu.Unlock()
		return req
	}}}
	setup := exchangeSetup
	setup.routes = routes
	capture := &logCapture{}
	h := newHarnessWith(t, ad, nil, setup, func(c *config) { c.Logger = slog.New(capture) })
	call := func() (int, map[string]any) {
		t.Helper()
		resp, body := h.do(http.MethodGet, "/support/exchange", map[string]string{"Accept": "application/json"})
		var m map[string]any
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatalf("exchange answer %d %q: %v", resp.StatusCode, body, err)
		}
		return resp.StatusCode, m
	}
	claimsAnswer := func(m map[string]any) map[string]any {
		c, _ := m["claims"].(map[string]any)
		return c
	}

	// Without an actor.
	subject := h.provider.MustSubjectToken(t, logtotest.DemoUser.ID)
	set(logto.TokenExchangeRequest{SubjectToken: subject, Resource: testResource, Scopes: []string{"read:data"}})
	status, m := call()
	if c := claimsAnswer(m); status != http.StatusOK || c["subject"] != logtotest.DemoUser.ID || c["actor"] != nil || m["accessToken"] == "" {
		t.Fatalf("exchange without an actor: %d %v", status, m)
	}
	// A subject token is single use.
	if status, m := call(); status != http.StatusBadRequest || m["error"] != logto.ErrSubjectTokenInvalid.Error() {
		t.Fatalf("a used subject token: %d %v, want 400 ErrSubjectTokenInvalid", status, m)
	}
	if capture.find(slog.LevelWarn, "fiberlogto: token exchange failed", "oauth_error=invalid_grant") == "" {
		t.Fatalf("no record of the refusal:\n%s", strings.Join(capture.lines(), "\n"))
	}

	// With the signed-in agent as actor.
	h.browser.Jar = newJar()
	cb, err := h.provider.SignIn(context.Background(), h.browser, h.startSignIn("/logto/sign-in").String(), secondUser.Username, secondUser.Password)
	if err != nil {
		t.Fatal(err)
	}
	h.get(cb)
	set(logto.TokenExchangeRequest{SubjectToken: h.provider.MustSubjectToken(t, logtotest.DemoUser.ID), Resource: testResource, SignedInUserActs: true})
	if status, m := call(); status != http.StatusOK || claimsAnswer(m)["subject"] != logtotest.DemoUser.ID || claimsAnswer(m)["actor"] != secondUser.ID {
		t.Fatalf("exchange with the agent as actor: %d %v", status, m)
	}
	// An actor must be signed in.
	h.browser.Jar = newJar()
	set(logto.TokenExchangeRequest{SubjectToken: h.provider.MustSubjectToken(t, logtotest.DemoUser.ID), Resource: testResource, SignedInUserActs: true})
	if status, m := call(); status != http.StatusUnauthorized || m["error"] != logto.ErrNotAuthenticated.Error() {
		t.Fatalf("SignedInUserActs while anonymous: %d %v", status, m)
	}
	// A resource Logto does not know is the app's mistake.
	set(logto.TokenExchangeRequest{SubjectToken: h.provider.MustSubjectToken(t, logtotest.DemoUser.ID), Resource: "https://unknown.example.test"})
	if status, m := call(); status != http.StatusInternalServerError || m["error"] != logto.ErrConfig.Error() {
		t.Fatalf("an unknown resource: %d %v", status, m)
	}
}

// TestTokenExchangeNotAllowed: Logto's "not allowed for this client" comes
// back as ErrTokenExchangeNotAllowed, naming the setting.
func TestTokenExchangeNotAllowed(t *testing.T) { forEachAdapter(t, testTokenExchangeNotAllowed) }

func testTokenExchangeNotAllowed(t *testing.T, ad adapter) {
	var subject string
	capture := &logCapture{}
	h := newHarnessWith(t, ad, nil, providerSetup{routes: []route{{path: "/support/exchange", answer: answerExchange, with: func() logto.TokenExchangeRequest {
		return logto.TokenExchangeRequest{SubjectToken: subject, Resource: testResource}
	}}}}, func(c *config) { c.Logger = slog.New(capture) })
	subject = h.provider.MustSubjectToken(t, logtotest.DemoUser.ID)
	resp, body := h.do(http.MethodGet, "/support/exchange", nil)
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(body, logto.ErrTokenExchangeNotAllowed.Error()) {
		t.Fatalf("exchange for an app not allowed to: %d %s", resp.StatusCode, body)
	}
	if line := capture.find(slog.LevelWarn, "fiberlogto: token exchange failed"); !strings.Contains(capture.find(slog.LevelError, "fiberlogto:"), "allowTokenExchange") && !strings.Contains(line, "allowTokenExchange") {
		t.Fatalf("no record naming the setting:\n%s", strings.Join(capture.lines(), "\n"))
	}
}

// patRoute takes users' tokens and their personal access tokens.
var patRoute = route{path: "/api/pat", bearer: &logto.AccessTokenOptions{Resource: testResource, Scopes: []string{"read:data"}, PersonalAccessTokens: true}, answer: answerClaims}

// TestPersonalAccessTokens: an API route that accepts personal access
// tokens exchanges one at Logto once (cached until the issued token
// expires, one exchange for concurrent requests) and applies the route's
// checks; a refused one is remembered; a flood of made-up ones makes a
// bounded number of calls to Logto; no token reaches the log.
func TestPersonalAccessTokens(t *testing.T) { forEachAdapter(t, testPersonalAccessTokens) }

func testPersonalAccessTokens(t *testing.T, ad adapter) {
	setup := exchangeSetup
	setup.routes = []route{patRoute, apiRoutes[0]}
	capture := &logCapture{}
	h := newHarnessWith(t, ad, nil, setup, func(c *config) { c.Logger = slog.New(capture) })
	pat := h.provider.MustPersonalAccessToken(t, logtotest.DemoUser.ID, "ci", 0)
	tokenCalls := func() int { return h.provider.Calls("token") }

	before := tokenCalls()
	var wg sync.WaitGroup
	statuses := make([]int, 10)
	for i := range statuses {
		wg.Go(func() {
			resp, _ := h.call("/api/pat", "Bearer "+pat)
			statuses[i] = resp.StatusCode
		})
	}
	wg.Wait()
	for _, s := range statuses {
		if s != http.StatusOK {
			t.Fatalf("a personal access token: %v", statuses)
		}
	}
	resp, body := h.call("/api/pat", "Bearer "+pat)
	var c claimsAnswer
	_ = json.Unmarshal([]byte(body), &c)
	if resp.StatusCode != http.StatusOK || c.Subject != logtotest.DemoUser.ID {
		t.Fatalf("a personal access token: %d %s", resp.StatusCode, body)
	}
	if got := tokenCalls() - before; got != 1 {
		t.Fatalf("11 requests with one personal access token made %d exchanges, want 1", got)
	}
	// Not on a route that does not take them.
	if resp, _ := h.call("/api/data", "Bearer "+pat); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a personal access token on a route without PersonalAccessTokens: %d", resp.StatusCode)
	}

	// A refused token is remembered.
	bogus := "pat_" + strings.Repeat("x", 32)
	before = tokenCalls()
	for i := 0; i < 5; i++ {
		if resp, _ := h.call("/api/pat", "Bearer "+bogus); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("a bogus personal access token: %d", resp.StatusCode)
		}
	}
	if got := tokenCalls() - before; got != 1 {
		t.Fatalf("5 requests with one refused token made %d exchanges, want 1", got)
	}

	// A flood of distinct made-up tokens: the rate limit bounds the calls.
	before = tokenCalls()
	refused, unavailable := 0, 0
	for i := 0; i < 100; i++ {
		resp, _ := h.call("/api/pat", "Bearer "+fmt.Sprintf("pat_flood%032d", i))
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			refused++
		case http.StatusServiceUnavailable:
			unavailable++
		default:
			t.Fatalf("a made-up personal access token: %d", resp.StatusCode)
		}
	}
	if got := tokenCalls() - before; got > 30 || unavailable == 0 {
		t.Fatalf("100 made-up tokens made %d exchanges (%d refused, %d answered 503), want at most 30 and the rest 503", got, refused, unavailable)
	}
	for _, line := range capture.lines() {
		if strings.Contains(line, pat[4:]) || strings.Contains(line, "flood0") {
			t.Fatalf("a record holds a personal access token: %s", line)
		}
	}
}

// TestActorClaim: the act claim reaches AccessTokenClaims.Actor, and a
// route with RefuseImpersonation refuses such a token.
func TestActorClaim(t *testing.T) { forEachAdapter(t, testActorClaim) }

func testActorClaim(t *testing.T, ad adapter) {
	refusing := route{path: "/api/no-impersonation", bearer: &logto.AccessTokenOptions{Resource: testResource, RefuseImpersonation: true}, answer: answerClaims}
	h := newHarnessWith(t, ad, nil, providerSetup{routes: []route{refusing, apiRoutes[0]}})
	acting := h.provider.MustMintAccessToken(t, logtotest.AccessToken{Audience: testResource, Scopes: []string{"read:data"},
		Subject: logtotest.DemoUser.ID, Edit: func(_, c map[string]any) { c["act"] = map[string]any{"sub": "agent-user-id"} }})
	resp, body := h.call("/api/data", "Bearer "+acting)
	var m map[string]any
	_ = json.Unmarshal([]byte(body), &m)
	if resp.StatusCode != http.StatusOK || m["actor"] != "agent-user-id" || m["subject"] != logtotest.DemoUser.ID {
		t.Fatalf("a token with act: %d %s", resp.StatusCode, body)
	}
	if resp, _ := h.call("/api/no-impersonation", "Bearer "+acting); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("an impersonation token on a route refusing them: %d", resp.StatusCode)
	}
	plain := h.provider.MustUserAccessToken(t, testResource, "read:data")
	if resp, _ := h.call("/api/no-impersonation", "Bearer "+plain); resp.StatusCode != http.StatusOK {
		t.Fatalf("a user's own token on a route refusing impersonation: %d", resp.StatusCode)
	}
}

// TestRecentSignIn: a route behind RequireRecentSignIn sends a session
// without a recent auth_time through sign-in with max_age and back; an API
// call gets 401 saying so; once the sign-in is older than maxAge, Logto
// asks for the credentials again.
func TestRecentSignIn(t *testing.T) { forEachAdapter(t, testRecentSignIn) }

func testRecentSignIn(t *testing.T, ad adapter) {
	// Two seconds, and real time: the provider's clock and the ID token
	// checks' (zitadel's, on time.Now) must move together.
	sensitive := route{path: "/account/security", recent: 2 * time.Second, answer: answerText, with: "security settings"}
	capture := &logCapture{}
	defer func() {
		if t.Failed() {
			t.Log(strings.Join(capture.lines(), "\n"))
		}
	}()
	h := newHarnessWith(t, ad, nil, providerSetup{routes: []route{sensitive}}, func(c *config) {
		c.Logger = slog.New(capture)
		c.ClockSkew = time.Second // the leeway auth_time gets too
	})
	h.signIn() // no max_age: the ID token has no auth_time, which counts as old
	resp, body := h.do(http.MethodGet, "/account/security", map[string]string{"Accept": "application/json"})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, logto.ErrRecentSignInRequired.Error()) || resp.Header.Get("WWW-Authenticate") != "" {
		t.Fatalf("an API call without a recent sign-in: %d %s", resp.StatusCode, body)
	}
	goThrough := func() {
		t.Helper()
		resp, _ := h.do(http.MethodGet, "/account/security", map[string]string{"Accept": "text/html"})
		want := h.baseURL + "/logto/sign-in?returnTo=%2Faccount%2Fsecurity&max_age=2"
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
			t.Fatalf("a page without a recent sign-in: %d %q, want %q", resp.StatusCode, resp.Header.Get("Location"), want)
		}
		authURL := h.startSignIn(resp.Header.Get("Location"))
		if authURL.Query().Get("max_age") != "2" {
			t.Fatalf("the authorization request lacks max_age: %s", authURL)
		}
		cb := h.authorize(authURL)
		back, body := h.get(cb)
		if back.StatusCode != http.StatusFound || back.Header.Get("Location") != h.baseURL+"/account/security" {
			t.Fatalf("callback = %d %q %s", back.StatusCode, back.Header.Get("Location"), body)
		}
		if resp, body := h.get("/account/security"); resp.StatusCode != http.StatusOK || body != "security settings" {
			t.Fatalf("after the recent sign-in: %d %s", resp.StatusCode, body)
		}
	}
	goThrough()
	if auth, _ := claimsOf(t, h.user())["auth_time"].(float64); auth == 0 {
		t.Fatal("the new session's claims have no auth_time")
	}
	// A few seconds on, the sign-in is too old again, and Logto asks for
	// the credentials (h.authorize types them in).
	time.Sleep(3500 * time.Millisecond)
	interactions := h.provider.Calls("/api/experience/verification/password")
	goThrough()
	if h.provider.Calls("/api/experience/verification/password") == interactions {
		t.Error("Logto did not ask for the credentials again")
	}
}
