//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestEndToEnd drives each example app as a browser would, once per
// session storage: anonymous pages, sign-in through Logto (PKCE, the
// Experience API, consent), the callback, the user's claims and userinfo,
// the protected page, an API resource access token, its refresh after
// expiry with refresh token rotation, sign-out through Logto's end-session
// page, and the session gone afterwards. The examples (Fiber v2, v3 and
// net/http) run at once against the suite's provider, one after the other
// against a real Logto, whose registered redirect URIs are on fixed ports.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	d := fetchDiscovery(t)
	v := newJWTVerifier(t, d)
	for _, ex := range suite.examples {
		t.Run(ex.name, func(t *testing.T) {
			if suite.examplesAtOnce() {
				t.Parallel()
			}
			for _, storage := range []string{"sqlite", "memory"} {
				t.Run(storage, func(t *testing.T) {
					t.Parallel()
					dbPath := ""
					if storage == "sqlite" {
						dbPath = filepath.Join(t.TempDir(), "sessions.sqlite3")
					}
					app := startExample(t, ex, suite.appPort(ex, storage), exampleEnv(storage, dbPath))
					e := &endToEnd{d: d, v: v, app: app, b: newBrowser(t)}
					e.run(t)
					if dbPath != "" {
						if fi, err := os.Stat(dbPath); err != nil || fi.Size() == 0 {
							t.Errorf("SESSION_STORAGE=sqlite left no database at %s: %v", dbPath, err)
						}
					}
				})
			}
		})
	}
}

// endToEnd is one run's state, handed from step to step.
type endToEnd struct {
	d   discovery
	v   *jwtVerifier
	app *exampleApp
	b   *browser

	state, code  string
	callbackURL  string
	signedInAt   time.Time
	claims       userClaims
	sessionValue string
	tokens       []jwtClaims // the /access-token JWTs seen, in order
	tokenStrings []string
}

// user is the example's /user answer (@logto/express's LogtoContext).
type user struct {
	IsAuthenticated    bool              `json:"isAuthenticated"`
	Claims             json.RawMessage   `json:"claims"`
	AccessToken        string            `json:"accessToken"`
	Scopes             []string          `json:"scopes"`
	OrganizationTokens map[string]string `json:"organizationTokens"`
	UserInfo           json.RawMessage   `json:"userInfo"`
}

// userClaims are the ID token claims the suite checks. Pointers tell a
// missing claim from a null one.
type userClaims struct {
	Sub               string   `json:"sub"`
	Iss               string   `json:"iss"`
	Aud               any      `json:"aud"`
	Name              *string  `json:"name"`
	Username          *string  `json:"username"`
	Email             *string  `json:"email"`
	EmailVerified     *bool    `json:"email_verified"`
	CreatedAt         *float64 `json:"created_at"`
	UpdatedAt         *float64 `json:"updated_at"`
	Roles             []string `json:"roles"`
	Organizations     []string `json:"organizations"`
	OrganizationRoles []string `json:"organization_roles"`
}

func (e *endToEnd) run(t *testing.T) {
	steps := []struct {
		name string
		fn   func(*testing.T)
	}{
		{"anonymous", e.anonymous},
		{"sign-in", e.signIn},
		{"callback", e.callback},
		{"user", e.user},
		{"user-info", e.userInfo},
		{"protected", e.protected},
		{"access-token", e.accessToken},
		{"refresh-after-expiry", e.refreshAfterExpiry},
		{"rotated-refresh-token-in-use", e.rotatedTokenInUse},
		{"sign-out", e.signOut},
		{"session-gone", e.sessionGone},
	}
	for _, s := range steps {
		if !t.Run(s.name, func(t *testing.T) { e.b.t = t; s.fn(t) }) {
			t.FailNow() // later steps build on this one
		}
	}
}

func (e *endToEnd) url(path string) string { return e.app.BaseURL + path }

func (e *endToEnd) getUser(t *testing.T, path string) user {
	t.Helper()
	var u user
	e.b.fetchJSON(http.MethodGet, e.url(path), nil, &u).expect(t, http.StatusOK)
	return u
}

