package engine

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fiberlogto/sdk/storage/memory"
)

// fuzzRequest is a Request made of a query string and cookies.
type fuzzRequest struct {
	query   url.Values
	cookies map[string]string
}

func (r fuzzRequest) Query(k string) string   { return r.query.Get(k) }
func (r fuzzRequest) QueryCount(k string) int { return len(r.query[k]) }
func (r fuzzRequest) FormCount(string) int    { return 0 }
func (r fuzzRequest) Cookie(n string) string  { return r.cookies[n] }
func (r fuzzRequest) Header(string) string    { return "" }
func (r fuzzRequest) FormValue(string) string { return "" }
func (r fuzzRequest) Method() string          { return "GET" }
func (r fuzzRequest) OriginalURL() string     { return "/" }
func (r fuzzRequest) Host() string            { return "" }

// rendered is what the default error handler makes of an answer: its
// status and body.
func rendered(a *Answer) (int, string) {
	if a.Err == nil {
		return a.Status, string(a.Body)
	}
	status, _ := StatusOf(a.Err)
	msg := PublicMessage(a.Err)
	if msg == "" {
		msg = "internal error"
	}
	return status, ErrorPage(msg)
}

// fuzzEngine is an engine whose Logto is unreachable: every path that
// needs it answers 503, and everything before is exercised in process.
func fuzzEngine(tb testing.TB) *Engine {
	tb.Helper()
	e, err := newForTest(testConfig{
		Endpoint:    "http://127.0.0.1:1",
		AppID:       "app",
		AppSecret:   "secret",
		BaseURL:     "http://localhost:3000",
		HTTPTimeout: 200 * time.Millisecond,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

const fuzzState = "sssssssssssssssssssssssssssssssssssssssssss"

// fuzzSignInCookie is the sign-in cookie of a browser that started a
// sign-in for fuzzState just now.
func fuzzSignInCookie(e *Engine) string {
	return e.sealer.seal([]transaction{{State: stateHash(fuzzState), For: e.sealer.startedFor, CreatedAt: time.Now().Unix(), Nonce: newID(), Verifier: newID()}})
}

// FuzzSignInCookie: whatever the sign-in cookie holds, the callback answers
// 400 (or 503 while Logto is unreachable) and a fresh sign-in still starts.
func FuzzSignInCookie(f *testing.F) {
	e := fuzzEngine(f)
	valid := fuzzSignInCookie(e)
	for _, s := range []string{"", "x", valid, valid[:len(valid)-1], valid + "A", "AQ" + valid[2:], strings.Repeat("A", 4000), "%3Cscript%3E", "\x00\xff"} {
		f.Add(s)
	}
	callback := url.Values{"code": {"x"}, "state": {fuzzState}, "iss": {"http://127.0.0.1:1/oidc"}}
	f.Fuzz(func(t *testing.T, cookie string) {
		if cookie == valid {
			return
		}
		for _, path := range []string{"/logto/sign-in-callback", "/logto/sign-in"} {
			a, _ := e.Serve(context.Background(), path, fuzzRequest{query: callback, cookies: map[string]string{e.signInCookie: cookie}}, nil)
			if status, body := rendered(a); status != 400 && status != 503 {
				t.Fatalf("sign-in cookie %q at %s: %d %s", cookie, path, status, body)
			}
		}
	})
}

// FuzzCallbackQuery: whatever query reaches the callback, the answer is a
// 4xx (or 503/504 while Logto is unreachable), never a 500, a crash, or
// input echoed.
func FuzzCallbackQuery(f *testing.F) {
	e := fuzzEngine(f)
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
		_ = e.cfg.Storage.(*memory.Storage).Reset()
		q, _ := url.ParseQuery(rawQuery) // what parsed: servers are as lenient
		a, _ := e.Serve(context.Background(), "/logto/sign-in-callback", fuzzRequest{query: q, cookies: map[string]string{e.signInCookie: fuzzSignInCookie(e)}}, nil)
		status, body := rendered(a)
		if status >= 500 && status != 503 && status != 504 {
			t.Fatalf("query %q: status %d %s", rawQuery, status, body)
		}
		if strings.Contains(body, "<script") || strings.Contains(a.Location, "<script") {
			t.Fatalf("query %q echoed unescaped: %s %s", rawQuery, body, a.Location)
		}
	})
}

// FuzzSessionCookie: whatever the session cookie holds, the request is
// anonymous, without an error.
func FuzzSessionCookie(f *testing.F) {
	e := fuzzEngine(f)
	id := newID()
	rec := &sessionRecord{CreatedAt: time.Now().Unix(), Subject: []byte("u"), Claims: []byte(`{"sub":"u"}`)}
	if err := e.store.save(context.Background(), storageKey(sessionKeyPrefix, id), rec); err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"", "x", id[:42], id + "x", strings.Repeat("A", 43), "%3Cscript%3E", "\x00\xff", strings.Repeat("é", 30)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cookie string) {
		if cookie == id {
			return
		}
		sess, _, err := e.User(context.Background(), cookie)
		if err != nil || sess == nil || sess.User.IsAuthenticated {
			t.Fatalf("cookie %q: %+v, %v", cookie, sess, err)
		}
	})
}
