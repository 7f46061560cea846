package logtotest

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// magicParams are the authorization parameters of a magic link sign-in.
func magicParams(token, email string) authParams {
	return authParams{scope: "openid email", prompt: "login", state: "st",
		extra: url.Values{"one_time_token": {token}, "login_hint": {email}}}
}

// magicSignIn runs SignIn on a magic link's authorization request and
// returns the callback URL or the error.
func magicSignIn(t testing.TB, p *Provider, browser *http.Client, a authParams) (string, error) {
	t.Helper()
	return p.SignIn(context.Background(), browser, authorizeURL(p, a), "", "")
}

// TestOneTimeTokenSignIn: a magic link signs its user in without a
// password, once, as Logto v1.37 did (§18).
func TestOneTimeTokenSignIn(t *testing.T) {
	clk := newFakeClock()
	alice := User{ID: "alice-id", Username: "alice", Password: "alice-password", Email: "alice@example.test"}
	p := NewServer(t, Options{Clock: clk.Now, Users: []User{DemoUser, alice}})
	token := p.MustOneTimeToken(t, alice.Email, 0)
	if len(token) != 32 {
		t.Fatalf("one-time token %q, want 32 characters", token)
	}

	// The hops: /oidc/auth passes the link on to the sign-in page, which
	// goes on to /one-time-token.
	b := newBrowser(t)
	a := magicParams(token, alice.Email)
	resp, _ := doReqWith(t, b, mustGet(t, authorizeURL(p, a)))
	want := "/sign-in?app_id=test-app&one_time_token=" + token + "&login_hint=alice%40example.test"
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
		t.Fatalf("/oidc/auth: %s %q, want %q", resp.Status, resp.Header.Get("Location"), want)
	}
	resp, _ = doReqWith(t, b, mustGet(t, p.URL+want))
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/one-time-token?"+strings.TrimPrefix(want, "/sign-in?") {
		t.Fatalf("/sign-in: %s %q", resp.Status, resp.Header.Get("Location"))
	}

	p.ResetCalls()
	cb, err := magicSignIn(t, p, b, a)
	if err != nil {
		t.Fatal(err)
	}
	if p.Calls("/api/experience/verification/one-time-token/verify") != 1 || p.Calls("/api/experience/verification/password") != 0 {
		t.Fatalf("calls: verify %d, password %d", p.Calls("/api/experience/verification/one-time-token/verify"),
			p.Calls("/api/experience/verification/password"))
	}
	u, _ := url.Parse(cb)
	if !strings.HasPrefix(cb, testRedirect+"?") || u.Query().Get("state") != "st" {
		t.Fatalf("callback %s", cb)
	}
	tk := exchangeCode(t, p, u.Query().Get("code"), "", nil)
	_, c := jwtParts(t, tk.IDToken)
	if c["sub"] != alice.ID || c["email"] != alice.Email || c["email_verified"] != true ||
		c["auth_time"] != float64(clk.Now().Unix()) {
		t.Fatalf("ID token %v", c)
	}

	// The same token again, in a fresh browser: Logto's "Invalid link".
	_, err = magicSignIn(t, p, newBrowser(t), a)
	if err == nil || !strings.Contains(err.Error(), `"Invalid link. The token has been consumed."`) {
		t.Fatalf("used token: %v", err)
	}

	// Expired, another email's, unknown, incomplete.
	expired := p.MustOneTimeToken(t, alice.Email, time.Minute)
	clk.Advance(time.Minute)
	for name, c := range map[string]struct {
		a    authParams
		want string
	}{
		"expired":  {magicParams(expired, alice.Email), "Invalid link. The token is expired."},
		"mismatch": {magicParams(p.MustOneTimeToken(t, alice.Email, 0), DemoUser.Email), "Invalid link. Email mismatch with given token."},
		"unknown":  {magicParams("nope", alice.Email), "Invalid link. Token nope not found."},
		"no hint":  {authParams{scope: "openid", extra: url.Values{"one_time_token": {"x"}}}, "Invalid link. Your one-time token may have expired or is no longer valid."},
	} {
		cb, err := magicSignIn(t, p, newBrowser(t), c.a)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %q %v, want %q", name, cb, err, c.want)
		}
	}

	// An email no user has: Logto would register someone.
	_, err = magicSignIn(t, p, newBrowser(t), magicParams(p.MustOneTimeToken(t, "new@example.test", 0), "new@example.test"))
	if err == nil || !strings.Contains(err.Error(), "registration") {
		t.Fatalf("unknown email: %v", err)
	}
	if _, err := p.OneTimeToken("not-an-email", 0); err == nil {
		t.Fatal("OneTimeToken without an email address")
	}
	if _, err := p.OneTimeToken("", -time.Second); err == nil {
		t.Fatal("OneTimeToken with a negative ttl")
	}
}