func (e *endToEnd) anonymous(t *testing.T) {
	home := e.b.open(e.url("/")).expect(t, http.StatusOK)
	if !strings.Contains(string(home.Body), `href="/logto/sign-in"`) {
		t.Errorf("GET / signed out: no Sign In link: %s", home.snippet())
	}
	if u := e.getUser(t, "/user"); u.IsAuthenticated {
		t.Errorf("GET /user signed out: isAuthenticated is true")
	}
	// An API client is told 401, a page is sent to sign in.
	e.b.fetchJSON(http.MethodGet, e.url("/protected"), nil, nil).expect(t, http.StatusUnauthorized)
	e.b.fetchJSON(http.MethodGet, e.url("/access-token"), nil, nil).expect(t, http.StatusUnauthorized)
}

func (e *endToEnd) signIn(t *testing.T) {
	tg := suite.target
	// A signed-out visit to /protected starts the sign-in, coming back here.
	prot := e.b.open(e.url("/protected"))
	loc := prot.location(t)
	if loc.Path != "/logto/sign-in" || loc.Query().Get("returnTo") != "/protected" {
		t.Fatalf("GET /protected signed out: want a redirect to /logto/sign-in?returnTo=/protected, got %d %s", prot.Status, loc)
	}
	start := e.b.follow(prot)
	authz := start.location(t)
	if start.Status != http.StatusFound && start.Status != http.StatusSeeOther {
		t.Errorf("GET /logto/sign-in: status %d, want a redirect", start.Status)
	}
	if got := authz.Scheme + "://" + authz.Host + authz.Path; got != e.d.AuthorizationEndpoint {
		t.Fatalf("GET /logto/sign-in: redirect to %s, want Logto's authorization endpoint %s", got, e.d.AuthorizationEndpoint)
	}
	q := authz.Query()
	want := map[string]string{
		"client_id":             tg.AppID,
		"redirect_uri":          e.url("/logto/sign-in-callback"),
		"response_type":         "code",
		"code_challenge_method": "S256",
	}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("authorization request %s=%q, want %q", k, q.Get(k), v)
		}
	}
	if len(q.Get("code_challenge")) != 43 {
		t.Errorf("code_challenge %q: want a base64url SHA-256 (43 characters)", q.Get("code_challenge"))
	}
	for _, k := range []string{"state", "nonce"} {
		if len(q.Get(k)) < 22 {
			t.Errorf("%s %q: want at least 128 random bits", k, q.Get(k))
		}
	}
	if !slices.Contains(strings.Fields(q.Get("prompt")), "consent") {
		t.Errorf("prompt %q: Logto issues a refresh token only with prompt=consent", q.Get("prompt"))
	}
	scopes := strings.Fields(q.Get("scope"))
	for _, s := range append([]string{"openid", "offline_access", "profile"}, strings.Fields(extraScopes)...) {
		if !slices.Contains(scopes, s) {
			t.Errorf("scope %q lacks %s", q.Get("scope"), s)
		}
	}
	resources := q["resource"]
	for _, r := range []string{tg.Resource, "urn:logto:resource:organizations"} {
		if !slices.Contains(resources, r) {
			t.Errorf("resource %v lacks %s", resources, r)
		}
	}
	e.state = q.Get("state")

	callback := signInAtLogto(t, e.b, authz.String())
	e.signedInAt = time.Now()
	if got := callback.Scheme + "://" + callback.Host + callback.Path; got != e.url("/logto/sign-in-callback") {
		t.Fatalf("Logto redirected to %s, want the app's callback %s", got, e.url("/logto/sign-in-callback"))
	}
	cq := callback.Query()
	if cq.Get("state") != e.state {
		t.Errorf("callback state %q, want the request's %q", cq.Get("state"), e.state)
	}
	if cq.Get("iss") != e.d.Issuer {
		t.Errorf("callback iss %q, want %q (RFC 9207)", cq.Get("iss"), e.d.Issuer)
	}
	if e.code = cq.Get("code"); e.code == "" {
		t.Fatalf("callback without code: %s", callback)
	}
	e.callbackURL = callback.String()
}

