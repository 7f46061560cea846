//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	fiberv2 "github.com/gofiber/fiber/v2"
	fiberv3 "github.com/gofiber/fiber/v3"

	"github.com/fiberlogto/sdk/fiberlogto"
	fiberlogtov3 "github.com/fiberlogto/sdk/fiberlogto/v3"
	"github.com/fiberlogto/sdk/logto"
	"github.com/fiberlogto/sdk/logtohttp"
)

// Logto's token exchange types (logto-observed.md §18).
const (
	grantTypeTokenExchange       = "urn:ietf:params:oauth:grant-type:token-exchange"
	tokenTypeAccessToken         = "urn:ietf:params:oauth:token-type:access_token"
	tokenTypePersonalAccessToken = "urn:logto:token-type:personal_access_token"
)

// TestLogtoFeatures checks what issue 21 added, end to end (logto-observed.md
// §18): Logto's token exchange at its token endpoint as the suite's own
// client (token-exchange), then, for each example, a magic-link sign-in
// through the example (magic-link), a personal access token on its
// /api/data (personal-access-token), the recent sign-in that its
// /account/security wants (recent-sign-in), and impersonation through the
// SDK's ExchangeToken in a small app built in the test with the example's
// adapter (impersonation: the examples have no exchange route).
//
// What it needs it makes through Logto's Management API, with a
// machine-to-machine token for the Management API resource: token exchange
// turned on for the web app (PATCH /api/applications/<id>, restored at the
// end), a user to impersonate (deleted at the end), subject tokens, personal
// access tokens (deleted at the end) and one-time tokens.
//
// Against the suite's provider the examples run at once, each on a port of
// its own. Against a real Logto the test is not parallel: it runs alone,
// before the parallel tests, the examples one after the other on the port
// TestAPIProtection uses later.
func TestLogtoFeatures(t *testing.T) {
	if suite.examplesAtOnce() {
		t.Parallel()
	}
	tg := suite.target
	f := &features{d: fetchDiscovery(t)}
	f.v = newJWTVerifier(t, f.d)
	f.m = newManagementAPI(t, f.d)
	f.m.allowTokenExchange(t, tg.AppID)
	f.me = signInAsSuiteUser(t, f.d, f.v)
	f.subject = f.m.createUser(t)

	t.Run("token-exchange", f.tokenExchange)
	for _, ex := range suite.examples {
		t.Run(ex.name, func(t *testing.T) {
			if suite.examplesAtOnce() {
				t.Parallel()
			}
			env := exampleEnv("memory", "")
			app := startExample(t, ex, suite.appPort(ex, featuresPortName), env)
			r := &featuresRun{features: f, ex: ex, app: app}
			t.Run("magic-link", r.magicLink)
			t.Run("personal-access-token", r.personalAccessToken)
			t.Run("recent-sign-in", r.recentSignIn)
			t.Run("impersonation", r.impersonation)
		})
	}
}

// features is what every part of TestLogtoFeatures shares.
type features struct {
	d       discovery
	v       *jwtVerifier
	m       *managementAPI
	me      suiteUser   // the suite's user, LOGTO_USERNAME: a PAT's owner, the actor
	subject createdUser // a user made for the test: whom subject tokens impersonate
}

// featuresRun is one example's part.
type featuresRun struct {
	*features
	ex  *exampleCmd
	app *exampleApp
}

func (r *featuresRun) url(path string) string { return r.app.BaseURL + path }

// ---------------------------------------------------------------- the suite's user

// suiteUser is the suite's user as an ID token shows them, with the opaque
// access token of that sign-in (no resource): what an app sends as
// actor_token.
type suiteUser struct {
	sub, email, username, name string
	accessToken                string
}

// signInAsSuiteUser signs the suite's user in with the suite as the client
// (the app's credentials and a registered redirect URI; the code never
// reaches an app), for their ID, email and an opaque access token.
func signInAsSuiteUser(t *testing.T, d discovery, v *jwtVerifier) suiteUser {
	t.Helper()
	redirectURI := baseURL(suite.appPort(suite.examples[0], featuresPortName)) + "/logto/sign-in-callback"
	authURL, verifier, state := authorizeURL(d, redirectURI, "openid offline_access profile email", "")
	callback := signInAtLogto(t, newBrowser(t), authURL)
	tokens := exchangeCode(t, d, checkCallback(t, d, callback, redirectURI, state), verifier, redirectURI)
	id := v.verify(t, tokens.IDToken)
	u := suiteUser{sub: id.str("sub"), email: id.str("email"), username: id.str("username"), name: id.str("name"), accessToken: tokens.AccessToken}
	if u.sub == "" || strings.Count(u.accessToken, ".") == 2 {
		t.Fatalf("sign-in without a resource: sub %q, access token a JWT %v; want the user's ID and an opaque token", u.sub, strings.Count(u.accessToken, ".") == 2)
	}
	if suite.fixture != nil && (u.sub != suite.fixture.UserID || u.email != suite.target.Username+"@example.com") {
		t.Fatalf("the provider's user: sub %q email %q", u.sub, u.email)
	}
	return u
}

// displayName is what the examples greet a user with: name, else username,
// else sub.
func (u suiteUser) displayName() string {
	switch {
	case u.name != "":
		return u.name
	case u.username != "":
		return u.username
	}
	return u.sub
}

// ---------------------------------------------------------------- Management API

// managementAPI calls Logto's Management API with a machine-to-machine
// token: the suite's M2M app with the scope all of the Management API
// resource (Logto's "Logto Management API access" role).
type managementAPI struct {
	endpoint string
	token    string
}

