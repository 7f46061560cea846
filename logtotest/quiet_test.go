package logtotest_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/fiberlogto/sdk/logto"
	"github.com/fiberlogto/sdk/logtotest"
)

// recordCapture is a slog.Handler that keeps every record, at every level.
type recordCapture struct {
	mu      sync.Mutex
	records []string
}

func (c *recordCapture) Enabled(context.Context, slog.Level) bool { return true }
func (c *recordCapture) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *recordCapture) WithGroup(string) slog.Handler            { return c }
func (c *recordCapture) Handle(_ context.Context, r slog.Record) error {
	line := r.Level.String() + " " + r.Message
	r.Attrs(func(a slog.Attr) bool {
		line += fmt.Sprintf(" %s=%q", a.Key, a.Value.String())
		return true
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	c.records = append(c.records, line)
	return nil
}

func (c *recordCapture) lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.records...)
}

// find returns the first record holding every part, or "".
func (c *recordCapture) find(parts ...string) string {
next:
	for _, l := range c.lines() {
		for _, part := range parts {
			if !strings.Contains(l, part) {
				continue next
			}
		}
		return l
	}
	return ""
}

// quietApp is an app whose own records (its logto.Config.Logger defaults
// to slog.Default) do not mix with the provider's.
func quietApp(t *testing.T, p *logtotest.Provider, edit func(*logto.Config)) http.Handler {
	cfg := appConfig(p, "http://localhost:3000")
	cfg.Logger = slog.New(slog.DiscardHandler)
	if edit != nil {
		edit(&cfg)
	}
	return netHTTPApp(t, cfg)
}

