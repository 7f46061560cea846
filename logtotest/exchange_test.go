package logtotest

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// tokenExchange posts a token exchange grant with form, authenticated as
// id/secret with client_secret_basic.
func tokenExchange(t testing.TB, p *Provider, id, secret string, form url.Values) (*http.Response, []byte) {
	t.Helper()
	f := url.Values{"grant_type": {GrantTypeTokenExchange}}
	for k, v := range form {
		f[k] = v
	}
	return clientCredentials(t, p, id, secret, f, true)
}

// exchangeOK posts a token exchange as the web app and fails the test
// unless it gets 200; it returns the response.
func exchangeOK(t testing.TB, p *Provider, form url.Values) map[string]any {
	t.Helper()
	resp, body := tokenExchange(t, p, p.ClientID, p.ClientSecret, form)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token exchange %v: %s %s", form, resp.Status, body)
	}
	if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("headers %v", resp.Header)
	}
	if keys := jsonKeys(t, body); !slices.Equal(keys, []string{"access_token", "expires_in", "scope", "token_type"}) {
		t.Fatalf("response fields %v: %s", keys, body)
	}
	m := decode(t, body)
	if m["token_type"] != "Bearer" {
		t.Fatalf("response %s", body)
	}
	return m
}

const grantInvalid = "grant request is invalid"

// TestTokenExchangeSubjectToken: a subject token (impersonation) is
// exchanged once for a resource token of its user, issued to the app, as
// Logto v1.37 answered (§18).
func TestTokenExchangeSubjectToken(t *testing.T) {
	clk := newFakeClock()
	p := NewServer(t, Options{AllowTokenExchange: true, Clock: clk.Now,
		ResourceAccessTokenTTL: map[string]time.Duration{DefaultResource: 65 * time.Second}})
	sub := p.MustSubjectToken(t, DemoUser.ID)
	if !strings.HasPrefix(sub, "sub_") || len(sub) != 25 {
		t.Fatalf("subject token %q, want sub_ and 21 characters", sub)
	}
	form := url.Values{"subject_token": {sub}, "subject_token_type": {TokenTypeAccessToken},
		"resource": {DefaultResource}, "scope": {"read:data"}}
	m := exchangeOK(t, p, form)
	if m["expires_in"] != float64(65) || m["scope"] != "read:data" {
		t.Fatalf("response %v", m)
	}
	wantAccessToken(t, p, m["access_token"].(string), map[string]any{
		"sub": DemoUser.ID, "client_id": p.ClientID, "iss": p.Issuer, "aud": DefaultResource, "scope": "read:data",
	}, 65*time.Second)

	// Single use.
	resp, body := tokenExchange(t, p, p.ClientID, p.ClientSecret, form)
	wantError(t, resp.StatusCode, body, 400, "invalid_grant", grantInvalid)

	// The deprecated impersonation token type takes the same tokens.
	form.Set("subject_token", p.MustSubjectToken(t, ""))
	form.Set("subject_token_type", TokenTypeImpersonationToken)
	exchangeOK(t, p, form)

	// 600 s to use it.
	form.Set("subject_token", p.MustSubjectToken(t, DemoUser.ID))
	clk.Advance(600 * time.Second)
	resp, body = tokenExchange(t, p, p.ClientID, p.ClientSecret, form)
	wantError(t, resp.StatusCode, body, 400, "invalid_grant", grantInvalid)

	// A refused exchange does not use the token up.
	sub = p.MustSubjectToken(t, DemoUser.ID)
	resp, body = tokenExchange(t, p, p.ClientID, p.ClientSecret, url.Values{"subject_token": {sub},
		"subject_token_type": {TokenTypeAccessToken}, "resource": {"https://not-registered.test"}})
	const invalidTarget = `{"code":"oidc.invalid_target","message":"Invalid resource indicator.","error":"invalid_target","error_description":"resource indicator is missing, or unknown"}`
	if resp.StatusCode != 400 || strings.TrimSpace(string(body)) != invalidTarget {
		t.Fatalf("unknown resource: %s %s", resp.Status, body)
	}
	form.Set("subject_token", sub)
	form.Set("subject_token_type", TokenTypeAccessToken)
	exchangeOK(t, p, form)
}