func (e *endToEnd) callback(t *testing.T) {
	cb := e.b.open(e.callbackURL)
	loc := cb.location(t)
	if cb.Status != http.StatusFound {
		t.Errorf("callback: status %d, want 302", cb.Status)
	}
	if loc.Path != "/protected" || loc.Query().Has("code") || (loc.Host != "" && loc.Host != strings.TrimPrefix(e.app.BaseURL, "http://")) {
		t.Errorf("callback: redirect to %s, want the returnTo path /protected on the app, without the code", loc)
	}
	if rp := cb.Header.Get("Referrer-Policy"); rp != "no-referrer" {
		t.Errorf("callback: Referrer-Policy %q, want no-referrer (the URL carried the code)", rp)
	}
	raw, ok := cb.setCookie("fiberlogto_session")
	if !ok {
		t.Fatalf("callback set no fiberlogto_session cookie; Set-Cookie: %q", cb.Header.Values("Set-Cookie"))
	}
	c, ok := parseSetCookie(raw, time.Now())
	if !ok || !c.HTTPOnly || c.SameSite != "lax" || c.Path != "/" || c.Secure || c.Domain != "" {
		t.Errorf("session cookie %q: want HttpOnly, SameSite=Lax, Path=/, host-only, not Secure on http", raw)
	}
	if _, err := http.ParseSetCookie(raw); err != nil {
		t.Errorf("session cookie %q is not a valid RFC 6265 cookie: %v", raw, err)
	}
	e.sessionValue = c.Value
	// The callback's Set-Cookie works on the 302 itself.
	prot := e.b.follow(cb).expect(t, http.StatusOK)
	if strings.TrimSpace(string(prot.Body)) != "protected resource" {
		t.Errorf("GET /protected after sign-in: body %q", prot.snippet())
	}
	// The code is used up: replaying the callback does not sign in again
	// and does not break the session.
	again := e.b.open(e.callbackURL)
	if again.Status >= 500 {
		t.Errorf("replayed callback: status %d", again.Status)
	}
	if u := e.getUser(t, "/user"); !u.IsAuthenticated {
		t.Errorf("a replayed callback signed the user out")
	}
}

func (e *endToEnd) user(t *testing.T) {
	tg := suite.target
	u := e.getUser(t, "/user")
	if !u.IsAuthenticated {
		t.Fatalf("GET /user after sign-in: isAuthenticated false")
	}
	if u.AccessToken != "" {
		t.Errorf("GET /user: accessToken %q leaked into a route that did not ask for one", u.AccessToken)
	}
	var c userClaims
	if err := json.Unmarshal(u.Claims, &c); err != nil {
		t.Fatalf("claims: %v: %s", err, u.Claims)
	}
	e.claims = c
	if c.Sub == "" {
		t.Errorf("claims.sub is empty")
	}
	if suite.fixture != nil && c.Sub != suite.fixture.UserID {
		t.Errorf("claims.sub %q, want the user's id %q", c.Sub, suite.fixture.UserID)
	}
	if c.Iss != e.d.Issuer {
		t.Errorf("claims.iss %q, want %q", c.Iss, e.d.Issuer)
	}
	if aud, _ := c.Aud.(string); aud != tg.AppID {
		t.Errorf("claims.aud %v, want the string %q (Logto sends a string)", c.Aud, tg.AppID)
	}
	if c.Name == nil || *c.Name == "" {
		t.Errorf("claims.name missing (profile scope)")
	}
	if c.Username == nil || *c.Username != tg.Username {
		t.Errorf("claims.username %v, want %q", c.Username, tg.Username)
	}
	var raw map[string]json.RawMessage
	_ = json.Unmarshal(u.Claims, &raw)
	if pic, ok := raw["picture"]; !ok {
		t.Errorf("claims.picture missing: Logto sends it, null without an avatar")
	} else if suite.fixture != nil && string(pic) != "null" {
		t.Errorf("claims.picture %s, want null (the user has no avatar)", pic)
	}
	if c.Email == nil || !strings.Contains(*c.Email, "@") {
		t.Errorf("claims.email %v: the email scope was asked", c.Email)
	}
	if c.EmailVerified == nil {
		t.Errorf("claims.email_verified missing")
	}
	// Logto's timestamps are in milliseconds.
	for name, ts := range map[string]*float64{"created_at": c.CreatedAt, "updated_at": c.UpdatedAt} {
		if ts == nil || *ts < 1e12 {
			t.Errorf("claims.%s %v: want epoch milliseconds", name, ts)
		}
	}
	if !slices.Contains(c.Organizations, tg.OrganizationID) {
		t.Errorf("claims.organizations %v lacks %s", c.Organizations, tg.OrganizationID)
	}
	var hasRole bool
	for _, r := range c.OrganizationRoles {
		hasRole = hasRole || strings.HasPrefix(r, tg.OrganizationID+":")
	}
	if !hasRole {
		t.Errorf("claims.organization_roles %v: want <orgId>:<role> for %s", c.OrganizationRoles, tg.OrganizationID)
	}
	if c.Roles == nil {
		t.Errorf("claims.roles missing (roles scope)")
	}
	home := e.b.open(e.url("/")).expect(t, http.StatusOK)
	if !strings.Contains(string(home.Body), "Hello, ") || !strings.Contains(string(home.Body), `href="/logto/sign-out"`) {
		t.Errorf("GET / signed in: no greeting or Sign Out link: %s", home.snippet())
	}
}

