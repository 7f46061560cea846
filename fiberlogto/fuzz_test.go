package fiberlogto

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
)

// fuzzApp is an app whose Logto is unreachable: every path that needs it
// answers 503, and everything before is exercised in process.
func fuzzApp(tb testing.TB) (*fiber.App, *Logto) {
	tb.Helper()
	l, err := New(Config{
		Endpoint:    "http://127.0.0.1:1",
		AppID:       "app",
		AppSecret:   "secret",
		BaseURL:     "http://localhost:3000",
		HTTPTimeout: 200 * time.Millisecond,
	})
	if err != nil {
		tb.Fatal(err)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Use(l.Handler())
	app.Get("/user", func(c *fiber.Ctx) error { return c.JSON(User(c)) })
	return app, l
}

const fuzzState = "sssssssssssssssssssssssssssssssssssssssssss"

// fuzzSignInCookie is the sign-in cookie of a browser that started a
// sign-in for fuzzState just now.
func fuzzSignInCookie(l *Logto) string {
	return l.sealer.seal([]transaction{{State: stateHash(fuzzState), For: l.sealer.startedFor, CreatedAt: time.Now().Unix(), Nonce: newID(), Verifier: newID()}})
}

// FuzzSignInCookie: whatever the sign-in cookie holds, the callback answers
// 400 (or 503 while Logto is unreachable) and a fresh sign-in still starts.
func FuzzSignInCookie(f *testing.F) {
	app, l := fuzzApp(f)
	valid := fuzzSignInCookie(l)
	for _, s := range []string{"", "x", valid, valid[:len(valid)-1], valid + "A", "AQ" + valid[2:], strings.Repeat("A", 4000), "%3Cscript%3E", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cookie string) {
		if cookie == valid {
			return
		}
		for _, target := range []string{"/logto/sign-in-callback?code=x&state=" + fuzzState + "&iss=http%3A%2F%2F127.0.0.1%3A1%2Foidc", "/logto/sign-in"} {
			req, err := http.NewRequest(http.MethodGet, target, nil)
			if err != nil {
				return
			}
			req.Header.Set("Cookie", l.signInCookie+"="+url.QueryEscape(cookie))
			resp, err := app.Test(req, -1)
			if err != nil {
				return
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("sign-in cookie %q at %s: %d %s", cookie, target, resp.StatusCode, body)
			}
		}
	})
}

// FuzzCallbackQuery: whatever query reaches the callback, the answer is a
// 4xx (or 503 while Logto is unreachable), never a 500 or a crash.
func FuzzCallbackQuery(f *testing.F) {
	app, l := fuzzApp(f)
	for _, q := range []string{
		"", "code=x", "state=" + fuzzState, "code=x&state=" + fuzzState + "&iss=http%3A%2F%2F127.0.0.1%3A1%2Foidc",
		"error=access_denied&error_description=%3Cscript%3E&state=" + fuzzState + "&iss=http%3A%2F%2F127.0.0.1%3A1%2Foidc",
		"state=%00%ff&code[]=1&iss=", strings.Repeat("a=b&", 200),
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, rawQuery string) {
		// A live, unclaimed transaction for fuzzState, so mutations reach
		// the iss, error and code checks.
		_ = l.cfg.Storage.Reset()
		req, err := http.NewRequest(http.MethodGet, "/logto/sign-in-callback", nil)
		if err != nil {
			return
		}
		req.URL.RawQuery = rawQuery
		req.AddCookie(&http.Cookie{Name: l.signInCookie, Value: fuzzSignInCookie(l)})
		resp, err := app.Test(req, -1)
		if err != nil {
			return // a request fasthttp refuses to parse never reached us
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 500 && resp.StatusCode != http.StatusServiceUnavailable && resp.StatusCode != http.StatusGatewayTimeout {
			t.Fatalf("query %q: status %d %s", rawQuery, resp.StatusCode, body)
		}
		if strings.Contains(string(body), "<script") {
			t.Fatalf("query %q echoed unescaped: %s", rawQuery, body)
		}
	})
}

// FuzzSessionCookie: whatever the session cookie holds, /user answers 200
// anonymous.
func FuzzSessionCookie(f *testing.F) {
	app, l := fuzzApp(f)
	id := newID()
	rec := &sessionRecord{CreatedAt: time.Now().Unix(), Subject: []byte("u"), Claims: []byte(`{"sub":"u"}`)}
	if err := l.store.save(id, rec); err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"", "x", id[:42], id + "x", strings.Repeat("A", 43), "%3Cscript%3E", "\x00\xff", strings.Repeat("é", 30)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cookie string) {
		if cookie == id {
			return
		}
		req, err := http.NewRequest(http.MethodGet, "/user", nil)
		if err != nil {
			return
		}
		req.Header.Set("Cookie", l.cfg.CookieName+"="+url.QueryEscape(cookie))
		resp, err := app.Test(req, -1)
		if err != nil {
			return
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"isAuthenticated":false`) {
			t.Fatalf("cookie %q: %d %s", cookie, resp.StatusCode, body)
		}
	})
}