// TestTokenExchangePersonalAccessToken: a personal access token is
// exchanged as often as needed until it expires.
func TestTokenExchangePersonalAccessToken(t *testing.T) {
	clk := newFakeClock()
	p := NewServer(t, Options{AllowTokenExchange: true, Clock: clk.Now})
	pat := p.MustPersonalAccessToken(t, DemoUser.ID, "ci", 0)
	if !strings.HasPrefix(pat, "pat_") || len(pat) != 36 {
		t.Fatalf("personal access token %q, want pat_ and 32 characters", pat)
	}
	form := url.Values{"subject_token": {pat}, "subject_token_type": {TokenTypePersonalAccessToken},
		"resource": {DefaultResource}, "scope": {"read:data"}}
	for range 2 {
		m := exchangeOK(t, p, form)
		wantAccessToken(t, p, m["access_token"].(string), map[string]any{
			"sub": DemoUser.ID, "client_id": p.ClientID, "iss": p.Issuer, "aud": DefaultResource, "scope": "read:data",
		}, time.Hour)
	}
	clk.Advance(365 * 24 * time.Hour)
	exchangeOK(t, p, form) // no expiry

	short := p.MustPersonalAccessToken(t, DemoUser.ID, "short", time.Minute)
	form.Set("subject_token", short)
	exchangeOK(t, p, form)
	clk.Advance(time.Minute)
	for name, f := range map[string]url.Values{
		"expired":         form,
		"bogus":           {"subject_token": {"pat_bogus"}, "subject_token_type": {TokenTypePersonalAccessToken}},
		"pat as access":   {"subject_token": {pat}, "subject_token_type": {TokenTypeAccessToken}},
		"sub as pat":      {"subject_token": {p.MustSubjectToken(t, "")}, "subject_token_type": {TokenTypePersonalAccessToken}},
		"opaque token":    {"subject_token": {p.MustActorToken(t, "")}, "subject_token_type": {TokenTypeAccessToken}},
		"JWT":             {"subject_token": {p.MustUserAccessToken(t, DefaultResource)}, "subject_token_type": {TokenTypeAccessToken}},
		"unknown type":    {"subject_token": {pat}, "subject_token_type": {"urn:ietf:params:oauth:token-type:jwt"}},
		"pat impersonate": {"subject_token": {pat}, "subject_token_type": {TokenTypeImpersonationToken}},
	} {
		resp, body := tokenExchange(t, p, p.ClientID, p.ClientSecret, f)
		if resp.StatusCode != 400 || !strings.Contains(string(body), grantInvalid) {
			t.Errorf("%s: %s %s", name, resp.Status, body)
		}
		wantError(t, resp.StatusCode, body, 400, "invalid_grant", grantInvalid)
	}

	// Names are unique per user; a token needs a name, a user, a future.
	if _, err := p.PersonalAccessToken(DemoUser.ID, "ci", 0); err == nil {
		t.Error("duplicate name accepted")
	}
	if _, err := p.PersonalAccessToken(DemoUser.ID, "", 0); err == nil {
		t.Error("empty name accepted")
	}
	if _, err := p.PersonalAccessToken("nobody", "x", 0); err == nil {
		t.Error("unknown user accepted")
	}
	if _, err := p.PersonalAccessToken(DemoUser.ID, "past", -time.Second); err == nil {
		t.Error("negative ttl accepted")
	}
	if _, err := p.SubjectToken("nobody"); err == nil {
		t.Error("SubjectToken for an unknown user")
	}
	if _, err := p.ActorToken("nobody"); err == nil {
		t.Error("ActorToken for an unknown user")
	}
}

