package logtotest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
)

// SignIn signs a user in the way a browser with Logto's sign-in app would,
// and returns the URL Logto finally redirects to (the RP callback with code,
// state and iss, or an error redirect) without requesting it.
//
// authorizeURL is the Location the RP's sign-in route answered. client
// carries the browser's cookies: pass the same client to reuse the SSO
// session in a later call, or nil for a fresh browser. Its CheckRedirect is
// not used: SignIn follows the provider's own redirects itself and stops at
// the first one that leaves the provider.
//
// The hops: GET authorizeURL; on /sign-in, the Experience API
// (PUT /api/experience, POST verification/password, identification,
// submit); then /oidc/auth/<uid> -> /consent -> /oidc/auth/<uid2> -> RP.
//
// An authorizeURL carrying one_time_token and login_hint (a magic link,
// OneTimeToken) goes to Logto's /one-time-token page instead of the
// password form: SignIn verifies the token with the Experience API (POST
// verification/one-time-token/verify), so username and password are not
// used. A token that is unknown, expired, used or for another email is an
// error that quotes Logto's "Invalid link" page. When the browser's SSO
// session is another user's and the request goes through /consent, Logto's
// consent guard sends it to /switch-account, where SignIn continues as
// login_hint.
func (p *Provider) SignIn(ctx context.Context, client *http.Client, authorizeURL, username, password string) (string, error) {
	base, err := url.Parse(p.baseURL())
	if err != nil {
		return "", err
	}
	return signInAt(ctx, client, base, authorizeURL, username, password)
}

// SignIn is Provider.SignIn for a provider running elsewhere (another
// process, such as the example's embedded one): the provider is the origin
// of authorizeURL.
func SignIn(ctx context.Context, client *http.Client, authorizeURL, username, password string) (string, error) {
	u, err := url.Parse(authorizeURL)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("logtotest: sign-in: bad authorize URL %q", authorizeURL)
	}
	return signInAt(ctx, client, &url.URL{Scheme: u.Scheme, Host: u.Host}, authorizeURL, username, password)
}

func signInAt(ctx context.Context, client *http.Client, base *url.URL, authorizeURL, username, password string) (string, error) {
	c, err := browserClient(client)
	if err != nil {
		return "", err
	}
	next, err := url.Parse(authorizeURL)
	if err != nil {
		return "", fmt.Errorf("logtotest: sign-in: bad authorize URL: %w", err)
	}
	signedIn, usedToken := false, false
	for range 12 {
		resp, err := do(ctx, c, http.MethodGet, next.String(), nil)
		if err != nil {
			return "", err
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode < 300 || resp.StatusCode > 399 || loc == "" {
			return "", fmt.Errorf("logtotest: sign-in: GET %s: %s: %s", next, resp.Status, strings.TrimSpace(string(body)))
		}
		target, err := next.Parse(loc)
		if err != nil {
			return "", fmt.Errorf("logtotest: sign-in: bad Location %q: %w", loc, err)
		}
		if (!sameOrigin(target, base) && !sameOrigin(target, next)) || !isProviderPath(target.Path) {
			return target.String(), nil // leaving the provider: this is the RP callback
		}
		switch q := target.Query(); {
		case target.Path == "/sign-in" && q.Get("one_time_token") != "":
			// A magic link: Logto's sign-in app goes on to its
			// /one-time-token page with the same query.
			target = target.ResolveReference(&url.URL{Path: "/one-time-token", RawQuery: target.RawQuery})
		case target.Path == "/switch-account":
			// Signed in as someone else than the magic link's email:
			// the page's "Continue as <email>".
			target = target.ResolveReference(&url.URL{Path: "/one-time-token", RawQuery: url.Values{
				"login_hint": {q.Get("login_hint")}, "one_time_token": {q.Get("one_time_token")}}.Encode()})
		}
		if target.Path == "/one-time-token" {
			if usedToken {
				return "", errors.New("logtotest: sign-in: sent back to /one-time-token after signing in with the one-time token")
			}
			redirectTo, err := experienceOneTimeToken(ctx, c, target)
			if err != nil {
				return "", err
			}
			usedToken = true
			if target, err = target.Parse(redirectTo); err != nil {
				return "", err
			}
		}
		if target.Path == "/sign-in" {
			if signedIn {
				return "", errors.New("logtotest: sign-in: sent back to /sign-in after signing in")
			}
			redirectTo, err := experienceSignIn(ctx, c, target, username, password)
			if err != nil {
				return "", err
			}
			signedIn = true
			if target, err = target.Parse(redirectTo); err != nil {
				return "", err
			}
		}
		if target.Path == "/unknown-session" {
			return "", errors.New("logtotest: sign-in: the provider lost the interaction (/unknown-session)")
		}
		next = target
	}
	return "", errors.New("logtotest: sign-in: too many redirects")
}

// browserClient is a copy of client that does not follow redirects and has
// a cookie jar.
func browserClient(client *http.Client) (*http.Client, error) {
	var c http.Client
	if client != nil {
		c = *client
	}
	if c.Jar == nil {
		jar, err := cookiejar.New(nil)
		if err != nil {
			return nil, err
		}
		c.Jar = jar
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c, nil
}

func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Host, b.Host)
}

