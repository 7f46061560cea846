// Package tutorialtest is the tutorial app's behaviour tests, written once
// for every framework: each example runs them on its own app with
//
//	func TestTutorial(t *testing.T) { tutorialtest.Run(t, newApp) }
//
// They serve the app over real HTTP on 127.0.0.1 with its embedded provider
// (as `go run ./example` does) and check what a user and an API client see:
// the routes, their JSON and headers, sign-in and sign-out, the session
// storages, and how a bad environment is refused. What each example shares
// beyond its app (the configuration, the provider, the storages) is tested
// once, in package tutorial.
package tutorialtest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fiberlogto/sdk/example/internal/tutorial"
	"github.com/fiberlogto/sdk/internal/testenv"
	"github.com/fiberlogto/sdk/logtotest"
)

// Run runs every behaviour test on the app newApp builds, each as a subtest
// named after what it checks (go test -run 'TestTutorial/SignInFlow/sqlite').
func Run[S any](t *testing.T, newApp tutorial.NewApp[S]) {
	ex := example{
		open: func(cfg tutorial.Config) (tutorial.App, func(), error) { return tutorial.Open(cfg, newApp) },
		run: func(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
			return tutorial.Run(ctx, getenv, stdout, newApp)
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, ex) })
	}
}

// tests are the behaviour tests, in the order Run runs them.
var tests = []struct {
	name string
	fn   func(*testing.T, example)
}{
	{"SignInFlow", signInFlow},
	{"SessionsAcrossRestart", sessionsAcrossRestart},
	{"SharedSessionsAcrossInstances", sharedSessionsAcrossInstances},
	{"SharedStorageUnreachable", sharedStorageUnreachable},
	{"EncryptedSessionsNeedTheKey", encryptedSessionsNeedTheKey},
	{"AccessTokenWithoutResource", accessTokenWithoutResource},
	{"OrganizationTokenWithoutScope", organizationTokenWithoutScope},
	{"APIRoutes", apiRoutes},
	{"PersonalAccessTokens", personalAccessTokens},
	{"RecentSignIn", recentSignIn},
	{"LoopbackAliasRedirect", loopbackAliasRedirect},
	{"RunRejectsBadEnvironment", runRejectsBadEnvironment},
	{"RunServesAndShutsDown", runServesAndShutsDown},
}

// example is one framework's app, as the tests start it.
type example struct {
	// open builds the app for cfg on its session storage (tutorial.Open).
	open func(cfg tutorial.Config) (app tutorial.App, closeStorage func(), err error)
	// run is tutorial.Run with the app: what the example's main does.
	run func(ctx context.Context, getenv func(string) string, stdout io.Writer) error
}

// testKey is a valid SESSION_ENCRYPTION_KEY (32 bytes).
var testKey = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))

// sharedStorageEnv is the environment of SESSION_STORAGE=redis or
// postgres against the test servers, with encrypted records.
func sharedStorageEnv(t *testing.T, storage string) map[string]string {
	t.Helper()
	env := map[string]string{"SESSION_STORAGE": storage, "SESSION_ENCRYPTION_KEY": testKey}
	switch storage {
	case tutorial.StorageRedis:
		env["REDIS_URL"] = testenv.ServerURL(t, "REDIS_URL", "Redis")
	case tutorial.StoragePostgres:
		env["DATABASE_URL"] = testenv.ServerURL(t, "DATABASE_URL", "PostgreSQL")
	default:
		t.Fatalf("not a shared storage: %s", storage)
	}
	return env
}

// envOf turns a map into a getenv function.
func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// running is one instance of the example served over real HTTP on
// 127.0.0.1, with its embedded provider.
type running struct {
	t        *testing.T
	base     string
	cfg      tutorial.Config
	provider *logtotest.Provider
	stopOnce sync.Once
	stopFn   func()
}

// start starts the example as main does, with env on top of the test
// defaults; BASE_URL points at the app's own listener. "{port}" in a value
// is replaced by the app's port.
func (ex example) start(t *testing.T, env map[string]string) *running {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	full := map[string]string{
		"BASE_URL":       "http://" + ln.Addr().String(),
		"LOGTO_DEV_ADDR": "127.0.0.1:0",
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	for k, v := range env {
		full[k] = strings.ReplaceAll(v, "{port}", port)
	}
	cfg, err := tutorial.LoadConfig(envOf(full))
	if err != nil {
		_ = ln.Close()
		t.Fatalf("LoadConfig: %v", err)
	}
	p, cfg, err := tutorial.StartDevProvider(cfg)
	if err != nil {
		_ = ln.Close()
		t.Fatalf("StartDevProvider: %v", err)
	}
	r := &running{t: t, base: full["BASE_URL"], cfg: cfg, provider: p}
	stopApp := ex.serve(t, ln, cfg)
	r.stopFn = func() {
		stopApp()
		p.Close()
	}
	t.Cleanup(r.stop)
	return r
}

// serve serves the app for cfg on ln until the returned stop is called;
// the test ends it if it has not.
func (ex example) serve(t *testing.T, ln net.Listener, cfg tutorial.Config) (stop func()) {
	t.Helper()
	app, closeStorage, err := ex.open(cfg)
	if err != nil {
		_ = ln.Close()
		t.Fatalf("open the app: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- app.Listener(ln) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			if err := app.ShutdownWithTimeout(5 * time.Second); err != nil {
				t.Errorf("shutdown: %v", err)
			}
			if err := <-served; err != nil {
				t.Errorf("serve: %v", err)
			}
			closeStorage()
		})
	}
	t.Cleanup(stop)
	return stop
}