func newManagementAPI(t *testing.T, d discovery) *managementAPI {
	t.Helper()
	tg := suite.target
	status, body := tokenRequestAs(t, d, tg.M2MAppID, tg.M2MAppSecret, url.Values{
		"grant_type": {"client_credentials"}, "resource": {tg.ManagementResource}, "scope": {"all"},
	})
	var out tokenResponse
	if status != http.StatusOK || json.Unmarshal(body, &out) != nil || out.AccessToken == "" {
		t.Fatalf("a Management API token for the machine-to-machine app (resource %s, scope all): %d %s; give the app of LOGTO_M2M_APP_ID Logto's Management API access role (integration/README.md), and set LOGTO_MANAGEMENT_API_RESOURCE for a Logto Cloud tenant",
			tg.ManagementResource, status, body)
	}
	if !slices.Contains(strings.Fields(out.Scope), "all") {
		t.Fatalf("the Management API token has scope %q, want all: the app of LOGTO_M2M_APP_ID needs Logto's Management API access role", out.Scope)
	}
	return &managementAPI{endpoint: tg.Endpoint, token: out.AccessToken}
}

// call sends a Management API request and returns the status and body.
func (m *managementAPI) call(t testing.TB, method, path string, in any) (int, []byte) {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, m.endpoint+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+m.token)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, out
}

// must is call that fails t unless the answer is 2xx, and decodes it into
// out (when not nil).
func (m *managementAPI) must(t testing.TB, method, path string, in, out any) {
	t.Helper()
	status, body := m.call(t, method, path, in)
	if status/100 != 2 {
		t.Fatalf("Management API %s %s: %d %s", method, path, status, body)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("Management API %s %s: %v: %s", method, path, err, body)
		}
	}
}

// application is what the suite reads of GET /api/applications/<id>.
type application struct {
	ID                   string         `json:"id"`
	CustomClientMetadata map[string]any `json:"customClientMetadata"`
}

func (m *managementAPI) application(t testing.TB, id string) application {
	t.Helper()
	var app application
	m.must(t, http.MethodGet, "/api/applications/"+url.PathEscape(id), nil, &app)
	return app
}

func (a application) allowsTokenExchange() bool {
	on, _ := a.CustomClientMetadata["allowTokenExchange"].(bool)
	return on
}

// allowTokenExchange turns token exchange on for the app
// (customClientMetadata.allowTokenExchange), and back off when the test
// ends if it was off. The app's other custom metadata is sent back as it
// was.
func (m *managementAPI) allowTokenExchange(t *testing.T, appID string) {
	t.Helper()
	app := m.application(t, appID)
	if app.allowsTokenExchange() {
		return
	}
	set := func(t testing.TB, on bool) application {
		meta := map[string]any{}
		for k, v := range app.CustomClientMetadata {
			meta[k] = v
		}
		meta["allowTokenExchange"] = on
		var out application
		m.must(t, http.MethodPatch, "/api/applications/"+url.PathEscape(appID), map[string]any{"customClientMetadata": meta}, &out)
		return out
	}
	if !set(t, true).allowsTokenExchange() {
		t.Fatalf("PATCH /api/applications/%s did not turn token exchange on", appID)
	}
	t.Cleanup(func() { set(t, false) })
}

// createdUser is a user the test made.
type createdUser struct {
	ID       string `json:"id"`
	Username string `json:"username"`
}

// createUser makes a user with no roles and no password (POST /api/users),
// deleted when the test ends: someone to impersonate.
func (m *managementAPI) createUser(t *testing.T) createdUser {
	t.Helper()
	var u createdUser
	m.must(t, http.MethodPost, "/api/users", map[string]string{
		"username": "fiberlogto_subject_" + strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(randomString(9))),
		"name":     "Impersonated <User>",
	}, &u)
	if u.ID == "" {
		t.Fatalf("POST /api/users: no id")
	}
	t.Cleanup(func() { m.call(t, http.MethodDelete, "/api/users/"+url.PathEscape(u.ID), nil) })
	return u
}

// subjectToken makes a subject token to impersonate the user (POST
// /api/subject-tokens): sub_ and 21 characters, for 600 s.
func (m *managementAPI) subjectToken(t testing.TB, userID string) string {
	t.Helper()
	var out struct {
		SubjectToken string `json:"subjectToken"`
		ExpiresIn    int    `json:"expiresIn"`
	}
	m.must(t, http.MethodPost, "/api/subject-tokens", map[string]string{"userId": userID}, &out)
	if !strings.HasPrefix(out.SubjectToken, "sub_") || out.ExpiresIn != 600 {
		t.Fatalf("POST /api/subject-tokens: %+v, want sub_… for 600 s", out)
	}
	return out.SubjectToken
}

// personalAccessToken makes the user a personal access token (POST
// /api/users/<id>/personal-access-tokens), deleted when the test ends.
func (m *managementAPI) personalAccessToken(t *testing.T, userID, name string) string {
	t.Helper()
	var out struct {
		UserID    string `json:"userId"`
		Name      string `json:"name"`
		Value     string `json:"value"`
		ExpiresAt *int64 `json:"expiresAt"`
	}
	name += "-" + strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(randomString(6)))
	path := "/api/users/" + url.PathEscape(userID) + "/personal-access-tokens"
	m.must(t, http.MethodPost, path, map[string]string{"name": name}, &out)
	if out.UserID != userID || out.Name != name || !strings.HasPrefix(out.Value, "pat_") || out.ExpiresAt != nil {
		t.Fatalf("POST %s: %+v, want the user's token pat_…, no expiry", path, out)
	}
	t.Cleanup(func() { m.call(t, http.MethodDelete, path+"/"+url.PathEscape(name), nil) })
	return out.Value
}

