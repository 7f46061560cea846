package fiberlogto_test

// Every mistake in a user's own app gets a named answer (issue 19), on
// every adapter: a setup error where the mistake is visible at setup,
// otherwise a 500 with logto.ErrConfig and a record naming the setting,
// never a silent 200 or a 401 blamed on the client; bearer refusals are
// logged at Debug naming the failed check; one rule for Location.

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fiberlogto/sdk/logto"
	"github.com/fiberlogto/sdk/logtotest"
)

// orgTokensRoute asks for organization tokens on one route.
var orgTokensRoute = route{path: "/org-tokens", guard: true, fetch: &logto.FetchOptions{OrganizationTokens: true}, answer: answerUser}

// TestNamedOrganizationTokensWithoutScope: Fetch of organization tokens
// when Config.Scopes lacks urn:logto:scope:organizations is a 500 naming
// Config.Scopes (it was a 200 with no tokens and no record); when the
// config has the scope but the session's grant began without it, Logto's
// insufficient_scope is a 401 "sign in again" with a record, not silence.
func TestNamedOrganizationTokensWithoutScope(t *testing.T) {
	forEachAdapter(t, testNamedOrganizationTokensWithoutScope)
}

func testNamedOrganizationTokensWithoutScope(t *testing.T, ad adapter) {
	capture := &logCapture{}
	h := newHarnessWith(t, ad, nil, providerSetup{routes: []route{orgTokensRoute}}, func(c *config) {
		c.Scopes = []string{"email", "read:data"}
		c.Logger = slog.New(capture)
	})
	h.signIn()
	resp, body := h.do(http.MethodGet, "/org-tokens", map[string]string{"Accept": "application/json"})
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(body, logto.ErrConfig.Error()) {
		t.Fatalf("organization tokens without the scope: %d %s, want 500 naming the config", resp.StatusCode, body)
	}
	if line := capture.find(slog.LevelError, "fiberlogto: configuration error"); !strings.Contains(line, "Config.Scopes") || !strings.Contains(line, logto.ScopeOrganizations) {
		t.Fatalf("no record naming Config.Scopes:\n%s", strings.Join(capture.lines(), "\n"))
	}

	// The same session on an instance whose config now has the scope:
	// Logto refuses the grant's organization tokens (403
	// insufficient_scope); the session must sign in again.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := h.cfg
	cfg.Scopes = []string{"email", "read:data", logto.ScopeOrganizations}
	mw, err := ad.new(cfg)
	if err != nil {
		t.Fatal(err)
	}
	serve(t, mw.app(orgTokensRoute), ln, h.browser)
	resp, body = h.do(http.MethodGet, "http://"+ln.Addr().String()+"/org-tokens", map[string]string{
		"Accept": "application/json", "Cookie": h.cfg.CookieName + "=" + h.sessionCookie().Value,
	})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, logto.ErrNoToken.Error()) {
		t.Fatalf("a grant without the organizations scope: %d %s, want 401 sign in again", resp.StatusCode, body)
	}
	if line := capture.find(slog.LevelWarn, "fiberlogto: request failed", "during=Fetch"); !strings.Contains(line, "status=401") {
		t.Fatalf("no record of the refusal:\n%s", strings.Join(capture.lines(), "\n"))
	}
}

// TestNamedBearerRefusals: each refusal of an access token writes one
// Debug record naming the check that failed, and nothing of the token; the
// answer stays RFC 6750's.
func TestNamedBearerRefusals(t *testing.T) { forEachAdapter(t, testNamedBearerRefusals) }

