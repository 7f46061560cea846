package logtotest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// testRedirect is the RP callback used by the tests. It is never requested:
// SignIn stops at the redirect to it. Any loopback URI is accepted when
// Options.RedirectURIs is empty.
const testRedirect = "http://127.0.0.1:3000/logto/sign-in-callback"

// fakeClock is a movable Options.Clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newBrowser is an http.Client with a cookie jar that does not follow
// redirects, like the client SignIn expects.
func newBrowser(t testing.TB) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{
		Jar:           jar,
		Timeout:       5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// pkce returns a verifier and its S256 challenge.
func pkce() (verifier, challenge string) {
	verifier = randomToken() + randomToken()
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// authRequestParams are the parameters of a typical fiberlogto sign-in.
type authParams struct {
	scope     string
	prompt    string
	resources []string
	nonce     string
	state     string
	challenge string
	extra     url.Values
}

func authorizeURL(p *Provider, a authParams) string {
	q := url.Values{
		"client_id":     {p.ClientID},
		"redirect_uri":  {testRedirect},
		"response_type": {"code"},
		"scope":         {a.scope},
	}
	if a.prompt != "" {
		q.Set("prompt", a.prompt)
	}
	if a.state != "" {
		q.Set("state", a.state)
	}
	if a.nonce != "" {
		q.Set("nonce", a.nonce)
	}
	if a.challenge != "" {
		q.Set("code_challenge", a.challenge)
		q.Set("code_challenge_method", "S256")
	}
	for _, r := range a.resources {
		q.Add("resource", r)
	}
	for k, v := range a.extra {
		q[k] = v
	}
	return p.Issuer + "/auth?" + q.Encode()
}

// signIn runs SignIn and returns the callback's query.
func signIn(t testing.TB, p *Provider, browser *http.Client, a authParams) url.Values {
	t.Helper()
	cb, err := p.SignIn(context.Background(), browser, authorizeURL(p, a), "demo", "demo-password")
	if err != nil {
		t.Fatalf("SignIn: %v", err)
	}
	u, err := url.Parse(cb)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(cb, testRedirect+"?") {
		t.Fatalf("callback %q does not go to %s", cb, testRedirect)
	}
	return u.Query()
}

// postForm posts form to the provider with Basic client authentication
// (RFC 6749 §2.3.1 encoding) unless basic is false.
func postForm(t testing.TB, p *Provider, path string, form url.Values, basic bool) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, p.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth(url.QueryEscape(p.ClientID), url.QueryEscape(p.ClientSecret))
	}
	return doReq(t, req)
}

func doReq(t testing.TB, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
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

func decode(t testing.TB, body []byte) map[string]any {
	t.Helper()
	m := map[string]any{}
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
	return m
}

// tokens are a token response.
type tokens struct {
	AccessToken  string `json:"access_token"`
	ExpiresIn    int    `json:"expires_in"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
	TokenType    string `json:"token_type"`
}

// exchangeCode redeems code and fails the test unless it gets 200.
func exchangeCode(t testing.TB, p *Provider, code, verifier string, extra url.Values) tokens {
	t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	for k, v := range extra {
		form[k] = v
	}
	resp, body := postForm(t, p, "/oidc/token", form, true)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("code exchange: %s %s", resp.Status, body)
	}
	var tk tokens
	if err := json.Unmarshal(body, &tk); err != nil {
		t.Fatal(err)
	}
	return tk
}

// refresh posts a refresh_token grant and returns status and body.
func refresh(t testing.TB, p *Provider, rt string, extra url.Values) (int, []byte) {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	for k, v := range extra {
		form[k] = v
	}
	resp, body := postForm(t, p, "/oidc/token", form, true)
	return resp.StatusCode, body
}

func refreshOK(t testing.TB, p *Provider, rt string, extra url.Values) tokens {
	t.Helper()
	status, body := refresh(t, p, rt, extra)
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %s", status, body)
	}
	var tk tokens
	if err := json.Unmarshal(body, &tk); err != nil {
		t.Fatal(err)
	}
	return tk
}

// fullSignIn signs in with PKCE and prompt=consent and exchanges the code.
func fullSignIn(t testing.TB, p *Provider, scope string, resources ...string) tokens {
	t.Helper()
	verifier, challenge := pkce()
	q := signIn(t, p, newBrowser(t), authParams{scope: scope, prompt: "consent", resources: resources,
		challenge: challenge, state: "st", nonce: "n-0S6_WzA2Mj"})
	return exchangeCode(t, p, q.Get("code"), verifier, nil)
}

// userinfo calls /oidc/me with a bearer token.
func userinfo(t testing.TB, p *Provider, token string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, p.Issuer+"/me", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return doReq(t, req)
}

// jwtParts decodes a JWT's header and payload without verifying it.
func jwtParts(t testing.TB, token string) (header, payload map[string]any) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	dec := func(s string) map[string]any {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return decode(t, b)
	}
	return dec(parts[0]), dec(parts[1])
}

// wantError checks a Logto error body.
func wantError(t testing.TB, status int, body []byte, wantStatus int, wantErr, wantDesc string) map[string]any {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("status %d, want %d: %s", status, wantStatus, body)
	}
	m := decode(t, body)
	if m["error"] != wantErr || m["code"] != "oidc."+wantErr || m["message"] == nil {
		t.Fatalf("error body %s, want error %s", body, wantErr)
	}
	if wantDesc != "" && m["error_description"] != wantDesc {
		t.Fatalf("error_description %q, want %q", m["error_description"], wantDesc)
	}
	return m
}