// oneTimeToken makes a one-time token for a magic link to email (POST
// /api/one-time-tokens): active, for 600 s.
func (m *managementAPI) oneTimeToken(t testing.TB, email string) string {
	t.Helper()
	var out struct {
		Email     string `json:"email"`
		Token     string `json:"token"`
		Status    string `json:"status"`
		ExpiresAt int64  `json:"expiresAt"`
	}
	m.must(t, http.MethodPost, "/api/one-time-tokens", map[string]string{"email": email}, &out)
	if out.Email != email || out.Token == "" || out.Status != "active" {
		t.Fatalf("POST /api/one-time-tokens: %+v", out)
	}
	if left := time.Until(time.UnixMilli(out.ExpiresAt)); left < 9*time.Minute || left > 11*time.Minute {
		t.Errorf("a one-time token expires in %s, Logto's default is 600 s", left)
	}
	return out.Token
}

// ---------------------------------------------------------------- token exchange at Logto

// exchange posts a token exchange to Logto's token endpoint as the client id.
func (f *features) exchange(t *testing.T, id, secret string, form url.Values) (int, tokenResponse, []byte) {
	t.Helper()
	form.Set("grant_type", grantTypeTokenExchange)
	status, body := tokenRequestAs(t, f.d, id, secret, form)
	var out tokenResponse
	_ = json.Unmarshal(body, &out)
	return status, out, body
}