func (r *running) stop() { r.stopOnce.Do(r.stopFn) }

// userWithCookie GETs /user from a new browser holding only session.
func (r *running) userWithCookie(session *http.Cookie) userJSON {
	r.t.Helper()
	browser := newBrowser(r.t)
	browser.Jar.SetCookies(mustURL(r.t, r.base), []*http.Cookie{{Name: session.Name, Value: session.Value}})
	var u userJSON
	r.getJSON(browser, "/user", &u)
	return u
}

// newBrowser is an HTTP client with a cookie jar that does not follow
// redirects, so that every hop can be checked.
func newBrowser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{
		Jar:           jar,
		Timeout:       15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (a answer) String() string { return http.StatusText(a.status) + ": " + a.body }

// get requests path (or an absolute URL) with the given Accept header.
func (r *running) get(c *http.Client, path, accept string) answer {
	r.t.Helper()
	u := path
	if strings.HasPrefix(path, "/") {
		u = r.base + path
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := c.Do(req)
	if err != nil {
		r.t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		r.t.Fatalf("GET %s: %v", u, err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

// getJSON requests path as an API client and decodes a 200 JSON answer.
func (r *running) getJSON(c *http.Client, path string, v any) {
	r.t.Helper()
	a := r.get(c, path, "application/json")
	if a.status != http.StatusOK {
		r.t.Fatalf("GET %s: %v", path, a)
	}
	// The same headers on every framework: Fiber v3's c.JSON would add a
	// charset, Fiber v2's does not.
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		r.t.Fatalf("GET %s: Content-Type %q, want application/json", path, ct)
	}
	if cc := a.header.Get("Cache-Control"); cc != "no-store" {
		r.t.Errorf("GET %s: Cache-Control %q, want no-store", path, cc)
	}
	if err := json.Unmarshal([]byte(a.body), v); err != nil {
		r.t.Fatalf("GET %s: %v: %s", path, err, a.body)
	}
}

// signIn signs the demo user in from path (a sign-in link) and returns where
// the app sends the browser after the callback.
func (r *running) signIn(c *http.Client, path string) string {
	r.t.Helper()
	_, back := r.signInVia(c, path)
	return back
}

// signInVia is signIn that also returns the authorization request the
// app's sign-in route sent the browser to. A browser that holds the
// provider's session cookie is not asked for the password.
func (r *running) signInVia(c *http.Client, path string) (authorizeURL *url.URL, back string) {
	r.t.Helper()
	start := r.get(c, path, "text/html")
	if start.status != http.StatusFound {
		r.t.Fatalf("GET %s: %v", path, start)
	}
	authorize := start.header.Get("Location")
	if !strings.HasPrefix(authorize, r.provider.Issuer+"/auth?") {
		r.t.Fatalf("sign-in redirects to %q, want the provider's authorization endpoint %s/auth", authorize, r.provider.Issuer)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	callback, err := r.provider.SignIn(ctx, c, authorize, logtotest.DemoUser.Username, logtotest.DemoUser.Password)
	if err != nil {
		r.t.Fatalf("provider sign-in: %v", err)
	}
	if !strings.HasPrefix(callback, r.base+"/logto/sign-in-callback?") {
		r.t.Fatalf("provider redirects to %q, want %s/logto/sign-in-callback", callback, r.base)
	}
	done := r.get(c, callback, "text/html")
	if done.status != http.StatusFound {
		r.t.Fatalf("callback: %v", done)
	}
	return mustURL(r.t, authorize), done.header.Get("Location")
}

type userJSON struct {
	IsAuthenticated bool `json:"isAuthenticated"`
	Claims          struct {
		Sub      string  `json:"sub"`
		Username string  `json:"username"`
		Name     string  `json:"name"`
		Picture  *string `json:"picture"`
	} `json:"claims"`
	UserInfo *struct {
		Sub      string `json:"sub"`
		Username string `json:"username"`
	} `json:"userInfo"`
	AccessToken string `json:"accessToken"`
}

func signInFlow(t *testing.T, ex example) {
	for _, tc := range []struct {
		name string
		env  func(t *testing.T) map[string]string
	}{
		{"sqlite", func(t *testing.T) map[string]string {
			return map[string]string{
				"SESSION_STORAGE":        "sqlite",
				"SESSION_DB":             filepath.Join(t.TempDir(), "sessions.sqlite3"),
				"SESSION_ENCRYPTION_KEY": testKey,
			}
		}},
		{"memory", func(*testing.T) map[string]string {
			return map[string]string{"SESSION_STORAGE": "memory"}
		}},
		{"redis", func(t *testing.T) map[string]string { return sharedStorageEnv(t, tutorial.StorageRedis) }},
		{"postgres", func(t *testing.T) map[string]string { return sharedStorageEnv(t, tutorial.StoragePostgres) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ex.start(t, tc.env(t))
			browser := newBrowser(t)
			demo := logtotest.DemoUser

			// Anonymous.
			home := r.get(browser, "/", "text/html")
			if home.status != http.StatusOK || !strings.Contains(home.body, `<a href="/logto/sign-in">Sign In</a>`) {
				t.Fatalf("anonymous home: %v", home)
			}
			if cc := home.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("home Cache-Control %q, want no-store", cc)
			}
			if ct := home.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("home Content-Type %q, want text/html; charset=utf-8", ct)
			}
			page := r.get(browser, "/protected", "text/html,application/xhtml+xml,*/*;q=0.8")
			if page.status != http.StatusFound || page.header.Get("Location") != r.base+"/logto/sign-in?returnTo=%2Fprotected" {
				t.Fatalf("anonymous /protected from a browser: %v, Location %q", page, page.header.Get("Location"))
			}
			api := r.get(browser, "/protected", "application/json")
			if api.status != http.StatusUnauthorized || !strings.Contains(api.body, `"error"`) {
				t.Fatalf("anonymous /protected from an API client: %v", api)
			}
			if tok := r.get(browser, "/access-token", "application/json"); tok.status != http.StatusUnauthorized {
				t.Fatalf("anonymous /access-token: %v", tok)
			}
			var anon userJSON
			r.getJSON(browser, "/user", &anon)
			if anon.IsAuthenticated {
				t.Fatal("anonymous /user says isAuthenticated")
			}

			// Sign in from the protected page's redirect: back to the page.
			if back := r.signIn(browser, page.header.Get("Location")); back != r.base+"/protected" {
				t.Fatalf("after sign-in the app redirects to %q, want %s/protected", back, r.base)
			}
			var session *http.Cookie
			for _, c := range browser.Jar.Cookies(mustURL(t, r.base)) {
				switch c.Name {
				case "fiberlogto_session":
					session = c
				case "_session", "_interaction", "_logto":
					// the provider's, on the same host name (another port)
				}
			}
			if session == nil {
				t.Fatal("no fiberlogto_session cookie after sign-in")
			}

			home = r.get(browser, "/", "text/html")
			if !strings.Contains(home.body, "Hello, Demo User") || !strings.Contains(home.body, `<a href="/logto/sign-out">Sign Out</a>`) {
				t.Fatalf("signed-in home: %v", home)
			}

			var user userJSON
			r.getJSON(browser, "/user", &user)
			if !user.IsAuthenticated || user.Claims.Sub != demo.ID || user.Claims.Username != demo.Username || user.Claims.Name != demo.Name {
				t.Fatalf("/user: %+v", user)
			}
			if user.UserInfo != nil || user.AccessToken != "" {
				t.Errorf("/user has userInfo or an access token: %+v", user)
			}

			var info userJSON
			r.getJSON(browser, "/user/info", &info)
			if !info.IsAuthenticated || info.UserInfo == nil || info.UserInfo.Sub != demo.ID || info.UserInfo.Username != demo.Username {
				t.Fatalf("/user/info: %+v", info)
			}

			prot := r.get(browser, "/protected", "application/json")
			if prot.status != http.StatusOK || prot.body != "protected resource" {
				t.Fatalf("signed-in /protected: %v", prot)
			}
			if ct, cc := prot.header.Get("Content-Type"), prot.header.Get("Cache-Control"); ct != "text/plain; charset=utf-8" || cc != "no-store" {
				t.Errorf("signed-in /protected: Content-Type %q, Cache-Control %q", ct, cc)
			}

			var token struct {
				AccessToken string   `json:"accessToken"`
				Scopes      []string `json:"scopes"`
			}
			r.getJSON(browser, "/access-token", &token)
			if strings.Join(token.Scopes, " ") != "read:data" {
				t.Errorf("/access-token scopes %q, want [read:data]", token.Scopes)
			}
			claims := jwtPayload(t, token.AccessToken)
			if !audienceHas(claims["aud"], tutorial.DevResource) {
				t.Fatalf("access token aud %v, want %s", claims["aud"], tutorial.DevResource)
			}
			if claims["sub"] != demo.ID {
				t.Errorf("access token sub %v, want %s", claims["sub"], demo.ID)
			}
			if !strings.Contains(" "+toString(claims["scope"])+" ", " read:data ") {
				t.Errorf("access token scope %q lacks read:data", claims["scope"])
			}
			// The second call is served from the session: no new refresh.
			refreshes := r.provider.Calls("token")
			var again struct {
				AccessToken string `json:"accessToken"`
			}
			r.getJSON(browser, "/access-token", &again)
			if again.AccessToken != token.AccessToken || r.provider.Calls("token") != refreshes {
				t.Errorf("second /access-token: new token %v, token calls %d -> %d", again.AccessToken != token.AccessToken, refreshes, r.provider.Calls("token"))
			}

			// An organization token for the demo user's organization.
			var orgs struct {
				OrganizationTokens map[string]string `json:"organizationTokens"`
			}
			r.getJSON(browser, "/organization-token", &orgs)
			orgTok := orgs.OrganizationTokens[logtotest.DemoOrganization.ID]
			if orgTok == "" {
				t.Fatalf("/organization-token: %v", orgs)
			}
			if oc := jwtPayload(t, orgTok); !audienceHas(oc["aud"], "urn:logto:organization:"+logtotest.DemoOrganization.ID) || toString(oc["scope"]) != "read:org" {
				t.Errorf("organization token claims %v", oc)
			}

			// Sign out: to Logto's end-session endpoint, and the session is gone.
			out := r.get(browser, "/logto/sign-out", "text/html")
			loc := out.header.Get("Location")
			if out.status != http.StatusFound || !strings.HasPrefix(loc, r.provider.Issuer+"/session/end?") {
				t.Fatalf("sign-out: %v, Location %q", out, loc)
			}
			if q := mustURL(t, loc).Query(); q.Get("post_logout_redirect_uri") != r.base || q.Get("client_id") != r.cfg.AppID {
				t.Errorf("end-session query %v", q)
			}
			var after userJSON
			r.getJSON(browser, "/user", &after)
			if after.IsAuthenticated {
				t.Fatal("/user after sign-out says isAuthenticated")
			}
			if home := r.get(browser, "/", "text/html"); !strings.Contains(home.body, "Sign In") {
				t.Fatalf("home after sign-out: %v", home)
			}
			// The old cookie, replayed, is anonymous too.
			replay := newBrowser(t)
			replay.Jar.SetCookies(mustURL(t, r.base), []*http.Cookie{{Name: session.Name, Value: session.Value}})
			var replayed userJSON
			r.getJSON(replay, "/user", &replayed)
			if replayed.IsAuthenticated {
				t.Fatal("the signed-out session cookie still works")
			}
		})
	}
}

// Sessions in SQLite, Redis and PostgreSQL outlive the process: a new app on
// the same database knows the cookie. Memory sessions do not.
func sessionsAcrossRestart(t *testing.T, ex example) {
	db := filepath.Join(t.TempDir(), "sessions.sqlite3")
	for _, tc := range []struct {
		name     string
		env      func(t *testing.T) map[string]string
		survives bool
	}{
		{"sqlite", func(*testing.T) map[string]string {
			return map[string]string{"SESSION_STORAGE": "sqlite", "SESSION_DB": db, "SESSION_ENCRYPTION_KEY": testKey}
		}, true},
		{"memory", func(*testing.T) map[string]string { return map[string]string{"SESSION_STORAGE": "memory"} }, false},
		{"redis", func(t *testing.T) map[string]string { return sharedStorageEnv(t, tutorial.StorageRedis) }, true},
		{"postgres", func(t *testing.T) map[string]string { return sharedStorageEnv(t, tutorial.StoragePostgres) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := tc.env(t)
			browser := newBrowser(t)
			first := ex.start(t, env)
			first.signIn(browser, "/logto/sign-in")
			var before userJSON
			first.getJSON(browser, "/user", &before)
			if !before.IsAuthenticated {
				t.Fatal("not signed in")
			}
			first.stop()

			// Same cookie jar: cookies for 127.0.0.1 go to every port.
			second := ex.start(t, env)
			var after userJSON
			second.getJSON(browser, "/user", &after)
			if after.IsAuthenticated != tc.survives {
				t.Fatalf("after restart isAuthenticated=%v, want %v", after.IsAuthenticated, tc.survives)
			}
			if tc.survives {
				if after.Claims.Sub != before.Claims.Sub || after.Claims.Username != "demo" {
					t.Fatalf("after restart: %+v", after)
				}
				if home := second.get(browser, "/", "text/html"); !strings.Contains(home.body, "Hello, Demo User") {
					t.Fatalf("home after restart: %v", home)
				}
				if prot := second.get(browser, "/protected", "application/json"); prot.status != http.StatusOK {
					t.Fatalf("/protected after restart: %v", prot)
				}
			}
		})
	}
}

// Two instances on one Redis or PostgreSQL share their sessions, as
// replicas behind a load balancer do: signed in on one, signed in on the
// other (the cookie on 127.0.0.1 goes to both ports); signed out on one,
// signed out on both, the old cookie included. Each instance runs its own
// embedded provider here, so only what needs no token call is checked; the
// integration suite runs two instances against one provider, refreshes and
// back-channel logout included.
func sharedSessionsAcrossInstances(t *testing.T, ex example) {
	for _, storage := range []string{tutorial.StorageRedis, tutorial.StoragePostgres} {
		t.Run(storage, func(t *testing.T) {
			env := sharedStorageEnv(t, storage)
			a, b := ex.start(t, env), ex.start(t, env)
			browser := newBrowser(t)
			a.signIn(browser, "/logto/sign-in")

			var onA, onB userJSON
			a.getJSON(browser, "/user", &onA)
			b.getJSON(browser, "/user", &onB)
			if !onA.IsAuthenticated || !onB.IsAuthenticated || onB.Claims.Sub != onA.Claims.Sub || onB.Claims.Username != "demo" {
				t.Fatalf("/user on A %+v, on B %+v: want the same signed-in user", onA, onB)
			}
			if prot := b.get(browser, "/protected", "application/json"); prot.status != http.StatusOK {
				t.Fatalf("/protected on B: %v", prot)
			}
			var session *http.Cookie
			for _, c := range browser.Jar.Cookies(mustURL(t, b.base)) {
				if c.Name == "fiberlogto_session" {
					session = c
				}
			}
			if session == nil {
				t.Fatal("no fiberlogto_session cookie for B")
			}

			// An app on another key prefix or table of the same server
			// does not know the session.
			apart := maps.Clone(env)
			apart["REDIS_KEY_PREFIX"], apart["POSTGRES_TABLE"] = "other_app:", "other_app_sessions"
			if ex.start(t, apart).userWithCookie(session).IsAuthenticated {
				t.Fatal("an app on another REDIS_KEY_PREFIX / POSTGRES_TABLE knows the session")
			}

			if out := a.get(browser, "/logto/sign-out", "text/html"); out.status != http.StatusFound {
				t.Fatalf("sign-out on A: %v", out)
			}
			if b.userWithCookie(session).IsAuthenticated {
				t.Fatal("B still knows the session A signed out")
			}
			replay := newBrowser(t)
			replay.Jar.SetCookies(mustURL(t, b.base), []*http.Cookie{{Name: session.Name, Value: session.Value}})
			if prot := b.get(replay, "/protected", "application/json"); prot.status != http.StatusUnauthorized {
				t.Fatalf("/protected on B after sign-out on A: %v", prot)
			}
		})
	}
}

// An unreachable Redis or PostgreSQL stops the app before it listens, with
// an error naming the variable and never showing the password.
func sharedStorageUnreachable(t *testing.T, ex example) {
	for _, env := range []map[string]string{
		{"SESSION_STORAGE": "redis", "REDIS_URL": "redis://user:s3cret-pw@127.0.0.1:1/0"},
		{"SESSION_STORAGE": "postgres", "DATABASE_URL": "postgres://user:s3cret-pw@127.0.0.1:1/db?sslmode=disable&connect_timeout=2"},
		{"SESSION_STORAGE": "redis", "REDIS_URL": "http://user:s3cret-pw@127.0.0.1:1/0"},
	} {
		env["ADDR"], env["LOGTO_DEV_ADDR"] = "127.0.0.1:0", "127.0.0.1:0"
		var out bytes.Buffer
		err := ex.run(context.Background(), envOf(env), &out)
		if err == nil {
			t.Fatalf("run with %v: no error", env)
		}
		name := "REDIS_URL"
		if env["SESSION_STORAGE"] == "postgres" {
			name = "DATABASE_URL"
		}
		if !strings.Contains(err.Error(), name) || strings.Contains(err.Error()+out.String(), "s3cret-pw") {
			t.Errorf("run with %s=%s: %v; want an error naming %s, without the password", name, env[name], err, name)
		}
		t.Logf("%s: %v", name, err)
		if strings.Contains(out.String(), "listening") {
			t.Errorf("run with %v listened before failing:\n%s", env, out.String())
		}
	}
}

func encryptedSessionsNeedTheKey(t *testing.T, ex example) {
	db := filepath.Join(t.TempDir(), "sessions.sqlite3")
	browser := newBrowser(t)
	first := ex.start(t, map[string]string{"SESSION_DB": db, "SESSION_ENCRYPTION_KEY": testKey})
	first.signIn(browser, "/logto/sign-in")
	first.stop()

	other := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))
	second := ex.start(t, map[string]string{"SESSION_DB": db, "SESSION_ENCRYPTION_KEY": other})
	var user userJSON
	second.getJSON(browser, "/user", &user)
	if user.IsAuthenticated {
		t.Fatal("a session encrypted with another key was accepted")
	}
}

func accessTokenWithoutResource(t *testing.T, ex example) {
	// Against an external Logto with no LOGTO_RESOURCE, /access-token is a
	// clear 400. The endpoint is never contacted for this request.
	cfg, err := tutorial.LoadConfig(envOf(map[string]string{
		"LOGTO_ENDPOINT":   "http://127.0.0.1:1",
		"LOGTO_APP_ID":     "app",
		"LOGTO_APP_SECRET": "secret",
		"SESSION_STORAGE":  "memory",
	}))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ex.serve(t, ln, cfg)
	r := &running{t: t, base: "http://" + ln.Addr().String(), cfg: cfg}
	a := r.get(newBrowser(t), "/access-token", "")
	var out struct {
		Error string `json:"error"`
	}
	if a.status != http.StatusBadRequest || json.Unmarshal([]byte(a.body), &out) != nil || !strings.Contains(out.Error, "LOGTO_RESOURCE") {
		t.Fatalf("/access-token without LOGTO_RESOURCE: %v", a)
	}
	checkJSONAnswer(t, "/access-token without LOGTO_RESOURCE", a, `{"error":"no API resource configured: set LOGTO_RESOURCE to an API identifier registered in Logto"}`)
}

// Without the organizations scope, /organization-token is a clear 400,
// before it asks anything of the user.
func organizationTokenWithoutScope(t *testing.T, ex example) {
	r := ex.start(t, map[string]string{"SESSION_STORAGE": "memory", "LOGTO_SCOPES": "read:data"})
	a := r.get(newBrowser(t), "/organization-token", "text/html")
	checkJSONAnswer(t, "/organization-token without the organizations scope", a,
		`{"error":"add urn:logto:scope:organizations to LOGTO_SCOPES for organization tokens"}`)
}

// checkJSONAnswer checks a 400 JSON answer to the byte, with its headers.
func checkJSONAnswer(t *testing.T, what string, a answer, want string) {
	t.Helper()
	if a.status != http.StatusBadRequest || a.body != want {
		t.Errorf("%s: %v, want 400 %s", what, a, want)
	}
	if ct, cc := a.header.Get("Content-Type"), a.header.Get("Cache-Control"); ct != "application/json" || cc != "no-store" {
		t.Errorf("%s: Content-Type %q, Cache-Control %q; want application/json, no-store", what, ct, cc)
	}
}

// A request on another loopback name of the app's port is sent to
// BASE_URL's (the rule itself is tested in package tutorial): the app uses
// the Host header, answers 302 Found, and leaves other methods alone.
func loopbackAliasRedirect(t *testing.T, ex example) {
	r := ex.start(t, map[string]string{"SESSION_STORAGE": "memory", "BASE_URL": "http://localhost:{port}"})
	alias := strings.Replace(r.base, "localhost", "127.0.0.1", 1)
	browser := newBrowser(t)
	a := r.get(browser, alias+"/logto/sign-in?returnTo=%2Fprotected", "text/html")
	if want := r.base + "/logto/sign-in?returnTo=%2Fprotected"; a.status != http.StatusFound || a.header.Get("Location") != want {
		t.Errorf("GET on %s: %v, Location %q; want 302 to %s", alias, a, a.header.Get("Location"), want)
	}
	if cc := a.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("alias redirect Cache-Control %q, want no-store", cc)
	}
	// X-Forwarded-Host is not the Host.
	req, err := http.NewRequest(http.MethodGet, alias+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Forwarded-Host", mustURL(t, r.base).Host)
	resp, err := browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Errorf("GET on %s with X-Forwarded-Host %s: %s, want the redirect", alias, mustURL(t, r.base).Host, resp.Status)
	}
	// BASE_URL's own name is served; a POST on the alias is not redirected.
	if home := r.get(browser, "/", "text/html"); home.status != http.StatusOK {
		t.Errorf("GET / on BASE_URL: %v", home)
	}
	post, err := browser.Post(alias+"/logto/sign-out", "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	if loc := post.Header.Get("Location"); strings.HasPrefix(loc, r.base) {
		t.Errorf("POST on %s redirected to %s", alias, loc)
	}
}