func (e *endToEnd) userInfo(t *testing.T) {
	tg := suite.target
	u := e.getUser(t, "/user/info")
	if !u.IsAuthenticated || len(u.UserInfo) == 0 || string(u.UserInfo) == "null" {
		t.Fatalf("GET /user/info: want userInfo, got %+v", u)
	}
	var info struct {
		Sub              string  `json:"sub"`
		Username         *string `json:"username"`
		Email            *string `json:"email"`
		Organizations    []string
		OrganizationData []struct {
			ID string `json:"id"`
		} `json:"organization_data"`
	}
	if err := json.Unmarshal(u.UserInfo, &info); err != nil {
		t.Fatalf("userInfo: %v: %s", err, u.UserInfo)
	}
	if info.Sub != e.claims.Sub {
		t.Errorf("userInfo.sub %q, want the ID token's %q", info.Sub, e.claims.Sub)
	}
	if info.Username == nil || *info.Username != tg.Username {
		t.Errorf("userInfo.username %v, want %q", info.Username, tg.Username)
	}
	if info.Email == nil || *info.Email == "" {
		t.Errorf("userInfo.email missing")
	}
	found := false
	for _, o := range info.OrganizationData {
		found = found || o.ID == tg.OrganizationID
	}
	if !found {
		t.Errorf("userInfo.organization_data lacks %s: %s", tg.OrganizationID, u.UserInfo)
	}
}

func (e *endToEnd) protected(t *testing.T) {
	page := e.b.open(e.url("/protected")).expect(t, http.StatusOK)
	if strings.TrimSpace(string(page.Body)) != "protected resource" {
		t.Errorf("GET /protected: body %q", page.snippet())
	}
	e.b.fetchJSON(http.MethodGet, e.url("/protected"), nil, nil).expect(t, http.StatusOK)
}

