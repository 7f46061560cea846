package fiberlogto_test

// Operable in production (issue 13): the log records, the OnSignIn hook and
// the sign-in options a link may choose, on both adapters, over HTTP.

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fiberlogto/sdk/fiberlogto"
	"github.com/fiberlogto/sdk/logto"
	"github.com/fiberlogto/sdk/logtotest"
	"github.com/fiberlogto/sdk/storage/memory"
)

// logCapture is a slog handler that keeps every record, at every level.
type logCapture struct {
	mu      sync.Mutex
	records []slog.Record
}

func (l *logCapture) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCapture) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, r.Clone())
	return nil
}
func (l *logCapture) WithAttrs(as []slog.Attr) slog.Handler { return l }
func (l *logCapture) WithGroup(string) slog.Handler         { return l }

// lines is every record as "LEVEL message k=v k=v", in order.
func (l *logCapture) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.records {
		var b strings.Builder
		b.WriteString(r.Level.String() + " " + r.Message)
		r.Attrs(func(a slog.Attr) bool {
			b.WriteString(" " + a.Key + "=" + a.Value.String())
			return true
		})
		out = append(out, b.String())
	}
	return out
}

// find returns the first record with msg at level (and every attribute of
// want), or "".
func (l *logCapture) find(level slog.Level, msg string, want ...string) string {
	for _, line := range l.lines() {
		if !strings.HasPrefix(line, level.String()+" "+msg) {
			continue
		}
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(line, " "+w)
		}
		if ok {
			return line
		}
	}
	return ""
}

// TestLogsNeverHoldSecrets runs every flow that logs (sign-in with
// per-request options, userinfo, access and organization tokens, a
// refresh, a failed callback, a bearer token, sign-out, a back-channel
// logout), collects every record at every level, and finds in none of them
// a token, the code, the app secret, a cookie's value or a session ID; and
// finds the record each event should leave.
func TestLogsNeverHoldSecrets(t *testing.T) { forEachAdapter(t, testLogsNeverHoldSecrets) }