// TestOneTimeTokenPages: a browser that only follows redirects (no
// script) gets through Logto's /one-time-token page, and sees its
// "Invalid link" page for a used token.
func TestOneTimeTokenPages(t *testing.T) {
	p := NewServer(t, Options{})
	token := p.MustOneTimeToken(t, "", 0)
	follow := func(b *http.Client, u string) (*http.Response, string) {
		t.Helper()
		for range 10 {
			resp, body := doReqWith(t, b, mustGet(t, u))
			loc := resp.Header.Get("Location")
			if loc == "" || strings.HasPrefix(loc, testRedirect) {
				return resp, string(body)
			}
			next, err := url.Parse(u)
			if err == nil {
				next, err = next.Parse(loc)
			}
			if err != nil {
				t.Fatal(err)
			}
			u = next.String()
		}
		t.Fatal("too many redirects")
		return nil, ""
	}
	resp, _ := follow(newBrowser(t), authorizeURL(p, magicParams(token, DemoUser.Email)))
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "code=") {
		t.Fatalf("magic link: %s %q", resp.Status, resp.Header.Get("Location"))
	}
	resp, body := follow(newBrowser(t), authorizeURL(p, magicParams(token, DemoUser.Email)))
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "<h1>Invalid link</h1>") ||
		!strings.Contains(body, "The token has been consumed.") || resp.Header.Get("Location") != "" {
		t.Fatalf("used magic link: %s %s", resp.Status, body)
	}
	resp, body = follow(newBrowser(t), authorizeURL(p, magicParams(p.MustOneTimeToken(t, "x@example.test", 0), "x@example.test")))
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "does not register users") {
		t.Fatalf("unknown email: %s %s", resp.Status, body)
	}
	// Without an interaction: Logto's unknown-session page.
	resp, _ = doReqWith(t, newBrowser(t), mustGet(t, p.URL+"/one-time-token?one_time_token=x&login_hint=a@b.test"))
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/unknown-session" {
		t.Fatalf("no interaction: %s %q", resp.Status, resp.Header.Get("Location"))
	}
}

// TestOneTimeTokenWithSession: with an SSO session, Logto's consent guard
// checks the link: the signed-in user's email must be login_hint (else
// /switch-account, whose Continue signs the link's user in), and the token
// valid or the one just used.
func TestOneTimeTokenWithSession(t *testing.T) {
	alice := User{ID: "alice-id", Username: "alice", Password: "alice-password", Email: "alice@example.test"}
	p := NewServer(t, Options{Users: []User{DemoUser, alice}})
	b := newBrowser(t)
	signIn(t, p, b, authParams{scope: "openid"}) // demo

	// Same user, consent again: the guard uses the token up.
	token := p.MustOneTimeToken(t, DemoUser.Email, 0)
	a := magicParams(token, DemoUser.Email)
	a.prompt = "consent"
	p.ResetCalls()
	if _, err := magicSignIn(t, p, b, a); err != nil {
		t.Fatal(err)
	}
	if p.Calls("/api/experience/submit") != 0 {
		t.Fatal("signed in again")
	}
	if _, err := magicSignIn(t, p, newBrowser(t), magicParams(token, DemoUser.Email)); err == nil {
		t.Fatal("the consent guard did not use the token up")
	}
	// The token used, the guard lets the same session through ...
	if _, err := magicSignIn(t, p, b, a); err != nil {
		t.Fatalf("used token with its user's session: %v", err)
	}
	// ... but not an unknown one.
	a.extra.Set("one_time_token", "nope")
	if _, err := magicSignIn(t, p, b, a); err == nil || !strings.Contains(err.Error(), "Invalid link. Token nope not found.") {
		t.Fatalf("unknown token with a session: %v", err)
	}
	// Consented already, no prompt: Logto issues the code without a look
	// at the token.
	quiet := p.MustOneTimeToken(t, DemoUser.Email, 0)
	a = magicParams(quiet, DemoUser.Email)
	a.prompt = ""
	if _, err := magicSignIn(t, p, b, a); err != nil {
		t.Fatal(err)
	}
	if _, err := magicSignIn(t, p, newBrowser(t), magicParams(quiet, DemoUser.Email)); err != nil {
		t.Fatalf("the token was used without the consent guard: %v", err)
	}

	// Another user's link: /switch-account, then alice is signed in.
	a = magicParams(p.MustOneTimeToken(t, alice.Email, 0), alice.Email)
	a.prompt = "consent"
	resp, body := doReqWith(t, b, mustGet(t, p.URL+"/switch-account?login_hint=alice%40example.test&one_time_token=t"))
	if resp.StatusCode != 200 || !strings.Contains(string(body), `href="/one-time-token?login_hint=alice%40example.test&amp;one_time_token=t"`) {
		t.Fatalf("switch-account page: %s %s", resp.Status, body)
	}
	p.ResetCalls()
	cb, err := magicSignIn(t, p, b, a)
	if err != nil {
		t.Fatal(err)
	}
	if p.Calls("/switch-account") != 0 || p.Calls("/api/experience/verification/one-time-token/verify") != 1 {
		t.Fatalf("calls: switch-account %d verify %d", p.Calls("/switch-account"), p.Calls("/api/experience/verification/one-time-token/verify"))
	}
	u, _ := url.Parse(cb)
	if _, c := jwtParts(t, exchangeCode(t, p, u.Query().Get("code"), "", nil).IDToken); c["sub"] != alice.ID {
		t.Fatalf("after switching: sub %v", c["sub"])
	}
	// The browser's session is alice's now.
	q := signIn(t, p, b, authParams{scope: "openid", prompt: "none"})
	if _, c := jwtParts(t, exchangeCode(t, p, q.Get("code"), "", nil).IDToken); c["sub"] != alice.ID {
		t.Fatalf("session of %v", c["sub"])
	}
}