// getAccessToken reads /access-token and verifies the JWT.
func (e *endToEnd) getAccessToken(t *testing.T) (string, jwtClaims) {
	t.Helper()
	tg := suite.target
	var out struct {
		AccessToken string   `json:"accessToken"`
		Scopes      []string `json:"scopes"`
	}
	e.b.fetchJSON(http.MethodGet, e.url("/access-token"), nil, &out).expect(t, http.StatusOK)
	if out.AccessToken == "" {
		t.Fatalf("GET /access-token: no accessToken")
	}
	c := e.v.verify(t, out.AccessToken)
	if c.Typ != "at+jwt" {
		t.Errorf("access token typ %q, want at+jwt", c.Typ)
	}
	if aud := c.str("aud"); aud != tg.Resource {
		t.Errorf("access token aud %v, want the resource %q", c.Claims["aud"], tg.Resource)
	}
	if sub := c.str("sub"); sub != e.claims.Sub {
		t.Errorf("access token sub %q, want %q", sub, e.claims.Sub)
	}
	if cid := c.str("client_id"); cid != tg.AppID {
		t.Errorf("access token client_id %q, want %q", cid, tg.AppID)
	}
	if c.str("jti") == "" {
		t.Errorf("access token has no jti")
	}
	if !slices.Contains(strings.Fields(c.str("scope")), "read:data") || !slices.Contains(out.Scopes, "read:data") {
		t.Errorf("access token scope %q, scopes %v: want read:data (the user's role grants it)", c.str("scope"), out.Scopes)
	}
	e.tokens = append(e.tokens, c)
	e.tokenStrings = append(e.tokenStrings, out.AccessToken)
	return out.AccessToken, c
}

// freshUntil is when fiberlogto stops using a token: ClockSkew before exp.
// freshUntil is when fiberlogto stops reusing the token. It reckons the
// expiry from expires_in when the response arrives, in whole seconds, so
// its deadline can fall up to a second after the JWT's exp: hence the
// margin.
func freshUntil(c jwtClaims) time.Time {
	return time.Unix(c.num("exp"), 0).Add(-fiberlogtoClockSkew + time.Second)
}

func (e *endToEnd) accessToken(t *testing.T) {
	first, c := e.getAccessToken(t)
	// A fresh token is reused: no call to Logto.
	if time.Now().Add(time.Second).Before(freshUntil(c)) {
		second, _ := e.getAccessToken(t)
		if second != first {
			t.Errorf("GET /access-token twice while the token is fresh: a new token (a needless refresh)")
		}
		e.tokens, e.tokenStrings = e.tokens[:1], e.tokenStrings[:1]
	}
	if suite.fixture != nil {
		c := chainFromCode(t, e.code)
		rs := c.refreshes()
		if len(rs) != 1 || rs[0].resource() != suite.target.Resource {
			t.Errorf("want one refresh grant for resource %s so far, got %+v", suite.target.Resource, rs)
		}
	}
}

// waitUntil sleeps until at, failing when that is further than max away.
func waitUntil(t *testing.T, at time.Time, why string) {
	t.Helper()
	d := time.Until(at)
	if d <= 0 {
		return
	}
	limit := 2 * time.Minute
	if d > limit {
		advice := "the suite's provider should make tokens expire sooner (ACCESS_TOKEN_TTL, REFRESH_TOKEN_TTL)"
		if suite.fixture == nil {
			advice = "against a real Logto, set the API resource's access token expiration time to about 65 seconds in the console (see integration/README.md)"
		}
		t.Fatalf("waiting %s would take %s (over %s): %s", why, d.Round(time.Second), limit, advice)
	}
	t.Logf("waiting %s: %s", d.Round(100*time.Millisecond), why)
	time.Sleep(d)
}

