//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestAPIProtection calls the example's API routes (RequireAccessToken) as
// their clients do, with Logto's three kinds of access token: a user's
// token for the API resource from the example's /access-token, the user's
// organization token from its /organization-token, and a machine-to-machine
// app's client-credentials token from Logto's token endpoint. It checks the
// answers and the refusals (status, WWW-Authenticate, nothing of the token
// echoed), for each example. The examples run at once against the suite's
// provider, one after the other against a real Logto (a fixed port).
func TestAPIProtection(t *testing.T) {
	t.Parallel()
	d := fetchDiscovery(t)
	v := newJWTVerifier(t, d)
	for _, ex := range suite.examples {
		t.Run(ex.name, func(t *testing.T) {
			if suite.examplesAtOnce() {
				t.Parallel()
			}
			env := exampleEnv("memory", "")
			env["LOGTO_ORGANIZATION_ID"] = suite.target.OrganizationID
			app := startExample(t, ex, suite.appPort(ex, apiPortName), env)
			a := &apiRun{d: d, v: v, app: app, b: newBrowser(t)}
			a.run(t)
		})
	}
}

// apiRun is one example's run, handed from step to step.
type apiRun struct {
	d   discovery
	v   *jwtVerifier
	app *exampleApp
	b   *browser

	sub            string // the user's
	userToken      string // for the API resource, from /access-token
	orgToken       string // for suite.target.OrganizationID, from /organization-token
	machineToken   string // client credentials with scope read:data
	machineNoScope string // client credentials without a scope
}

func (a *apiRun) run(t *testing.T) {
	steps := []struct {
		name string
		fn   func(*testing.T)
	}{
		{"sign-in", a.signIn},
		{"user-tokens", a.userTokens},
		{"client-credentials", a.clientCredentials},
		{"accepted", a.accepted},
		{"refused", a.refused},
		{"id-token-refused", a.idTokenRefused},
	}
	for _, s := range steps {
		if !t.Run(s.name, func(t *testing.T) { a.b.t = t; s.fn(t) }) {
			t.FailNow() // later steps build on this one
		}
	}
}

func (a *apiRun) url(path string) string { return a.app.BaseURL + path }

// signIn signs the user in through the example, as TestEndToEnd does.
func (a *apiRun) signIn(t *testing.T) {
	start := a.b.open(a.url("/logto/sign-in"))
	callback := signInAtLogto(t, a.b, start.location(t).String())
	if cb := a.b.open(callback.String()); cb.Status != http.StatusFound {
		t.Fatalf("callback: status %d, want 302: %s", cb.Status, cb.snippet())
	}
	var u user
	a.b.fetchJSON(http.MethodGet, a.url("/user"), nil, &u).expect(t, http.StatusOK)
	var c userClaims
	if !u.IsAuthenticated || json.Unmarshal(u.Claims, &c) != nil || c.Sub == "" {
		t.Fatalf("GET /user after sign-in: %+v", u)
	}
	if suite.fixture != nil && c.Sub != suite.fixture.UserID {
		t.Errorf("claims.sub %q, want the user's id %q", c.Sub, suite.fixture.UserID)
	}
	a.sub = c.Sub
}

// userTokens gets the user's tokens from the example: the API resource's
// and the organization's.
func (a *apiRun) userTokens(t *testing.T) {
	tg := suite.target
	var at struct {
		AccessToken string `json:"accessToken"`
	}
	a.b.fetchJSON(http.MethodGet, a.url("/access-token"), nil, &at).expect(t, http.StatusOK)
	c := a.v.verify(t, at.AccessToken)
	if c.Typ != "at+jwt" || c.str("aud") != tg.Resource || c.str("sub") != a.sub || c.str("client_id") != tg.AppID {
		t.Fatalf("/access-token: typ %q aud %v sub %q client_id %q, want at+jwt, %s, %s, %s",
			c.Typ, c.Claims["aud"], c.str("sub"), c.str("client_id"), tg.Resource, a.sub, tg.AppID)
	}
	a.userToken = at.AccessToken

	var ot struct {
		OrganizationTokens map[string]string `json:"organizationTokens"`
	}
	a.b.fetchJSON(http.MethodGet, a.url("/organization-token"), nil, &ot).expect(t, http.StatusOK)
	if len(ot.OrganizationTokens) != 1 || ot.OrganizationTokens[tg.OrganizationID] == "" {
		t.Fatalf("/organization-token with LOGTO_ORGANIZATION_ID=%s: organizations %v, want that one only", tg.OrganizationID, slices.Sorted(maps.Keys(ot.OrganizationTokens)))
	}
	a.orgToken = ot.OrganizationTokens[tg.OrganizationID]
	c = a.v.verify(t, a.orgToken)
	if c.Typ != "at+jwt" || c.str("aud") != "urn:logto:organization:"+tg.OrganizationID || c.str("sub") != a.sub || c.str("client_id") != tg.AppID {
		t.Errorf("organization token: typ %q aud %v sub %q client_id %q, want at+jwt, urn:logto:organization:%s, %s, %s",
			c.Typ, c.Claims["aud"], c.str("sub"), c.str("client_id"), tg.OrganizationID, a.sub, tg.AppID)
	}
	if !slices.Contains(strings.Fields(c.str("scope")), "read:org") {
		t.Errorf("organization token scope %q, want read:org (the user's organization role)", c.str("scope"))
	}
	if _, has := c.Claims["organization_id"]; has {
		t.Errorf("organization token carries organization_id; Logto puts the organization in aud only")
	}
}