func testLogsNeverHoldSecrets(t *testing.T, ad adapter) {
	capture := &logCapture{}
	setup := backchannelSetup(true)
	setup.routes = append([]route{
		{path: "/info", fetch: &logto.FetchOptions{UserInfo: true, AccessToken: true, Resource: testResource, OrganizationTokens: true}, answer: answerUser},
	}, apiRoutes[:1]...)
	h := newHarnessWith(t, ad, nil, setup, func(c *config) {
		c.Logger = slog.New(capture)
		c.GetAccessToken = true
	})
	var secrets []string
	keep := func(what, s string) {
		if len(s) >= 8 {
			secrets = append(secrets, what+"\x00"+s)
		}
	}
	keep("app secret", h.provider.ClientSecret)

	// A sign-in, remembering what crossed the browser.
	authURL := h.startSignIn("/logto/sign-in?login_hint=demo&first_screen=sign_in")
	keep("state", authURL.Query().Get("state"))
	keep("nonce", authURL.Query().Get("nonce"))
	for _, c := range h.browser.Jar.Cookies(mustURL(h.baseURL + "/logto/")) {
		keep("sign-in cookie", c.Value)
	}
	cb := h.authorize(authURL)
	keep("code", mustURL(cb).Query().Get("code"))
	if resp, body := h.get(cb); resp.StatusCode != http.StatusFound {
		t.Fatalf("callback: %d %s", resp.StatusCode, body)
	}
	session := h.sessionCookie().Value
	keep("session ID", session)
	keep("refresh token", fiberlogto.RefreshTokenForTest(h.storage, session))
	keep("opaque access token", fiberlogto.AccessTokenForTest(h.storage, session, ""))

	// Userinfo, a resource token, organization tokens; then a refresh.
	if resp, body := h.do(http.MethodGet, "/info", map[string]string{"Accept": "application/json"}); resp.StatusCode != http.StatusOK {
		t.Fatalf("/info: %d %s", resp.StatusCode, body)
	}
	keep("resource token", fiberlogto.AccessTokenForTest(h.storage, session, "r:"+testResource))
	keep("organization token", fiberlogto.AccessTokenForTest(h.storage, session, "o:demo-org"))
	h.clock.Advance(2 * time.Hour)
	h.user()
	keep("refreshed access token", fiberlogto.AccessTokenForTest(h.storage, session, "r:"+testResource))
	h.clock.Advance(-2 * time.Hour) // back to the provider's time, for the logout token's iat

	// A failed callback, and a bearer token.
	bad := editQuery(h.authorize(h.startSignIn("/logto/sign-in")), func(q url.Values) { q.Set("iss", "https://evil.example/oidc") })
	keep("second code", mustURL(bad).Query().Get("code"))
	h.get(bad)
	bearer := mint(h.provider.UserAccessToken(testResource, "read:data"))
	keep("bearer token", bearer)
	h.call("/api/data", "Bearer "+bearer)
	h.call("/api/data", "Bearer "+bearer+"x")

	// Sign-out (the ID token leaves in its redirect), then a second
	// session ended by a back-channel logout.
	resp, _ := h.get("/logto/sign-out")
	keep("ID token", mustURL(resp.Header.Get("Location")).Query().Get("id_token_hint"))
	h.signIn()
	keep("second session ID", h.sessionCookie().Value)
	h.endLogtoSession()

	lines := capture.lines()
	if len(lines) < 8 {
		t.Fatalf("only %d records:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for _, line := range lines {
		for _, s := range secrets {
			what, value, _ := strings.Cut(s, "\x00")
			if strings.Contains(line, value) || strings.Contains(line, url.QueryEscape(value)) {
				t.Errorf("a record holds the %s: %s", what, line)
			}
		}
	}
	for _, want := range []struct {
		level slog.Level
		msg   string
		attrs []string
	}{
		{slog.LevelDebug, "fiberlogto: sign-in started", []string{"first_screen=sign_in"}},
		{slog.LevelInfo, "fiberlogto: sign-in succeeded", []string{"sub=" + logtotest.DemoUser.ID, "session="}},
		{slog.LevelDebug, "fiberlogto: refresh succeeded", []string{"session="}},
		{slog.LevelWarn, "fiberlogto: sign-in failed", []string{"status=400", "check=iss"}},
		{slog.LevelInfo, "fiberlogto: signed out", []string{"sub=" + logtotest.DemoUser.ID}},
		{slog.LevelInfo, "fiberlogto: back-channel logout", []string{"by=sid", "sessions=1"}},
	} {
		if capture.find(want.level, want.msg, want.attrs...) == "" {
			t.Errorf("no %s record %q with %v in:\n%s", want.level, want.msg, want.attrs, strings.Join(lines, "\n"))
		}
	}
	t.Logf("%d records, none holding any of %d secrets; e.g.\n%s", len(lines), len(secrets), strings.Join(lines[:min(len(lines), 6)], "\n"))
}

// TestLogTokenEndpointFailures: the callback's record says what failed: an
// ID token check names its claim (a wrong app secret:
// TestMistakeWrongAppSecret).
func TestLogTokenEndpointFailures(t *testing.T) { forEachAdapter(t, testLogTokenEndpointFailures) }

func testLogTokenEndpointFailures(t *testing.T, ad adapter) {
	t.Run("an ID token claim", func(t *testing.T) {
		capture := &logCapture{}
		h := newHarnessWith(t, ad, nil, providerSetup{before: func(p *logtotest.Provider) {
			p.Misbehave(logtotest.Misbehavior{IDToken: func(_, c map[string]any) { c["aud"] = "another-app" }})
		}}, func(c *config) { c.Logger = slog.New(capture) })
		h.get(h.authorize(h.startSignIn("/logto/sign-in")))
		if capture.find(slog.LevelWarn, "fiberlogto: sign-in failed", "status=400", "check=id_token.aud") == "" {
			t.Fatalf("no record naming the claim:\n%s", strings.Join(capture.lines(), "\n"))
		}
	})
}

// TestOnSignIn: the hook sees the verified user before the session is
// stored; an error or a panic refuses the sign-in (403, no session, the
// new grant revoked, a record).
func TestOnSignIn(t *testing.T) { forEachAdapter(t, testOnSignIn) }

func testOnSignIn(t *testing.T, ad adapter) {
	t.Run("lets the sign-in go on", func(t *testing.T) {
		var seen []string
		h := newHarness(t, ad, nil, func(c *config) {
			c.OnSignIn = func(user *logto.UserContext) error {
				seen = append(seen, user.Subject+" "+user.IDTokenClaims().Subject)
				return nil
			}
		})
		h.signIn()
		if h.user()["isAuthenticated"] != true || len(seen) != 1 || seen[0] != logtotest.DemoUser.ID+" "+logtotest.DemoUser.ID {
			t.Fatalf("hook saw %v", seen)
		}
	})
	for name, hook := range map[string]func(*logto.UserContext) error{
		"an error": func(*logto.UserContext) error { return errors.New("account suspended") },
		"a panic":  func(*logto.UserContext) error { panic("the app's bug") },
	} {
		t.Run("refuses with "+name, func(t *testing.T) {
			capture := &logCapture{}
			rs := newRecordingStorage(memory.New())
			h := newHarness(t, ad, rs, func(c *config) {
				c.OnSignIn = hook
				c.Logger = slog.New(capture)
			})
			revocations := h.provider.Calls("revocation")
			resp, body := h.do(http.MethodGet, h.authorize(h.startSignIn("/logto/sign-in")), map[string]string{"Accept": "application/json"})
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "sign-in was refused") {
				t.Fatalf("refused sign-in: %d %s", resp.StatusCode, body)
			}
			if rs.setCount("session") != 0 || h.sessionCookie() != nil {
				t.Fatal("a session was stored for a refused sign-in")
			}
			if h.provider.Calls("revocation") != revocations+1 {
				t.Fatal("the new refresh token was not revoked")
			}
			level := slog.LevelWarn
			if name == "a panic" {
				level = slog.LevelError
			}
			if capture.find(level, "fiberlogto: sign-in refused by OnSignIn", "sub="+logtotest.DemoUser.ID) == "" {
				t.Fatalf("no record of the refusal:\n%s", strings.Join(capture.lines(), "\n"))
			}
		})
	}
}