// tokenExchange: Logto's token exchange grant as §18 records it, with the
// app's credentials: personal access tokens (reusable, scopes intersected
// with the user's), subject tokens (single use, used up by a success only),
// actor tokens (act.sub), organization tokens, and the refusals.
func (f *features) tokenExchange(t *testing.T) {
	tg := suite.target
	app := func(form url.Values) (int, tokenResponse, []byte) {
		return f.exchange(t, tg.AppID, tg.AppSecret, form)
	}
	invalid := func(what string, status int, body []byte, wantStatus int, wantError string) {
		t.Helper()
		e := oidcError(body)
		if status != wantStatus || e.Error != wantError || e.Code != "oidc."+wantError {
			t.Errorf("%s: %d %s, want %d %s", what, status, body, wantStatus, wantError)
		}
	}
	claimNames := func(c jwtClaims) []string {
		var names []string
		for k := range c.Claims {
			names = append(names, k)
		}
		slices.Sort(names)
		return names
	}

	// A personal access token, twice: the same shape as Logto's, and the
	// scopes asked for that the user has.
	pat := f.m.personalAccessToken(t, f.me.sub, "integration-exchange")
	for i := range 2 {
		status, out, body := app(url.Values{"subject_token": {pat}, "subject_token_type": {tokenTypePersonalAccessToken},
			"resource": {tg.Resource}, "scope": {"read:data write:nothing"}})
		if status != http.StatusOK || out.AccessToken == "" {
			t.Fatalf("exchange %d of a personal access token: %d %s", i+1, status, body)
		}
		if out.TokenType != "Bearer" || out.Scope != "read:data" || out.RefreshToken != "" || out.IDToken != "" {
			t.Errorf("personal access token exchange: token_type %q scope %q, refresh token %v, ID token %v; want Bearer, read:data, neither",
				out.TokenType, out.Scope, out.RefreshToken != "", out.IDToken != "")
		}
		c := f.v.verify(t, out.AccessToken)
		if want := []string{"aud", "client_id", "exp", "iat", "iss", "jti", "scope", "sub"}; c.Typ != "at+jwt" || !slices.Equal(claimNames(c), want) {
			t.Errorf("exchanged token: typ %q claims %v, want at+jwt and Logto's %v", c.Typ, claimNames(c), want)
		}
		if c.str("sub") != f.me.sub || c.str("client_id") != tg.AppID || c.str("aud") != tg.Resource || c.str("scope") != "read:data" {
			t.Errorf("exchanged token: sub %q client_id %q aud %v scope %q, want the PAT's owner %s, the app %s, %s, read:data",
				c.str("sub"), c.str("client_id"), c.Claims["aud"], c.str("scope"), f.me.sub, tg.AppID, tg.Resource)
		}
		if lifetime := c.num("exp") - c.num("iat"); lifetime != int64(out.ExpiresIn) || (suite.fixture != nil && lifetime != int64(suite.fixture.AccessTokenTTL)) {
			t.Errorf("exchanged token lives %d s, expires_in %d: want the resource's token lifetime", lifetime, out.ExpiresIn)
		}
	}

	// A subject token with an actor token: act.sub is the actor; the scopes
	// asked for are intersected with the subject's (a user with no roles:
	// none).
	subject := f.m.subjectToken(t, f.subject.ID)
	status, out, body := app(url.Values{"subject_token": {subject}, "subject_token_type": {tokenTypeAccessToken},
		"resource": {tg.Resource}, "scope": {"read:data"},
		"actor_token": {f.me.accessToken}, "actor_token_type": {tokenTypeAccessToken}})
	if status != http.StatusOK {
		t.Fatalf("subject token with an actor token: %d %s", status, body)
	}
	c := f.v.verify(t, out.AccessToken)
	act, _ := c.Claims["act"].(map[string]any)
	if c.str("sub") != f.subject.ID || act["sub"] != f.me.sub || c.str("client_id") != tg.AppID || out.Scope != "" || c.str("scope") != "" {
		t.Errorf("impersonation token: sub %q act %v client_id %q scope %q (answer %q), want sub %s, act.sub %s, client_id %s, no scope (the user has no roles)",
			c.str("sub"), c.Claims["act"], c.str("client_id"), c.str("scope"), out.Scope, f.subject.ID, f.me.sub, tg.AppID)
	}
	// Single use.
	status, _, body = app(url.Values{"subject_token": {subject}, "subject_token_type": {tokenTypeAccessToken}, "resource": {tg.Resource}})
	invalid("a used subject token", status, body, http.StatusBadRequest, "invalid_grant")
	if e := oidcError(body); e.ErrorDescription != "grant request is invalid" {
		t.Errorf("a used subject token: error_description %q, want Logto's \"grant request is invalid\"", e.ErrorDescription)
	}

	// A JWT is no actor token (Logto looks actor tokens up as opaque
	// tokens); a refused exchange leaves the subject token unused.
	subject = f.m.subjectToken(t, f.subject.ID)
	status, _, body = app(url.Values{"subject_token": {subject}, "subject_token_type": {tokenTypeAccessToken},
		"resource": {tg.Resource}, "actor_token": {out.AccessToken}, "actor_token_type": {tokenTypeAccessToken}})
	invalid("a JWT as actor token", status, body, http.StatusBadRequest, "invalid_grant")
	status, out, body = app(url.Values{"subject_token": {subject}, "subject_token_type": {tokenTypeAccessToken}, "resource": {tg.Resource}})
	if status != http.StatusOK {
		t.Errorf("a subject token after a refused exchange: %d %s, want it still usable", status, body)
	} else if c := f.v.verify(t, out.AccessToken); c.str("sub") != f.subject.ID || c.Claims["act"] != nil {
		t.Errorf("exchange without an actor: sub %q act %v", c.str("sub"), c.Claims["act"])
	}

	// An organization token for the suite's user, and one for an
	// organization they are not a member of.
	status, out, body = app(url.Values{"subject_token": {f.m.subjectToken(t, f.me.sub)}, "subject_token_type": {tokenTypeAccessToken},
		"organization_id": {tg.OrganizationID}, "scope": {"read:org read:data"}})
	if status != http.StatusOK {
		t.Errorf("organization token by exchange: %d %s", status, body)
	} else if c := f.v.verify(t, out.AccessToken); c.str("aud") != "urn:logto:organization:"+tg.OrganizationID || c.str("scope") != "read:org" || c.str("sub") != f.me.sub {
		t.Errorf("organization token by exchange: aud %v scope %q sub %q, want urn:logto:organization:%s, read:org, %s",
			c.Claims["aud"], c.str("scope"), c.str("sub"), tg.OrganizationID, f.me.sub)
	}
	status, _, body = app(url.Values{"subject_token": {f.m.subjectToken(t, f.me.sub)}, "subject_token_type": {tokenTypeAccessToken},
		"organization_id": {anotherOrganization(tg.OrganizationID)}})
	invalid("an organization the user is not a member of", status, body, http.StatusForbidden, "access_denied")

	// Logto's other refusals.
	status, _, body = app(url.Values{"subject_token": {"pat_" + strings.Repeat("0", 32)}, "subject_token_type": {tokenTypePersonalAccessToken}, "resource": {tg.Resource}})
	invalid("an unknown personal access token", status, body, http.StatusBadRequest, "invalid_grant")
	status, _, body = app(url.Values{"subject_token": {pat}, "subject_token_type": {tokenTypeAccessToken}, "resource": {tg.Resource}})
	invalid("a personal access token as an access token", status, body, http.StatusBadRequest, "invalid_grant")
	status, _, body = app(url.Values{"subject_token": {pat}, "resource": {tg.Resource}})
	invalid("no subject_token_type", status, body, http.StatusBadRequest, "invalid_request")
	status, _, body = app(url.Values{"subject_token": {pat}, "subject_token_type": {tokenTypePersonalAccessToken}, "resource": {"https://unknown.fiberlogto.test"}})
	invalid("an unknown resource", status, body, http.StatusBadRequest, "invalid_target")

	// An app token exchange is not allowed for (the machine-to-machine
	// app, unless Logto's console turned it on).
	if f.m.application(t, tg.M2MAppID).allowsTokenExchange() {
		t.Logf("the app of LOGTO_M2M_APP_ID may exchange tokens: the refusal of an app that may not is not checked")
		return
	}
	status, _, body = f.exchange(t, tg.M2MAppID, tg.M2MAppSecret, url.Values{"subject_token": {pat},
		"subject_token_type": {tokenTypePersonalAccessToken}, "resource": {tg.Resource}})
	invalid("an app not allowed to exchange tokens", status, body, http.StatusBadRequest, "invalid_request")
	if e := oidcError(body); e.ErrorDescription != "requested grant type is not allowed for this client" {
		t.Errorf("an app not allowed to exchange tokens: error_description %q", e.ErrorDescription)
	}
}

// ---------------------------------------------------------------- through the examples

