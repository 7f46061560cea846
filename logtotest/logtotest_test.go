package logtotest

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"
)

func TestDiscoveryAndJWKS(t *testing.T) {
	p := NewServer(t, Options{})
	if !strings.HasPrefix(p.URL, "http://127.0.0.1:") || p.Issuer != p.URL+"/oidc" {
		t.Fatalf("URL %q issuer %q", p.URL, p.Issuer)
	}
	resp, body := doReq(t, mustGet(t, p.Issuer+"/.well-known/openid-configuration"))
	if resp.StatusCode != 200 {
		t.Fatalf("discovery: %s %s", resp.Status, body)
	}
	d := decode(t, body)
	want := map[string]string{
		"issuer":                 p.Issuer,
		"authorization_endpoint": p.Issuer + "/auth",
		"token_endpoint":         p.Issuer + "/token",
		"userinfo_endpoint":      p.Issuer + "/me",
		"jwks_uri":               p.Issuer + "/jwks",
		"end_session_endpoint":   p.Issuer + "/session/end",
		"revocation_endpoint":    p.Issuer + "/token/revocation",
		"introspection_endpoint": p.Issuer + "/token/introspection",
	}
	for k, v := range want {
		if d[k] != v {
			t.Errorf("%s = %v, want %s", k, d[k], v)
		}
	}
	if d["authorization_response_iss_parameter_supported"] != true || d["backchannel_logout_supported"] != true {
		t.Errorf("flags: %s", body)
	}
	if fmt.Sprint(d["code_challenge_methods_supported"]) != "[S256]" || fmt.Sprint(d["id_token_signing_alg_values_supported"]) != "[ES384]" {
		t.Errorf("algs: %v %v", d["code_challenge_methods_supported"], d["id_token_signing_alg_values_supported"])
	}

	resp, body = doReq(t, mustGet(t, p.Issuer+"/jwks"))
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/jwk-set+json") {
		t.Fatalf("jwks: %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("jwks %s: %v", body, err)
	}
	k := set.Keys[0]
	tp, _ := k.Thumbprint(crypto.SHA256)
	if k.KeyID != base64.RawURLEncoding.EncodeToString(tp) || len(k.KeyID) != 43 || k.Use != "sig" || k.Algorithm != "ES384" {
		t.Fatalf("key %+v: kid must be the RFC 7638 thumbprint", k)
	}
	if p.Calls("discovery") != 1 || p.Calls("jwks") != 1 || p.Calls("token") != 0 {
		t.Fatalf("calls: discovery %d jwks %d token %d", p.Calls("discovery"), p.Calls("jwks"), p.Calls("token"))
	}
	p.ResetCalls()
	if p.Calls("discovery") != 0 {
		t.Fatal("ResetCalls")
	}
	resp, body = doReq(t, mustGet(t, p.Issuer+"/nope"))
	wantError(t, resp.StatusCode, body, 404, "invalid_request", "unrecognized route or not allowed method (GET on /oidc/nope)")
}