// TestRecentSignIn: max_age asks for the credentials again once the
// session's sign-in is older, and the ID token's auth_time says when the
// user last signed in; prompt=login asks always, with auth_time.
func TestRecentSignIn(t *testing.T) {
	clk := newFakeClock()
	p := NewServer(t, Options{Clock: clk.Now})
	b := newBrowser(t)
	authTime := func(a authParams) (float64, bool) {
		t.Helper()
		q := signIn(t, p, b, a)
		_, c := jwtParts(t, exchangeCode(t, p, q.Get("code"), "", nil).IDToken)
		at, ok := c["auth_time"].(float64)
		return at, ok
	}
	submits := func() int { return p.Calls("/api/experience/submit") }
	maxAge := func(s string) authParams { return authParams{scope: "openid", extra: url.Values{"max_age": {s}}} }

	t0 := clk.Now().Unix()
	if at, ok := authTime(maxAge("600")); !ok || at != float64(t0) || submits() != 1 {
		t.Fatalf("first sign-in: auth_time %v %v, submits %d", at, ok, submits())
	}
	// Without max_age or prompt=login: no auth_time.
	if _, ok := authTime(authParams{scope: "openid"}); ok {
		t.Fatal("auth_time without max_age")
	}
	// Within max_age: the session's sign-in, no credentials asked.
	clk.Advance(600 * time.Second)
	if at, ok := authTime(maxAge("600")); !ok || at != float64(t0) || submits() != 1 {
		t.Fatalf("within max_age: auth_time %v, submits %d", at, submits())
	}
	// Older: the sign-in page again, then a new auth_time.
	clk.Advance(time.Second)
	resp, _ := doReqWith(t, b, mustGet(t, authorizeURL(p, maxAge("600"))))
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/sign-in?") {
		t.Fatalf("stale session: %s %q", resp.Status, resp.Header.Get("Location"))
	}
	t1 := clk.Now().Unix()
	if at, ok := authTime(maxAge("600")); !ok || at != float64(t1) || submits() != 2 {
		t.Fatalf("after re-authentication: auth_time %v (want %d), submits %d", at, t1, submits())
	}
	// max_age=0: met within the second of the sign-in only.
	if at, _ := authTime(maxAge("0")); at != float64(t1) || submits() != 2 {
		t.Fatalf("max_age=0 in the same second: auth_time %v, submits %d", at, submits())
	}
	clk.Advance(time.Second)
	if at, _ := authTime(maxAge("0")); at != float64(t1+1) || submits() != 3 {
		t.Fatalf("max_age=0 a second later: auth_time %v, submits %d", at, submits())
	}
	// prompt=none with a stale session: login_required.
	clk.Advance(time.Hour)
	cb, err := p.SignIn(context.Background(), b, authorizeURL(p, authParams{scope: "openid", prompt: "none",
		extra: url.Values{"max_age": {"60"}}}), "", "")
	if err != nil || !strings.Contains(cb, "error=login_required") {
		t.Fatalf("prompt=none, stale: %q %v", cb, err)
	}
	// prompt=login: credentials always, auth_time too.
	if at, ok := authTime(authParams{scope: "openid", prompt: "login"}); !ok || at != float64(clk.Now().Unix()) || submits() != 4 {
		t.Fatalf("prompt=login: auth_time %v %v, submits %d", at, ok, submits())
	}
	// A refresh keeps the sign-in's auth_time.
	q := signIn(t, p, b, authParams{scope: "openid offline_access", prompt: "consent", extra: url.Values{"max_age": {"3600"}}})
	tk := exchangeCode(t, p, q.Get("code"), "", nil)
	clk.Advance(time.Minute)
	if _, c := jwtParts(t, refreshOK(t, p, tk.RefreshToken, nil).IDToken); c["auth_time"] != float64(clk.Now().Unix()-60) {
		t.Fatalf("refreshed ID token auth_time %v", c["auth_time"])
	}
}