// magicLink: a sign-in link with a one-time token and its email signs the
// user in through the example without a password, as Logto's sign-in page
// does it (the Experience API's one-time token verification); the same
// link again ends on Logto's invalid-link page (the verification refused),
// and the example gets no callback.
func (r *featuresRun) magicLink(t *testing.T) {
	tg := suite.target
	if r.me.email == "" {
		t.Skip("the user of LOGTO_USERNAME has no email: a magic link is for an email address")
	}
	ott := r.m.oneTimeToken(t, r.me.email)
	link := r.url("/logto/sign-in?" + url.Values{"one_time_token": {ott}, "login_hint": {r.me.email}}.Encode())

	// verify goes from the example's sign-in link to Logto's sign-in page
	// and verifies the token there, as Logto's page does.
	verify := func(b *browser) *page {
		t.Helper()
		start := b.open(link)
		authorize := start.location(t)
		if q := authorize.Query(); authorize.String() != r.d.AuthorizationEndpoint+"?"+authorize.RawQuery || q.Get("one_time_token") != ott || q.Get("login_hint") != r.me.email {
			t.Fatalf("the example's magic link redirects to %s: want Logto's authorization endpoint with one_time_token and login_hint", authorize.Redacted())
		}
		auth := b.follow(start)
		signIn := auth.location(t)
		if q := signIn.Query(); signIn.Path != "/sign-in" || q.Get("app_id") != tg.AppID || q.Get("one_time_token") != ott || q.Get("login_hint") != r.me.email {
			t.Fatalf("GET /oidc/auth with a one-time token: %d %s, want Logto's /sign-in?app_id=…&one_time_token=…&login_hint=…", auth.Status, signIn.Redacted())
		}
		b.follow(auth).expect(t, http.StatusOK)
		b.fetchJSON(http.MethodPut, tg.Endpoint+"/api/experience", map[string]string{"interactionEvent": "SignIn"}, nil).
			expect(t, http.StatusNoContent)
		return b.fetchJSON(http.MethodPost, tg.Endpoint+"/api/experience/verification/one-time-token/verify", map[string]any{
			"identifier": map[string]string{"type": "email", "value": r.me.email},
			"token":      ott,
		}, nil)
	}

	b := newBrowser(t)
	v := verify(b).expect(t, http.StatusOK)
	var verification struct {
		VerificationID string `json:"verificationId"`
	}
	v.decode(t, &verification)
	if !lowerAlnum.MatchString(verification.VerificationID) {
		t.Fatalf("one-time token verification: verificationId %q", verification.VerificationID)
	}
	b.fetchJSON(http.MethodPost, tg.Endpoint+"/api/experience/identification",
		map[string]string{"verificationId": verification.VerificationID}, nil).expect(t, http.StatusNoContent)
	var submit struct {
		RedirectTo string `json:"redirectTo"`
	}
	b.fetchJSON(http.MethodPost, tg.Endpoint+"/api/experience/submit", nil, &submit).expect(t, http.StatusOK)
	resume, err := url.Parse(submit.RedirectTo)
	if err != nil || !strings.HasPrefix(resume.Path, "/oidc/auth/") {
		t.Fatalf("submit: redirectTo %q, want Logto's /oidc/auth/<uid>", submit.RedirectTo)
	}
	hop := b.open(resume.String())
	if consent := hop.location(t); consent.Path != "/consent" {
		t.Fatalf("GET %s: %d %s, want Logto's /consent", resume.Path, hop.Status, consent)
	}
	callback := consentAtLogto(t, tg, b, hop, resume.Path)
	if callback.Query().Get("code") == "" || !strings.HasPrefix(callback.String(), r.app.BaseURL+"/logto/sign-in-callback?") {
		t.Fatalf("Logto redirected to %s, want the example's callback with a code", callback.Redacted())
	}
	b.open(callback.String()).expect(t, http.StatusFound)
	var u user
	b.fetchJSON(http.MethodGet, r.url("/user"), nil, &u).expect(t, http.StatusOK)
	var c userClaims
	if !u.IsAuthenticated || json.Unmarshal(u.Claims, &c) != nil || c.Sub != r.me.sub || c.Email == nil || *c.Email != r.me.email {
		t.Fatalf("/user after the magic link: %+v, want %s with the email %s", u, r.me.sub, r.me.email)
	}
	if c.EmailVerified == nil || !*c.EmailVerified {
		t.Errorf("/user after the magic link: email_verified %v, want true", c.EmailVerified)
	}

	// The same link in another browser: Logto's page refuses the used token
	// ("Invalid link. The token has been consumed."), nothing goes back to
	// the example.
	b = newBrowser(t)
	again := verify(b)
	var refused experienceError
	again.expect(t, http.StatusBadRequest).decode(t, &refused)
	if refused.Code != "one_time_token.token_consumed" || refused.Message != "The token has been consumed." {
		t.Errorf("the same magic link again: %s %q, want one_time_token.token_consumed", refused.Code, refused.Message)
	}
	var e experienceError
	b.fetchJSON(http.MethodPost, tg.Endpoint+"/api/experience/submit", nil, nil).expect(t, http.StatusNotFound).decode(t, &e)
	if e.Code != "session.identifier_not_found" {
		t.Errorf("submit after the refused token: %s, want session.identifier_not_found", e.Code)
	}
}

