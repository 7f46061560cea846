// Command demosignin signs the demo user in to the running example app the
// way a browser would, without a browser, and prints /user:
//
//	make example &                      # the app on http://127.0.0.1:3000
//	go run ./example/demosignin         # -base, -user, -password to change
//
// It starts at <base>/logto/sign-in, drives the provider's sign-in page
// through the Experience API with logtotest.SignIn (the calls Logto's own
// sign-in app makes), follows the redirects back to the app's callback, then
// reads /user. It exits non-zero unless /user says isAuthenticated with the
// expected username.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/fiberlogto/sdk/logtotest"
)

func main() {
	base := flag.String("base", "http://127.0.0.1:3000", "base URL of the example app")
	user := flag.String("user", "demo", "username (an identifier with @ is sent as an email)")
	password := flag.String("password", "demo-password", "password")
	timeout := flag.Duration("timeout", 30*time.Second, "overall timeout")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	body, err := signIn(ctx, *base, *user, *password)
	if body != nil {
		fmt.Println(string(body))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demosignin:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "demosignin: signed in as %s\n", *user)
}

// signIn runs the whole flow and returns the body of /user: the app's
// sign-in route (following its own redirects, e.g. from 127.0.0.1 to the
// BASE_URL host), the provider's sign-in as logtotest.SignIn drives it,
// the app's callback, then /user.
func signIn(ctx context.Context, base, username, password string) ([]byte, error) {
	start, err := url.Parse(strings.TrimRight(base, "/") + "/logto/sign-in")
	if err != nil || (start.Scheme != "http" && start.Scheme != "https") || start.Host == "" {
		return nil, fmt.Errorf("-base %q is not an http(s) URL", base)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	// A browser: cookies, and every redirect followed by hand so that each
	// hop can be checked.
	client := &http.Client{
		Jar:           jar,
		Timeout:       15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	// The app's own hops, up to the redirect that leaves for the provider.
	next := start
	var authorize *url.URL
	for range 5 {
		resp, body, err := do(ctx, client, http.MethodGet, next.String(), "text/html")
		if err != nil {
			return nil, err
		}
		loc := resp.Header.Get("Location")
		if resp.StatusCode < 300 || resp.StatusCode > 399 || loc == "" {
			return nil, fmt.Errorf("GET %s: expected a redirect, got %s: %s", next.Redacted(), resp.Status, snippet(body))
		}
		target, err := next.Parse(loc)
		if err != nil {
			return nil, fmt.Errorf("bad Location %q: %w", loc, err)
		}
		if target.Path != start.Path {
			// Not the app's sign-in route on another of its host names:
			// the provider's authorization endpoint.
			authorize = target
			break
		}
		next = target
	}
	if authorize == nil {
		return nil, errors.New("the app never redirected to the provider")
	}

	callback, err := logtotest.SignIn(ctx, client, authorize.String(), username, password)
	if err != nil {
		return nil, err
	}
	cb, err := url.Parse(callback)
	if err != nil {
		return nil, err
	}
	resp, body, err := do(ctx, client, http.MethodGet, callback, "text/html")
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusFound {
		return nil, fmt.Errorf("the app refused the sign-in callback: %s: %s", resp.Status, snippet(body))
	}
	// The app's origin is the callback's (BASE_URL), which may differ from
	// -base (localhost vs 127.0.0.1).
	userURL := cb.ResolveReference(&url.URL{Path: "/user"})
	resp, body, err = do(ctx, client, http.MethodGet, userURL.String(), "application/json")
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return body, fmt.Errorf("GET %s: %s", userURL, resp.Status)
	}
	return body, checkUser(body, username)
}

func checkUser(body []byte, username string) error {
	var user struct {
		IsAuthenticated bool `json:"isAuthenticated"`
		Claims          struct {
			Sub      string `json:"sub"`
			Username string `json:"username"`
			Email    string `json:"email"`
		} `json:"claims"`
	}
	if err := json.Unmarshal(body, &user); err != nil {
		return fmt.Errorf("/user is not JSON: %w", err)
	}
	if !user.IsAuthenticated {
		return errors.New("/user: isAuthenticated is false")
	}
	if user.Claims.Username != username && (user.Claims.Email == "" || !strings.EqualFold(user.Claims.Email, username)) {
		return fmt.Errorf("/user: claims.username is %q, want %q", user.Claims.Username, username)
	}
	return nil
}

// do sends one GET-like request and reads (at most 1 MiB of) the answer.
func do(ctx context.Context, c *http.Client, method, u, accept string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", accept)
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, nil, err
	}
	return resp, body, nil
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}