func testNamedBearerRefusals(t *testing.T, ad adapter) {
	capture := &logCapture{}
	h := apiHarness(t, ad, func(c *config) { c.Logger = slog.New(capture) })
	p := h.provider
	other := logtotest.NewServer(t, logtotest.Options{})
	for _, tc := range []struct {
		name, path, check string
		token             string
		status            int
	}{
		{"no token", "/api/data", "missing", "", 401},
		{"a machine on a users-only route", "/api/users-only", "caller", mint(p.MachineAccessToken(testResource, "read:data")), 401},
		{"another resource", "/api/data", "aud", mint(p.MintAccessToken(logtotest.AccessToken{Audience: "https://other.example.test", Scopes: []string{"read:data"}})), 401},
		{"another organization", "/api/organizations/another-org/data", "organization", mint(p.OrganizationToken(demoOrg, "read:org")), 401},
		{"a missing scope", "/api/data", "scope", mint(p.UserAccessToken(testResource, "write:data")), 403},
		{"expired", "/api/data", "exp", mint(p.MintAccessToken(logtotest.AccessToken{Audience: testResource, IssuedAt: time.Now().Add(-3 * time.Hour), TTL: time.Hour, Scopes: []string{"read:data"}})), 401},
		{"another Logto's", "/api/data", "signature", mint(other.UserAccessToken(testResource, "read:data")), 401},
		{"not a JWT", "/api/data", "format", "not-a-token", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var auth []string
			if tc.token != "" {
				auth = []string{"Bearer " + tc.token}
			}
			resp, body := h.call(tc.path, auth...)
			if resp.StatusCode != tc.status || strings.Contains(body, tc.check+":") {
				t.Fatalf("%d %s, want %d and no detail", resp.StatusCode, body, tc.status)
			}
			line := capture.find(slog.LevelDebug, "fiberlogto: access token refused", "check="+tc.check)
			if line == "" {
				t.Fatalf("no Debug record with check=%s:\n%s", tc.check, strings.Join(capture.lines(), "\n"))
			}
			if tc.token != "" && len(tc.token) > 20 && strings.Contains(line, tc.token[len(tc.token)-20:]) {
				t.Fatalf("the record holds the token: %s", line)
			}
		})
	}
}

// TestNamedMisnamedOrganizationParam: RequireAccessToken{OrganizationParam:
// "id"} on a route whose parameter is another name answers 500 naming the
// setting (it was 401 "the route names no organization": the client's
// fault).
func TestNamedMisnamedOrganizationParam(t *testing.T) {
	forEachAdapter(t, testNamedMisnamedOrganizationParam)
}

func testNamedMisnamedOrganizationParam(t *testing.T, ad adapter) {
	capture := &logCapture{}
	misnamed := route{path: "/api/orgs/{org}/notes", bearer: &logto.AccessTokenOptions{OrganizationParam: "id", Scopes: []string{"read:org"}}, answer: answerClaims}
	h := newHarnessWith(t, ad, nil, providerSetup{routes: []route{misnamed}}, func(c *config) { c.Logger = slog.New(capture) })
	tok := mint(h.provider.OrganizationToken(demoOrg, "read:org"))
	for _, auth := range [][]string{{"Bearer " + tok}, nil} {
		resp, body := h.call("/api/orgs/"+demoOrg+"/notes", auth...)
		if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(body, logto.ErrConfig.Error()) {
			t.Fatalf("misnamed OrganizationParam (%d headers): %d %s, want 500", len(auth), resp.StatusCode, body)
		}
	}
	if line := capture.find(slog.LevelError, "fiberlogto: configuration error"); !strings.Contains(line, "OrganizationParam") || !strings.Contains(line, `"id"`) {
		t.Fatalf("no record naming OrganizationParam:\n%s", strings.Join(capture.lines(), "\n"))
	}
}

// TestNamedNoBearerChallengeOnCookieRoutes: RequireAuth's 401 carries no
// WWW-Authenticate: Bearer (the route takes no bearer token).
func TestNamedNoBearerChallengeOnCookieRoutes(t *testing.T) {
	forEachAdapter(t, func(t *testing.T, ad adapter) {
		h := newHarness(t, ad, nil)
		resp, body := h.do(http.MethodGet, "/protected", map[string]string{"Accept": "application/json"})
		if resp.StatusCode != http.StatusUnauthorized || body != `{"error":"authentication required"}` {
			t.Fatalf("anonymous API call to a guarded route: %d %s", resp.StatusCode, body)
		}
		if got := resp.Header.Get("WWW-Authenticate"); got != "" {
			t.Fatalf("WWW-Authenticate %q on a cookie-guarded route", got)
		}
	})
}