// personalAccessToken: /api/data takes the user's personal access token,
// which the example exchanges at Logto for its owner's access token; a
// made-up one is refused as any invalid token, without being echoed.
func (r *featuresRun) personalAccessToken(t *testing.T) {
	tg := suite.target
	pat := r.m.personalAccessToken(t, r.me.sub, "integration-"+r.ex.name)
	for range 2 {
		var data apiDataJSON
		callAPI(t, r.url("/api/data"), "Bearer "+pat).json(t, &data, "sub", "clientId", "scopes", "m2m")
		if data.Sub != r.me.sub || data.ClientID != tg.AppID || data.M2M || !slices.Equal(data.Scopes, []string{"read:data"}) {
			t.Errorf("/api/data with a personal access token: %+v, want sub %s, clientId %s (the example, which exchanged it), scopes [read:data]", data, r.me.sub, tg.AppID)
		}
	}
	bogus := "pat_" + strings.NewReplacer("-", "a", "_", "b").Replace(randomString(24))
	callAPI(t, r.url("/api/data"), "Bearer "+bogus).refusal(t, http.StatusUnauthorized, challengeInvalidToken, bogus)
	if suite.fixture == nil {
		return
	}
	// The provider saw one exchange of the token (the second call was
	// served from the example's cache), and one refused exchange of the
	// made-up one, both as personal access tokens.
	var ok, refused []string
	for _, e := range fixtureEvents(t) {
		if e.GrantType != grantTypeTokenExchange {
			continue
		}
		switch e.PresentedSubjectToken {
		case fixtureHash(pat):
			ok = append(ok, e.describe()+" "+e.SubjectTokenType)
		case fixtureHash(bogus):
			refused = append(refused, e.describe()+" "+e.SubjectTokenType)
		}
	}
	if want := "grant.success " + grantTypeTokenExchange + " " + tokenTypePersonalAccessToken; len(ok) != 1 || ok[0] != want {
		t.Errorf("the provider saw %q for the personal access token, want one %q", ok, want)
	}
	if want := "grant.error " + grantTypeTokenExchange + " invalid_grant: grant request is invalid " + tokenTypePersonalAccessToken; len(refused) != 1 || refused[0] != want {
		t.Errorf("the provider saw %q for the made-up one, want one %q", refused, want)
	}
}

// recentSignIn: /account/security wants a sign-in within 5 minutes. After
// a sign-in without max_age (no auth_time), an API call gets 401 and a page
// goes through Logto again with max_age=300 (Logto's session is fresh: no
// password) and back; then the page shows, and the ID token has auth_time.
func (r *featuresRun) recentSignIn(t *testing.T) {
	b := newBrowser(t)
	start := b.open(r.url("/logto/sign-in"))
	if start.location(t).Query().Has("max_age") {
		t.Errorf("a plain sign-in sends max_age: %s", start.location(t).Redacted())
	}
	b.open(signInAtLogto(t, b, start.location(t).String()).String()).expect(t, http.StatusFound)

	api := b.fetchJSON(http.MethodGet, r.url("/account/security"), nil, nil).expect(t, http.StatusUnauthorized)
	if !strings.Contains(string(api.Body), "a recent sign-in is required") || api.Header.Get("WWW-Authenticate") != "" {
		t.Errorf("/account/security API call after a sign-in without auth_time: %s, want 401 \"a recent sign-in is required\"", api.snippet())
	}
	page := b.open(r.url("/account/security"))
	if want := r.url("/logto/sign-in?returnTo=%2Faccount%2Fsecurity&max_age=300"); page.Status != http.StatusFound || page.Header.Get("Location") != want {
		t.Fatalf("/account/security page: %d %q, want 302 to %s", page.Status, page.Header.Get("Location"), want)
	}
	toLogto := b.follow(page)
	authorize := toLogto.location(t)
	if authorize.Query().Get("max_age") != "300" || !strings.HasPrefix(authorize.String(), r.d.AuthorizationEndpoint+"?") {
		t.Fatalf("the sign-in for /account/security redirects to %s, want Logto's authorization endpoint with max_age=300", authorize.Redacted())
	}
	reauthAt := time.Now()
	callback := authorizeWithSession(t, b, authorize.String())
	back := b.open(callback.String())
	if loc := back.location(t); back.Status != http.StatusFound || loc.String() != r.url("/account/security") {
		t.Fatalf("callback: %d %s, want 302 back to /account/security", back.Status, loc)
	}
	shown := b.follow(back).expect(t, http.StatusOK)
	if want := "Security settings for " + html.EscapeString(r.me.displayName()); !strings.Contains(string(shown.Body), want) {
		t.Errorf("/account/security: %s, want %q", shown.snippet(), want)
	}
	if ct, cc := shown.Header.Get("Content-Type"), shown.Header.Get("Cache-Control"); ct != "text/html; charset=utf-8" || cc != "no-store" {
		t.Errorf("/account/security: Content-Type %q, Cache-Control %q", ct, cc)
	}
	b.fetchJSON(http.MethodGet, r.url("/account/security"), nil, nil).expect(t, http.StatusOK)

	var u user
	b.fetchJSON(http.MethodGet, r.url("/user"), nil, &u).expect(t, http.StatusOK)
	var c struct {
		Sub      string `json:"sub"`
		AuthTime int64  `json:"auth_time"`
	}
	_ = json.Unmarshal(u.Claims, &c)
	// auth_time is the Logto session's sign-in, a few seconds before.
	if at := time.Unix(c.AuthTime, 0); c.Sub != r.me.sub || c.AuthTime == 0 || at.After(reauthAt.Add(5*time.Second)) || reauthAt.Sub(at) > 2*time.Minute {
		t.Errorf("/user after the sign-in with max_age: sub %q auth_time %d (now %d), want the user and the time of their sign-in", c.Sub, c.AuthTime, time.Now().Unix())
	}
}