// run reports bad configuration as an error (main prints it and exits 1),
// never a panic, before it starts anything.
func runRejectsBadEnvironment(t *testing.T, ex example) {
	for _, env := range []map[string]string{
		{"SESSION_STORAGE": "redis"},
		{"SESSION_STORAGE": "postgres"},
		{"SESSION_ENCRYPTION_KEY": "short"},
		{"LOGTO_DEV_ADDR": "127.0.0.1:0", "ADDR": "127.0.0.1:0", "SESSION_DB": filepath.Join(t.TempDir(), "missing-dir", "x.sqlite3")},
	} {
		var out bytes.Buffer
		if err := ex.run(context.Background(), envOf(env), &out); err == nil {
			t.Errorf("run with %v: no error", env)
		} else {
			t.Logf("run with %v: %v", env, err)
		}
	}
}

// run serves until its context ends, then shuts down and returns nil.
func runServesAndShutsDown(t *testing.T, ex example) {
	var out SyncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- ex.run(ctx, envOf(map[string]string{
			"ADDR":            "127.0.0.1:0",
			"LOGTO_DEV_ADDR":  "127.0.0.1:0",
			"SESSION_STORAGE": "memory",
			"LOG_FORMAT":      "json",
		}), &out)
	}()

	listening := regexp.MustCompile(`listening on (127\.0\.0\.1:\d+)`)
	var addr string
	for deadline := time.Now().Add(10 * time.Second); addr == ""; {
		if m := listening.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("run returned early: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("run did not start:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{"embedded Logto-compatible provider at http://127.0.0.1:", "username: demo, password: demo-password"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, out.String())
		}
	}
	// The banner's personal access token works on /api/data.
	if m := regexp.MustCompile(`demo's personal access token (pat_\w+)`).FindStringSubmatch(out.String()); m == nil {
		t.Errorf("banner lacks the demo user's personal access token:\n%s", out.String())
	} else {
		r := &running{t: t, base: "http://" + addr}
		var data tutorial.APIDataJSON
		r.apiJSON("/api/data", m[1], &data)
		if data.Sub != logtotest.DemoUser.ID {
			t.Errorf("/api/data with the banner's personal access token: %+v", data)
		}
	}
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Sign In") {
		t.Fatalf("GET /: %d %s", resp.StatusCode, body)
	}
	// fiberlogto's records go to stderr (here out) as JSON with
	// LOG_FORMAT=json, at LOG_LEVEL (info): a refused logout token is a Warn.
	resp, err = http.PostForm("http://"+addr+"/logto/backchannel-logout", url.Values{"logout_token": {"not-a-token"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !strings.Contains(out.String(), `"level":"WARN","msg":"fiberlogto: back-channel logout refused"`) {
		t.Errorf("no JSON record of the refused logout token:\n%s", out.String())
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	if _, err := http.Get("http://" + addr + "/"); err == nil {
		t.Error("the app still answers after shutdown")
	}
}

// SyncBuffer is a buffer that several goroutines may write, e.g. a
// process's standard output and error, while a test reads it.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// jwtPayload decodes (without verifying) a JWT's payload.
func jwtPayload(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("access token %q is not a JWT", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("JWT payload: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatalf("JWT payload: %v", err)
	}
	return claims
}

func audienceHas(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []any:
		for _, v := range a {
			if v == want {
				return true
			}
		}
	}
	return false
}

func toString(v any) string {
	s, _ := v.(string)
	return s
}

// apiRoutes: /api/data takes a user's access token (from /access-token) and
// a machine-to-machine app's (client credentials), and tells them apart;
// /api/organizations/:id/data takes an organization token for :id; each
// refuses, with WWW-Authenticate, what it must.
func apiRoutes(t *testing.T, ex example) {
	r := ex.start(t, nil)
	browser := newBrowser(t)
	r.signIn(browser, "/logto/sign-in")
	var at tutorial.AccessTokenJSON
	r.getJSON(browser, "/access-token", &at)
	var ot tutorial.OrganizationTokensJSON
	r.getJSON(browser, "/organization-token", &ot)
	orgToken := ot.OrganizationTokens[logtotest.DemoOrganization.ID]
	if at.AccessToken == "" || orgToken == "" {
		t.Fatalf("no tokens to call the API with: %+v %+v", at, ot)
	}
	machine := clientCredentials(t, r, "scope", tutorial.ScopeReadData)
	machineNoScope := clientCredentials(t, r)

	var user, m2m tutorial.APIDataJSON
	r.apiJSON("/api/data", at.AccessToken, &user)
	if user.Sub != logtotest.DemoUser.ID || user.ClientID != r.cfg.AppID || user.M2M || !slices.Contains(user.Scopes, tutorial.ScopeReadData) {
		t.Errorf("/api/data with the user's token: %+v", user)
	}
	r.apiJSON("/api/data", machine, &m2m)
	if m2m.Sub != logtotest.DemoMachineApp.ID || m2m.ClientID != logtotest.DemoMachineApp.ID || !m2m.M2M {
		t.Errorf("/api/data with a client-credentials token: %+v", m2m)
	}
	var org tutorial.OrganizationDataJSON
	r.apiJSON("/api/organizations/"+logtotest.DemoOrganization.ID+"/data", orgToken, &org)
	if org.Sub != logtotest.DemoUser.ID || org.OrganizationID != logtotest.DemoOrganization.ID || !slices.Contains(org.Scopes, tutorial.ScopeReadOrg) {
		t.Errorf("/api/organizations/:id/data: %+v", org)
	}

	for _, tc := range []struct {
		name, path, token string
		status            int
		challenge         string
	}{
		{"no token", "/api/data", "", http.StatusUnauthorized, "Bearer"},
		{"an organization token for an API resource", "/api/data", orgToken, http.StatusUnauthorized, `Bearer error="invalid_token"`},
		{"a machine token without read:data", "/api/data", machineNoScope, http.StatusForbidden, `Bearer error="insufficient_scope", scope="read:data"`},
		{"another organization", "/api/organizations/another-org/data", orgToken, http.StatusUnauthorized, `Bearer error="invalid_token"`},
		{"a resource token for an organization", "/api/organizations/" + logtotest.DemoOrganization.ID + "/data", at.AccessToken, http.StatusUnauthorized, `Bearer error="invalid_token"`},
		{"garbage", "/api/data", "not-a-token", http.StatusUnauthorized, `Bearer error="invalid_token"`},
	} {
		a := r.api(tc.path, tc.token)
		if a.status != tc.status || a.header.Get("WWW-Authenticate") != tc.challenge {
			t.Errorf("%s: %d %q %s, want %d %q", tc.name, a.status, a.header.Get("WWW-Authenticate"), a.body, tc.status, tc.challenge)
		}
		if tc.token != "" && strings.Contains(a.body, tc.token) {
			t.Errorf("%s: the token is echoed", tc.name)
		}
	}
}

// api requests path as an API client with the access token (none when "").
func (r *running) api(path, token string) answer {
	r.t.Helper()
	req, err := http.NewRequest(http.MethodGet, r.base+path, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

// apiJSON requests path with the token and decodes a 200 JSON answer.
func (r *running) apiJSON(path, token string, v any) {
	r.t.Helper()
	a := r.api(path, token)
	if a.status != http.StatusOK {
		r.t.Fatalf("GET %s: %v", path, a)
	}
	if err := json.Unmarshal([]byte(a.body), v); err != nil {
		r.t.Fatalf("GET %s: %v: %s", path, err, a.body)
	}
}

// clientCredentials gets an access token for the example's resource as its
// machine-to-machine app does, with the form's extra fields (e.g. "scope",
// "read:data").
func clientCredentials(t *testing.T, r *running, extra ...string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {r.cfg.Resource}}
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	req, err := http.NewRequest(http.MethodPost, r.provider.Issuer+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(logtotest.DemoMachineApp.ID, logtotest.DemoMachineApp.Secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK || tok.AccessToken == "" {
		t.Fatalf("client credentials: %d %v", resp.StatusCode, err)
	}
	return tok.AccessToken
}

// personalAccessTokens: /api/data also takes a user's personal access
// token, which the app exchanges at Logto (the embedded provider allows
// the app to) for an access token of its owner; a made-up one is refused
// as any bad token is.
func personalAccessTokens(t *testing.T, ex example) {
	r := ex.start(t, map[string]string{"SESSION_STORAGE": "memory"})
	pat := r.provider.MustPersonalAccessToken(t, logtotest.DemoUser.ID, "tutorialtest", 0)
	for range 2 { // the second is served from the app's cache of exchanged tokens
		var data tutorial.APIDataJSON
		a := r.api("/api/data", pat)
		if a.status != http.StatusOK || json.Unmarshal([]byte(a.body), &data) != nil {
			t.Fatalf("/api/data with a personal access token: %v", a)
		}
		if data.Sub != logtotest.DemoUser.ID || data.ClientID != r.cfg.AppID || data.M2M || !slices.Equal(data.Scopes, []string{tutorial.ScopeReadData}) {
			t.Errorf("/api/data with the demo user's personal access token: %+v, want sub %s, clientId %s (the exchanging app), scopes [read:data]", data, logtotest.DemoUser.ID, r.cfg.AppID)
		}
		if ct, cc := a.header.Get("Content-Type"), a.header.Get("Cache-Control"); ct != "application/json" || cc != "no-store" {
			t.Errorf("/api/data with a personal access token: Content-Type %q, Cache-Control %q", ct, cc)
		}
	}
	if n := r.provider.Calls("token"); n != 1 {
		t.Errorf("two calls with one personal access token made %d token requests, want one exchange", n)
	}
	bogus := "pat_" + strings.Repeat("x", 32)
	a := r.api("/api/data", bogus)
	if a.status != http.StatusUnauthorized || a.header.Get("WWW-Authenticate") != `Bearer error="invalid_token"` || strings.Contains(a.body, bogus) {
		t.Errorf("/api/data with a made-up personal access token: %d %q %s, want 401 invalid_token", a.status, a.header.Get("WWW-Authenticate"), a.body)
	}
}

// recentSignIn: /account/security wants a sign-in within the last five
// minutes. A session without auth_time (a sign-in without max_age) is too
// old: an API call gets 401 saying so, a page goes through sign-in again
// with max_age=300 (the provider's session is fresh, so no password) and
// comes back to the page, which then shows the user's name, escaped.
func recentSignIn(t *testing.T, ex example) {
	r := ex.start(t, map[string]string{"SESSION_STORAGE": "memory"})
	browser := newBrowser(t)
	signInLink := r.base + "/logto/sign-in?returnTo=%2Faccount%2Fsecurity&max_age=300"

	// Anonymous: a page is sent to sign in (with max_age), an API call gets 401.
	if a := r.get(browser, "/account/security", "text/html"); a.status != http.StatusFound || a.header.Get("Location") != signInLink {
		t.Fatalf("anonymous /account/security page: %v, Location %q, want 302 to %s", a, a.header.Get("Location"), signInLink)
	}
	if a := r.get(browser, "/account/security", "application/json"); a.status != http.StatusUnauthorized || !strings.Contains(a.body, "authentication required") {
		t.Fatalf("anonymous /account/security API call: %v", a)
	}

	// Signed in without max_age: the ID token has no auth_time.
	r.signIn(browser, "/logto/sign-in")
	api := r.get(browser, "/account/security", "application/json")
	if api.status != http.StatusUnauthorized || !strings.Contains(api.body, "a recent sign-in is required") {
		t.Fatalf("/account/security API call without a recent sign-in: %v, want 401 \"a recent sign-in is required\"", api)
	}
	if cc := api.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("/account/security refusal: Cache-Control %q, want no-store", cc)
	}
	page := r.get(browser, "/account/security", "text/html")
	if page.status != http.StatusFound || page.header.Get("Location") != signInLink {
		t.Fatalf("/account/security page without a recent sign-in: %v, Location %q, want 302 to %s", page, page.header.Get("Location"), signInLink)
	}
	authorize, back := r.signInVia(browser, page.header.Get("Location"))
	if authorize.Query().Get("max_age") != "300" {
		t.Errorf("the authorization request lacks max_age=300: %s", authorize.Redacted())
	}
	if back != r.base+"/account/security" {
		t.Fatalf("after signing in again the app redirects to %q, want %s/account/security", back, r.base)
	}
	ok := r.get(browser, "/account/security", "text/html")
	if ok.status != http.StatusOK || !strings.Contains(ok.body, "Security settings for Demo User") {
		t.Fatalf("/account/security after a recent sign-in: %v", ok)
	}
	if ct, cc := ok.header.Get("Content-Type"), ok.header.Get("Cache-Control"); ct != "text/html; charset=utf-8" || cc != "no-store" {
		t.Errorf("/account/security: Content-Type %q, Cache-Control %q", ct, cc)
	}
	if a := r.get(browser, "/account/security", "application/json"); a.status != http.StatusOK {
		t.Errorf("/account/security API call after a recent sign-in: %v", a)
	}
	var u struct {
		Claims struct {
			AuthTime int64 `json:"auth_time"`
		} `json:"claims"`
	}
	r.getJSON(browser, "/user", &u)
	if since := time.Since(time.Unix(u.Claims.AuthTime, 0)); u.Claims.AuthTime == 0 || since < -5*time.Second || since > time.Minute {
		t.Errorf("/user after the recent sign-in: auth_time %d, want the sign-in's time", u.Claims.AuthTime)
	}
}