// TestTokenExchangeScopesAndTargets: scope is what was requested and the
// user's roles grant; organization_id gives an organization token, or with
// resource an organization-scoped resource token; no target an opaque
// token.
func TestTokenExchangeScopesAndTargets(t *testing.T) {
	bob := User{ID: "bob-id", Username: "bob", Email: "bob@example.test", Organizations: []string{"demo-org"}}
	p := NewServer(t, Options{AllowTokenExchange: true, Users: []User{DemoUser, bob}})
	exchange := func(user string, extra url.Values) map[string]any {
		t.Helper()
		form := url.Values{"subject_token": {p.MustPersonalAccessToken(t, user, randomToken(), 0)},
			"subject_token_type": {TokenTypePersonalAccessToken}}
		for k, v := range extra {
			form[k] = v
		}
		return exchangeOK(t, p, form)
	}
	for _, c := range []struct {
		user, scope, want string
	}{
		{DemoUser.ID, "write:data openid read:data read:data", "read:data"},
		{DemoUser.ID, "", ""},
		{DemoUser.ID, "write:data", ""},
		{bob.ID, "read:data", ""},
	} {
		m := exchange(c.user, url.Values{"resource": {DefaultResource}, "scope": {c.scope}})
		_, claims := jwtParts(t, m["access_token"].(string))
		if m["scope"] != c.want || claims["scope"] != c.want {
			t.Errorf("%s asking %q: response %v token %v, want %q", c.user, c.scope, m["scope"], claims["scope"], c.want)
		}
	}

	// organization_id alone: an organization token.
	m := exchange(DemoUser.ID, url.Values{"organization_id": {"demo-org"}, "scope": {"read:data read:org"}})
	wantAccessToken(t, p, m["access_token"].(string), map[string]any{
		"sub": DemoUser.ID, "client_id": p.ClientID, "iss": p.Issuer, "aud": "urn:logto:organization:demo-org", "scope": "read:org",
	}, time.Hour)
	// With a resource: the resource's token, with organization_id.
	m = exchange(DemoUser.ID, url.Values{"organization_id": {"demo-org"}, "resource": {DefaultResource}, "scope": {"read:data"}})
	wantAccessToken(t, p, m["access_token"].(string), map[string]any{
		"sub": DemoUser.ID, "client_id": p.ClientID, "iss": p.Issuer, "aud": DefaultResource, "scope": "read:data",
		"organization_id": "demo-org",
	}, time.Hour)
	// Not a member: 403.
	form := url.Values{"subject_token": {p.MustSubjectToken(t, DemoUser.ID)}, "subject_token_type": {TokenTypeAccessToken},
		"organization_id": {"other-org"}}
	resp, body := tokenExchange(t, p, p.ClientID, p.ClientSecret, form)
	wantError(t, resp.StatusCode, body, 403, "access_denied", "user is not a member of the organization")

	// Neither: an opaque token with the OpenID Connect scopes asked for,
	// good at userinfo.
	m = exchange(bob.ID, url.Values{"scope": {"read:data email openid"}})
	at := m["access_token"].(string)
	if strings.Count(at, ".") == 2 || m["scope"] != "email openid" || m["expires_in"] != float64(3600) {
		t.Fatalf("opaque exchange: %v", m)
	}
	resp, body = userinfo(t, p, at)
	if resp.StatusCode != 200 || decode(t, body)["email"] != bob.Email {
		t.Fatalf("userinfo with the exchanged token: %s %s", resp.Status, body)
	}
}