func mustGet(t testing.TB, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestCodeFlowWithZitadelRP drives the flow the way fiberlogto will: zitadel's
// rp builds the authorize URL, SignIn plays the browser, rp exchanges the
// code and verifies the ID token (signature, alg from discovery, nonce,
// at_hash).
func TestCodeFlowWithZitadelRP(t *testing.T) {
	for _, alg := range []string{"ES384", "RS256"} {
		t.Run(alg, func(t *testing.T) {
			p := NewServer(t, Options{SigningAlg: alg})
			ctx := context.Background()
			nonce := "nonce-" + alg
			relyingParty, err := rp.NewRelyingPartyOIDC(ctx, p.Issuer, p.ClientID, p.ClientSecret, testRedirect,
				[]string{"openid", "profile", "email", "offline_access"},
				rp.WithSigningAlgsFromDiscovery(),
				rp.WithVerifierOpts(rp.WithNonce(func(context.Context) string { return nonce })))
			if err != nil {
				t.Fatal(err)
			}
			verifier, challenge := pkce()
			authURL := rp.AuthURL("state-1", relyingParty, rp.WithCodeChallenge(challenge), rp.WithPrompt("consent"),
				rp.AuthURLOpt(rp.WithURLParam("nonce", nonce)))

			browser := newBrowser(t)
			cb, err := p.SignIn(ctx, browser, authURL, "demo", "demo-password")
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(cb)
			q := u.Query()
			if !strings.HasPrefix(cb, testRedirect+"?code=") || q.Get("state") != "state-1" || q.Get("iss") != p.Issuer {
				t.Fatalf("callback %s", cb)
			}
			if !strings.Contains(cb, "iss="+url.QueryEscape(p.Issuer)) || len(q.Get("code")) != 43 {
				t.Fatalf("callback %s: iss must be url-encoded, code 43 chars", cb)
			}
			if p.Calls("auth") != 1 || p.Calls("/sign-in") != 0 || p.Calls("/api/experience/submit") != 1 {
				t.Fatalf("hops: auth %d sign-in page %d submit %d", p.Calls("auth"), p.Calls("/sign-in"), p.Calls("/api/experience/submit"))
			}

			toks, err := rp.CodeExchange[*oidc.IDTokenClaims](ctx, q.Get("code"), relyingParty, rp.WithCodeVerifier(verifier))
			if err != nil {
				t.Fatalf("CodeExchange: %v", err)
			}
			if toks.RefreshToken == "" || len(toks.AccessToken) != 43 || toks.TokenType != "Bearer" {
				t.Fatalf("tokens: %+v", toks.Token)
			}
			if toks.Extra("scope") != "openid profile email offline_access" {
				t.Fatalf("scope %v", toks.Extra("scope"))
			}
			if toks.IDTokenClaims.Subject != DemoUser.ID || toks.IDTokenClaims.Nonce != nonce {
				t.Fatalf("claims %+v", toks.IDTokenClaims)
			}

			header, claims := jwtParts(t, toks.IDToken)
			if header["alg"] != alg || header["typ"] != "JWT" || header["kid"] != p.KeyID() {
				t.Fatalf("header %v", header)
			}
			if _, ok := claims["aud"].(string); !ok {
				t.Fatalf("aud must be a string: %v", claims["aud"])
			}
			for _, absent := range []string{"azp", "acr", "amr", "auth_time", "sid", "preferred_username", "jti"} {
				if _, ok := claims[absent]; ok {
					t.Errorf("claim %s must be absent", absent)
				}
			}
			if v, ok := claims["picture"]; !ok || v != nil {
				t.Errorf("picture = %v (present %v), want null", v, ok)
			}
			now := time.Now()
			for _, ms := range []string{"updated_at", "created_at"} {
				v, _ := claims[ms].(float64)
				if v < float64(now.Add(-48*time.Hour).UnixMilli()) || v > float64(now.Add(time.Minute).UnixMilli()) {
					t.Errorf("%s = %v, want epoch milliseconds", ms, claims[ms])
				}
			}
			if claims["username"] != "demo" || claims["email"] != DemoUser.Email || claims["email_verified"] != true {
				t.Errorf("claims %v", claims)
			}
			if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat != 3600 {
				t.Errorf("exp-iat = %v", exp-iat)
			}

			// The same browser has an SSO session now: no prompt means the
			// code comes at once, and no refresh token (no prompt=consent).
			p.ResetCalls()
			cb2, err := p.SignIn(ctx, browser, rp.AuthURL("state-2", relyingParty, rp.AuthURLOpt(rp.WithURLParam("nonce", nonce))), "", "")
			if err != nil {
				t.Fatal(err)
			}
			if p.Calls("/api/experience") != 0 || p.Calls("/consent") != 0 {
				t.Fatalf("SSO sign-in went through the UI: %s", cb2)
			}
			u2, _ := url.Parse(cb2)
			toks2, err := rp.CodeExchange[*oidc.IDTokenClaims](ctx, u2.Query().Get("code"), relyingParty,
				rp.WithCodeVerifier(""))
			if err != nil {
				t.Fatal(err)
			}
			if toks2.RefreshToken != "" || toks2.Extra("scope") != "openid profile email" {
				t.Fatalf("without prompt=consent: refresh %q scope %v", toks2.RefreshToken, toks2.Extra("scope"))
			}
		})
	}
}

func TestUpdatedAtChangesOnSignIn(t *testing.T) {
	p := NewServer(t, Options{})
	claims := func() float64 {
		tk := fullSignIn(t, p, "openid profile")
		_, c := jwtParts(t, tk.IDToken)
		return c["updated_at"].(float64)
	}
	a, b := claims(), claims()
	if b <= a {
		t.Fatalf("updated_at %v then %v: must change on every sign-in", a, b)
	}
}

func TestPromptHandling(t *testing.T) {
	p := NewServer(t, Options{})
	browser := newBrowser(t)

	// prompt=none without a session: error redirect with state and iss.
	cb, err := p.SignIn(context.Background(), browser, authorizeURL(p, authParams{scope: "openid", prompt: "none", state: "st"}), "", "")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(cb)
	q := u.Query()
	if q.Get("error") != "login_required" || q.Get("state") != "st" || q.Get("iss") != p.Issuer ||
		q.Get("error_description") != "End-User authentication is required" {
		t.Fatalf("prompt=none: %s", cb)
	}

	// A first sign-in goes 303 /sign-in, with a Go-jar compatible cookie.
	resp, _ := doReqWith(t, browser, mustGet(t, authorizeURL(p, authParams{scope: "openid", state: "st"})))
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/sign-in?app_id="+p.ClientID {
		t.Fatalf("unauthenticated: %s %q", resp.Status, resp.Header.Get("Location"))
	}
	var found bool
	for _, c := range resp.Cookies() {
		if c.Name == "_interaction" && c.HttpOnly && c.SameSite == http.SameSiteLaxMode && c.Path == "/" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no usable _interaction cookie: %v", resp.Header["Set-Cookie"])
	}

	signIn(t, p, browser, authParams{scope: "openid", state: "st"})

	// With a session: prompt=none gives a code, prompt=login asks again.
	q = signIn(t, p, browser, authParams{scope: "openid", prompt: "none", state: "st2"})
	if q.Get("code") == "" || q.Get("state") != "st2" {
		t.Fatalf("prompt=none with session: %v", q)
	}
	p.ResetCalls()
	signIn(t, p, browser, authParams{scope: "openid", prompt: "login"})
	if p.Calls("/api/experience/submit") != 1 {
		t.Fatal("prompt=login did not go through sign-in")
	}
}

