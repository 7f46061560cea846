package fiberlogto_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fiberlogto/sdk/fiberlogto"
	"github.com/fiberlogto/sdk/logtotest"
	"github.com/fiberlogto/sdk/storage/memory"
	"github.com/fiberlogto/sdk/storage/sqlite"

	"github.com/fiberlogto/sdk/logto"

	"github.com/fiberlogto/sdk/internal/hooks"
)

const testResource = "https://api.example.test"

// setClock sets the clock of the engine cfg builds (a hook of the engine's
// tests, no field of the API).
func setClock(cfg *config, now func() time.Time) { *hooks.Clock(&cfg.Config) = now }

// clock is a settable clock.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// harness is one app behind fiberlogto, one provider and one browser.
type harness struct {
	t        *testing.T
	adapter  adapter
	provider *logtotest.Provider
	cfg      config // the effective config (see middleware.cfg)
	storage  Storage
	clock    *clock
	baseURL  string
	browser  *http.Client
}

type harnessOption func(*config)

// storages are the storages every flow test runs against.
func storages(t *testing.T) map[string]func() Storage {
	return map[string]func() Storage{
		"memory": func() Storage { return memory.New() },
		"sqlite": func() Storage {
			s, err := sqlite.New(sqlite.Config{Path: filepath.Join(t.TempDir(), "sessions.sqlite3")})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
	}
}

func newHarness(t *testing.T, ad adapter, store Storage, opts ...harnessOption) *harness {
	t.Helper()
	return newHarnessWith(t, ad, store, providerSetup{}, opts...)
}

// providerSetup adjusts the provider: its options, and its state before the
// middleware is built.
type providerSetup struct {
	options func(*logtotest.Options)
	before  func(*logtotest.Provider)
	routes  []route // more routes than harnessRoutes
}

// newHarnessWith is newHarness with a provider setup.
func newHarnessWith(t *testing.T, ad adapter, store Storage, ps providerSetup, opts ...harnessOption) *harness {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	baseURL := "http://" + ln.Addr().String()
	po := logtotest.Options{
		RedirectURIs:           []string{baseURL + "/logto/sign-in-callback"},
		PostLogoutRedirectURIs: []string{baseURL},
		Resources:              []string{testResource},
	}
	if ps.options != nil {
		ps.options(&po)
	}
	p := logtotest.NewServer(t, po)
	if store == nil {
		store = memory.New()
	}
	clk := &clock{}
	cfg := config{Config: logto.Config{
		Endpoint:  p.URL,
		AppID:     p.ClientID,
		AppSecret: p.ClientSecret,
		BaseURL:   baseURL,
		Scopes:    []string{"email", "read:data", logto.ScopeOrganizations},
		Resources: []string{testResource},
		Storage:   store,
	}}
	setClock(&cfg, clk.Now)
	for _, o := range opts {
		o(&cfg)
	}
	if ps.before != nil {
		ps.before(p)
	}
	mw, err := ad.new(cfg)
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	h := &harness{
		t: t, adapter: ad, provider: p, cfg: mw.cfg, storage: store, clock: clk, baseURL: baseURL,
		browser: &http.Client{
			Jar:           jar,
			Timeout:       10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	serve(t, mw.app(slices.Concat(harnessRoutes, ps.routes)...), ln, h.browser)
	return h
}

// serve serves app on ln until the test ends.
func serve(t *testing.T, app served, ln net.Listener, browser *http.Client) {
	go func() { _ = app.listen(ln) }()
	t.Cleanup(func() {
		// Idle keep-alive connections would hold Shutdown until they time out.
		browser.CloseIdleConnections()
		http.DefaultClient.CloseIdleConnections()
		_ = app.shutdown(5 * time.Second)
	})
}

// do sends a request as the browser and returns status, headers and body.
func (h *harness) do(method, target string, header map[string]string) (*http.Response, string) {
	h.t.Helper()
	if strings.HasPrefix(target, "/") {
		target = h.baseURL + target
	}
	req, err := http.NewRequest(method, target, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := h.browser.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (h *harness) get(target string) (*http.Response, string) {
	h.t.Helper()
	return h.do(http.MethodGet, target, nil)
}

// startSignIn GETs the sign-in route and returns Logto's authorization URL.
func (h *harness) startSignIn(path string) *url.URL {
	h.t.Helper()
	resp, body := h.get(path)
	if resp.StatusCode != http.StatusFound {
		h.t.Fatalf("GET %s = %d %s, want 302", path, resp.StatusCode, body)
	}
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		h.t.Fatal(err)
	}
	return u
}

// authorize signs the demo user in at the provider and returns the callback URL.
func (h *harness) authorize(authURL *url.URL) string {
	h.t.Helper()
	cb, err := h.provider.SignIn(context.Background(), h.browser, authURL.String(), logtotest.DemoUser.Username, logtotest.DemoUser.Password)
	if err != nil {
		h.t.Fatalf("provider sign-in: %v", err)
	}
	return cb
}

// signIn runs the whole sign-in and returns the callback's response.
func (h *harness) signIn() *http.Response {
	h.t.Helper()
	cb := h.authorize(h.startSignIn("/logto/sign-in"))
	resp, body := h.get(cb)
	if resp.StatusCode != http.StatusFound {
		h.t.Fatalf("callback = %d %s, want 302", resp.StatusCode, body)
	}
	return resp
}

// user GETs /user and decodes it.
func (h *harness) user() map[string]any {
	h.t.Helper()
	resp, body := h.do(http.MethodGet, "/user", map[string]string{"Accept": "application/json"})
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("/user = %d %s", resp.StatusCode, body)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		h.t.Fatalf("/user body %q: %v", body, err)
	}
	return m
}

func (h *harness) sessionCookie() *http.Cookie {
	u, _ := url.Parse(h.baseURL)
	for _, c := range h.browser.Jar.Cookies(u) {
		if c.Name == h.cfg.CookieName {
			return c
		}
	}
	return nil
}

// sessionStored reports whether the session of cookie is in storage.
func (h *harness) sessionStored(cookie string) bool {
	h.t.Helper()
	v, err := h.storage.Get(fiberlogto.StorageKeyForTest(cookie))
	if err != nil {
		h.t.Fatal(err)
	}
	return len(v) > 0
}

func claimsOf(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	c, ok := m["claims"].(map[string]any)
	if !ok {
		t.Fatalf("no claims in %v", m)
	}
	return c
}

func jwtPayload(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	var m map[string]any
	b, err := base64URLDecode(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func base64URLDecode(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

func decodeJSON(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }

// revoke revokes a token at the provider's revocation endpoint, as another
// party (an admin, the user elsewhere) would.
func (h *harness) revoke(token string) {
	h.t.Helper()
	h.revokeAs(token, "refresh_token")
}

func (h *harness) revokeAccess(token string) {
	h.t.Helper()
	h.revokeAs(token, "access_token")
}

func (h *harness) revokeAs(token, hint string) {
	h.t.Helper()
	if token == "" {
		h.t.Fatal("no token to revoke")
	}
	form := url.Values{"token": {token}, "token_type_hint": {hint}}
	req, _ := http.NewRequest(http.MethodPost, h.provider.Issuer+"/token/revocation", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(h.provider.ClientID), url.QueryEscape(h.provider.ClientSecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("revocation = %d", resp.StatusCode)
	}
}

func newJar() http.CookieJar {
	jar, _ := cookiejar.New(nil)
	return jar
}

// userAnswer is what one GET /user answered.
type userAnswer struct {
	Status          int
	IsAuthenticated bool   `json:"isAuthenticated"`
	AccessToken     string `json:"accessToken"`
}

// concurrentUsers sends n GET /user at once as the browser, spread over
// bases in turn (instances of one app), and returns the answers in order.
func (h *harness) concurrentUsers(n int, bases ...string) []userAnswer {
	answers := make([]userAnswer, n)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, bases[i%len(bases)]+"/user", nil)
			resp, err := h.browser.Do(req)
			if err != nil {
				h.t.Error(err)
				return
			}
			defer resp.Body.Close()
			_ = decodeJSON(resp.Body, &answers[i])
			answers[i].Status = resp.StatusCode
		}(i)
	}
	wg.Wait()
	return answers
}