func (e *endToEnd) refreshAfterExpiry(t *testing.T) {
	last := e.tokens[len(e.tokens)-1]
	at := freshUntil(last).Add(500 * time.Millisecond)
	why := "until the access token is within fiberlogto's ClockSkew of its expiry"
	if suite.fixture != nil {
		// Also past 70 % of the refresh token's lifetime, so that Logto's
		// rule rotates it at this refresh.
		rotateAt := e.signedInAt.Add(time.Duration(float64(suite.fixture.RefreshTokenTTL) * 0.72 * float64(time.Second)))
		if rotateAt.After(at) {
			at, why = rotateAt, why+" and past 70 % of the refresh token's lifetime"
		}
	}
	waitUntil(t, at, why)

	before := e.tokenStrings[len(e.tokenStrings)-1]
	token, c := e.getAccessToken(t)
	if token == before || c.str("jti") == last.str("jti") {
		t.Fatalf("GET /access-token after expiry: the same token: no refresh happened")
	}
	if c.num("iat") < last.num("iat") || c.num("exp") <= last.num("exp")-1 {
		t.Errorf("refreshed token iat %d exp %d, the old one iat %d exp %d", c.num("iat"), c.num("exp"), last.num("iat"), last.num("exp"))
	}
	// The refresh kept the session: same user.
	u := e.getUser(t, "/user")
	var claims userClaims
	_ = json.Unmarshal(u.Claims, &claims)
	if !u.IsAuthenticated || claims.Sub != e.claims.Sub {
		t.Errorf("after the refresh: isAuthenticated %v, sub %q (want %q)", u.IsAuthenticated, claims.Sub, e.claims.Sub)
	}

	if suite.fixture == nil {
		return
	}
	chain := chainFromCode(t, e.code)
	rs := chain.refreshes()
	if len(rs) < 2 {
		t.Fatalf("the provider saw %d refresh grants for this session, want 2", len(rs))
	}
	r := rs[len(rs)-1]
	if !r.Rotated || r.IssuedRefreshToken == "" || r.IssuedRefreshToken == r.PresentedRefreshToken {
		t.Errorf("the refresh after expiry did not rotate the refresh token: %+v", r)
	}
	if r.resource() != suite.target.Resource {
		t.Errorf("the refresh asked for resource %q, want %q", r.resource(), suite.target.Resource)
	}
	if errs := chain.errors(); len(errs) > 0 {
		t.Errorf("failed grants in this session: %+v", errs)
	}
}

// rotatedTokenInUse: after rotation, fiberlogto must use the new refresh
// token. Logto accepts the old one for 3 s only; past that, presenting it
// revokes the whole grant and signs the user out. So the next refresh,
// made after those 3 s, must present the rotated token and succeed.
func (e *endToEnd) rotatedTokenInUse(t *testing.T) {
	if suite.fixture == nil {
		t.Skip("rotation happens after 70 % of a refresh token's lifetime (days on a real Logto); checked against the suite's provider only")
	}
	chain := chainFromCode(t, e.code)
	rs := chain.refreshes()
	rotation := rs[len(rs)-1]
	rotatedAt := time.UnixMilli(rotation.At)
	last := e.tokens[len(e.tokens)-1]
	at := freshUntil(last).Add(500 * time.Millisecond)
	if r := rotatedAt.Add(3500 * time.Millisecond); r.After(at) {
		at = r
	}
	waitUntil(t, at, "past Logto's 3 s reuse window for the rotated refresh token and the access token's freshness")

	before := e.tokenStrings[len(e.tokenStrings)-1]
	token, _ := e.getAccessToken(t)
	if token == before {
		t.Fatalf("GET /access-token after expiry: the same token: no refresh happened")
	}
	chain = chainFromCode(t, e.code)
	rs = chain.refreshes()
	r := rs[len(rs)-1]
	if r.PresentedRefreshToken != rotation.IssuedRefreshToken {
		t.Errorf("the refresh after rotation presented refresh token %s, want the rotated one %s", r.PresentedRefreshToken, rotation.IssuedRefreshToken)
	}
	if errs := chain.errors(); len(errs) > 0 {
		t.Errorf("failed grants in this session (a replayed refresh token?): %+v", errs)
	}
	if u := e.getUser(t, "/user"); !u.IsAuthenticated {
		t.Errorf("signed out after the refreshes")
	}
}