// TestQuietByDefault: starting providers, a sign-in, and the refusals a
// relying party meets write nothing to slog.Default (zitadel's op would log
// seven routes per provider and every error answer), and leave the log
// package's output and flags as they were.
func TestQuietByDefault(t *testing.T) {
	capture := &recordCapture{}
	saved, out, flags := slog.Default(), log.Writer(), log.Flags()
	slog.SetDefault(slog.New(capture))
	out, flags = log.Writer(), log.Flags() // what SetDefault made them
	t.Cleanup(func() {
		slog.SetDefault(saved)
		log.SetOutput(out)
		log.SetFlags(flags)
	})

	p := logtotest.NewServer(t, logtotest.Options{})
	logtotest.NewServer(t, logtotest.Options{ClientID: "another-app"})
	const base = "http://localhost:3000"
	wantSignedIn(t, p.SignInTo(t, base, quietApp(t, p, nil)), base, logtotest.DemoUser.ID)

	for _, f := range []struct {
		name, base string
		app        http.Handler
		opts       logtotest.SignInToOptions
	}{
		{"a wrong password", base, quietApp(t, p, nil), logtotest.SignInToOptions{Password: "wrong"}},
		{"a wrong app secret", base, quietApp(t, p, func(c *logto.Config) { c.AppSecret = "wrong" }), logtotest.SignInToOptions{}},
		{"an unknown resource", base, quietApp(t, p, func(c *logto.Config) { c.Resources = []string{"https://unknown.test"} }), logtotest.SignInToOptions{}},
		{"an unknown app ID", base, quietApp(t, p, func(c *logto.Config) { c.AppID = "unknown-app" }), logtotest.SignInToOptions{}},
		{"a redirect URI not loopback", "http://app.example.test",
			quietApp(t, p, func(c *logto.Config) { c.BaseURL = "http://app.example.test" }), logtotest.SignInToOptions{}},
	} {
		if _, err := p.SignInToE(t.Context(), f.base, f.app, f.opts); err == nil {
			t.Fatalf("SignInToE with %s succeeded", f.name)
		}
	}

	webApp, m2m := [2]string{p.ClientID, p.ClientSecret}, [2]string{logtotest.DemoMachineApp.ID, logtotest.DemoMachineApp.Secret}
	wrongSecret := [2]string{p.ClientID, "wrong"}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, r := range []struct {
		method, path string
		form         url.Values
		basic        [2]string
		status       int
	}{
		{"POST", "/oidc/token", url.Values{"grant_type": {"authorization_code"}, "code": {"nope"}, "redirect_uri": {base + "/cb"}}, webApp, 400},
		{"POST", "/oidc/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}}, webApp, 400},
		{"POST", "/oidc/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}}, wrongSecret, 401},
		{"POST", "/oidc/token", url.Values{"grant_type": {"client_credentials"}, "resource": {logtotest.DefaultResource}}, webApp, 400},
		{"POST", "/oidc/token", url.Values{"grant_type": {"authorization_code"}, "code": {"nope"}, "redirect_uri": {base + "/cb"}}, m2m, 400},
		{"POST", "/oidc/token", url.Values{"grant_type": {"client_credentials"}, "resource": {"https://unknown.test"}}, m2m, 400},
		{"POST", "/oidc/token/revocation", url.Values{"token": {"nope"}}, wrongSecret, 401},
		{"POST", "/oidc/token/introspection", url.Values{"token": {"nope"}}, wrongSecret, 401},
		{"GET", "/oidc/me?access_token=nope", nil, [2]string{}, 401},
		{"GET", "/oidc/session/end?client_id=unknown", nil, [2]string{}, 400},
		{"GET", "/oidc/auth?" + url.Values{"client_id": {p.ClientID}, "redirect_uri": {base + "/cb"}, "response_type": {"code"},
			"scope": {"openid"}, "prompt": {"none"}, "state": {"st"}}.Encode(), nil, [2]string{}, 303},
		{"GET", "/oidc/nowhere", nil, [2]string{}, 404},
	} {
		req, _ := http.NewRequest(r.method, p.URL+r.path, strings.NewReader(r.form.Encode()))
		if r.form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if r.basic[0] != "" {
			req.SetBasicAuth(r.basic[0], r.basic[1])
		}
		if resp, body := do(t, noRedirect, req); resp.StatusCode != r.status {
			t.Fatalf("%s %s: %d %s, want %d", r.method, r.path, resp.StatusCode, body, r.status)
		}
	}

	if lines := capture.lines(); len(lines) > 0 {
		t.Fatalf("slog.Default got %d records:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	if log.Writer() != out || log.Flags() != flags {
		t.Fatal("the log package's output or flags changed")
	}
}

// TestLogger: Options.Logger gets a record of every answer, the refusals at
// WARN with a reason that names what Logto's words do not.
func TestLogger(t *testing.T) {
	capture := &recordCapture{}
	p := logtotest.NewServer(t, logtotest.Options{Logger: slog.New(capture)})
	const base = "http://localhost:3000"
	p.SignInTo(t, base, quietApp(t, p, nil))
	if l := capture.find("DEBUG logtotest: answered", `path="/oidc/token"`, `status="200"`); l == "" {
		t.Fatalf("no DEBUG record of the code exchange:\n%s", strings.Join(capture.lines(), "\n"))
	}

	app := quietApp(t, p, func(c *logto.Config) { c.Resources = []string{"https://unknown.test"} })
	if _, err := p.SignInToE(t.Context(), base, app); err == nil {
		t.Fatal("SignInToE with an unknown resource succeeded")
	}
	if l := capture.find("WARN logtotest: refused", `path="/oidc/auth"`, `error="invalid_target"`,
		`error_description="resource indicator is missing, or unknown"`,
		`reason="resource \"https://unknown.test\" is not among Options.Resources [\"https://api.example.test\"]"`); l == "" {
		t.Fatalf("no WARN record naming the resource:\n%s", strings.Join(capture.lines(), "\n"))
	}

	app = quietApp(t, p, func(c *logto.Config) { c.AppSecret = "wrong" })
	if _, err := p.SignInToE(t.Context(), base, app); err == nil {
		t.Fatal("SignInToE with a wrong secret succeeded")
	}
	if l := capture.find("WARN logtotest: refused", `path="/oidc/token"`, `status="401"`, `error="invalid_client"`,
		`reason="wrong client secret for \"test-app\""`); l == "" {
		t.Fatalf("no WARN record of the wrong secret:\n%s", strings.Join(capture.lines(), "\n"))
	}

	p.SetDown(true)
	defer p.SetDown(false)
	resp, err := http.Get(p.Issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if l := capture.find("ERROR logtotest: failed", `status="503"`, `code="logtotest.down"`); l == "" {
		t.Fatalf("no ERROR record of the 503:\n%s", strings.Join(capture.lines(), "\n"))
	}
}