// TestTokenExchangeActor: an actor token adds act; only a live opaque
// access token with openid is one.
func TestTokenExchangeActor(t *testing.T) {
	clk := newFakeClock()
	agent := User{ID: "agent-id", Username: "agent", Password: "agent-password", Email: "agent@example.test"}
	p := NewServer(t, Options{AllowTokenExchange: true, Clock: clk.Now, Users: []User{DemoUser, agent}})
	form := func(actor string, extra ...string) url.Values {
		f := url.Values{"subject_token": {p.MustSubjectToken(t, DemoUser.ID)}, "subject_token_type": {TokenTypeAccessToken},
			"resource": {DefaultResource}, "scope": {"read:data"}, "actor_token": {actor}, "actor_token_type": {TokenTypeAccessToken}}
		for i := 0; i+1 < len(extra); i += 2 {
			f.Set(extra[i], extra[i+1])
		}
		return f
	}
	m := exchangeOK(t, p, form(p.MustActorToken(t, agent.ID)))
	c := wantAccessToken(t, p, m["access_token"].(string), map[string]any{
		"sub": DemoUser.ID, "client_id": p.ClientID, "iss": p.Issuer, "aud": DefaultResource, "scope": "read:data",
		"act": nil, // checked below
	}, time.Hour)
	if act, _ := c["act"].(map[string]any); len(act) != 1 || act["sub"] != agent.ID {
		t.Fatalf("act %v", c["act"])
	}

	// The access token of a real sign-in (no resource) acts too.
	signedIn := fullSignIn(t, p, "openid profile")
	m = exchangeOK(t, p, form(signedIn.AccessToken))
	if _, c := jwtParts(t, m["access_token"].(string)); c["act"].(map[string]any)["sub"] != DemoUser.ID {
		t.Fatalf("act %v", c["act"])
	}

	// Without openid (an exchanged opaque token asked for profile only).
	noOpenID := exchangeOK(t, p, url.Values{"subject_token": {p.MustSubjectToken(t, agent.ID)},
		"subject_token_type": {TokenTypeAccessToken}, "scope": {"profile"}})["access_token"].(string)
	expired := p.MustActorToken(t, agent.ID)
	revoked := p.MustActorToken(t, agent.ID)
	postForm(t, p, "/oidc/token/revocation", url.Values{"token": {revoked}}, true)
	for name, f := range map[string]url.Values{
		"unknown":    form("nope"),
		"JWT":        form(p.MustUserAccessToken(t, DefaultResource)),
		"no openid":  form(noOpenID),
		"revoked":    form(revoked),
		"wrong type": form(p.MustActorToken(t, agent.ID), "actor_token_type", TokenTypePersonalAccessToken),
		"no type":    form(p.MustActorToken(t, agent.ID), "actor_token_type", ""),
	} {
		resp, body := tokenExchange(t, p, p.ClientID, p.ClientSecret, f)
		if resp.StatusCode != 400 || !strings.Contains(string(body), `"invalid_grant"`) {
			t.Errorf("actor %s: %s %s", name, resp.Status, body)
		}
	}
	clk.Advance(time.Hour)
	resp, body := tokenExchange(t, p, p.ClientID, p.ClientSecret, form(expired))
	wantError(t, resp.StatusCode, body, 400, "invalid_grant", grantInvalid)
	// A refused actor leaves the subject token unused.
	f := form("nope")
	tokenExchange(t, p, p.ClientID, p.ClientSecret, f)
	f.Del("actor_token")
	f.Del("actor_token_type")
	exchangeOK(t, p, f)
}

// TestTokenExchangeClients: token exchange is off by default, for the web
// app and for machine-to-machine apps, and on per app.
func TestTokenExchangeClients(t *testing.T) {
	worker := MachineApp{ID: "worker", Secret: "worker-secret", AllowTokenExchange: true}
	p := NewServer(t, Options{MachineApps: []MachineApp{DemoMachineApp, worker}})
	form := func() url.Values {
		return url.Values{"subject_token": {p.MustSubjectToken(t, "")}, "subject_token_type": {TokenTypeAccessToken},
			"resource": {DefaultResource}, "scope": {"read:data"}}
	}
	for _, app := range [][2]string{{p.ClientID, p.ClientSecret}, {DemoMachineApp.ID, DemoMachineApp.Secret}} {
		resp, body := tokenExchange(t, p, app[0], app[1], form())
		if m := wantError(t, resp.StatusCode, body, 400, "invalid_request", "requested grant type is not allowed for this client"); m["message"] != "Request is invalid." {
			t.Fatalf("%s: %s", app[0], body)
		}
	}
	resp, body := tokenExchange(t, p, worker.ID, worker.Secret, form())
	if resp.StatusCode != 200 {
		t.Fatalf("allowed machine app: %s %s", resp.Status, body)
	}
	wantAccessToken(t, p, decode(t, body)["access_token"].(string), map[string]any{
		"sub": DemoUser.ID, "client_id": worker.ID, "iss": p.Issuer, "aud": DefaultResource, "scope": "read:data",
	}, time.Hour)
	// client_secret_post works as for the other grants.
	f := form()
	f.Set("grant_type", GrantTypeTokenExchange)
	if resp, body := clientCredentials(t, p, worker.ID, worker.Secret, f, false); resp.StatusCode != 200 {
		t.Fatalf("client_secret_post: %s %s", resp.Status, body)
	}

	// Client authentication first: a wrong secret, none at all.
	resp, body = tokenExchange(t, p, worker.ID, "wrong", form())
	wantError(t, resp.StatusCode, body, 401, "invalid_client", "client authentication failed")
	if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic realm=") {
		t.Fatalf("WWW-Authenticate %q", resp.Header.Get("WWW-Authenticate"))
	}
	resp, body = postForm(t, p, "/oidc/token", url.Values{"grant_type": {GrantTypeTokenExchange}}, false)
	wantError(t, resp.StatusCode, body, 400, "invalid_request", "no client authentication mechanism provided")

	// Then the parameters.
	for _, c := range []struct {
		form url.Values
		desc string
	}{
		{url.Values{"subject_token_type": {TokenTypeAccessToken}}, "missing required parameter 'subject_token'"},
		{url.Values{"subject_token": {"x"}}, "missing required parameter 'subject_token_type'"},
		{url.Values{}, "missing required parameters 'subject_token' and 'subject_token_type'"},
		{url.Values{"subject_token": {"x", "y"}, "subject_token_type": {TokenTypeAccessToken}}, "'subject_token' parameter must only be provided once"},
	} {
		resp, body := tokenExchange(t, p, worker.ID, worker.Secret, c.form)
		wantError(t, resp.StatusCode, body, 400, "invalid_request", c.desc)
	}
	f = form()
	f["resource"] = []string{DefaultResource, OrganizationsResource}
	resp, body = tokenExchange(t, p, worker.ID, worker.Secret, f)
	wantError(t, resp.StatusCode, body, 400, "invalid_target", "only a single resource indicator value is supported")
}