func (e *endToEnd) signOut(t *testing.T) {
	tg := suite.target
	base, _ := url.Parse(e.app.BaseURL)
	c, ok := e.b.jar.get(base, "fiberlogto_session")
	if !ok {
		t.Fatalf("no session cookie before sign-out")
	}
	e.sessionValue = c.Value
	var currentRT string
	if suite.fixture != nil {
		currentRT = chainFromCode(t, e.code).current()
	}

	// The user clicks Sign Out on the home page.
	e.b.open(e.url("/")).expect(t, http.StatusOK)
	out := e.b.open(e.url("/logto/sign-out"))
	end := out.location(t)
	if got := end.Scheme + "://" + end.Host + end.Path; got != e.d.EndSessionEndpoint {
		t.Fatalf("GET /logto/sign-out: redirect to %s, want Logto's end-session endpoint %s", got, e.d.EndSessionEndpoint)
	}
	q := end.Query()
	if q.Get("client_id") != tg.AppID {
		t.Errorf("end-session client_id %q, want %q", q.Get("client_id"), tg.AppID)
	}
	if q.Get("post_logout_redirect_uri") != e.app.BaseURL {
		t.Errorf("end-session post_logout_redirect_uri %q, want BASE_URL %q", q.Get("post_logout_redirect_uri"), e.app.BaseURL)
	}
	if hint := q.Get("id_token_hint"); hint == "" {
		t.Errorf("end-session without id_token_hint")
	} else {
		idt := e.v.verify(t, hint)
		if idt.str("sub") != e.claims.Sub {
			t.Errorf("id_token_hint sub %q, want %q", idt.str("sub"), e.claims.Sub)
		}
	}
	if raw, ok := out.setCookie("fiberlogto_session"); !ok {
		t.Errorf("sign-out did not clear the session cookie")
	} else if c, _ := parseSetCookie(raw, time.Now()); c == nil || c.Expires.IsZero() || c.Expires.After(time.Now()) {
		t.Errorf("sign-out Set-Cookie %q does not expire the cookie", raw)
	}
	if suite.fixture != nil {
		revoked := false
		for _, ev := range fixtureEvents(t) {
			revoked = revoked || (ev.Type == "grant.revoked" && ev.Route == "revocation" && ev.RevokedToken == currentRT)
		}
		if !revoked {
			t.Errorf("sign-out did not revoke the session's refresh token at Logto (Logto's end-session does not)")
		}
	}

	back := signOutAtLogto(t, e.b, out)
	if back.Scheme+"://"+back.Host != e.app.BaseURL || (back.Path != "/" && back.Path != "") {
		t.Errorf("Logto sent the browser to %s after sign-out, want BASE_URL %s/", back, e.app.BaseURL)
	}
	endpoint, _ := url.Parse(tg.Endpoint)
	if _, ok := e.b.jar.get(endpoint, "_session"); ok {
		t.Errorf("Logto's _session cookie survived the end-session confirm")
	}
	home := e.b.open(back.String()).expect(t, http.StatusOK)
	if !strings.Contains(string(home.Body), `href="/logto/sign-in"`) {
		t.Errorf("GET / after sign-out: no Sign In link: %s", home.snippet())
	}
}

func (e *endToEnd) sessionGone(t *testing.T) {
	if u := e.getUser(t, "/user"); u.IsAuthenticated {
		t.Errorf("GET /user after sign-out: isAuthenticated is true")
	}
	e.b.fetchJSON(http.MethodGet, e.url("/protected"), nil, nil).expect(t, http.StatusUnauthorized)

	// The old session cookie, replayed, is anonymous: the session is gone
	// server-side, not just the cookie.
	for _, path := range []string{"/user", "/protected", "/access-token"} {
		status, body := rawGet(t, e.url(path), "fiberlogto_session="+e.sessionValue)
		switch path {
		case "/user":
			var u user
			if json.Unmarshal(body, &u) != nil || u.IsAuthenticated {
				t.Errorf("GET /user with the old session cookie: %d %s", status, body)
			}
		default:
			if status != http.StatusUnauthorized {
				t.Errorf("GET %s with the old session cookie: %d, want 401", path, status)
			}
		}
	}

	// Logto's session ended too: signing in again shows Logto's sign-in page.
	start := e.b.open(e.url("/logto/sign-in"))
	auth := e.b.follow(start)
	if loc := auth.location(t); loc.Path != "/sign-in" {
		t.Errorf("a new sign-in after sign-out went to %s, want Logto's sign-in page (the Logto session should be gone)", loc)
	}
}

// rawGet is a plain API request with the given Cookie header.
func rawGet(t *testing.T, rawURL, cookie string) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Cookie", cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, body
}