// impersonation: a support app built in the test with the example's
// adapter exchanges subject tokens through the SDK's ExchangeToken (the
// examples have no such route): as itself, then with the signed-in user
// as actor (SignedInUserActs); a used subject token, an actor who is not
// signed in, and an app Logto does not let exchange tokens are refused with
// the SDK's errors. The app is served in process at the example's
// BASE_URL, whose redirect URI Logto knows: the test's browser hands it the
// requests for that origin.
func (r *featuresRun) impersonation(t *testing.T) {
	tg := suite.target
	cfg := logto.Config{Endpoint: tg.Endpoint, AppID: tg.AppID, AppSecret: tg.AppSecret, BaseURL: r.app.BaseURL}
	b := newBrowser(t)
	b.client.Transport = &inProcess{origin: r.app.BaseURL, serve: supportApp(t, r.ex.name, cfg), next: http.DefaultTransport}
	exchange := func(q url.Values) (int, exchangeAnswer) {
		t.Helper()
		p := b.fetchJSON(http.MethodGet, r.url("/support/exchange?"+q.Encode()), nil, nil)
		var a exchangeAnswer
		p.decode(t, &a)
		return p.Status, a
	}
	checkToken := func(what string, status int, a exchangeAnswer, sub, actor string, scopes []string) {
		t.Helper()
		if status != http.StatusOK || a.Claims == nil {
			t.Fatalf("%s: %d %s", what, status, a.Error)
		}
		c := a.Claims
		if c.Subject != sub || c.Actor != actor || c.ClientID != tg.AppID || !slices.Equal(c.Audience, []string{tg.Resource}) ||
			!slices.Equal(c.Scopes, scopes) || c.Machine {
			t.Errorf("%s: subject %q actor %q clientId %q audience %v scopes %v machine %v, want subject %s, actor %q, clientId %s, audience %s, scopes %v",
				what, c.Subject, c.Actor, c.ClientID, c.Audience, c.Scopes, c.Machine, sub, actor, tg.AppID, tg.Resource, scopes)
		}
		if left := time.Until(a.ExpiresAt); left <= 0 || left > 2*time.Hour {
			t.Errorf("%s: expires at %s", what, a.ExpiresAt)
		}
		jwt := r.v.verify(t, a.AccessToken)
		act, _ := jwt.Claims["act"].(map[string]any)
		if jwt.str("sub") != sub || (actor == "") != (act == nil) || (actor != "" && act["sub"] != actor) {
			t.Errorf("%s: the token's sub %q act %v, want %s and %q", what, jwt.str("sub"), jwt.Claims["act"], sub, actor)
		}
	}
	resource := url.Values{"resource": {tg.Resource}, "scope": {"read:data"}}
	with := func(extra ...string) url.Values {
		q := url.Values{}
		for k, v := range resource {
			q[k] = v
		}
		for i := 0; i+1 < len(extra); i += 2 {
			q.Set(extra[i], extra[i+1])
		}
		return q
	}

	// The app as itself: the subject's token (no roles: no scope).
	subject := r.m.subjectToken(t, r.subject.ID)
	status, a := exchange(with("subject_token", subject))
	checkToken("impersonation without an actor", status, a, r.subject.ID, "", nil)
	if status, a := exchange(with("subject_token", subject)); status != http.StatusBadRequest || a.Error != logto.ErrSubjectTokenInvalid.Error() {
		t.Errorf("the same subject token again: %d %q (a token: %v), want 400 %q", status, a.Error, a.AccessToken != "", logto.ErrSubjectTokenInvalid)
	}
	// An actor must be signed in.
	status, a = exchange(with("subject_token", r.m.subjectToken(t, r.subject.ID), "actor", "1"))
	if status != http.StatusUnauthorized || a.Error != logto.ErrNotAuthenticated.Error() {
		t.Errorf("SignedInUserActs without a session: %d %q (a token: %v), want 401 %q", status, a.Error, a.AccessToken != "", logto.ErrNotAuthenticated)
	}

	// The suite's user signs in to the support app and acts for the subject.
	start := b.open(r.url("/logto/sign-in"))
	b.open(signInAtLogto(t, b, start.location(t).String()).String()).expect(t, http.StatusFound)
	status, a = exchange(with("subject_token", r.m.subjectToken(t, r.subject.ID), "actor", "1"))
	checkToken("impersonation with the signed-in user as actor", status, a, r.subject.ID, r.me.sub, nil)

	// A personal access token through ExchangeToken: the scopes the owner has.
	pat := r.m.personalAccessToken(t, r.me.sub, "integration-sdk-"+r.ex.name)
	status, a = exchange(with("subject_token", pat, "subject_token_type", logto.TokenTypePersonalAccessToken, "scope", "read:data write:nothing"))
	checkToken("a personal access token through ExchangeToken", status, a, r.me.sub, "", []string{"read:data"})

	// The same app with the credentials of an app Logto does not let
	// exchange tokens: the SDK names the setting.
	if r.m.application(t, tg.M2MAppID).allowsTokenExchange() {
		t.Logf("the app of LOGTO_M2M_APP_ID may exchange tokens: ErrTokenExchangeNotAllowed is not checked")
		return
	}
	other := cfg
	other.AppID, other.AppSecret = tg.M2MAppID, tg.M2MAppSecret
	b2 := newBrowser(t)
	b2.client.Transport = &inProcess{origin: r.app.BaseURL, serve: supportApp(t, r.ex.name, other), next: http.DefaultTransport}
	p := b2.fetchJSON(http.MethodGet, r.url("/support/exchange?"+with("subject_token", r.m.subjectToken(t, r.subject.ID)).Encode()), nil, nil)
	var refused exchangeAnswer
	p.decode(t, &refused)
	if p.Status != http.StatusInternalServerError || refused.Error != logto.ErrTokenExchangeNotAllowed.Error() {
		t.Errorf("an app Logto does not let exchange tokens: %d %q (a token: %v), want 500 %q", p.Status, refused.Error, refused.AccessToken != "", logto.ErrTokenExchangeNotAllowed)
	}
}