// TestExchangeTokenHelper: ExchangeToken exchanges as an app would, and
// Misbehavior and Calls see it.
func TestExchangeTokenHelper(t *testing.T) {
	worker := MachineApp{ID: "worker", Secret: "worker-secret", AllowTokenExchange: true}
	p := NewServer(t, Options{AllowTokenExchange: true, MachineApps: []MachineApp{worker}})
	at := p.MustExchangeToken(t, TokenExchange{
		SubjectToken: p.MustPersonalAccessToken(t, "", "pat", 0),
		Resource:     DefaultResource,
		Scopes:       []string{"read:data"},
		ActorToken:   p.MustActorToken(t, ""),
	})
	c := wantAccessToken(t, p, at, map[string]any{"sub": DemoUser.ID, "client_id": p.ClientID, "iss": p.Issuer,
		"aud": DefaultResource, "scope": "read:data", "act": nil}, time.Hour)
	if c["act"].(map[string]any)["sub"] != DemoUser.ID || p.Calls("token") != 1 {
		t.Fatalf("act %v, token calls %d", c["act"], p.Calls("token"))
	}
	at = p.MustExchangeToken(t, TokenExchange{SubjectToken: p.MustSubjectToken(t, ""), OrganizationID: "demo-org",
		Scopes: []string{"read:org"}, ClientID: worker.ID})
	if _, c := jwtParts(t, at); c["client_id"] != worker.ID || c["aud"] != "urn:logto:organization:demo-org" || c["scope"] != "read:org" {
		t.Fatalf("organization token %v", c)
	}

	_, err := p.ExchangeToken(t.Context(), TokenExchange{SubjectToken: "pat_bogus"})
	if err == nil || !strings.Contains(err.Error(), `400 {"code":"oidc.invalid_grant"`) {
		t.Fatalf("bogus token: %v", err)
	}
	if _, err := p.ExchangeToken(t.Context(), TokenExchange{}); err == nil {
		t.Fatal("no subject token accepted")
	}

	p.Misbehave(Misbehavior{AccessToken: func(h, c map[string]any) { c["act"] = "forged" }})
	at = p.MustExchangeToken(t, TokenExchange{SubjectToken: p.MustSubjectToken(t, ""), Resource: DefaultResource})
	if _, c := jwtParts(t, at); c["act"] != "forged" {
		t.Fatalf("Misbehavior.AccessToken not applied: %v", c)
	}
}