func do(ctx context.Context, c *http.Client, method, u string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.Do(req)
}

// experienceAPI returns a function that calls the Experience API of the
// provider page is on: method path with body as JSON, which must answer
// want, decoding the answer into out.
func experienceAPI(ctx context.Context, c *http.Client, page *url.URL) func(method, path string, body any, want int, out any) error {
	return func(method, path string, body any, want int, out any) error {
		u := page.ResolveReference(&url.URL{Path: path})
		resp, err := do(ctx, c, method, u.String(), body)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if resp.StatusCode != want {
			return &experienceRefusal{method: method, path: path, status: resp.Status, body: strings.TrimSpace(string(data))}
		}
		if out != nil {
			return json.Unmarshal(data, out)
		}
		return nil
	}
}

// experienceRefusal is an Experience API call answered with an error.
type experienceRefusal struct {
	method, path, status, body string
}

func (e *experienceRefusal) Error() string {
	return fmt.Sprintf("logtotest: sign-in: %s %s: %s: %s", e.method, e.path, e.status, e.body)
}

// message is Logto's message in the error body.
func (e *experienceRefusal) message() string {
	var b struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal([]byte(e.body), &b)
	return b.Message
}

// experienceSignIn runs the Experience API calls of Logto's sign-in app and
// returns submit's redirectTo. An identifier with "@" is sent as an email.
func experienceSignIn(ctx context.Context, c *http.Client, signIn *url.URL, username, password string) (string, error) {
	api := experienceAPI(ctx, c, signIn)
	if err := api(http.MethodPut, "/api/experience", map[string]string{"interactionEvent": "SignIn"}, http.StatusNoContent, nil); err != nil {
		return "", err
	}
	idType := "username"
	if strings.Contains(username, "@") {
		idType = "email"
	}
	var verification struct {
		VerificationID string `json:"verificationId"`
	}
	err := api(http.MethodPost, "/api/experience/verification/password", map[string]any{
		"identifier": map[string]string{"type": idType, "value": username},
		"password":   password,
	}, http.StatusOK, &verification)
	if err != nil {
		return "", err
	}
	if err := api(http.MethodPost, "/api/experience/identification",
		map[string]string{"verificationId": verification.VerificationID}, http.StatusNoContent, nil); err != nil {
		return "", err
	}
	var submit struct {
		RedirectTo string `json:"redirectTo"`
	}
	if err := api(http.MethodPost, "/api/experience/submit", nil, http.StatusOK, &submit); err != nil {
		return "", err
	}
	return submit.RedirectTo, nil
}

// experienceOneTimeToken plays Logto's /one-time-token page (page, with
// one_time_token and login_hint, or errorMessage, in its query): the
// Experience API calls that sign the user in with the token, then submit's
// redirectTo. Where the page would show "Invalid link", the error says so.
func experienceOneTimeToken(ctx context.Context, c *http.Client, page *url.URL) (string, error) {
	q := page.Query()
	invalid := func(msg string, err error) error {
		if msg == "" {
			msg = invalidLinkDescription
		}
		if err != nil {
			return fmt.Errorf("logtotest: sign-in: Logto's page /one-time-token shows \"Invalid link. %s\" (%w)", msg, err)
		}
		return fmt.Errorf("logtotest: sign-in: Logto's page /one-time-token shows \"Invalid link. %s\"", msg)
	}
	if msg := q.Get("errorMessage"); msg != "" {
		return "", invalid(msg, nil)
	}
	token, email := q.Get("one_time_token"), q.Get("login_hint")
	if token == "" || email == "" {
		return "", invalid("", errors.New("the authorization request needs both one_time_token and login_hint"))
	}
	api := experienceAPI(ctx, c, page)
	if err := api(http.MethodPut, "/api/experience", map[string]string{"interactionEvent": "SignIn"}, http.StatusNoContent, nil); err != nil {
		return "", err
	}
	var verification struct {
		VerificationID string `json:"verificationId"`
	}
	err := api(http.MethodPost, "/api/experience/verification/one-time-token/verify", map[string]any{
		"token":      token,
		"identifier": map[string]string{"type": "email", "value": email},
	}, http.StatusOK, &verification)
	var refusal *experienceRefusal
	if errors.As(err, &refusal) {
		return "", invalid(refusal.message(), err)
	}
	if err != nil {
		return "", err
	}
	err = api(http.MethodPost, "/api/experience/identification",
		map[string]string{"verificationId": verification.VerificationID}, http.StatusNoContent, nil)
	if errors.As(err, &refusal) && strings.Contains(refusal.body, errUserNotExist.Code) {
		return "", fmt.Errorf("logtotest: sign-in: no user has the primary email %q: Logto would start a registration here, which logtotest does not model (%w)", email, err)
	}
	if err != nil {
		return "", err
	}
	var submit struct {
		RedirectTo string `json:"redirectTo"`
	}
	if err := api(http.MethodPost, "/api/experience/submit", nil, http.StatusOK, &submit); err != nil {
		return "", err
	}
	return submit.RedirectTo, nil
}