func doReqWith(t testing.TB, c *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func TestAuthorizeErrors(t *testing.T) {
	p := NewServer(t, Options{RedirectURIs: []string{testRedirect}})
	cases := []struct {
		name, errCode string
		a             authParams
	}{
		{"unregistered resource", "invalid_target", authParams{scope: "openid", resources: []string{"https://not-registered.test"}}},
		{"plain PKCE", "invalid_request", authParams{scope: "openid", extra: url.Values{"code_challenge": {"abc"}, "code_challenge_method": {"plain"}}}},
	}
	for _, c := range cases {
		c.a.state = "st"
		cb, err := p.SignIn(context.Background(), nil, authorizeURL(p, c.a), "", "")
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		u, _ := url.Parse(cb)
		q := u.Query()
		if !strings.HasPrefix(cb, testRedirect) || q.Get("error") != c.errCode || q.Get("state") != "st" || q.Get("iss") != p.Issuer {
			t.Fatalf("%s: %s", c.name, cb)
		}
	}

	// Not redirectable: JSON 400.
	bad := strings.Replace(authorizeURL(p, authParams{scope: "openid", state: "st"}), url.QueryEscape(testRedirect), url.QueryEscape("http://127.0.0.1:3000/other"), 1)
	resp, body := doReq(t, mustGet(t, bad))
	m := wantError(t, resp.StatusCode, body, 400, "invalid_redirect_uri", "redirect_uri did not match any of the client's registered redirect_uris")
	if m["state"] != "st" || m["iss"] != p.Issuer {
		t.Fatalf("body %s", body)
	}
	resp, body = doReq(t, mustGet(t, strings.Replace(bad, "client_id=test-app", "client_id=nope", 1)))
	wantError(t, resp.StatusCode, body, 400, "invalid_client", "invalid client nope")
}

func TestResourceAndOrganizationTokens(t *testing.T) {
	p := NewServer(t, Options{})
	tk := fullSignIn(t, p, "openid offline_access read:data read:org urn:logto:scope:organizations",
		DefaultResource, OrganizationsResource)
	if tk.RefreshToken == "" {
		t.Fatal("no refresh token")
	}

	// Resource token.
	rt := refreshOK(t, p, tk.RefreshToken, url.Values{"resource": {DefaultResource}})
	h, c := jwtParts(t, rt.AccessToken)
	if h["typ"] != "at+jwt" || c["aud"] != DefaultResource || c["scope"] != "read:data" || c["client_id"] != p.ClientID ||
		c["sub"] != DemoUser.ID || c["iss"] != p.Issuer || c["jti"] == nil || rt.Scope != "read:data" || rt.IDToken == "" {
		t.Fatalf("resource token %v %v, response scope %q", h, c, rt.Scope)
	}
	verifyJWT(t, p, rt.AccessToken)
	if rt.RefreshToken != tk.RefreshToken {
		t.Fatal("refresh token rotated before 70% of its lifetime")
	}
	// A resource JWT is not a userinfo token.
	resp, body := userinfo(t, p, rt.AccessToken)
	wantError(t, resp.StatusCode, body, 401, "invalid_token", "invalid token provided")

	// Narrowing works, widening does not.
	refreshOK(t, p, tk.RefreshToken, url.Values{"resource": {DefaultResource}, "scope": {"read:data"}})
	status, body := refresh(t, p, tk.RefreshToken, url.Values{"resource": {DefaultResource}, "scope": {"write:data"}})
	if m := wantError(t, status, body, 400, "invalid_scope", "refresh token missing requested scope"); m["scope"] != "write:data" {
		t.Fatalf("invalid_scope body %s", body)
	}
	status, body = refresh(t, p, tk.RefreshToken, url.Values{"resource": {"https://not-registered.test"}})
	wantError(t, status, body, 400, "invalid_target", "resource indicator is missing, or unknown")

	// Organization token.
	ot := refreshOK(t, p, tk.RefreshToken, url.Values{"organization_id": {"demo-org"}})
	h, c = jwtParts(t, ot.AccessToken)
	if h["typ"] != "at+jwt" || c["aud"] != "urn:logto:organization:demo-org" || c["scope"] != "read:org" || c["organization_id"] != nil {
		t.Fatalf("organization token %v %v", h, c)
	}
	status, body = refresh(t, p, tk.RefreshToken, url.Values{"organization_id": {"other-org"}})
	wantError(t, status, body, 403, "access_denied", "user is not a member of the organization")

	// Without the organizations resource the scope is "".
	tk2 := fullSignIn(t, p, "openid offline_access urn:logto:scope:organizations")
	ot2 := refreshOK(t, p, tk2.RefreshToken, url.Values{"organization_id": {"demo-org"}})
	if _, c := jwtParts(t, ot2.AccessToken); c["scope"] != "" {
		t.Fatalf("scope %v, want empty", c["scope"])
	}
	// A resource not requested on /oidc/auth is invalid_target.
	status, body = refresh(t, p, tk2.RefreshToken, url.Values{"resource": {DefaultResource}})
	wantError(t, status, body, 400, "invalid_target", "")

	// Without the organizations scope: insufficient_scope.
	tk3 := fullSignIn(t, p, "openid offline_access")
	status, body = refresh(t, p, tk3.RefreshToken, url.Values{"organization_id": {"demo-org"}})
	if m := wantError(t, status, body, 403, "insufficient_scope", "refresh token missing required scope"); m["scope"] != "urn:logto:scope:organizations" {
		t.Fatalf("body %s", body)
	}

	// A resource requested but its scope not: token with scope "".
	tk4 := fullSignIn(t, p, "openid offline_access", DefaultResource)
	if _, c := jwtParts(t, refreshOK(t, p, tk4.RefreshToken, url.Values{"resource": {DefaultResource}}).AccessToken); c["scope"] != "" {
		t.Fatalf("scope %v", c["scope"])
	}
	// resource in the code exchange: a resource JWT and resource scopes.
	verifier, challenge := pkce()
	q := signIn(t, p, newBrowser(t), authParams{scope: "openid read:data", resources: []string{DefaultResource}, challenge: challenge})
	ct := exchangeCode(t, p, q.Get("code"), verifier, url.Values{"resource": {DefaultResource}})
	if _, c := jwtParts(t, ct.AccessToken); c["aud"] != DefaultResource || ct.Scope != "read:data" || ct.IDToken == "" {
		t.Fatalf("code exchange with resource: %+v", ct)
	}
}

// TestMisbehaveAccessToken: the hook edits resource and organization JWT
// access tokens, and nothing else (not the ID token issued with them).
func TestMisbehaveAccessToken(t *testing.T) {
	p := NewServer(t, Options{})
	tk := fullSignIn(t, p, "openid offline_access read:data read:org urn:logto:scope:organizations",
		DefaultResource, OrganizationsResource)
	var seen []string
	p.Misbehave(Misbehavior{AccessToken: func(h, c map[string]any) {
		seen = append(seen, c["aud"].(string))
		h["typ"] = "JWT"
		delete(c, "client_id")
		c["iss"] = "https://evil.test/oidc"
	}})
	for _, extra := range []url.Values{{"resource": {DefaultResource}}, {"organization_id": {"demo-org"}}} {
		r := refreshOK(t, p, tk.RefreshToken, extra)
		h, c := jwtParts(t, r.AccessToken)
		if h["typ"] != "JWT" || h["kid"] != p.KeyID() || c["client_id"] != nil || c["iss"] != "https://evil.test/oidc" || c["sub"] != DemoUser.ID {
			t.Fatalf("%v: edited token %v %v", extra, h, c)
		}
		verifyJWT(t, p, r.AccessToken) // still signed with the active key
		if h, c := jwtParts(t, r.IDToken); h["typ"] != "JWT" || c["iss"] != p.Issuer {
			t.Fatalf("ID token edited too: %v %v", h, c)
		}
	}
	if len(seen) != 2 || seen[0] != DefaultResource || seen[1] != "urn:logto:organization:demo-org" {
		t.Fatalf("hook saw %v", seen)
	}
	p.Misbehave(Misbehavior{})
	r := refreshOK(t, p, tk.RefreshToken, url.Values{"resource": {DefaultResource}})
	if h, c := jwtParts(t, r.AccessToken); h["typ"] != "at+jwt" || c["client_id"] != p.ClientID {
		t.Fatalf("after Misbehave({}): %v %v", h, c)
	}
}

// TestResourceAccessTokenTTL: a resource's own TTL sets exp and expires_in
// of its tokens (65 s, as the resource Logto was observed with); other
// access tokens keep AccessTokenTTL.
func TestResourceAccessTokenTTL(t *testing.T) {
	if _, err := NewUnstarted(Options{ResourceAccessTokenTTL: map[string]time.Duration{DefaultResource: 0}}); err == nil {
		t.Fatal("a zero ResourceAccessTokenTTL was accepted")
	}
	p := NewServer(t, Options{ResourceAccessTokenTTL: map[string]time.Duration{DefaultResource: 65 * time.Second}})
	tk := fullSignIn(t, p, "openid offline_access read:data read:org urn:logto:scope:organizations",
		DefaultResource, OrganizationsResource)
	for _, c := range []struct {
		extra url.Values
		want  int
	}{
		{url.Values{"resource": {DefaultResource}}, 65},
		{url.Values{"organization_id": {"demo-org"}}, 3600},
		{nil, 3600},
	} {
		r := refreshOK(t, p, tk.RefreshToken, c.extra)
		if r.ExpiresIn != c.want {
			t.Errorf("%v: expires_in %d, want %d", c.extra, r.ExpiresIn, c.want)
		}
		if c.extra == nil {
			continue
		}
		if _, claims := jwtParts(t, r.AccessToken); claims["exp"].(float64)-claims["iat"].(float64) != float64(c.want) {
			t.Errorf("%v: exp - iat = %v, want %d", c.extra, claims["exp"].(float64)-claims["iat"].(float64), c.want)
		}
	}
}

// verifyJWT checks a token's signature against the JWKS.
func verifyJWT(t testing.TB, p *Provider, token string) {
	t.Helper()
	_, body := doReq(t, mustGet(t, p.Issuer+"/jwks"))
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.ES384, jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	keys := set.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q not in JWKS", jws.Signatures[0].Header.KeyID)
	}
	if _, err := jws.Verify(keys[0]); err != nil {
		t.Fatal(err)
	}
}

