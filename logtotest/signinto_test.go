package logtotest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	fiberv2 "github.com/gofiber/fiber/v2"
	fiberv3 "github.com/gofiber/fiber/v3"

	"github.com/fiberlogto/sdk/fiberlogto"
	fiberlogtov3 "github.com/fiberlogto/sdk/fiberlogto/v3"
	"github.com/fiberlogto/sdk/logto"
	"github.com/fiberlogto/sdk/logtohttp"
	"github.com/fiberlogto/sdk/logtotest"
)

// The apps SignInTo is tested against: each adapter's middleware, GET
// /user (SendUser) and a RequireAuth route, /protected.

func fiberV2App(t testing.TB, cfg logto.Config) *fiberv2.App {
	lg, err := fiberlogto.New(fiberlogto.Config{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	app := fiberv2.New(fiberv2.Config{DisableStartupMessage: true})
	app.Use(lg.Handler())
	app.Get("/user", fiberlogto.SendUser)
	app.Get("/protected", fiberlogto.RequireAuth(), func(c *fiberv2.Ctx) error {
		return c.SendString("protected resource")
	})
	return app
}

func fiberV3App(t testing.TB, cfg logto.Config) *fiberv3.App {
	lg, err := fiberlogtov3.New(fiberlogtov3.Config{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	app := fiberv3.New()
	app.Use(lg.Handler())
	app.Get("/user", fiberlogtov3.SendUser)
	app.Get("/protected", fiberlogtov3.RequireAuth(), func(c fiberv3.Ctx) error {
		return c.SendString("protected resource")
	})
	return app
}

func netHTTPApp(t testing.TB, cfg logto.Config) http.Handler {
	lg, err := logtohttp.New(logtohttp.Config{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /user", logtohttp.SendUser)
	mux.Handle("GET /protected", logtohttp.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "protected resource")
	})))
	return lg.Handler(mux)
}

// appConfig points an app at p.
func appConfig(p *logtotest.Provider, base string) logto.Config {
	return logto.Config{Endpoint: p.URL, AppID: p.ClientID, AppSecret: p.ClientSecret, BaseURL: base}
}

// signInTarget is how a test reaches one kind of app: its base URL and
// SignInTo's serve.
type signInTarget struct {
	name  string
	start func(t *testing.T, cfg func(base string) logto.Config) (base string, serve any)
}

var signInTargets = []signInTarget{
	{"Fiber v2 app.Test", func(t *testing.T, cfg func(string) logto.Config) (string, any) {
		const base = "http://localhost:3000"
		return base, fiberV2App(t, cfg(base)).Test
	}},
	{"Fiber v3 app.Test", func(t *testing.T, cfg func(string) logto.Config) (string, any) {
		const base = "http://localhost:3000"
		return base, fiberV3App(t, cfg(base)).Test
	}},
	{"net/http handler", func(t *testing.T, cfg func(string) logto.Config) (string, any) {
		const base = "http://127.0.0.1:8080"
		return base, netHTTPApp(t, cfg(base))
	}},
	{"real listener", func(t *testing.T, cfg func(string) logto.Config) (string, any) {
		srv := httptest.NewUnstartedServer(nil) // 127.0.0.1:0
		base := "http://" + srv.Listener.Addr().String()
		srv.Config.Handler = netHTTPApp(t, cfg(base))
		srv.Start()
		t.Cleanup(srv.Close)
		return base, nil
	}},
}

// wantSignedIn checks that browser is signed in to the app at base as the
// user with ID sub.
func wantSignedIn(t *testing.T, browser *http.Client, base, sub string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/user", nil)
	req.Header.Set("Accept", "application/json")
	resp, body := do(t, browser, req)
	var user struct {
		IsAuthenticated bool           `json:"isAuthenticated"`
		Claims          map[string]any `json:"claims"`
	}
	if err := json.Unmarshal(body, &user); err != nil || resp.StatusCode != http.StatusOK ||
		!user.IsAuthenticated || user.Claims["sub"] != sub {
		t.Fatalf("GET /user after SignInTo: %d %s", resp.StatusCode, body)
	}
	req, _ = http.NewRequest(http.MethodGet, base+"/protected", nil)
	if resp, body = do(t, browser, req); resp.StatusCode != http.StatusOK || string(body) != "protected resource" {
		t.Fatalf("GET /protected after SignInTo: %d %s", resp.StatusCode, body)
	}
}

func do(t *testing.T, c *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// fatalRecorder is a testing.TB whose Fatal records the message and ends
// the goroutine, as testing's does, so a test can check that a helper
// fails the test it is given.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatal(args ...any) {
	f.msg = fmt.Sprint(args...)
	runtime.Goexit()
}
func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// fatalOf runs f with a fatalRecorder and returns what it failed with, ""
// if it did not.
func fatalOf(t *testing.T, f func(tb testing.TB)) string {
	r := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r.msg
}

// TestSignInTo signs DemoUser in to an app of each adapter, served each way
// SignInTo knows, and checks the returned browser is signed in; a wrong
// password fails the test SignInTo is given, and SignInToE returns the
// error.
func TestSignInTo(t *testing.T) {
	for _, target := range signInTargets {
		t.Run(target.name, func(t *testing.T) {
			p := logtotest.NewServer(t, logtotest.Options{})
			base, serve := target.start(t, func(base string) logto.Config { return appConfig(p, base) })

			browser := p.SignInTo(t, base, serve)
			wantSignedIn(t, browser, base, logtotest.DemoUser.ID)

			msg := fatalOf(t, func(tb testing.TB) {
				p.SignInTo(tb, base, serve, logtotest.SignInToOptions{Password: "wrong"})
			})
			if !strings.Contains(msg, "session.invalid_credentials") || !strings.Contains(msg, `signing "demo" in`) {
				t.Fatalf("SignInTo with a wrong password failed the test with %q", msg)
			}
			if _, err := p.SignInToE(t.Context(), base, serve, logtotest.SignInToOptions{Password: "wrong"}); err == nil ||
				!strings.Contains(err.Error(), "422") {
				t.Fatalf("SignInToE with a wrong password: %v", err)
			}
		})
	}
}

// TestSignInToOptions signs another user in, by username and by email,
// at an app with another RoutesPrefix.
func TestSignInToOptions(t *testing.T) {
	alice := logtotest.User{ID: "alice-id", Username: "alice", Password: "alice-password", Name: "Alice", Email: "alice@example.test"}
	p := logtotest.NewServer(t, logtotest.Options{Users: []logtotest.User{logtotest.DemoUser, alice}})
	cfg := appConfig(p, "http://localhost:3000")
	cfg.RoutesPrefix = "/auth"
	app := netHTTPApp(t, cfg)

	for _, o := range []logtotest.SignInToOptions{
		{Username: "alice", RoutesPrefix: "/auth"},
		{Username: "alice@example.test", RoutesPrefix: "/auth/"},
		{Username: "alice", Password: "alice-password", RoutesPrefix: "auth"},
	} {
		browser := p.SignInTo(t, "http://localhost:3000", app, o)
		wantSignedIn(t, browser, "http://localhost:3000", alice.ID)
	}

	// Without the prefix, the app's 404 is the failure.
	_, err := p.SignInToE(t.Context(), "http://localhost:3000", app, logtotest.SignInToOptions{Username: "alice"})
	if err == nil || !strings.Contains(err.Error(), "/logto/sign-in answered 404") {
		t.Fatalf("SignInToE at the wrong prefix: %v", err)
	}
	if _, err := p.SignInToE(t.Context(), "http://localhost:3000", app, logtotest.SignInToOptions{Username: "bob", RoutesPrefix: "/auth"}); err == nil ||
		!strings.Contains(err.Error(), `no user "bob"`) {
		t.Fatalf("SignInToE for a user the provider does not have: %v", err)
	}
}

// TestSignInToFailures: each misconfiguration fails with a message that
// says what to fix.
func TestSignInToFailures(t *testing.T) {
	p := logtotest.NewServer(t, logtotest.Options{})
	const base = "http://localhost:3000"
	tests := []struct {
		name  string
		base  string
		serve func(t *testing.T) any
		want  []string
	}{
		{"a resource the provider does not have", base, func(t *testing.T) any {
			cfg := appConfig(p, base)
			cfg.Resources = []string{"https://unknown.example.test"}
			return netHTTPApp(t, cfg)
		}, []string{"error=invalid_target", `"resource indicator is missing, or unknown"`,
			`resource ["https://unknown.example.test"], not among Options.Resources ["https://api.example.test"]`,
			"the app's callback /logto/sign-in-callback answered"}},
		{"a wrong app secret", base, func(t *testing.T) any {
			cfg := appConfig(p, base)
			cfg.AppSecret = "wrong-secret"
			return fiberV2App(t, cfg).Test
		}, []string{"the app's callback /logto/sign-in-callback answered 500",
			`meanwhile the provider refused POST /oidc/token: 401 invalid_client "client authentication failed" (wrong client secret for "test-app")`}},
		{"another BaseURL", base, func(t *testing.T) any {
			return netHTTPApp(t, appConfig(p, "http://localhost:4000"))
		}, []string{"redirected to http://localhost:4000/logto/sign-in", "is the app's BaseURL http://localhost:3000?"}},
		{"another BaseURL, Fiber v2", base, func(t *testing.T) any {
			return fiberV2App(t, appConfig(p, "http://localhost:4000")).Test
		}, []string{"BaseURL"}},
		{"another Logto", base, func(t *testing.T) any {
			other := logtotest.NewServer(t, logtotest.Options{})
			return netHTTPApp(t, appConfig(other, base))
		}, []string{"not to this provider's " + p.Issuer + "/auth"}},
		{"no middleware", base, func(t *testing.T) any { return http.NotFoundHandler() },
			[]string{"GET " + base + "/logto/sign-in answered 404", "is the middleware mounted"}},
		{"a serve of another kind", base, func(t *testing.T) any { return func(string) error { return nil } },
			[]string{"serve is a func(string) error"}},
		{"a base URL with a path", base + "/app", func(t *testing.T) any { return http.NotFoundHandler() },
			[]string{"baseURL must be an http(s) origin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.SignInToE(t.Context(), tt.base, tt.serve(t))
			if err == nil {
				t.Fatal("SignInToE succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("SignInToE failed with\n%v\nwhich does not say %q", err, w)
				}
			}
		})
	}
}

// TestMustTokens: the Must variants return what the helpers return, and
// fail the test where the helpers return an error.
func TestMustTokens(t *testing.T) {
	p := logtotest.NewServer(t, logtotest.Options{})
	claims := func(token string) map[string]any { return claimsOf(token) }
	if c := claims(p.MustUserAccessToken(t, logtotest.DefaultResource, "read:data")); c["sub"] != logtotest.DemoUser.ID || c["scope"] != "read:data" {
		t.Fatalf("MustUserAccessToken: %v", c)
	}
	if c := claims(p.MustOrganizationToken(t, "demo-org", "read:org")); c["aud"] != "urn:logto:organization:demo-org" {
		t.Fatalf("MustOrganizationToken: %v", c)
	}
	if c := claims(p.MustOrganizationResourceToken(t, "demo-org", logtotest.DefaultResource)); c["organization_id"] != "demo-org" {
		t.Fatalf("MustOrganizationResourceToken: %v", c)
	}
	if c := claims(p.MustMachineAccessToken(t, logtotest.DefaultResource)); c["sub"] != logtotest.DemoMachineApp.ID {
		t.Fatalf("MustMachineAccessToken: %v", c)
	}
	if c := claims(p.MustMintAccessToken(t, logtotest.AccessToken{Subject: "someone", Audience: "https://x.test"})); c["sub"] != "someone" {
		t.Fatalf("MustMintAccessToken: %v", c)
	}

	for name, f := range map[string]func(tb testing.TB){
		"MustUserAccessToken":           func(tb testing.TB) { p.MustUserAccessToken(tb, "") },
		"MustOrganizationToken":         func(tb testing.TB) { p.MustOrganizationToken(tb, "") },
		"MustOrganizationResourceToken": func(tb testing.TB) { p.MustOrganizationResourceToken(tb, "demo-org", "") },
		"MustMachineAccessToken":        func(tb testing.TB) { p.MustMachineAccessToken(tb, "") },
		"MustMintAccessToken":           func(tb testing.TB) { p.MustMintAccessToken(tb, logtotest.AccessToken{}) },
	} {
		if msg := fatalOf(t, f); !strings.HasPrefix(msg, "logtotest: ") {
			t.Errorf("%s with a missing argument failed the test with %q", name, msg)
		}
	}
}

// newApp is the app of the package doc's first example: a Fiber v2 app.
func newApp(cfg logto.Config) *fiberv2.App {
	app := fiberv2.New(fiberv2.Config{DisableStartupMessage: true})
	app.Use(fiberlogto.WithLogto(fiberlogto.Config{Config: cfg}))
	app.Get("/protected", fiberlogto.RequireAuth(), func(c *fiberv2.Ctx) error {
		return c.SendString("protected resource")
	})
	return app
}

// TestProtected is the package doc's first example, as written there.
func TestProtected(t *testing.T) {
	p := logtotest.NewServer(t, logtotest.Options{})
	app := newApp(logto.Config{Endpoint: p.URL, AppID: p.ClientID, AppSecret: p.ClientSecret,
		BaseURL: "http://localhost:3000"})
	browser := p.SignInTo(t, "http://localhost:3000", app.Test)
	resp, err := browser.Get("http://localhost:3000/protected")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /protected after sign-in: %s", resp.Status)
	}
}
