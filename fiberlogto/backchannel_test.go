package fiberlogto_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fiberlogto/sdk/logtotest"
)

var xsrfInput = regexp.MustCompile(`name="xsrf" value="([^"]+)"`)

// endLogtoSession ends the browser's Logto session at the provider the way
// its end-session page does (GET, then POST the confirm form), without the
// app's own sign-out route.
func (h *harness) endLogtoSession() {
	h.t.Helper()
	q := url.Values{"client_id": {h.provider.ClientID}, "post_logout_redirect_uri": {h.baseURL}}
	resp, body := h.get(h.provider.Issuer + "/session/end?" + q.Encode())
	m := xsrfInput.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		h.t.Fatalf("end-session page: %d %s", resp.StatusCode, body)
	}
	form := url.Values{"xsrf": {m[1]}, "logout": {"yes"}}
	req, _ := http.NewRequest(http.MethodPost, h.provider.Issuer+"/session/end/confirm", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r, err := h.browser.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusSeeOther {
		h.t.Fatalf("end-session confirm: %d", r.StatusCode)
	}
}

func backchannelSetup(sessionRequired bool) providerSetup {
	return providerSetup{options: func(o *logtotest.Options) {
		o.BackchannelLogoutURI = o.PostLogoutRedirectURIs[0] + "/logto/backchannel-logout"
		o.BackchannelLogoutSessionRequired = sessionRequired
	}}
}

// secondBrowser signs the demo user in from another browser (its own
// cookies, its own Logto session) and returns its session cookie.
func (h *harness) secondBrowser() (restore func(), cookie string) {
	h.t.Helper()
	saved := h.browser.Jar
	h.browser.Jar = newJar()
	h.signIn()
	cookie = h.sessionCookie().Value
	return func() { h.browser.Jar = saved }, cookie
}

func TestBackchannelLogoutBySID(t *testing.T) { forEachAdapter(t, testBackchannelLogoutBySID) }

func testBackchannelLogoutBySID(t *testing.T, ad adapter) {
	h := newHarnessWith(t, ad, nil, backchannelSetup(true))
	restore, other := h.secondBrowser()
	restore()
	h.signIn()
	mine := h.sessionCookie().Value
	h.endLogtoSession()
	if h.sessionStored(mine) {
		t.Fatal("the session of the ended Logto session survived the back-channel logout")
	}
	if h.user()["isAuthenticated"] != false {
		t.Fatal("still signed in after back-channel logout")
	}
	if !h.sessionStored(other) {
		t.Fatal("the other browser's session (another sid) was ended too")
	}
}

func TestBackchannelLogoutBySub(t *testing.T) { forEachAdapter(t, testBackchannelLogoutBySub) }

func testBackchannelLogoutBySub(t *testing.T, ad adapter) {
	h := newHarnessWith(t, ad, nil, backchannelSetup(false))
	restore, other := h.secondBrowser()
	restore()
	h.signIn()
	mine := h.sessionCookie().Value
	h.endLogtoSession()
	if h.sessionStored(mine) || h.sessionStored(other) {
		t.Fatal("a logout token with only sub must end every session of the user")
	}
}

func TestBackchannelLogoutRejects(t *testing.T) { forEachAdapter(t, testBackchannelLogoutRejects) }

func testBackchannelLogoutRejects(t *testing.T, ad adapter) {
	h := newHarnessWith(t, ad, nil, backchannelSetup(false))
	h.signIn()
	cookie := h.sessionCookie().Value
	now := time.Now().Unix()
	valid := func() map[string]any {
		return map[string]any{
			"iss": h.provider.Issuer, "aud": h.provider.ClientID, "iat": now, "jti": "jti-" + time.Now().Format(time.RFC3339Nano),
			"sub": logtotest.DemoUser.ID, "events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}},
		}
	}
	post := func(token string) int {
		form := url.Values{"logout_token": {token}}
		resp, err := http.Post(h.baseURL+"/logto/backchannel-logout", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	sign := func(claims map[string]any) string {
		tok, err := h.provider.SignJWT("logout+jwt", claims)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	cases := map[string]func(c map[string]any){
		"wrong iss":     func(c map[string]any) { c["iss"] = "https://evil.example/oidc" },
		"wrong aud":     func(c map[string]any) { c["aud"] = "another-app" },
		"no iat":        func(c map[string]any) { delete(c, "iat") },
		"old iat":       func(c map[string]any) { c["iat"] = now - 3600 },
		"future iat":    func(c map[string]any) { c["iat"] = now + 3600 },
		"expired":       func(c map[string]any) { c["exp"] = now - 3600 },
		"nonce":         func(c map[string]any) { c["nonce"] = "n" },
		"no events":     func(c map[string]any) { delete(c, "events") },
		"wrong event":   func(c map[string]any) { c["events"] = map[string]any{"other": map[string]any{}} },
		"no sub or sid": func(c map[string]any) { delete(c, "sub") },
		"no jti":        func(c map[string]any) { delete(c, "jti") },
	}
	for name, edit := range cases {
		c := valid()
		edit(c)
		if got := post(sign(c)); got != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", name, got)
		}
	}
	if got := post("not-a-jwt"); got != http.StatusBadRequest {
		t.Errorf("garbage: %d", got)
	}
	if got := post(""); got != http.StatusBadRequest {
		t.Errorf("empty: %d", got)
	}
	// A valid token whose signature was tampered with.
	tampered := sign(valid())
	tampered = tampered[:len(tampered)-4] + "AAAA"
	if got := post(tampered); got != http.StatusBadRequest {
		t.Errorf("bad signature: %d", got)
	}
	if !h.sessionStored(cookie) {
		t.Fatal("a rejected logout token ended the session")
	}

	// A valid token ends the session; the same token again is a replay.
	c := valid()
	tok := sign(c)
	if got := post(tok); got != http.StatusOK {
		t.Fatalf("valid logout token: %d", got)
	}
	if h.sessionStored(cookie) {
		t.Fatal("valid logout token did not end the session")
	}
	if got := post(tok); got != http.StatusBadRequest {
		t.Fatalf("replayed logout token: %d, want 400", got)
	}
}