// ---------------------------------------------------------------- the support app

// exchangeAnswer is GET /support/exchange's answer: the exchanged token, or
// the SDK's error (its sentinel's message).
type exchangeAnswer struct {
	AccessToken string                   `json:"accessToken,omitempty"`
	ExpiresAt   time.Time                `json:"expiresAt"`
	Claims      *logto.AccessTokenClaims `json:"claims,omitempty"`
	Error       string                   `json:"error,omitempty"`
}

// exchangeRequest reads GET /support/exchange's query: subject_token,
// subject_token_type, resource, scope, and actor=1 for SignedInUserActs.
func exchangeRequest(query func(string) string) logto.TokenExchangeRequest {
	return logto.TokenExchangeRequest{
		SubjectToken:     query("subject_token"),
		SubjectTokenType: query("subject_token_type"),
		Resource:         query("resource"),
		Scopes:           strings.Fields(query("scope")),
		SignedInUserActs: query("actor") == "1",
	}
}

// answerExchange is the status and answer of an exchange's result.
func answerExchange(tok *logto.ExchangedToken, err error) (int, exchangeAnswer) {
	if err != nil {
		s := logto.Sentinel(err)
		if s == nil {
			s = err
		}
		return logto.StatusOf(err), exchangeAnswer{Error: s.Error()}
	}
	return http.StatusOK, exchangeAnswer{AccessToken: tok.AccessToken, ExpiresAt: tok.ExpiresAt, Claims: tok.Claims}
}

// supportApp builds a support tool's app on the adapter the example of that
// name uses (fiberv2: fiberlogto, fiberv3: fiberlogto/v3, nethttp:
// logtohttp), with cfg and GET /support/exchange, and returns how to serve
// a request with it in process.
func supportApp(t *testing.T, adapter string, cfg logto.Config) func(*http.Request) (*http.Response, error) {
	t.Helper()
	switch adapter {
	case "fiberv2":
		lg, err := fiberlogto.New(fiberlogto.Config{Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		app := fiberv2.New(fiberv2.Config{DisableStartupMessage: true})
		app.Use(lg.Handler())
		app.Get("/support/exchange", func(c *fiberv2.Ctx) error {
			tok, err := lg.ExchangeToken(c, exchangeRequest(func(k string) string { return c.Query(k) }))
			status, a := answerExchange(tok, err)
			c.Set(fiberv2.HeaderCacheControl, "no-store")
			return c.Status(status).JSON(a)
		})
		return func(r *http.Request) (*http.Response, error) { return app.Test(r, -1) }
	case "fiberv3":
		lg, err := fiberlogtov3.New(fiberlogtov3.Config{Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		app := fiberv3.New()
		app.Use(lg.Handler())
		app.Get("/support/exchange", func(c fiberv3.Ctx) error {
			tok, err := lg.ExchangeToken(c, exchangeRequest(func(k string) string { return c.Query(k) }))
			status, a := answerExchange(tok, err)
			c.Set(fiberv3.HeaderCacheControl, "no-store")
			return c.Status(status).JSON(a)
		})
		return func(r *http.Request) (*http.Response, error) { return app.Test(r, fiberv3.TestConfig{}) }
	case "nethttp":
		lg, err := logtohttp.New(logtohttp.Config{Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("GET /support/exchange", func(w http.ResponseWriter, r *http.Request) {
			tok, err := lg.ExchangeToken(r, exchangeRequest(r.URL.Query().Get))
			status, a := answerExchange(tok, err)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(a)
		})
		return serveHandler(lg.Handler(mux))
	}
	t.Fatalf("no adapter for the example %q", adapter)
	return nil
}

// serveHandler serves a client's request with h in process, as a server
// would receive it.
func serveHandler(h http.Handler) func(*http.Request) (*http.Response, error) {
	return func(req *http.Request) (*http.Response, error) {
		u, err := url.ParseRequestURI(req.URL.RequestURI())
		if err != nil {
			return nil, err
		}
		if req.Host == "" {
			req.Host = req.URL.Host
		}
		req.URL, req.RequestURI = u, u.RequestURI()
		req.Proto, req.ProtoMajor, req.ProtoMinor = "HTTP/1.1", 1, 1
		req.RemoteAddr = net.JoinHostPort("127.0.0.1", "50000")
		if req.Body == nil {
			req.Body = http.NoBody
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Result(), nil
	}
}

// inProcess sends the requests for origin to an app served in process, the
// others (Logto's) through next.
type inProcess struct {
	origin string
	serve  func(*http.Request) (*http.Response, error)
	next   http.RoundTripper
}

func (p *inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme+"://"+req.URL.Host != p.origin {
		return p.next.RoundTrip(req)
	}
	if req.Body != nil {
		defer req.Body.Close()
	}
	resp, err := p.serve(req.Clone(req.Context()))
	if err != nil {
		return nil, err
	}
	if resp == nil {
		return nil, errors.New("the in-process app gave no response")
	}
	resp.Request = req
	return resp, nil
}