func TestRefreshIDTokenKeepsNonce(t *testing.T) {
	p := NewServer(t, Options{})
	tk := fullSignIn(t, p, "openid profile offline_access")
	r := refreshOK(t, p, tk.RefreshToken, nil)
	_, c1 := jwtParts(t, tk.IDToken)
	_, c2 := jwtParts(t, r.IDToken)
	if c2["nonce"] != c1["nonce"] || c2["at_hash"] == c1["at_hash"] || r.AccessToken == tk.AccessToken || len(r.AccessToken) != 43 {
		t.Fatalf("refreshed id token %v (was %v)", c2, c1)
	}
	if c2["at_hash"] != tokenHash(jose.ES384, r.AccessToken) || len(c2["at_hash"].(string)) != 32 {
		t.Fatal("at_hash must be the left half of SHA-384 of the access token")
	}
	if r.Scope != "openid profile offline_access" || r.RefreshToken != tk.RefreshToken {
		t.Fatalf("refresh response %+v", r)
	}
}

func TestRotationAndReplay(t *testing.T) {
	clock := newFakeClock()
	p := NewServer(t, Options{RotateRefreshTokens: true, Clock: clock.Now})
	tk := fullSignIn(t, p, "openid offline_access")
	r1 := refreshOK(t, p, tk.RefreshToken, nil)
	if r1.RefreshToken == tk.RefreshToken {
		t.Fatal("RotateRefreshTokens: token not rotated")
	}
	// Within the grace the old token still works and forks the grant.
	clock.Advance(time.Second)
	r2 := refreshOK(t, p, tk.RefreshToken, nil)
	if r2.RefreshToken == r1.RefreshToken || r2.RefreshToken == tk.RefreshToken {
		t.Fatal("replay within grace must give another new token")
	}
	// After the grace a replay revokes the whole grant.
	clock.Advance(3 * time.Second)
	status, body := refresh(t, p, tk.RefreshToken, nil)
	wantError(t, status, body, 400, "invalid_grant", "grant request is invalid")
	if m := decode(t, body); m["error_uri"] != "https://openid.sh/debug/invalid_grant" || m["message"] != "Grant request is invalid." {
		t.Fatalf("body %s", body)
	}
	if !p.GrantRevoked(r1.RefreshToken) || p.RefreshTokenActive(r2.RefreshToken) {
		t.Fatal("grant not revoked")
	}
	status, body = refresh(t, p, r1.RefreshToken, nil)
	wantError(t, status, body, 400, "invalid_grant", "grant request is invalid")
	resp, body := userinfo(t, p, r2.AccessToken)
	wantError(t, resp.StatusCode, body, 401, "invalid_token", "")

	// Default: same token until 70 % of the TTL, then a new one.
	clock2 := newFakeClock()
	p2 := NewServer(t, Options{Clock: clock2.Now, RefreshTokenTTL: 100 * time.Second})
	tk = fullSignIn(t, p2, "openid offline_access")
	clock2.Advance(60 * time.Second)
	if r := refreshOK(t, p2, tk.RefreshToken, nil); r.RefreshToken != tk.RefreshToken {
		t.Fatal("rotated before 70%")
	}
	clock2.Advance(11 * time.Second)
	r := refreshOK(t, p2, tk.RefreshToken, nil)
	if r.RefreshToken == tk.RefreshToken {
		t.Fatal("not rotated after 70%")
	}
	clock2.Advance(time.Minute) // the new token has a full TTL of its own
	refreshOK(t, p2, r.RefreshToken, nil)
	// Expired token: invalid_grant.
	clock2.Advance(time.Hour)
	status, body = refresh(t, p2, r.RefreshToken, nil)
	wantError(t, status, body, 400, "invalid_grant", "grant request is invalid")
}