// TestNamedMiddlewareOnAPIOnlyConfig: the middleware (sign-in routes and
// sessions) on a config of Endpoint alone fails at setup with ErrConfig
// naming what is missing (it answered 404 on /logto/sign-in).
func TestNamedMiddlewareOnAPIOnlyConfig(t *testing.T) {
	forEachAdapter(t, func(t *testing.T, ad adapter) {
		mw, err := ad.new(config{Config: logto.Config{Endpoint: "http://127.0.0.1:1"}})
		if err != nil {
			t.Fatalf("an API-only config: %v", err)
		}
		defer func() {
			r := recover()
			err, _ := r.(error)
			if !errors.Is(err, logto.ErrConfig) || !strings.Contains(err.Error(), "AppID, AppSecret and BaseURL") {
				t.Fatalf("the middleware on an API-only config: panic %v, want ErrConfig naming AppID, AppSecret and BaseURL", r)
			}
		}()
		mw.middleware()
	})
}

// TestNamedLocationRule: every redirect of the SDK's is absolute: to
// BaseURL (RequireAuth's, the callback's) or to Logto.
func TestNamedLocationRule(t *testing.T) {
	forEachAdapter(t, func(t *testing.T, ad adapter) {
		h := newHarness(t, ad, nil)
		resp, _ := h.do(http.MethodGet, "/protected?x=1", map[string]string{"Accept": "text/html"})
		if want := h.baseURL + "/logto/sign-in?returnTo=%2Fprotected%3Fx%3D1"; resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
			t.Fatalf("RequireAuth's redirect: %d %q, want %q", resp.StatusCode, resp.Header.Get("Location"), want)
		}
		if loc := h.signIn().Header.Get("Location"); !strings.HasPrefix(loc, h.baseURL+"/") && loc != h.baseURL {
			t.Fatalf("the callback's redirect %q is not absolute to BaseURL", loc)
		}
		if loc := h.startSignIn("/logto/sign-in"); !strings.HasPrefix(loc.String(), h.provider.Issuer+"/") {
			t.Fatalf("the sign-in redirect %q is not absolute to Logto", loc)
		}
	})
}

// TestNamedUnknownResource: a sign-in that asks for a resource Logto does
// not know comes back with invalid_target: a 500 naming Config.Resources
// (it was 400 "sign-in was not completed", the user's fault).
func TestNamedUnknownResource(t *testing.T) { forEachAdapter(t, testNamedUnknownResource) }

func testNamedUnknownResource(t *testing.T, ad adapter) {
	capture := &logCapture{}
	h := newHarness(t, ad, nil, func(c *config) {
		c.Resources = []string{testResource, "https://unknown.example.test"}
		c.Logger = slog.New(capture)
	})
	cb, err := h.provider.SignIn(t.Context(), h.browser, h.startSignIn("/logto/sign-in").String(), logtotest.DemoUser.Username, logtotest.DemoUser.Password)
	if err != nil {
		t.Fatal(err)
	}
	resp, body := h.do(http.MethodGet, cb, map[string]string{"Accept": "application/json"})
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(body, logto.ErrConfig.Error()) {
		t.Fatalf("callback with invalid_target: %d %s, want 500 naming the config", resp.StatusCode, body)
	}
	if line := capture.find(slog.LevelError, "fiberlogto: configuration error"); !strings.Contains(line, "Config.Resources") || !strings.Contains(line, "unknown.example.test") {
		t.Fatalf("no record naming Config.Resources:\n%s", strings.Join(capture.lines(), "\n"))
	}
}
