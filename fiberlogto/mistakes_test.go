package fiberlogto_test

// A newcomer's first hour (issue 14): each common mistake ends on an answer
// that names it, never on one that blames the user, and leaves a record
// for the operator. On both adapters, over HTTP.

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fiberlogto/sdk/logto"
)

// TestMistakeWrongAppSecret: Logto refuses the client credentials: 500 "the
// application is misconfigured", and an Error record that says which
// setting to check.
func TestMistakeWrongAppSecret(t *testing.T) { forEachAdapter(t, testMistakeWrongAppSecret) }

func testMistakeWrongAppSecret(t *testing.T, ad adapter) {
	capture := &logCapture{}
	h := newHarness(t, ad, nil, func(c *config) {
		c.Logger = slog.New(capture)
		c.AppSecret = "a-wrong-secret"
	})
	resp, body := h.do(http.MethodGet, h.authorize(h.startSignIn("/logto/sign-in")), map[string]string{"Accept": "application/json"})
	if resp.StatusCode != http.StatusInternalServerError || body != `{"error":"the application is misconfigured"}` {
		t.Fatalf("callback with a wrong AppSecret: %d %s", resp.StatusCode, body)
	}
	if capture.find(slog.LevelError, "fiberlogto: Logto refused the app's credentials: check AppID and AppSecret", "endpoint_status=401") == "" {
		t.Fatalf("no record for the operator:\n%s", strings.Join(capture.lines(), "\n"))
	}
}

// TestMistakeIssuerAsEndpoint: the issuer (…/oidc) given as Endpoint is
// refused at New, with the value to use.
func TestMistakeIssuerAsEndpoint(t *testing.T) { forEachAdapter(t, testMistakeIssuerAsEndpoint) }

func testMistakeIssuerAsEndpoint(t *testing.T, ad adapter) {
	for _, endpoint := range []string{"http://localhost:3001/oidc", "http://localhost:3001/oidc/", "https://tenant.logto.app/oidc/.well-known/openid-configuration"} {
		_, err := ad.new(config{Config: logto.Config{Endpoint: endpoint, AppID: "app", AppSecret: "s", BaseURL: "http://localhost:3000"}})
		want := `use "http://localhost:3001"`
		if strings.Contains(endpoint, "tenant") {
			want = `use "https://tenant.logto.app"`
		}
		if !errors.Is(err, logto.ErrConfig) || !strings.Contains(err.Error(), want) {
			t.Errorf("Endpoint %q: %v, want ErrConfig saying %s", endpoint, err, want)
		}
	}
}

// TestMistakeEndpointNotLogto: an Endpoint that answers, but not as Logto
// (404 for the discovery document), is a configuration error (500 and a
// record naming Endpoint), not "the identity provider is unavailable".
func TestMistakeEndpointNotLogto(t *testing.T) { forEachAdapter(t, testMistakeEndpointNotLogto) }

func testMistakeEndpointNotLogto(t *testing.T, ad adapter) {
	notLogto := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(notLogto.Close)
	capture := &logCapture{}
	h := newHarness(t, ad, nil, func(c *config) {
		c.Endpoint = notLogto.URL
		c.Logger = slog.New(capture)
	})
	resp, body := h.do(http.MethodGet, "/logto/sign-in", map[string]string{"Accept": "application/json"})
	if resp.StatusCode != http.StatusInternalServerError || strings.Contains(body, "unavailable") {
		t.Fatalf("sign-in against a server that is not Logto: %d %s", resp.StatusCode, body)
	}
	line := capture.find(slog.LevelError, "fiberlogto: configuration error")
	if !strings.Contains(line, "404") || !strings.Contains(line, notLogto.URL) {
		t.Fatalf("no record naming Endpoint and the 404:\n%s", strings.Join(capture.lines(), "\n"))
	}
}

// TestMistakeGuardWithoutWithLogto: a route registered where WithLogto does
// not run answers 500 with a record saying so, not 401 to a user who may be
// signed in.
func TestMistakeGuardWithoutWithLogto(t *testing.T) {
	forEachAdapter(t, testMistakeGuardWithoutWithLogto)
}