func TestCodeReuseRevokesGrant(t *testing.T) {
	p := NewServer(t, Options{})
	verifier, challenge := pkce()
	q := signIn(t, p, newBrowser(t), authParams{scope: "openid profile offline_access", prompt: "consent", challenge: challenge})
	code := q.Get("code")

	// Wrong verifier, wrong redirect_uri: invalid_grant, the code survives.
	for _, form := range []url.Values{
		{"code_verifier": {"wrong"}},
		{"code_verifier": {verifier}, "redirect_uri": {"http://127.0.0.1:3000/other"}},
	} {
		f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}}
		for k, v := range form {
			f[k] = v
		}
		resp, body := postForm(t, p, "/oidc/token", f, true)
		wantError(t, resp.StatusCode, body, 400, "invalid_grant", "grant request is invalid")
	}
	tk := exchangeCode(t, p, code, verifier, nil)
	if resp, _ := userinfo(t, p, tk.AccessToken); resp.StatusCode != 200 {
		t.Fatal("access token does not work")
	}
	resp, body := postForm(t, p, "/oidc/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {testRedirect}, "code_verifier": {verifier}}, true)
	wantError(t, resp.StatusCode, body, 400, "invalid_grant", "grant request is invalid")
	if !p.GrantRevoked(tk.RefreshToken) {
		t.Fatal("code reuse did not revoke the grant")
	}
	status, body := refresh(t, p, tk.RefreshToken, nil)
	wantError(t, status, body, 400, "invalid_grant", "grant request is invalid")
	resp, body = userinfo(t, p, tk.AccessToken)
	wantError(t, resp.StatusCode, body, 401, "invalid_token", "invalid token provided")
}

func TestUserinfo(t *testing.T) {
	p := NewServer(t, Options{})
	tk := fullSignIn(t, p, "openid profile email roles custom_data urn:logto:scope:organizations urn:logto:scope:organization_roles")
	resp, body := userinfo(t, p, tk.AccessToken)
	if resp.StatusCode != 200 {
		t.Fatalf("userinfo: %s %s", resp.Status, body)
	}
	m := decode(t, body)
	if m["sub"] != DemoUser.ID || m["picture"] != nil || m["username"] != "demo" || fmt.Sprint(m["roles"]) != "[admin]" ||
		fmt.Sprint(m["organizations"]) != "[demo-org]" || fmt.Sprint(m["organization_roles"]) != "[demo-org:member]" {
		t.Fatalf("userinfo %s", body)
	}
	data, _ := m["organization_data"].([]any)
	if len(data) != 1 || data[0].(map[string]any)["name"] != "Demo Org" {
		t.Fatalf("organization_data %v", m["organization_data"])
	}
	if _, ok := m["custom_data"].(map[string]any); !ok {
		t.Fatalf("custom_data %v", m["custom_data"])
	}
	// The ID token has organizations but not organization_data.
	_, c := jwtParts(t, tk.IDToken)
	if c["organizations"] == nil || c["organization_data"] != nil || c["roles"] == nil {
		t.Fatalf("id token %v", c)
	}

	// POST works too.
	req, _ := http.NewRequest(http.MethodPost, p.Issuer+"/me", nil)
	req.Header.Set("Authorization", "Bearer "+tk.AccessToken)
	if resp, _ := doReq(t, req); resp.StatusCode != 200 {
		t.Fatalf("POST /me: %s", resp.Status)
	}

	resp, body = userinfo(t, p, "")
	wantError(t, resp.StatusCode, body, 400, "invalid_request", "no access token provided")
	if resp.Header.Get("WWW-Authenticate") != `Bearer realm="`+p.Issuer+`"` {
		t.Fatalf("WWW-Authenticate %q", resp.Header.Get("WWW-Authenticate"))
	}
	resp, body = userinfo(t, p, "garbage")
	wantError(t, resp.StatusCode, body, 401, "invalid_token", "invalid token provided")
	if !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("WWW-Authenticate %q", resp.Header.Get("WWW-Authenticate"))
	}

	// openid only: just sub.
	tk2 := fullSignIn(t, p, "openid")
	_, body = userinfo(t, p, tk2.AccessToken)
	if string(body) != `{"sub":"demo-user-id"}`+"\n" {
		t.Fatalf("openid-only userinfo %q", body)
	}
}

func TestRevocationAndIntrospection(t *testing.T) {
	p := NewServer(t, Options{})
	tk := fullSignIn(t, p, "openid offline_access")
	second := refreshOK(t, p, tk.RefreshToken, nil)

	introspect := func(token string) map[string]any {
		resp, body := postForm(t, p, "/oidc/token/introspection", url.Values{"token": {token}}, true)
		if resp.StatusCode != 200 {
			t.Fatalf("introspection: %s %s", resp.Status, body)
		}
		return decode(t, body)
	}
	if m := introspect(tk.RefreshToken); m["active"] != true || m["scope"] != "openid offline_access" || m["exp"].(float64)-m["iat"].(float64) != 1209600 {
		t.Fatalf("refresh token introspection %v", m)
	}
	if m := introspect(tk.AccessToken); m["active"] != true || m["token_type"] != "Bearer" || m["sub"] != DemoUser.ID {
		t.Fatalf("access token introspection %v", m)
	}
	if m := introspect("garbage"); len(m) != 1 || m["active"] != false {
		t.Fatalf("garbage introspection %v", m)
	}
	resp, body := postForm(t, p, "/oidc/token/introspection", url.Values{"token": {tk.AccessToken}}, false)
	wantError(t, resp.StatusCode, body, 400, "invalid_request", "no client authentication mechanism provided")

	revoke := func(token, hint string) {
		resp, body := postForm(t, p, "/oidc/token/revocation", url.Values{"token": {token}, "token_type_hint": {hint}}, true)
		if resp.StatusCode != 200 || len(body) != 0 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Fatalf("revocation: %s %q %q", resp.Status, resp.Header.Get("Content-Type"), body)
		}
	}
	// An access token alone.
	revoke(tk.AccessToken, "access_token")
	if resp, _ := userinfo(t, p, tk.AccessToken); resp.StatusCode != 401 {
		t.Fatal("revoked access token still works")
	}
	if resp, _ := userinfo(t, p, second.AccessToken); resp.StatusCode != 200 {
		t.Fatal("revoking one access token killed another")
	}
	revoke("unknown", "")
	// The refresh token (with a wrong hint): the whole grant.
	revoke(tk.RefreshToken, "access_token")
	revoke(tk.RefreshToken, "refresh_token")
	if resp, _ := userinfo(t, p, second.AccessToken); resp.StatusCode != 401 {
		t.Fatal("revoking the refresh token left the grant alive")
	}
	if m := introspect(tk.RefreshToken); m["active"] != false {
		t.Fatal("revoked refresh token active")
	}
	resp, body = postForm(t, p, "/oidc/token/revocation", url.Values{"token": {"x"}}, false)
	wantError(t, resp.StatusCode, body, 400, "invalid_request", "no client authentication mechanism provided")
}

