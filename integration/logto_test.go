//go:build integration

package integration

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// The parts of a sign-in and a sign-out that happen at Logto, done the way
// Logto's own sign-in page does them, with each hop checked against what a
// real Logto v1.37 answers (logto-observed.md §3, §5, §14).

// experienceError is the body of an Experience API error.
type experienceError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

var lowerAlnum = regexp.MustCompile(`^[a-z0-9]+$`)

// signInAtLogto opens Logto's authorization URL (where the app's sign-in
// route sent the browser) and signs the user in: /oidc/auth -> /sign-in, the
// Experience API, then /oidc/auth/<uid> -> /consent -> /oidc/auth/<uid2>. It
// returns the final redirect, to the app's callback, without following it.
func signInAtLogto(t *testing.T, b *browser, authorizeURL string) *url.URL {
	t.Helper()
	return signInAt(t, suite.target, b, authorizeURL)
}

// signInAt is signInAtLogto at the Logto tg (a provider a test started
// itself, or the suite's target).
func signInAt(t *testing.T, tg target, b *browser, authorizeURL string) *url.URL {
	t.Helper()
	endpoint, _ := url.Parse(tg.Endpoint)

	// GET /oidc/auth: no Logto session yet, so Logto's sign-in page.
	auth := b.open(authorizeURL)
	signIn := auth.location(t)
	if signIn.Path != "/sign-in" || signIn.Query().Get("app_id") != tg.AppID || signIn.Host != endpoint.Host {
		t.Fatalf("GET /oidc/auth: want a redirect to %s/sign-in?app_id=%s, got %d %s", tg.Endpoint, tg.AppID, auth.Status, signIn)
	}
	if auth.Status != http.StatusSeeOther {
		t.Errorf("GET /oidc/auth: status %d, Logto answers 303", auth.Status)
	}
	checkLogtoCookies(t, tg, b, auth)

	b.follow(auth).expect(t, http.StatusOK) // the sign-in page (Logto's SPA, or the provider's form)

	api := func(path string) string { return endpoint.ResolveReference(&url.URL{Path: path}).String() }

	// The Experience API, as Logto's sign-in page calls it.
	b.fetchJSON(http.MethodPut, api("/api/experience"), map[string]string{"interactionEvent": "SignIn"}, nil).
		expect(t, http.StatusNoContent)

	var bad experienceError
	wrong := b.fetchJSON(http.MethodPost, api("/api/experience/verification/password"), map[string]any{
		"identifier": map[string]string{"type": "username", "value": tg.Username},
		"password":   tg.Password + "-wrong",
	}, nil).expect(t, http.StatusUnprocessableEntity)
	wrong.decode(t, &bad)
	if bad.Code != "session.invalid_credentials" {
		t.Errorf("wrong password: code %q, want session.invalid_credentials", bad.Code)
	}

	var verification struct {
		VerificationID string `json:"verificationId"`
	}
	b.fetchJSON(http.MethodPost, api("/api/experience/verification/password"), map[string]any{
		"identifier": map[string]string{"type": "username", "value": tg.Username},
		"password":   tg.Password,
	}, &verification).expect(t, http.StatusOK)
	if !lowerAlnum.MatchString(verification.VerificationID) {
		t.Fatalf("verificationId %q: want Logto's lowercase alphanumeric id", verification.VerificationID)
	}

	early := b.fetchJSON(http.MethodPost, api("/api/experience/submit"), nil, nil).expect(t, http.StatusNotFound)
	early.decode(t, &bad)
	if bad.Code != "session.identifier_not_found" {
		t.Errorf("submit before identification: code %q, want session.identifier_not_found", bad.Code)
	}

	b.fetchJSON(http.MethodPost, api("/api/experience/identification"),
		map[string]string{"verificationId": verification.VerificationID}, nil).expect(t, http.StatusNoContent)

	var submit struct {
		RedirectTo string `json:"redirectTo"`
	}
	b.fetchJSON(http.MethodPost, api("/api/experience/submit"), nil, &submit).expect(t, http.StatusOK)
	resume, err := url.Parse(submit.RedirectTo)
	if err != nil || !resume.IsAbs() || resume.Host != endpoint.Host || !strings.HasPrefix(resume.Path, "/oidc/auth/") {
		t.Fatalf("submit: redirectTo %q, want an absolute %s/oidc/auth/<uid>", submit.RedirectTo, tg.Endpoint)
	}

	// The browser goes on: /oidc/auth/<uid> -> /consent (first-party apps
	// consent automatically) -> /oidc/auth/<uid2> -> the app's callback.
	hop := b.open(resume.String())
	consent := hop.location(t)
	if consent.Path != "/consent" || consent.Query().Get("app_id") != tg.AppID {
		t.Fatalf("GET %s: want a redirect to /consent?app_id=%s, got %d %s", resume.Path, tg.AppID, hop.Status, consent)
	}
	callback := consentAtLogto(t, tg, b, hop, resume.Path)
	// Logto's session now exists on its host.
	if _, ok := b.jar.get(endpoint, "_session"); !ok {
		t.Errorf("no _session cookie from Logto after the sign-in")
	}
	return callback
}

// consentAtLogto follows Logto's redirect to /consent, which consents for a
// first-party app and resumes the authorization under a new uid, which
// redirects to the app's callback (returned, not followed).
func consentAtLogto(t *testing.T, tg target, b *browser, toConsent *page, prevPath string) *url.URL {
	t.Helper()
	endpoint, _ := url.Parse(tg.Endpoint)
	hop := b.follow(toConsent)
	resume := hop.location(t)
	if !strings.HasPrefix(resume.Path, "/oidc/auth/") || resume.Path == prevPath || resume.Host != endpoint.Host {
		t.Fatalf("GET /consent: want a redirect to a new %s/oidc/auth/<uid>, got %d %s", tg.Endpoint, hop.Status, resume)
	}
	hop = b.follow(hop)
	callback := hop.location(t)
	if hop.Status != http.StatusSeeOther {
		t.Errorf("GET %s: status %d, Logto answers 303", resume.Path, hop.Status)
	}
	return callback
}

