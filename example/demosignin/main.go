// Command demosignin signs the demo user in to the running example app the
// way a browser would, without a browser, and prints /user:
//
//	make example &                      # the app on http://127.0.0.1:3000
//	go run ./example/demosignin         # -base, -user, -password to change
//
// It starts at <base>/logto/sign-in, drives Logto's sign-in page through the
// Experience API (PUT /api/experience, POST verification/password,
// identification, submit: the calls Logto's own sign-in app makes, so it
// also works against a real Logto whose sign-in experience allows username
// and password), follows the redirects back to the app's callback, then reads
// /user. It exits non-zero unless /user says isAuthenticated with the
// expected username.
package main

import (
	"bytes"
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

// signIn runs the whole flow and returns the body of /user.
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

	next := start
	signedIn := false
	for range 20 {
		resp, body, err := do(ctx, client, http.MethodGet, next.String(), nil, "text/html")
		if err != nil {
			return nil, err
		}
		loc := resp.Header.Get("Location")
		if resp.StatusCode < 300 || resp.StatusCode > 399 || loc == "" {
			if isCallback(next) {
				return nil, fmt.Errorf("the app refused the sign-in callback: %s: %s", resp.Status, snippet(body))
			}
			return nil, fmt.Errorf("GET %s: expected a redirect, got %s: %s", next.Redacted(), resp.Status, snippet(body))
		}
		target, err := next.Parse(loc)
		if err != nil {
			return nil, fmt.Errorf("bad Location %q: %w", loc, err)
		}
		if isCallback(next) {
			// The app stored the session and sends the browser home: the
			// app's origin is the callback's (BASE_URL), which may differ
			// from -base (localhost vs 127.0.0.1).
			userURL := next.ResolveReference(&url.URL{Path: "/user"})
			resp, body, err := do(ctx, client, http.MethodGet, userURL.String(), nil, "application/json")
			if err != nil {
				return nil, err
			}
			if resp.StatusCode != http.StatusOK {
				return body, fmt.Errorf("GET %s: %s", userURL, resp.Status)
			}
			return body, checkUser(body, username)
		}
		if target.Path == "/sign-in" && !isCallback(target) {
			// Logto's sign-in page: do what its single-page app does.
			if signedIn {
				return nil, errors.New("sent back to the sign-in page after signing in")
			}
			redirectTo, err := experienceSignIn(ctx, client, target, username, password)
			if err != nil {
				return nil, err
			}
			signedIn = true
			if target, err = target.Parse(redirectTo); err != nil {
				return nil, fmt.Errorf("bad redirectTo %q: %w", redirectTo, err)
			}
		}
		if target.Path == "/unknown-session" {
			return nil, errors.New("the provider lost the sign-in interaction (/unknown-session): are cookies blocked?")
		}
		next = target
	}
	return nil, errors.New("too many redirects")
}

// isCallback reports whether u is the app's sign-in callback with Logto's answer.
func isCallback(u *url.URL) bool {
	q := u.Query()
	return strings.HasSuffix(u.Path, "/sign-in-callback") && (q.Has("code") || q.Has("error"))
}

// experienceSignIn makes the Experience API calls of Logto's sign-in app and
// returns submit's redirectTo.
func experienceSignIn(ctx context.Context, c *http.Client, signInPage *url.URL, username, password string) (string, error) {
	api := func(method, path string, in any, want int, out any) error {
		u := signInPage.ResolveReference(&url.URL{Path: path})
		resp, body, err := do(ctx, c, method, u.String(), in, "application/json")
		if err != nil {
			return err
		}
		if resp.StatusCode != want {
			return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, snippet(body))
		}
		if out != nil {
			if err := json.Unmarshal(body, out); err != nil {
				return fmt.Errorf("%s %s: %w", method, path, err)
			}
		}
		return nil
	}
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
	if err := api(http.MethodPost, "/api/experience/verification/password", map[string]any{
		"identifier": map[string]string{"type": idType, "value": username},
		"password":   password,
	}, http.StatusOK, &verification); err != nil {
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
	if submit.RedirectTo == "" {
		return "", errors.New("POST /api/experience/submit: no redirectTo")
	}
	return submit.RedirectTo, nil
}

// checkUser checks the /user answer: signed in, as username.
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

// do sends one request and reads (at most 1 MiB of) the answer.
func do(ctx context.Context, c *http.Client, method, u string, in any, accept string) (*http.Response, []byte, error) {
	var rd io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
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