// TestClientAuthentication: Basic credentials are form-urlencoded before
// base64 (RFC 6749 §2.3.1), so a secret with ":%+ " must work; a wrong secret
// is 401 with WWW-Authenticate and does not use up the code.
func TestClientAuthentication(t *testing.T) {
	p := NewServer(t, Options{ClientSecret: "s3:cr%et+with space"})
	verifier, challenge := pkce()
	q := signIn(t, p, newBrowser(t), authParams{scope: "openid", challenge: challenge})
	form := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {testRedirect}, "code_verifier": {verifier}}

	req, _ := http.NewRequest(http.MethodPost, p.Issuer+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(p.ClientID, "wrong")
	resp, body := doReq(t, req)
	wantError(t, resp.StatusCode, body, 401, "invalid_client", "client authentication failed")
	if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), `Basic realm="`+p.Issuer+`"`) {
		t.Fatalf("WWW-Authenticate %q", resp.Header.Get("WWW-Authenticate"))
	}
	// Only client_id: 401 too.
	f2 := url.Values{"client_id": {p.ClientID}}
	for k, v := range form {
		f2[k] = v
	}
	resp, body = postForm(t, p, "/oidc/token", f2, false)
	wantError(t, resp.StatusCode, body, 401, "invalid_client", "")

	// Basic with the encoded secret.
	resp, body = postForm(t, p, "/oidc/token", form, true)
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("basic: %s %s (Cache-Control %q)", resp.Status, body, resp.Header.Get("Cache-Control"))
	}
	m := decode(t, body)
	if m["token_type"] != "Bearer" || m["expires_in"] != float64(3600) || m["refresh_token"] != nil {
		t.Fatalf("token response %s", body)
	}

	// client_secret_post.
	verifier, challenge = pkce()
	q = signIn(t, p, newBrowser(t), authParams{scope: "openid", challenge: challenge})
	form = url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {testRedirect},
		"code_verifier": {verifier}, "client_id": {p.ClientID}, "client_secret": {p.ClientSecret}}
	if resp, body := postForm(t, p, "/oidc/token", form, false); resp.StatusCode != 200 {
		t.Fatalf("client_secret_post: %s %s", resp.Status, body)
	}

	// No PKCE at all works for this client.
	q = signIn(t, p, newBrowser(t), authParams{scope: "openid"})
	exchangeCode(t, p, q.Get("code"), "", nil)
}

var xsrfRE = regexp.MustCompile(`name="xsrf" value="([^"]+)"`)

func TestEndSession(t *testing.T) {
	var mu sync.Mutex
	var logoutTokens []string
	bc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		logoutTokens = append(logoutTokens, r.PostFormValue("logout_token"))
		mu.Unlock()
	}))
	defer bc.Close()
	p := NewServer(t, Options{BackchannelLogoutURI: bc.URL, BackchannelLogoutSessionRequired: true,
		PostLogoutRedirectURIs: []string{"http://localhost:3000"}})
	browser := newBrowser(t)
	verifier, challenge := pkce()
	q := signIn(t, p, browser, authParams{scope: "openid offline_access", prompt: "consent", challenge: challenge})
	tk := exchangeCode(t, p, q.Get("code"), verifier, nil)
	_, idClaims := jwtParts(t, tk.IDToken)
	if idClaims["sid"] == nil {
		t.Fatal("no sid with BackchannelLogoutSessionRequired")
	}

	endURL := p.Issuer + "/session/end?" + url.Values{"id_token_hint": {tk.IDToken}, "client_id": {p.ClientID},
		"post_logout_redirect_uri": {"http://localhost:3000"}, "state": {"logout-state"}}.Encode()
	resp, body := doReqWith(t, browser, mustGet(t, endURL))
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(body), "op.logoutForm") || !strings.Contains(string(body), p.Issuer+"/session/end/confirm") {
		t.Fatalf("end session page: %s %s", resp.Status, body)
	}
	xsrf := xsrfRE.FindStringSubmatch(string(body))
	if xsrf == nil {
		t.Fatalf("no xsrf in %s", body)
	}
	confirm, _ := http.NewRequest(http.MethodPost, p.Issuer+"/session/end/confirm",
		strings.NewReader(url.Values{"xsrf": {xsrf[1]}, "logout": {"yes"}}.Encode()))
	confirm.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, body = doReqWith(t, browser, confirm)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "http://localhost:3000/?state=logout-state" {
		t.Fatalf("confirm: %s %q %s", resp.Status, resp.Header.Get("Location"), body)
	}

	mu.Lock()
	if len(logoutTokens) != 1 {
		t.Fatalf("%d back-channel logouts", len(logoutTokens))
	}
	h, lc := jwtParts(t, logoutTokens[0])
	mu.Unlock()
	if h["typ"] != "logout+jwt" || lc["exp"] != nil || lc["sid"] != idClaims["sid"] || lc["sub"] != DemoUser.ID || lc["aud"] != p.ClientID || lc["events"] == nil {
		t.Fatalf("logout token %v %v", h, lc)
	}

	// The SSO session is gone, the refresh token is not.
	cb, err := p.SignIn(context.Background(), browser, authorizeURL(p, authParams{scope: "openid", prompt: "none"}), "", "")
	if err != nil || !strings.Contains(cb, "error=login_required") {
		t.Fatalf("after logout prompt=none: %s %v", cb, err)
	}
	refreshOK(t, p, tk.RefreshToken, nil)

	// Unregistered URI.
	resp, body = doReq(t, mustGet(t, p.Issuer+"/session/end?"+url.Values{"client_id": {p.ClientID},
		"post_logout_redirect_uri": {"http://localhost:4000"}}.Encode()))
	wantError(t, resp.StatusCode, body, 400, "invalid_request", "post_logout_redirect_uri not registered")

	// Neither hint nor client_id: the redirect is ignored, Logto's own page.
	resp, body = doReq(t, mustGet(t, p.Issuer+"/session/end?post_logout_redirect_uri=http://localhost:3000"))
	xsrf = xsrfRE.FindStringSubmatch(string(body))
	if resp.StatusCode != 200 || xsrf == nil || !strings.Contains(string(body), "Submitting Callback") {
		t.Fatalf("end session without session: %s %s", resp.Status, body)
	}
	resp, _ = postForm(t, p, "/oidc/session/end/confirm", url.Values{"xsrf": {xsrf[1]}, "logout": {"yes"}}, false)
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/oidc/session/end/success" {
		t.Fatalf("success page: %s %s", resp.Status, resp.Request.URL)
	}
	if resp, _ := doReq(t, mustGet(t, p.Issuer+"/session/end/confirm")); resp.StatusCode != 404 {
		t.Fatalf("GET confirm: %s", resp.Status)
	}
}