// TestSignInOptionsFromTheLink: /logto/sign-in forwards exactly the Logto
// parameters a link may choose, checked; nothing else; and SignIn(opts)
// routes use their fixed options only.
func TestSignInOptionsFromTheLink(t *testing.T) { forEachAdapter(t, testSignInOptionsFromTheLink) }

func testSignInOptionsFromTheLink(t *testing.T, ad adapter) {
	h := newHarnessWith(t, ad, nil, providerSetup{routes: []route{
		{path: "/join", signIn: &logto.SignInOptions{FirstScreen: "register", LoginHint: "new@example.test"}},
	}})
	base := h.startSignIn("/logto/sign-in").Query()
	params := func(path string) url.Values {
		t.Helper()
		q := h.startSignIn(path).Query()
		for _, k := range []string{"state", "nonce", "code_challenge"} {
			q.Del(k)
		}
		return q
	}
	standard := url.Values{}
	for k, v := range base {
		if k != "state" && k != "nonce" && k != "code_challenge" {
			standard[k] = v
		}
	}
	for _, tc := range []struct {
		name, query string
		want        map[string]string // the parameters added to the standard ones
	}{
		{"nothing", "", nil},
		{"all four, valid", "first_screen=register&login_hint=a%40b.test&direct_sign_in=social:google&identifier=email,phone",
			map[string]string{"first_screen": "register", "login_hint": "a@b.test", "direct_sign_in": "social:google", "identifier": "email phone"}},
		{"sso", "direct_sign_in=sso:abc-123", map[string]string{"direct_sign_in": "sso:abc-123"}},
		{"invalid values", "first_screen=admin&direct_sign_in=magic:x&identifier=email,password&login_hint=" + url.QueryEscape("a\nb"), nil},
		{"parameters no link may choose", "prompt=login&scope=admin&resource=https://evil.example&client_id=x&redirect_uri=https://evil.example&foo=bar&interaction_mode=signUp", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := params("/logto/sign-in?" + tc.query)
			want := url.Values{}
			for k, v := range standard {
				want[k] = v
			}
			for k, v := range tc.want {
				want.Set(k, v)
			}
			if got.Encode() != want.Encode() {
				t.Fatalf("authorize query\n got %s\nwant %s", got.Encode(), want.Encode())
			}
		})
	}
	t.Run("a route of the app's own", func(t *testing.T) {
		got := params("/join?first_screen=sign_in&login_hint=other&returnTo=/after")
		if got.Get("first_screen") != "register" || got.Get("login_hint") != "new@example.test" {
			t.Fatalf("SignIn(opts) forwarded %v", got)
		}
	})
}

// TestLogLastingFailures: while discovery fails, its record is written once
// (not once per request), then once when it recovers.
func TestLogLastingFailures(t *testing.T) { forEachAdapter(t, testLogLastingFailures) }

func testLogLastingFailures(t *testing.T, ad adapter) {
	capture := &logCapture{}
	down := providerSetup{before: func(p *logtotest.Provider) { p.SetDown(true) }}
	h := newHarnessWith(t, ad, nil, down, func(c *config) {
		c.DiscoveryRetryInterval = time.Millisecond
		c.Logger = slog.New(capture)
	})
	for i := 0; i < 10; i++ {
		if resp, _ := h.do(http.MethodGet, "/logto/sign-in", map[string]string{"Accept": "application/json"}); resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("sign-in while Logto is down: %d", resp.StatusCode)
		}
		time.Sleep(2 * time.Millisecond) // past DiscoveryRetryInterval: every request tries again
	}
	count := func(msg string) int {
		n := 0
		for _, line := range capture.lines() {
			if strings.Contains(line, msg) {
				n++
			}
		}
		return n
	}
	if n := count("fiberlogto: discovery failed"); n != 1 {
		t.Fatalf("%d discovery failure records for 10 failed sign-ins, want 1:\n%s", n, strings.Join(capture.lines(), "\n"))
	}
	if n := count("fiberlogto: provider error"); n != 0 {
		t.Fatalf("%d provider error records: discovery failures are logged by discovery only", n)
	}
	h.provider.SetDown(false)
	time.Sleep(2 * time.Millisecond)
	h.startSignIn("/logto/sign-in")
	if capture.find(slog.LevelInfo, "fiberlogto: discovery succeeded") == "" {
		t.Fatalf("no record of the recovery:\n%s", strings.Join(capture.lines(), "\n"))
	}
}