// clientCredentials gets the machine-to-machine app's tokens from Logto's
// token endpoint, and checks them against Logto's (logto-observed.md §17).
func (a *apiRun) clientCredentials(t *testing.T) {
	tg := suite.target
	status, body := tokenRequestAs(t, a.d, tg.M2MAppID, tg.M2MAppSecret, url.Values{
		"grant_type": {"client_credentials"}, "resource": {tg.Resource}, "scope": {"read:data"},
	})
	var out tokenResponse
	if status != http.StatusOK || json.Unmarshal(body, &out) != nil || out.AccessToken == "" {
		t.Fatalf("client credentials with scope read:data: %d %s", status, body)
	}
	if out.TokenType != "Bearer" || out.Scope != "read:data" || out.RefreshToken != "" || out.IDToken != "" {
		t.Errorf("client credentials: token_type %q scope %q, refresh token %v, ID token %v; want Bearer, read:data, neither",
			out.TokenType, out.Scope, out.RefreshToken != "", out.IDToken != "")
	}
	c := a.v.verify(t, out.AccessToken)
	if c.Typ != "at+jwt" || c.Kid == "" {
		t.Errorf("client-credentials token header typ %q kid %q, want at+jwt and a kid", c.Typ, c.Kid)
	}
	if suite.fixture != nil && c.Alg != "ES384" {
		t.Errorf("client-credentials token alg %q, want ES384 (Logto's default key)", c.Alg)
	}
	// Logto's claims, no more: jti, sub = client_id = the app's ID, iat,
	// exp, scope, client_id, iss, aud = the resource (a string).
	var names []string
	for k := range c.Claims {
		names = append(names, k)
	}
	slices.Sort(names)
	if want := []string{"aud", "client_id", "exp", "iat", "iss", "jti", "scope", "sub"}; !slices.Equal(names, want) {
		t.Errorf("client-credentials token claims %v, want Logto's %v", names, want)
	}
	if c.str("sub") != tg.M2MAppID || c.str("client_id") != tg.M2MAppID {
		t.Errorf("client-credentials token sub %q client_id %q, want both the app's ID %q", c.str("sub"), c.str("client_id"), tg.M2MAppID)
	}
	if aud, ok := c.Claims["aud"].(string); !ok || aud != tg.Resource {
		t.Errorf("client-credentials token aud %v, want the string %q", c.Claims["aud"], tg.Resource)
	}
	if c.str("scope") != "read:data" || c.str("jti") == "" {
		t.Errorf("client-credentials token scope %q jti %q, want read:data and a jti", c.str("scope"), c.str("jti"))
	}
	lifetime := c.num("exp") - c.num("iat")
	if d := lifetime - int64(out.ExpiresIn); d < -1 || d > 1 {
		t.Errorf("client-credentials token lives %d s, expires_in %d", lifetime, out.ExpiresIn)
	}
	if suite.fixture != nil && lifetime != int64(suite.fixture.AccessTokenTTL) {
		t.Errorf("client-credentials token lives %d s, want the resource's access token TTL %d", lifetime, suite.fixture.AccessTokenTTL)
	}
	a.machineToken = out.AccessToken

	// No scope asked: Logto issues the requested scopes the app's roles
	// grant, so none.
	status, body = tokenRequestAs(t, a.d, tg.M2MAppID, tg.M2MAppSecret, url.Values{
		"grant_type": {"client_credentials"}, "resource": {tg.Resource},
	})
	out = tokenResponse{}
	if status != http.StatusOK || json.Unmarshal(body, &out) != nil || out.AccessToken == "" {
		t.Fatalf("client credentials without a scope: %d %s", status, body)
	}
	c = a.v.verify(t, out.AccessToken)
	if out.Scope != "" || c.str("scope") != "" || c.str("sub") != tg.M2MAppID || c.str("aud") != tg.Resource {
		t.Errorf("client credentials without a scope: response scope %q, token scope %v sub %q aud %v; want no scope",
			out.Scope, c.Claims["scope"], c.str("sub"), c.Claims["aud"])
	}
	a.machineNoScope = out.AccessToken
}

