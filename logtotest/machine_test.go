package logtotest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// clientCredentials posts grant_type=client_credentials with form, as
// client id/secret: client_secret_basic when basic, else client_secret_post.
func clientCredentials(t testing.TB, p *Provider, id, secret string, form url.Values, basic bool) (*http.Response, []byte) {
	t.Helper()
	f := url.Values{"grant_type": {"client_credentials"}}
	for k, v := range form {
		f[k] = v
	}
	if !basic {
		f.Set("client_id", id)
		f.Set("client_secret", secret)
	}
	req, err := http.NewRequest(http.MethodPost, p.Issuer+"/token", strings.NewReader(f.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	return doReq(t, req)
}

// jsonKeys lists the keys of a JSON object in the order they were sent.
func jsonKeys(t testing.TB, body []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %s", body)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// sortedKeys are m's keys, sorted.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// wantAccessToken checks a JWT access token claim by claim against Logto's
// shape: header {alg, typ at+jwt, kid of the active key}, exactly the
// claims in want (a nil value: any) plus jti (21 characters), iat and
// exp = iat + ttl; and its signature against the JWKS. It returns the
// claims.
func wantAccessToken(t testing.TB, p *Provider, token string, want map[string]any, ttl time.Duration) map[string]any {
	t.Helper()
	h, c := jwtParts(t, token)
	if len(h) != 3 || h["alg"] != "ES384" || h["typ"] != "at+jwt" || h["kid"] != p.KeyID() {
		t.Fatalf("header %v, want exactly alg ES384, typ at+jwt, kid %s", h, p.KeyID())
	}
	wantKeys := []string{"exp", "iat", "jti"}
	for k, v := range want {
		wantKeys = append(wantKeys, k)
		if v != nil && c[k] != v { // nil: present, the caller checks it
			t.Errorf("claim %s = %#v, want %#v", k, c[k], v)
		}
	}
	slices.Sort(wantKeys)
	if got := sortedKeys(c); !slices.Equal(got, wantKeys) {
		t.Errorf("claims %v, want exactly %v", got, wantKeys)
	}
	if jti, _ := c["jti"].(string); len(jti) != 21 {
		t.Errorf("jti %q, want 21 characters", jti)
	}
	iat, _ := c["iat"].(float64)
	exp, _ := c["exp"].(float64)
	if now := float64(p.now().Unix()); iat < now-5 || iat > now+1 {
		t.Errorf("iat %v, now %v", iat, now)
	}
	if exp-iat != ttl.Seconds() {
		t.Errorf("exp - iat = %v, want %v", exp-iat, ttl.Seconds())
	}
	verifyJWT(t, p, token)
	return c
}

// TestClientCredentials: a machine-to-machine app gets a resource JWT for
// itself, shaped as the one Logto issued (sub = client_id = the app).
func TestClientCredentials(t *testing.T) {
	p := NewServer(t, Options{})
	m2m := DemoMachineApp
	form := url.Values{"resource": {DefaultResource}, "scope": {"read:data"}}
	for _, basic := range []bool{true, false} {
		resp, body := clientCredentials(t, p, m2m.ID, m2m.Secret, form, basic)
		if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-store" ||
			resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Fatalf("basic=%v: %s %v %s", basic, resp.Status, resp.Header, body)
		}
		if keys := jsonKeys(t, body); !slices.Equal(keys, []string{"access_token", "expires_in", "token_type", "scope"}) {
			t.Fatalf("response fields %v", keys)
		}
		m := decode(t, body)
		if m["expires_in"] != float64(3600) || m["token_type"] != "Bearer" || m["scope"] != "read:data" {
			t.Fatalf("response %s", body)
		}
		c := wantAccessToken(t, p, m["access_token"].(string), map[string]any{
			"sub": m2m.ID, "client_id": m2m.ID, "iss": p.Issuer, "aud": DefaultResource, "scope": "read:data",
		}, time.Hour)
		if c["sub"] != c["client_id"] {
			t.Fatal("sub != client_id")
		}
	}

	// Scopes: what was requested and granted, in the order requested;
	// nothing granted means no scope at all.
	for _, c := range []struct{ scope, want string }{
		{"openid write:data read:data read:data", "read:data"},
		{"", ""},
		{"write:data", ""},
	} {
		resp, body := clientCredentials(t, p, m2m.ID, m2m.Secret, url.Values{"resource": {DefaultResource}, "scope": {c.scope}}, true)
		if resp.StatusCode != 200 {
			t.Fatalf("scope %q: %s %s", c.scope, resp.Status, body)
		}
		m := decode(t, body)
		_, claims := jwtParts(t, m["access_token"].(string))
		if c.want == "" {
			if _, ok := m["scope"]; ok {
				t.Errorf("scope %q: response has scope: %s", c.scope, body)
			}
			if _, ok := claims["scope"]; ok {
				t.Errorf("scope %q: token has scope %v", c.scope, claims["scope"])
			}
			continue
		}
		if m["scope"] != c.want || claims["scope"] != c.want {
			t.Errorf("scope %q: response %v token %v, want %q", c.scope, m["scope"], claims["scope"], c.want)
		}
	}
}

// TestClientCredentialsOptions: apps of one's own, the resource's TTL, and
// Misbehavior.AccessToken on machine tokens.
func TestClientCredentialsOptions(t *testing.T) {
	for name, o := range map[string]Options{
		"no secret":     {MachineApps: []MachineApp{{ID: "m"}}},
		"duplicate":     {MachineApps: []MachineApp{{ID: "m", Secret: "s"}, {ID: "m", Secret: "t"}}},
		"web app's ID":  {MachineApps: []MachineApp{{ID: "test-app", Secret: "s"}}},
		"no ID at all":  {MachineApps: []MachineApp{{Secret: "s"}}},
		"negative TTLs": {ResourceAccessTokenTTL: map[string]time.Duration{DefaultResource: -time.Second}},
	} {
		if _, err := NewUnstarted(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}

	const api = "https://billing.example.test"
	worker := MachineApp{ID: "ngu4sl2sjqkuygxgvtlmx", Secret: "s3:cr%et+", ResourceScopes: map[string][]string{
		api: {"read:invoices", "write:invoices"}, DefaultResource: {"read:data"},
	}}
	p := NewServer(t, Options{
		Resources:              []string{DefaultResource, api},
		MachineApps:            []MachineApp{worker},
		ResourceAccessTokenTTL: map[string]time.Duration{api: 65 * time.Second},
	})
	worker.ResourceScopes[api][0] = "changed" // the provider keeps its own copy
	resp, body := clientCredentials(t, p, worker.ID, worker.Secret,
		url.Values{"resource": {api}, "scope": {"write:invoices read:invoices"}}, true)
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s", resp.Status, body)
	}
	m := decode(t, body)
	if m["expires_in"] != float64(65) || m["scope"] != "write:invoices read:invoices" {
		t.Fatalf("response %s", body)
	}
	wantAccessToken(t, p, m["access_token"].(string), map[string]any{
		"sub": worker.ID, "client_id": worker.ID, "iss": p.Issuer, "aud": api, "scope": "write:invoices read:invoices",
	}, 65*time.Second)
	// DemoMachineApp is not there when MachineApps is set.
	resp, body = clientCredentials(t, p, DemoMachineApp.ID, DemoMachineApp.Secret, url.Values{"resource": {api}}, true)
	wantError(t, resp.StatusCode, body, 401, "invalid_client", "client authentication failed")

	p.Misbehave(Misbehavior{AccessToken: func(h, c map[string]any) { h["typ"] = "JWT"; delete(c, "sub") }})
	_, body = clientCredentials(t, p, worker.ID, worker.Secret, url.Values{"resource": {DefaultResource}}, true)
	if h, c := jwtParts(t, decode(t, body)["access_token"].(string)); h["typ"] != "JWT" || c["sub"] != nil || c["client_id"] != worker.ID {
		t.Fatalf("Misbehavior.AccessToken not applied: %v %v", h, c)
	}
}

// TestClientCredentialsRefusals: each way Logto says no.
func TestClientCredentialsRefusals(t *testing.T) {
	p := NewServer(t, Options{})
	m2m := DemoMachineApp
	ok := url.Values{"resource": {DefaultResource}, "scope": {"read:data"}}

	// A wrong secret (Basic or post) or an unknown app: 401 with Logto's
	// WWW-Authenticate.
	for _, basic := range []bool{true, false} {
		resp, body := clientCredentials(t, p, m2m.ID, "wrong", ok, basic)
		wantError(t, resp.StatusCode, body, 401, "invalid_client", "client authentication failed")
		want := `Basic realm="` + p.Issuer + `", error="invalid_client", error_description="client authentication failed"`
		if got := resp.Header.Get("WWW-Authenticate"); got != want {
			t.Fatalf("WWW-Authenticate %q, want %q", got, want)
		}
	}
	resp, body := clientCredentials(t, p, "nope", m2m.Secret, ok, true)
	wantError(t, resp.StatusCode, body, 401, "invalid_client", "client authentication failed")

	// An unknown resource: Logto's invalid_target body, byte for byte.
	resp, body = clientCredentials(t, p, m2m.ID, m2m.Secret, url.Values{"resource": {"https://not-registered.test"}, "scope": {"read:data"}}, true)
	const invalidTarget = `{"code":"oidc.invalid_target","message":"Invalid resource indicator.","error":"invalid_target","error_description":"resource indicator is missing, or unknown"}`
	if resp.StatusCode != 400 || strings.TrimSpace(string(body)) != invalidTarget {
		t.Fatalf("unknown resource: %s %s", resp.Status, body)
	}
	// No resource, two resources.
	resp, body = clientCredentials(t, p, m2m.ID, m2m.Secret, url.Values{"scope": {"read:data"}}, true)
	wantError(t, resp.StatusCode, body, 400, "invalid_target", "both `resource` and `organization_id` are not provided")
	resp, body = clientCredentials(t, p, m2m.ID, m2m.Secret, url.Values{"resource": {DefaultResource, OrganizationsResource}}, true)
	wantError(t, resp.StatusCode, body, 400, "invalid_target", "only a single resource indicator value is supported for this grant type")
	// An organization: this app is not in it.
	resp, body = clientCredentials(t, p, m2m.ID, m2m.Secret, url.Values{"organization_id": {"demo-org"}}, true)
	wantError(t, resp.StatusCode, body, 403, "access_denied", "app has not associated with the organization")

	// The traditional web app may not use client_credentials.
	resp, body = clientCredentials(t, p, p.ClientID, p.ClientSecret, ok, true)
	if m := wantError(t, resp.StatusCode, body, 400, "unauthorized_client", "requested grant type is not allowed for this client"); m["message"] != "An OIDC error occurred: oidc.unauthorized_client." {
		t.Fatalf("message %v", m["message"])
	}
	// Nor may the machine-to-machine app use the web app's grants.
	for _, grant := range []url.Values{
		{"grant_type": {"authorization_code"}, "code": {"x"}, "redirect_uri": {testRedirect}},
		{"grant_type": {"refresh_token"}, "refresh_token": {"x"}},
	} {
		resp, body = clientCredentials(t, p, m2m.ID, m2m.Secret, grant, true)
		wantError(t, resp.StatusCode, body, 400, "unauthorized_client", "requested grant type is not allowed for this client")
	}

	// A machine-to-machine app can still introspect (any authenticated
	// client can); its JWT is not introspectable, as in Logto.
	_, body = clientCredentials(t, p, m2m.ID, m2m.Secret, ok, true)
	at := decode(t, body)["access_token"].(string)
	req, _ := http.NewRequest(http.MethodPost, p.Issuer+"/token/introspection", strings.NewReader(url.Values{"token": {at}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(m2m.ID, m2m.Secret)
	resp, body = doReq(t, req)
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != `{"active":false}` {
		t.Fatalf("introspection: %s %s", resp.Status, body)
	}
}