// authorizeWithSession opens an authorization URL in a browser that already
// has a Logto session: with prompt=consent, no sign-in page, straight
// /oidc/auth -> /consent -> /oidc/auth/<uid> -> callback (§4).
func authorizeWithSession(t *testing.T, b *browser, authorizeURL string) *url.URL {
	t.Helper()
	hop := b.open(authorizeURL)
	consent := hop.location(t)
	if consent.Path != "/consent" {
		t.Fatalf("GET /oidc/auth with a Logto session and prompt=consent: want a redirect to /consent, got %d %s", hop.Status, consent)
	}
	return consentAtLogto(t, suite.target, b, hop, "/oidc/auth")
}

// checkLogtoCookies checks the interaction cookies Logto sets on
// /oidc/auth, among them _logto, whose raw JSON value net/http refuses.
func checkLogtoCookies(t *testing.T, tg target, b *browser, auth *page) {
	t.Helper()
	endpoint, _ := url.Parse(tg.Endpoint)
	if _, ok := b.jar.get(endpoint, "_interaction"); !ok {
		t.Errorf("GET /oidc/auth set no _interaction cookie")
	}
	raw, ok := auth.setCookie("_logto")
	if !ok {
		t.Errorf("GET /oidc/auth set no _logto cookie (Logto's UI cookie)")
		return
	}
	c, _ := b.jar.get(endpoint, "_logto")
	var ui struct {
		AppID string `json:"appId"`
	}
	if c == nil || json.Unmarshal([]byte(c.Value), &ui) != nil || ui.AppID != tg.AppID {
		t.Errorf("_logto cookie %q: want raw JSON {\"appId\":%q}", raw, tg.AppID)
	}
	if _, err := http.ParseSetCookie(raw); err == nil {
		t.Logf("note: net/http accepted the _logto cookie %q", raw)
	}
}

// signOutAtLogto takes the app's redirect to Logto's end-session endpoint,
// opens the end-session page and submits its form as the page's script
// would, and returns Logto's final redirect without following it.
func signOutAtLogto(t *testing.T, b *browser, toLogto *page) *url.URL {
	t.Helper()
	return confirmEndSession(t, b, b.follow(toLogto))
}

// confirmEndSession submits Logto's end-session page (the answer to a GET
// of the end-session endpoint) as its script would, and returns Logto's
// final redirect without following it. Logto ends its session during this
// confirm, and sends the back-channel logouts then.
func confirmEndSession(t *testing.T, b *browser, endPage *page) *url.URL {
	t.Helper()
	endPage.expect(t, http.StatusOK)
	if ct := endPage.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("end-session page Content-Type %q, want text/html", ct)
	}
	action, fields := logoutForm(t, string(endPage.Body))
	if fields.Get("xsrf") == "" || fields.Get("logout") != "yes" {
		t.Fatalf("end-session form posts %v: want xsrf and logout=yes", fields)
	}
	actionURL, err := endPage.URL.Parse(action)
	if err != nil || actionURL.Path != "/oidc/session/end/confirm" {
		t.Fatalf("end-session form action %q, want <endpoint>/oidc/session/end/confirm", action)
	}
	confirm := b.submitForm(actionURL.String(), fields)
	if confirm.Status != http.StatusSeeOther {
		t.Errorf("POST /oidc/session/end/confirm: status %d, Logto answers 303", confirm.Status)
	}
	return confirm.location(t)
}

var (
	formTag  = regexp.MustCompile(`(?is)<form\b([^>]*)>(.*?)</form>`)
	inputTag = regexp.MustCompile(`(?is)<input\b([^>]*)>`)
	attrRe   = regexp.MustCompile(`(?s)([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)')`)
)

func attrs(s string) map[string]string {
	out := map[string]string{}
	for _, m := range attrRe.FindAllStringSubmatch(s, -1) {
		v := m[2]
		if v == "" {
			v = m[3]
		}
		out[strings.ToLower(m[1])] = html.UnescapeString(v)
	}
	return out
}

// logoutForm finds the form the end-session page submits and the fields a
// browser would post with it: its own inputs, and inputs elsewhere that
// name it in their form= attribute (Logto puts logout=yes there).
func logoutForm(t *testing.T, doc string) (action string, fields url.Values) {
	t.Helper()
	forms := formTag.FindAllStringSubmatch(doc, -1)
	if len(forms) == 0 {
		t.Fatalf("end-session page has no form: %s", doc)
	}
	chosen := forms[0]
	for _, f := range forms {
		if attrs(f[1])["id"] == "op.logoutForm" {
			chosen = f
		}
	}
	fa := attrs(chosen[1])
	if m := strings.ToLower(fa["method"]); m != "post" {
		t.Fatalf("end-session form method %q, want post", fa["method"])
	}
	fields = url.Values{}
	for _, in := range inputTag.FindAllStringSubmatch(chosen[2], -1) {
		a := attrs(in[1])
		if a["name"] != "" {
			fields.Add(a["name"], a["value"])
		}
	}
	if id := fa["id"]; id != "" {
		rest := formTag.ReplaceAllString(doc, "")
		for _, in := range inputTag.FindAllStringSubmatch(rest, -1) {
			a := attrs(in[1])
			if a["form"] == id && a["name"] != "" {
				fields.Add(a["name"], a["value"])
			}
		}
	}
	return fa["action"], fields
}