// apiDataJSON is GET /api/data's answer.
type apiDataJSON struct {
	Sub      string   `json:"sub"`
	ClientID string   `json:"clientId"`
	Scopes   []string `json:"scopes"`
	M2M      bool     `json:"m2m"`
}

// orgDataJSON is GET /api/organizations/:id/data's answer.
type orgDataJSON struct {
	Sub            string   `json:"sub"`
	OrganizationID string   `json:"organizationId"`
	Scopes         []string `json:"scopes"`
}

func (a *apiRun) accepted(t *testing.T) {
	tg := suite.target
	orgPath := "/api/organizations/" + tg.OrganizationID + "/data"

	var human, machine apiDataJSON
	callAPI(t, a.url("/api/data"), "Bearer "+a.userToken).json(t, &human, "sub", "clientId", "scopes", "m2m")
	if human.Sub != a.sub || human.ClientID != tg.AppID || human.M2M || !slices.Contains(human.Scopes, "read:data") {
		t.Errorf("/api/data with the user's token: %+v, want sub %s, clientId %s, read:data, not m2m", human, a.sub, tg.AppID)
	}
	callAPI(t, a.url("/api/data"), "Bearer "+a.machineToken).json(t, &machine, "sub", "clientId", "scopes", "m2m")
	if machine.Sub != tg.M2MAppID || machine.ClientID != tg.M2MAppID || !machine.M2M || !slices.Equal(machine.Scopes, []string{"read:data"}) {
		t.Errorf("/api/data with the client-credentials token: %+v, want sub and clientId %s, scopes [read:data], m2m", machine, tg.M2MAppID)
	}
	var org orgDataJSON
	callAPI(t, a.url(orgPath), "Bearer "+a.orgToken).json(t, &org, "sub", "organizationId", "scopes")
	if org.Sub != a.sub || org.OrganizationID != tg.OrganizationID || !slices.Contains(org.Scopes, "read:org") {
		t.Errorf("%s with the organization token: %+v, want sub %s, organizationId %s, read:org", orgPath, org, a.sub, tg.OrganizationID)
	}
	// The scheme is case-insensitive (RFC 7235).
	var lower apiDataJSON
	callAPI(t, a.url("/api/data"), "bearer "+a.userToken).json(t, &lower, "sub", "clientId", "scopes", "m2m")
	if lower.Sub != a.sub {
		t.Errorf("/api/data with \"bearer\" in lower case: %+v", lower)
	}
}

const (
	challengeNone         = "Bearer"
	challengeInvalidToken = `Bearer error="invalid_token"`
	challengeNoReadData   = `Bearer error="insufficient_scope", scope="read:data"`
)

func (a *apiRun) refused(t *testing.T) {
	tg := suite.target
	orgPath := "/api/organizations/" + tg.OrganizationID + "/data"
	other := "/api/organizations/" + anotherOrganization(tg.OrganizationID) + "/data"
	for _, tc := range []struct {
		name, path, token string
		status            int
		challenge         string
	}{
		{"no token", "/api/data", "", http.StatusUnauthorized, challengeNone},
		{"an organization token on the API resource", "/api/data", a.orgToken, http.StatusUnauthorized, challengeInvalidToken},
		{"the user's resource token on the organization route", orgPath, a.userToken, http.StatusUnauthorized, challengeInvalidToken},
		{"the organization token for another organization", other, a.orgToken, http.StatusUnauthorized, challengeInvalidToken},
		{"a client-credentials token without read:data", "/api/data", a.machineNoScope, http.StatusForbidden, challengeNoReadData},
		{"a client-credentials token on the organization route", orgPath, a.machineToken, http.StatusUnauthorized, challengeInvalidToken},
		{"the user's token with its signature altered", "/api/data", tamper(a.userToken), http.StatusUnauthorized, challengeInvalidToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			auth := ""
			if tc.token != "" {
				auth = "Bearer " + tc.token
			}
			callAPI(t, a.url(tc.path), auth).refusal(t, tc.status, tc.challenge, tc.token)
		})
	}
	// RFC 6750 §2.3's query parameter is not taken: the request carries no
	// credentials, so no error code.
	t.Run("a token in the query string", func(t *testing.T) {
		callAPI(t, a.url("/api/data?access_token="+url.QueryEscape(a.userToken)), "").
			refusal(t, http.StatusUnauthorized, challengeNone, a.userToken)
	})
}