func TestHTMLSignInForm(t *testing.T) {
	p := NewServer(t, Options{})
	browser := newBrowser(t)
	resp, _ := doReqWith(t, browser, mustGet(t, p.URL+"/sign-in"))
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/unknown-session" {
		t.Fatalf("sign-in without interaction: %s %q", resp.Status, resp.Header.Get("Location"))
	}
	doReqWith(t, browser, mustGet(t, authorizeURL(p, authParams{scope: "openid", state: "s"})))
	_, body := doReqWith(t, browser, mustGet(t, p.URL+"/sign-in"))
	for _, want := range []string{`name="identifier"`, `name="password"`, `id="submit"`} {
		if !strings.Contains(string(body), want) {
			t.Fatalf("sign-in page lacks %s: %s", want, body)
		}
	}
	post := func(user, pass string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, p.URL+"/sign-in", strings.NewReader(url.Values{"identifier": {user}, "password": {pass}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, _ := doReqWith(t, browser, req)
		return resp
	}
	if resp := post("demo", "wrong"); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("wrong password: %s", resp.Status)
	}
	resp = post("demo@example.test", "demo-password")
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, p.Issuer+"/auth/") {
		t.Fatalf("sign-in form: %s %q", resp.Status, loc)
	}
	cb, err := p.SignIn(context.Background(), browser, loc, "", "")
	if err != nil || !strings.HasPrefix(cb, testRedirect+"?code=") {
		t.Fatalf("after the form: %s %v", cb, err)
	}
}

func TestExperienceAPIErrors(t *testing.T) {
	p := NewServer(t, Options{})
	browser := newBrowser(t)
	call := func(method, path string, body string) (int, map[string]any) {
		req, _ := http.NewRequest(method, p.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, b := doReqWith(t, browser, req)
		m := map[string]any{}
		_ = json.Unmarshal(b, &m)
		return resp.StatusCode, m
	}
	if s, m := call("POST", "/api/experience/submit", ""); s != 400 || m["code"] != "session.not_found" {
		t.Fatalf("no interaction: %d %v", s, m)
	}
	doReqWith(t, browser, mustGet(t, authorizeURL(p, authParams{scope: "openid"})))
	if s, m := call("POST", "/api/experience/submit", ""); s != 404 || m["code"] != "session.interaction_not_found" {
		t.Fatalf("submit before PUT: %d %v", s, m)
	}
	if s, _ := call("PUT", "/api/experience", `{"interactionEvent":"SignIn"}`); s != 204 {
		t.Fatalf("PUT: %d", s)
	}
	if s, m := call("POST", "/api/experience/submit", ""); s != 404 || m["code"] != "session.identifier_not_found" {
		t.Fatalf("submit before identification: %d %v", s, m)
	}
	if s, m := call("POST", "/api/experience/verification/password", `{"identifier":{"type":"username","value":"demo"},"password":"x"}`); s != 422 || m["code"] != "session.invalid_credentials" {
		t.Fatalf("wrong password: %d %v", s, m)
	}
	if s, m := call("POST", "/api/experience/identification", `{"verificationId":"nope"}`); s != 404 || m["code"] != "session.verification_session_not_found" {
		t.Fatalf("unknown verification: %d %v", s, m)
	}
	s, m := call("POST", "/api/experience/verification/password", `{"identifier":{"type":"username","value":"demo"},"password":"demo-password"}`)
	if vid, _ := m["verificationId"].(string); s != 200 || !regexp.MustCompile(`^[a-z0-9]{21}$`).MatchString(vid) {
		t.Fatalf("verification: %d %v", s, m)
	}
}

func TestDownHookAndKeys(t *testing.T) {
	p := NewServer(t, Options{})
	p.SetDown(true)
	if resp, _ := doReq(t, mustGet(t, p.Issuer+"/.well-known/openid-configuration")); resp.StatusCode != 503 {
		t.Fatalf("down: %s", resp.Status)
	}
	p.SetDown(false)

	tk := fullSignIn(t, p, "openid offline_access")
	p.SetTokenHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.PostFormValue("grant_type") == "refresh_token" {
			http.Error(w, "boom", http.StatusBadGateway)
			return true
		}
		return false
	})
	if status, _ := refresh(t, p, tk.RefreshToken, nil); status != http.StatusBadGateway {
		t.Fatalf("hook: %d", status)
	}
	p.SetTokenHook(func(http.ResponseWriter, *http.Request) bool { return false })
	refreshOK(t, p, tk.RefreshToken, nil) // the body is still readable after the hook
	p.SetTokenHook(nil)

	old := p.KeyID()
	p.RotateKeys()
	if p.KeyID() == old {
		t.Fatal("RotateKeys kept the kid")
	}
	r := refreshOK(t, p, tk.RefreshToken, nil)
	if h, _ := jwtParts(t, r.IDToken); h["kid"] != p.KeyID() {
		t.Fatal("new tokens not signed with the new key")
	}
	_, body := doReq(t, mustGet(t, p.Issuer+"/jwks"))
	var set jose.JSONWebKeySet
	_ = json.Unmarshal(body, &set)
	if len(set.Keys) != 2 || len(set.Key(old)) != 1 {
		t.Fatalf("JWKS after rotation: %s", body)
	}
	verifyJWT(t, p, tk.IDToken)
}