func testMistakeGuardWithoutWithLogto(t *testing.T, ad adapter) {
	capture := &logCapture{}
	saved := slog.Default()
	slog.SetDefault(slog.New(capture))
	t.Cleanup(func() { slog.SetDefault(saved) })
	app := ad.bare(route{path: "/protected", guard: true, answer: answerText, with: "protected resource"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.listen(ln) }()
	t.Cleanup(func() { _ = app.shutdown(5e9) })
	req, _ := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/protected", nil)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("RequireAuth without WithLogto: %d, want 500", resp.StatusCode)
	}
	if line := capture.find(slog.LevelError, "fiberlogto: configuration error"); !strings.Contains(line, "RequireAuth ran without WithLogto") {
		t.Fatalf("no record saying so:\n%s", strings.Join(capture.lines(), "\n"))
	}
}

// TestMistakeFetchUnrequestedResource: a route asking a token for a
// resource the sign-in never requested answers 500 and names the resource
// and Config.Resources, rather than 401 "sign in again", which cannot help.
func TestMistakeFetchUnrequestedResource(t *testing.T) {
	forEachAdapter(t, testMistakeFetchUnrequestedResource)
}

func testMistakeFetchUnrequestedResource(t *testing.T, ad adapter) {
	const unrequested = "https://unrequested.example.test"
	capture := &logCapture{}
	h := newHarnessWith(t, ad, nil, providerSetup{routes: []route{
		{path: "/token", guard: true, fetch: &logto.FetchOptions{AccessToken: true, Resource: unrequested}, answer: answerAccessToken},
	}}, func(c *config) { c.Logger = slog.New(capture) })
	h.signIn()
	resp, body := h.do(http.MethodGet, "/token", map[string]string{"Accept": "application/json"})
	if resp.StatusCode != http.StatusInternalServerError || strings.Contains(body, "sign in again") {
		t.Fatalf("Fetch of an unrequested resource: %d %s", resp.StatusCode, body)
	}
	if line := capture.find(slog.LevelError, "fiberlogto: configuration error"); !strings.Contains(line, unrequested) || !strings.Contains(line, "Config.Resources") {
		t.Fatalf("no record naming the resource:\n%s", strings.Join(capture.lines(), "\n"))
	}
}

// TestMistakeOtherHostName: on a loopback BaseURL, a sign-in started on
// another host name (127.0.0.1 for localhost) is sent to BaseURL's first,
// where the callback will come back with the sign-in cookie; a callback
// that still comes without any sign-in cookie says so, distinctly.
func TestMistakeOtherHostName(t *testing.T) { forEachAdapter(t, testMistakeOtherHostName) }

func testMistakeOtherHostName(t *testing.T, ad adapter) {
	var localhost string
	h := newHarness(t, ad, nil, func(c *config) {
		localhost = strings.Replace(c.BaseURL, "127.0.0.1", "localhost", 1)
		c.BaseURL = localhost
	})
	resp, _ := h.get("/logto/sign-in?returnTo=%2Fafter")
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || loc != localhost+"/logto/sign-in?returnTo=%2Fafter&fiberlogto_host=1" {
		t.Fatalf("sign-in on 127.0.0.1 for a BaseURL on localhost: %d %q", resp.StatusCode, loc)
	}
	// Turned off, it goes straight to Logto.
	stay := newHarness(t, ad, nil, func(c *config) {
		c.BaseURL = strings.Replace(c.BaseURL, "127.0.0.1", "localhost", 1)
		c.StayOnRequestHost = true
	})
	if u := stay.startSignIn("/logto/sign-in"); !strings.HasPrefix(u.String(), stay.provider.Issuer+"/auth") {
		t.Fatalf("StayOnRequestHost: redirected to %s", u)
	}
	// A callback without any sign-in cookie: distinct from a bad link.
	resp, body := h.do(http.MethodGet, "/logto/sign-in-callback?code=x&state="+strings.Repeat("s", 43), map[string]string{"Accept": "application/json"})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "no sign-in is under way in this browser on this site") {
		t.Fatalf("callback without the sign-in cookie: %d %s", resp.StatusCode, body)
	}
}