// idTokenRefused: an ID token is not an access token. The example never
// shows its raw ID token except in the id_token_hint of its sign-out
// redirect, so this signs the user out through the example (last), takes
// the hint, and presents it to both routes.
func (a *apiRun) idTokenRefused(t *testing.T) {
	tg := suite.target
	a.b.open(a.url("/")).expect(t, http.StatusOK)
	out := a.b.open(a.url("/logto/sign-out"))
	idToken := out.location(t).Query().Get("id_token_hint")
	if idToken == "" {
		t.Fatalf("the sign-out redirect has no id_token_hint: %s", out.location(t).Redacted())
	}
	signOutAtLogto(t, a.b, out)
	c := a.v.verify(t, idToken)
	if aud, _ := c.Claims["aud"].(string); aud != tg.AppID || c.str("sub") != a.sub || c.Typ == "at+jwt" {
		t.Fatalf("id_token_hint: typ %q aud %v sub %q, want an ID token for %s and %s", c.Typ, c.Claims["aud"], c.str("sub"), tg.AppID, a.sub)
	}
	for _, path := range []string{"/api/data", "/api/organizations/" + tg.OrganizationID + "/data"} {
		callAPI(t, a.url(path), "Bearer "+idToken).refusal(t, http.StatusUnauthorized, challengeInvalidToken, idToken)
	}
}

// anotherOrganization is an organization ID that is not id.
func anotherOrganization(id string) string {
	other := strings.ToLower(strings.NewReplacer("-", "a", "_", "b").Replace(randomString(9)))
	if other == id {
		other += "x"
	}
	return other
}

// tamper alters the token's signature, leaving it well-formed.
func tamper(token string) string {
	i := strings.LastIndexByte(token, '.') + 8
	if i >= len(token) {
		return token + "x"
	}
	c := byte('A')
	if token[i] == 'A' {
		c = 'B'
	}
	return token[:i] + string(c) + token[i+1:]
}

// apiAnswer is the answer to an API call.
type apiAnswer struct {
	url    string
	status int
	header http.Header
	body   []byte
}

// callAPI GETs rawURL as an API client does: no cookies, JSON, and the
// Authorization header when authorization is not empty.
func callAPI(t *testing.T, rawURL, authorization string) apiAnswer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return apiAnswer{url: req.URL.Path, status: resp.StatusCode, header: resp.Header, body: body}
}

// json checks a 200 JSON answer with exactly the fields names, not to be
// stored, and decodes it into v.
func (r apiAnswer) json(t *testing.T, v any, names ...string) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: %d %s, want 200 (WWW-Authenticate %q)", r.url, r.status, r.body, r.header.Get("WWW-Authenticate"))
	}
	if mt, _, _ := mime.ParseMediaType(r.header.Get("Content-Type")); mt != "application/json" {
		t.Errorf("GET %s: Content-Type %q, want application/json", r.url, r.header.Get("Content-Type"))
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("GET %s: Cache-Control %q, want no-store", r.url, cc)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &fields); err != nil {
		t.Fatalf("GET %s: %v: %s", r.url, err, r.body)
	}
	var got []string
	for k := range fields {
		got = append(got, k)
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(names))
	if !slices.Equal(got, want) {
		t.Errorf("GET %s: fields %v, want %v: %s", r.url, got, want, r.body)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("GET %s: %v: %s", r.url, err, r.body)
	}
}

// refusal checks a refused call: the status, WWW-Authenticate exactly, not
// to be stored, a JSON body, and nothing of token (the token, its claims or
// its signature) in the answer's body or headers.
func (r apiAnswer) refusal(t *testing.T, status int, challenge, token string) {
	t.Helper()
	if r.status != status || r.header.Get("WWW-Authenticate") != challenge {
		t.Errorf("GET %s: %d, WWW-Authenticate %q, want %d, %q: %s", r.url, r.status, r.header.Get("WWW-Authenticate"), status, challenge, r.body)
	}
	if n := len(r.header.Values("WWW-Authenticate")); n > 1 {
		t.Errorf("GET %s: %d WWW-Authenticate headers", r.url, n)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("GET %s: Cache-Control %q on a refusal, want no-store", r.url, cc)
	}
	// The example's error handler answers API calls in JSON.
	var body map[string]any
	if mt, _, _ := mime.ParseMediaType(r.header.Get("Content-Type")); mt != "application/json" || json.Unmarshal(r.body, &body) != nil {
		t.Errorf("GET %s: refused with Content-Type %q: %s, want a JSON object", r.url, r.header.Get("Content-Type"), r.body)
	}
	if token == "" {
		return
	}
	pieces := []string{token}
	for _, p := range strings.Split(token, ".")[1:] {
		if len(p) >= 16 {
			pieces = append(pieces, p)
		}
	}
	var header strings.Builder
	for k, vs := range r.header {
		header.WriteString(k + ": " + strings.Join(vs, ", ") + "\n")
	}
	for _, p := range pieces {
		if strings.Contains(string(r.body), p) || strings.Contains(header.String(), p) {
			t.Errorf("GET %s: the refusal echoes the token: %s", r.url, r.body)
			return
		}
	}
}