// TestConcurrent signs in and refreshes from many goroutines, for -race.
func TestConcurrent(t *testing.T) {
	p := NewServer(t, Options{})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			browser := newBrowser(t)
			cb, err := p.SignIn(context.Background(), browser, authorizeURL(p, authParams{
				scope: "openid profile offline_access", prompt: "consent", state: fmt.Sprint(i)}), "demo", "demo-password")
			if err != nil {
				errs <- err
				return
			}
			u, _ := url.Parse(cb)
			form := url.Values{"grant_type": {"authorization_code"}, "code": {u.Query().Get("code")}, "redirect_uri": {testRedirect}}
			req, _ := http.NewRequest(http.MethodPost, p.Issuer+"/token", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(p.ClientID, p.ClientSecret)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err
				return
			}
			var tk tokens
			_ = json.NewDecoder(resp.Body).Decode(&tk)
			resp.Body.Close()
			if tk.RefreshToken == "" {
				errs <- fmt.Errorf("no refresh token: %s", resp.Status)
				return
			}
			var inner sync.WaitGroup
			for range 4 {
				inner.Add(1)
				go func() {
					defer inner.Done()
					form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tk.RefreshToken}}
					req, _ := http.NewRequest(http.MethodPost, p.Issuer+"/token", strings.NewReader(form.Encode()))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.SetBasicAuth(p.ClientID, p.ClientSecret)
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						errs <- err
						return
					}
					resp.Body.Close()
					if resp.StatusCode != 200 {
						errs <- fmt.Errorf("refresh: %s", resp.Status)
					}
				}()
			}
			inner.Wait()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if p.Calls("token") != 16*5 {
		t.Fatalf("token calls %d", p.Calls("token"))
	}
}

func TestNewUnstarted(t *testing.T) {
	p, err := NewUnstarted(Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p.Handler())
	defer srv.Close()
	p.SetURL(srv.URL + "/")
	if p.URL != srv.URL || p.Issuer != srv.URL+"/oidc" {
		t.Fatalf("SetURL: %q %q", p.URL, p.Issuer)
	}
	tk := fullSignIn(t, p, "openid")
	if tk.IDToken == "" {
		t.Fatal("no id token")
	}
	if _, err := NewUnstarted(Options{SigningAlg: "HS256"}); err == nil {
		t.Fatal("HS256 accepted")
	}
}

// TestHopsLikeLogto walks the browser hops by hand and checks each status
// and Location against logto-observed §3.
func TestHopsLikeLogto(t *testing.T) {
	p := NewServer(t, Options{})
	b := newBrowser(t)
	get := func(u string) *http.Response {
		t.Helper()
		resp, _ := doReqWith(t, b, mustGet(t, u))
		return resp
	}
	r := get(authorizeURL(p, authParams{scope: "openid profile offline_access", prompt: "consent", state: "st"}))
	if r.StatusCode != 303 || r.Header.Get("Location") != "/sign-in?app_id=test-app" || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("hop 1: %s %q %q", r.Status, r.Header.Get("Location"), r.Header.Get("Cache-Control"))
	}
	signInURL, _ := url.Parse(p.URL + "/sign-in?app_id=test-app")
	redirectTo, err := experienceSignIn(context.Background(), b, signInURL, "demo", "demo-password")
	if err != nil || !strings.HasPrefix(redirectTo, p.Issuer+"/auth/") {
		t.Fatalf("experience: %q %v", redirectTo, err)
	}
	r = get(redirectTo)
	if r.StatusCode != 303 || r.Header.Get("Location") != "/consent?app_id=test-app" {
		t.Fatalf("hop 6: %s %q", r.Status, r.Header.Get("Location"))
	}
	r = get(p.URL + "/consent?app_id=test-app")
	uid2 := r.Header.Get("Location")
	if r.StatusCode != 302 || !strings.HasPrefix(uid2, p.Issuer+"/auth/") || uid2 == redirectTo {
		t.Fatalf("hop 7: %s %q", r.Status, uid2)
	}
	r = get(uid2)
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(testRedirect) + `\?code=[\w-]{43}&state=st&iss=` + regexp.QuoteMeta(url.QueryEscape(p.Issuer)) + `$`)
	if r.StatusCode != 303 || !re.MatchString(r.Header.Get("Location")) {
		t.Fatalf("hop 8: %s %q", r.Status, r.Header.Get("Location"))
	}
	if r := get(uid2); r.StatusCode != 400 {
		t.Fatalf("replayed hop 8: %s", r.Status)
	}
	if p.Calls("auth_resume") != 3 {
		t.Fatalf("auth_resume calls %d", p.Calls("auth_resume"))
	}

	// SSO with response_mode=form_post: the code comes in a self-posting form.
	resp, body := doReqWith(t, b, mustGet(t, authorizeURL(p, authParams{scope: "openid", state: "fp",
		extra: url.Values{"response_mode": {"form_post"}}})))
	for _, want := range []string{`action="` + testRedirect + `"`, `name="code"`, `name="state" value="fp"`, `name="iss"`} {
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Fatalf("form_post lacks %s: %s %s", want, resp.Status, body)
		}
	}

	// max_age: auth_time appears.
	q := signIn(t, p, b, authParams{scope: "openid", extra: url.Values{"max_age": {"600"}}})
	tk := exchangeCode(t, p, q.Get("code"), "", nil)
	if _, c := jwtParts(t, tk.IDToken); c["auth_time"] == nil {
		t.Fatalf("no auth_time with max_age: %v", c)
	}
}
