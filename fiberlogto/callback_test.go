package fiberlogto_test

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
)

// TestCallbackRejects covers the callback's refusals: each answers 4xx
// without calling the token endpoint and leaves the existing session as it
// was.
func TestCallbackRejects(t *testing.T) { forEachAdapter(t, testCallbackRejects) }

func testCallbackRejects(t *testing.T, ad adapter) {
	h := newHarness(t, ad, nil)
	h.signIn()
	cookie := h.sessionCookie().Value

	cb, _ := url.Parse(h.authorize(h.startSignIn("/logto/sign-in")))
	good := cb.Query()
	with := func(edit func(q url.Values)) string {
		q := url.Values{}
		for k, v := range good {
			q[k] = append([]string(nil), v...)
		}
		edit(q)
		u := *cb
		u.RawQuery = q.Encode()
		return u.String()
	}
	cases := map[string]string{
		"no state":      with(func(q url.Values) { q.Del("state") }),
		"wrong state":   with(func(q url.Values) { q.Set("state", strings.Repeat("A", 43)) }),
		"garbage state": with(func(q url.Values) { q.Set("state", "<script>alert(1)</script>") }),
	}
	tokenCalls := h.provider.Calls("token")
	for name, target := range cases {
		resp, body := h.do(http.MethodGet, target, map[string]string{"Accept": "text/html"})
		if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusFound {
			t.Errorf("%s: %d %s", name, resp.StatusCode, body)
		}
		if strings.Contains(body, "<script>") {
			t.Errorf("%s: body echoes input unescaped: %s", name, body)
		}
	}
	// Signed in: a bad state goes home rather than failing.
	if h.provider.Calls("token") != tokenCalls {
		t.Fatal("a rejected callback called the token endpoint")
	}

	// A fresh browser with the right state but no sign-in cookie: another browser.
	jar, _ := cookiejar.New(nil)
	other := &http.Client{Jar: jar, CheckRedirect: h.browser.CheckRedirect}
	resp, err := other.Get(cb.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("callback in another browser = %d, want 400", resp.StatusCode)
	}
	if h.provider.Calls("token") != tokenCalls {
		t.Fatal("another browser's callback called the token endpoint")
	}
	if !h.sessionStored(cookie) || h.user()["isAuthenticated"] != true {
		t.Fatal("a rejected callback touched the session")
	}
	// The pending sign-in lives in the browser that started it: another
	// browser could not use it up, so the real one still finishes it.
	resp, _ = h.get(cb.String())
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != h.baseURL {
		t.Errorf("the real browser's callback = %d %q, want 302 home", resp.StatusCode, resp.Header.Get("Location"))
	}
	// Now it is used up: replayed, it goes home without a token call.
	tokenCalls = h.provider.Calls("token")
	resp, _ = h.get(cb.String())
	if resp.StatusCode != http.StatusFound || h.provider.Calls("token") != tokenCalls {
		t.Errorf("replayed callback of a signed-in browser = %d with %d token calls, want 302 home and none", resp.StatusCode, h.provider.Calls("token")-tokenCalls)
	}
}

func TestCallbackIssuerAndErrors(t *testing.T) { forEachAdapter(t, testCallbackIssuerAndErrors) }

func testCallbackIssuerAndErrors(t *testing.T, ad adapter) {
	h := newHarness(t, ad, nil)
	for name, edit := range map[string]func(q url.Values){
		"iss missing": func(q url.Values) { q.Del("iss") },
		"iss foreign": func(q url.Values) { q.Set("iss", "https://evil.example/oidc") },
		"iss slash":   func(q url.Values) { q.Set("iss", q.Get("iss")+"/") },
		"error": func(q url.Values) {
			q.Del("code")
			q.Set("error", "access_denied")
			q.Set("error_description", "<script>x</script>")
		},
		"no code": func(q url.Values) { q.Del("code") },
	} {
		t.Run(name, func(t *testing.T) {
			cb, _ := url.Parse(h.authorize(h.startSignIn("/logto/sign-in")))
			q := cb.Query()
			edit(q)
			cb.RawQuery = q.Encode()
			calls := h.provider.Calls("token")
			resp, body := h.do(http.MethodGet, cb.String(), map[string]string{"Accept": "text/html"})
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("= %d %s, want 400", resp.StatusCode, body)
			}
			if strings.Contains(body, "<script>") {
				t.Fatalf("unescaped echo: %s", body)
			}
			if resp.Header.Get("Cache-Control") != "no-store" {
				t.Error("error page is cacheable")
			}
			if h.provider.Calls("token") != calls {
				t.Fatal("token endpoint called")
			}
			if h.sessionCookie() != nil {
				t.Fatal("a session cookie was set")
			}
			// The transaction is used up: the untouched callback fails too.
			q.Set("iss", h.provider.Issuer)
			resp, _ = h.get(cb.String())
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("transaction reused: %d", resp.StatusCode)
			}
		})
	}
}

func TestTwoTabsSignIn(t *testing.T) { forEachAdapter(t, testTwoTabsSignIn) }

func testTwoTabsSignIn(t *testing.T, ad adapter) {
	h := newHarness(t, ad, nil)
	a := h.startSignIn("/logto/sign-in?returnTo=/a")
	b := h.startSignIn("/logto/sign-in?returnTo=/b")
	cbA, cbB := h.authorize(a), h.authorize(b)
	respB, _ := h.get(cbB)
	respA, _ := h.get(cbA)
	if respB.Header.Get("Location") != h.baseURL+"/b" {
		t.Errorf("tab B landed on %q", respB.Header.Get("Location"))
	}
	if respA.StatusCode != http.StatusFound || respA.Header.Get("Location") != h.baseURL+"/a" {
		t.Errorf("tab A = %d %q", respA.StatusCode, respA.Header.Get("Location"))
	}
	if h.user()["isAuthenticated"] != true {
		t.Fatal("not signed in")
	}
}
