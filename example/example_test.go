package main

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
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/fiberlogto/sdk/fiberlogto"
	"github.com/fiberlogto/sdk/fiberlogto/logtotest"
	"github.com/fiberlogto/sdk/internal/testenv"
)

// testKey is a valid SESSION_ENCRYPTION_KEY (32 bytes).
var testKey = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))

// sharedStorageEnv is the environment of SESSION_STORAGE=redis or
// postgres against the test servers, with encrypted records.
func sharedStorageEnv(t *testing.T, storage string) map[string]string {
	t.Helper()
	env := map[string]string{"SESSION_STORAGE": storage, "SESSION_ENCRYPTION_KEY": testKey}
	switch storage {
	case storageRedis:
		env["REDIS_URL"] = testenv.ServerURL(t, "REDIS_URL", "Redis")
	case storagePostgres:
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
	cfg      appConfig
	provider *logtotest.Provider
	stopOnce sync.Once
	stopFn   func()
}

// startExample starts the example as main does, with env on top of the test
// defaults; BASE_URL points at the app's own listener. "{port}" in a value
// is replaced by the app's port.
func startExample(t *testing.T, env map[string]string) *running {
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
	cfg, err := loadConfig(envOf(full))
	if err != nil {
		_ = ln.Close()
		t.Fatalf("loadConfig: %v", err)
	}
	p, cfg, err := startDevProvider(cfg)
	if err != nil {
		_ = ln.Close()
		t.Fatalf("startDevProvider: %v", err)
	}
	app, cleanup, err := newApp(cfg)
	if err != nil {
		p.Close()
		_ = ln.Close()
		t.Fatalf("newApp: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- app.Listener(ln) }()
	r := &running{t: t, base: full["BASE_URL"], cfg: cfg, provider: p}
	r.stopFn = func() {
		if err := app.ShutdownWithTimeout(5 * time.Second); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
		cleanup()
		p.Close()
	}
	t.Cleanup(r.stop)
	return r
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
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		r.t.Fatalf("GET %s: Content-Type %q", path, ct)
	}
	if err := json.Unmarshal([]byte(a.body), v); err != nil {
		r.t.Fatalf("GET %s: %v: %s", path, err, a.body)
	}
}

// signIn signs the demo user in from path (a sign-in link) and returns where
// the app sends the browser after the callback.
func (r *running) signIn(c *http.Client, path string) string {
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
	return done.header.Get("Location")
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

func TestSignInFlow(t *testing.T) {
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
		{"redis", func(t *testing.T) map[string]string { return sharedStorageEnv(t, storageRedis) }},
		{"postgres", func(t *testing.T) map[string]string { return sharedStorageEnv(t, storagePostgres) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startExample(t, tc.env(t))
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
			page := r.get(browser, "/protected", "text/html,application/xhtml+xml,*/*;q=0.8")
			if page.status != http.StatusFound || page.header.Get("Location") != "/logto/sign-in?returnTo=%2Fprotected" {
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

			var token struct {
				AccessToken string   `json:"accessToken"`
				Scopes      []string `json:"scopes"`
			}
			r.getJSON(browser, "/access-token", &token)
			if strings.Join(token.Scopes, " ") != "read:data" {
				t.Errorf("/access-token scopes %q, want [read:data]", token.Scopes)
			}
			claims := jwtPayload(t, token.AccessToken)
			if !audienceHas(claims["aud"], devResource) {
				t.Fatalf("access token aud %v, want %s", claims["aud"], devResource)
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
func TestSessionsAcrossRestart(t *testing.T) {
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
		{"redis", func(t *testing.T) map[string]string { return sharedStorageEnv(t, storageRedis) }, true},
		{"postgres", func(t *testing.T) map[string]string { return sharedStorageEnv(t, storagePostgres) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := tc.env(t)
			browser := newBrowser(t)
			first := startExample(t, env)
			first.signIn(browser, "/logto/sign-in")
			var before userJSON
			first.getJSON(browser, "/user", &before)
			if !before.IsAuthenticated {
				t.Fatal("not signed in")
			}
			first.stop()

			// Same cookie jar: cookies for 127.0.0.1 go to every port.
			second := startExample(t, env)
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
func TestSharedSessionsAcrossInstances(t *testing.T) {
	for _, storage := range []string{storageRedis, storagePostgres} {
		t.Run(storage, func(t *testing.T) {
			env := sharedStorageEnv(t, storage)
			a, b := startExample(t, env), startExample(t, env)
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
			if startExample(t, apart).userWithCookie(session).IsAuthenticated {
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
func TestSharedStorageUnreachable(t *testing.T) {
	for _, env := range []map[string]string{
		{"SESSION_STORAGE": "redis", "REDIS_URL": "redis://user:s3cret-pw@127.0.0.1:1/0"},
		{"SESSION_STORAGE": "postgres", "DATABASE_URL": "postgres://user:s3cret-pw@127.0.0.1:1/db?sslmode=disable&connect_timeout=2"},
		{"SESSION_STORAGE": "redis", "REDIS_URL": "http://user:s3cret-pw@127.0.0.1:1/0"},
	} {
		env["ADDR"], env["LOGTO_DEV_ADDR"] = "127.0.0.1:0", "127.0.0.1:0"
		var out bytes.Buffer
		err := run(context.Background(), envOf(env), &out)
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

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"redis://127.0.0.1:6379/0":                       "redis://127.0.0.1:6379/0",
		"redis://:pw@127.0.0.1:6379/0":                   "redis://:xxxxx@127.0.0.1:6379/0",
		"postgres://u:pw@h:5432/db?sslmode=disable":      "postgres://u:xxxxx@h:5432/db",
		"postgres://u@h/db?password=pw":                  "postgres://u@h/db",
		"host=h user=u password=pw dbname=db":            "connection string not shown",
		"rediss://default:pw@cache.example.com:6380/1#x": "rediss://default:xxxxx@cache.example.com:6380/1",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// The manual check: with BASE_URL on localhost, demosignin signs the demo
// user in from http://127.0.0.1:<port>/logto/sign-in and reads /user.
func TestDemoSignIn(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ./demosignin")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH")
	}
	bin := filepath.Join(t.TempDir(), "demosignin")
	if out, err := exec.Command(goTool, "build", "-o", bin, "./demosignin").CombinedOutput(); err != nil {
		t.Fatalf("go build ./demosignin: %v\n%s", err, out)
	}
	r := startExample(t, map[string]string{"SESSION_STORAGE": "memory", "BASE_URL": "http://localhost:{port}"})
	base := strings.Replace(r.base, "localhost", "127.0.0.1", 1)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-base", base).CombinedOutput()
	if err != nil {
		t.Fatalf("demosignin: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), `"isAuthenticated":true`) || !strings.Contains(string(out), `"username":"demo"`) {
		t.Fatalf("demosignin printed:\n%s", out)
	}

	// A wrong password fails, with a non-zero status.
	out, err = exec.CommandContext(ctx, bin, "-base", base, "-password", "wrong").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "session.invalid_credentials") {
		t.Fatalf("demosignin with a wrong password: %v\n%s", err, out)
	}
}

func TestEncryptedSessionsNeedTheKey(t *testing.T) {
	db := filepath.Join(t.TempDir(), "sessions.sqlite3")
	browser := newBrowser(t)
	first := startExample(t, map[string]string{"SESSION_DB": db, "SESSION_ENCRYPTION_KEY": testKey})
	first.signIn(browser, "/logto/sign-in")
	first.stop()

	other := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))
	second := startExample(t, map[string]string{"SESSION_DB": db, "SESSION_ENCRYPTION_KEY": other})
	var user userJSON
	second.getJSON(browser, "/user", &user)
	if user.IsAuthenticated {
		t.Fatal("a session encrypted with another key was accepted")
	}
}

func TestAccessTokenWithoutResource(t *testing.T) {
	// Against an external Logto with no LOGTO_RESOURCE, /access-token is a
	// clear 400. The endpoint is never contacted for this request.
	cfg, err := loadConfig(envOf(map[string]string{
		"LOGTO_ENDPOINT":   "http://127.0.0.1:1",
		"LOGTO_APP_ID":     "app",
		"LOGTO_APP_SECRET": "secret",
		"SESSION_STORAGE":  "memory",
	}))
	if err != nil {
		t.Fatal(err)
	}
	app, cleanup, err := newApp(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	resp, err := app.Test(httptest.NewRequest(http.MethodGet, "/access-token", nil), -1)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	var out struct {
		Error string `json:"error"`
	}
	if resp.StatusCode != http.StatusBadRequest || json.Unmarshal(body, &out) != nil || !strings.Contains(out.Error, "LOGTO_RESOURCE") {
		t.Fatalf("/access-token without LOGTO_RESOURCE: %d %s", resp.StatusCode, body)
	}
}

func TestHomeEscapesTheName(t *testing.T) {
	// Logto lets users pick their name: it is HTML-escaped.
	for _, tc := range []struct {
		name, claims, want string
	}{
		{"name", `{"sub":"u1","name":"<script>x</script>","username":"bob"}`, "Hello, &lt;script&gt;x&lt;/script&gt;"},
		{"username", `{"sub":"u1","name":null,"username":"bob&co"}`, "Hello, bob&amp;co"},
		{"sub", `{"sub":"u1","name":null,"username":null}`, "Hello, u1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := fiber.New()
			app.Use(func(c *fiber.Ctx) error {
				c.Locals("user", &fiberlogto.UserContext{IsAuthenticated: true, Claims: fiberlogto.RawClaims(tc.claims)})
				return c.Next()
			})
			app.Get("/", home)
			resp, err := app.Test(httptest.NewRequest(http.MethodGet, "/", nil), -1)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if !strings.Contains(string(body), tc.want) || strings.Contains(string(body), "<script>") {
				t.Fatalf("home: %s, want %q", body, tc.want)
			}
		})
	}
}

func TestLoopbackAliasRedirect(t *testing.T) {
	app := fiber.New()
	app.Use(loopbackAliasRedirect("http://localhost:3000"))
	app.All("/*", func(c *fiber.Ctx) error { return c.SendString("app") })
	for _, tc := range []struct {
		method, host, target, location string
	}{
		{http.MethodGet, "127.0.0.1:3000", "/logto/sign-in?returnTo=%2Fx", "http://localhost:3000/logto/sign-in?returnTo=%2Fx"},
		{http.MethodGet, "[::1]:3000", "/", "http://localhost:3000/"},
		{http.MethodGet, "localhost:3000", "/", ""},                // BASE_URL's own name
		{http.MethodGet, "127.0.0.1:3001", "/", ""},                // another port: another service, or a proxy
		{http.MethodGet, "app.example.com:3000", "/", ""},          // not a loopback name
		{http.MethodPost, "127.0.0.1:3000", "/logto/sign-out", ""}, // only GET and HEAD
	} {
		req := httptest.NewRequest(tc.method, tc.target, nil)
		req.Host = tc.host
		resp, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Header.Get("Location"); got != tc.location {
			t.Errorf("%s %s on %s: Location %q, want %q", tc.method, tc.target, tc.host, got, tc.location)
		}
	}
	if loopbackAliasRedirect("https://app.example.com") != nil {
		t.Error("redirect enabled for a public BASE_URL")
	}
}

func TestLoadConfig(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		cfg, err := loadConfig(envOf(nil))
		if err != nil {
			t.Fatal(err)
		}
		if !cfg.Embedded || cfg.DevAddr != "127.0.0.1:3001" || cfg.Endpoint != "" {
			t.Errorf("embedded mode: %+v", cfg)
		}
		if cfg.BaseURL != "http://localhost:3000" || cfg.Addr != "127.0.0.1:3000" {
			t.Errorf("BaseURL %q Addr %q", cfg.BaseURL, cfg.Addr)
		}
		if cfg.SessionStorage != storageSQLite || cfg.SessionDB != "./fiberlogto-example.sqlite3" || cfg.EncryptionKey != nil {
			t.Errorf("storage: %+v", cfg)
		}
		if cfg.AppID == "" || len(cfg.AppSecret) < 20 {
			t.Errorf("embedded app credentials: %q %q", cfg.AppID, cfg.AppSecret)
		}
		if cfg.Resource != "https://api.example.test" || strings.Join(cfg.Scopes, " ") != devScopes {
			t.Errorf("embedded resource %q scopes %q", cfg.Resource, cfg.Scopes)
		}
	})
	t.Run("external Logto", func(t *testing.T) {
		cfg, err := loadConfig(envOf(map[string]string{
			"LOGTO_ENDPOINT":         "https://tenant.logto.app/",
			"LOGTO_APP_ID":           "app-id",
			"LOGTO_APP_SECRET":       "app secret",
			"LOGTO_SCOPES":           " email  roles ",
			"BASE_URL":               "https://app.example.com/",
			"ADDR":                   ":8080",
			"SESSION_STORAGE":        "Memory",
			"SESSION_ENCRYPTION_KEY": strings.TrimRight(base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)), "="),
		}))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Embedded || cfg.Endpoint != "https://tenant.logto.app" || cfg.AppID != "app-id" || cfg.AppSecret != "app secret" {
			t.Errorf("external: %+v", cfg)
		}
		if cfg.Resource != "" || strings.Join(cfg.Scopes, ",") != "email,roles" {
			t.Errorf("resource %q scopes %q", cfg.Resource, cfg.Scopes)
		}
		if cfg.BaseURL != "https://app.example.com" || cfg.SessionStorage != storageMemory || len(cfg.EncryptionKey) != 32 {
			t.Errorf("config: %+v", cfg)
		}
	})
	t.Run("shared storages", func(t *testing.T) {
		for _, tc := range []struct {
			env                  map[string]string
			storage, redis, psql string
		}{
			{map[string]string{"SESSION_STORAGE": "redis", "REDIS_URL": " redis://127.0.0.1:6379/2 ", "DATABASE_URL": "postgres://h/db"}, storageRedis, "redis://127.0.0.1:6379/2", ""},
			{map[string]string{"SESSION_STORAGE": "postgres", "DATABASE_URL": "postgres://u:p@h:5432/db", "REDIS_URL": "redis://h:6379/0"}, storagePostgres, "", "postgres://u:p@h:5432/db"},
			{map[string]string{"SESSION_STORAGE": "PostgreSQL", "DATABASE_URL": "host=h dbname=db"}, storagePostgres, "", "host=h dbname=db"},
			// Set for another program: ignored by the other storages.
			{map[string]string{"REDIS_URL": "redis://h:6379/0", "DATABASE_URL": "postgres://h/db"}, storageSQLite, "", ""},
			{map[string]string{"SESSION_STORAGE": "memory", "REDIS_URL": "redis://h:6379/0"}, storageMemory, "", ""},
		} {
			cfg, err := loadConfig(envOf(tc.env))
			if err != nil {
				t.Fatalf("%v: %v", tc.env, err)
			}
			if cfg.SessionStorage != tc.storage || cfg.RedisURL != tc.redis || cfg.DatabaseURL != tc.psql {
				t.Errorf("%v: storage %q, RedisURL %q, DatabaseURL %q; want %q, %q, %q",
					tc.env, cfg.SessionStorage, cfg.RedisURL, cfg.DatabaseURL, tc.storage, tc.redis, tc.psql)
			}
		}
	})
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string // in the error
	}{
		{"unknown storage", map[string]string{"SESSION_STORAGE": "mongodb"}, `SESSION_STORAGE="mongodb" is unknown`},
		{"redis without REDIS_URL", map[string]string{"SESSION_STORAGE": "redis", "DATABASE_URL": "postgres://h/db"}, "SESSION_STORAGE=redis needs REDIS_URL"},
		{"redis with a blank REDIS_URL", map[string]string{"SESSION_STORAGE": "Redis", "REDIS_URL": "  "}, "SESSION_STORAGE=redis needs REDIS_URL"},
		{"postgres without DATABASE_URL", map[string]string{"SESSION_STORAGE": "postgres", "REDIS_URL": "redis://h:6379/0"}, "SESSION_STORAGE=postgres needs DATABASE_URL"},
		{"postgresql without DATABASE_URL", map[string]string{"SESSION_STORAGE": "postgresql"}, "SESSION_STORAGE=postgres needs DATABASE_URL"},
		{"key not base64", map[string]string{"SESSION_ENCRYPTION_KEY": "not base64!"}, "SESSION_ENCRYPTION_KEY: is not valid base64"},
		{"key too short", map[string]string{"SESSION_ENCRYPTION_KEY": base64.StdEncoding.EncodeToString(make([]byte, 16))}, "SESSION_ENCRYPTION_KEY: must be the base64 of 32 bytes, got 16"},
		{"bad BASE_URL", map[string]string{"BASE_URL": "localhost:3000"}, "BASE_URL="},
		{"BASE_URL with query", map[string]string{"BASE_URL": "http://localhost:3000/?x=1"}, "BASE_URL="},
		{"bad ADDR", map[string]string{"ADDR": "3000"}, "ADDR="},
		{"public dev provider", map[string]string{"LOGTO_DEV_ADDR": "0.0.0.0:3001"}, "loopback"},
		{"bad endpoint", map[string]string{"LOGTO_ENDPOINT": "tenant.logto.app", "LOGTO_APP_ID": "a", "LOGTO_APP_SECRET": "s"}, "LOGTO_ENDPOINT="},
		{"no app id", map[string]string{"LOGTO_ENDPOINT": "https://tenant.logto.app", "LOGTO_APP_SECRET": "s"}, "LOGTO_APP_ID is required"},
		{"no app secret", map[string]string{"LOGTO_ENDPOINT": "https://tenant.logto.app", "LOGTO_APP_ID": "a"}, "LOGTO_APP_SECRET is required"},
		{"bad resource", map[string]string{"LOGTO_RESOURCE": "api"}, "LOGTO_RESOURCE="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadConfig(envOf(tc.env))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// run reports bad configuration as an error (main prints it and exits 1),
// never a panic, before it starts anything.
func TestRunRejectsBadEnvironment(t *testing.T) {
	for _, env := range []map[string]string{
		{"SESSION_STORAGE": "redis"},
		{"SESSION_STORAGE": "postgres"},
		{"SESSION_ENCRYPTION_KEY": "short"},
		{"LOGTO_DEV_ADDR": "127.0.0.1:0", "ADDR": "127.0.0.1:0", "SESSION_DB": filepath.Join(t.TempDir(), "missing-dir", "x.sqlite3")},
	} {
		var out bytes.Buffer
		if err := run(context.Background(), envOf(env), &out); err == nil {
			t.Errorf("run with %v: no error", env)
		} else {
			t.Logf("run with %v: %v", env, err)
		}
	}
}

// run serves until its context ends, then shuts down and returns nil.
func TestRunServesAndShutsDown(t *testing.T) {
	var out syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, envOf(map[string]string{
			"ADDR":            "127.0.0.1:0",
			"LOGTO_DEV_ADDR":  "127.0.0.1:0",
			"SESSION_STORAGE": "memory",
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
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Sign In") {
		t.Fatalf("GET /: %d %s", resp.StatusCode, body)
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

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
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

// A POSTGRES_TABLE that is not a plain table name stops the app with an
// error naming it, before any connection.
func TestBadPostgresTable(t *testing.T) {
	_, err := openStorage(appConfig{SessionStorage: storagePostgres, DatabaseURL: "postgres://u@127.0.0.1:1/db", PostgresTable: "sessions; DROP TABLE users"})
	if err == nil || !strings.Contains(err.Error(), "POSTGRES_TABLE") {
		t.Fatalf("err = %v, want one naming POSTGRES_TABLE", err)
	}
}
