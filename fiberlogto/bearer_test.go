package fiberlogto_test

// API protection (issue 12): RequireAccessToken on both adapters, over
// HTTP, against logtotest's tokens: Logto's three permission models and
// machine-to-machine tokens, then every rule of RFC 9068 and RFC 6750 the
// middleware enforces, each as a named case.

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fiberlogto/sdk/logto"
	"github.com/fiberlogto/sdk/logtotest"
)

const demoOrg = "demo-org"

// apiRoutes are the protected routes of the API tests.
var apiRoutes = []route{
	{path: "/api/data", bearer: &logto.AccessTokenOptions{Resource: testResource, Scopes: []string{"read:data"}, Callers: logto.UsersAndMachines}, answer: answerClaims},
	{path: "/api/users-only", bearer: &logto.AccessTokenOptions{Resource: testResource, Scopes: []string{"read:data"}}, answer: answerClaims},
	{path: "/api/machines-only", bearer: &logto.AccessTokenOptions{Resource: testResource, Callers: logto.Machines}, answer: answerClaims},
	{path: "/api/organizations/{id}/data", bearer: &logto.AccessTokenOptions{OrganizationParam: "id", Scopes: []string{"read:org"}}, answer: answerClaims},
	{path: "/api/organizations/{id}/reports", bearer: &logto.AccessTokenOptions{Resource: testResource, OrganizationParam: "id", Scopes: []string{"read:data"}}, answer: answerClaims},
	{path: "/api/demo-org", bearer: &logto.AccessTokenOptions{OrganizationID: demoOrg, Scopes: []string{"read:org"}}, answer: answerClaims},
}

// apiHarness is a harness serving apiRoutes.
func apiHarness(t *testing.T, ad adapter, opts ...harnessOption) *harness {
	t.Helper()
	return newHarnessWith(t, ad, nil, providerSetup{routes: apiRoutes}, opts...)
}

// call sends an API request with the given Authorization headers (none
// when empty).
func (h *harness) call(path string, authorization ...string) (*http.Response, string) {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodGet, h.baseURL+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, a := range authorization {
		req.Header.Add("Authorization", a)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp, b.String()
}

// mint is a minted token; minting fails only on a broken provider.
func mint(tok string, err error) string {
	if err != nil {
		panic(err)
	}
	return tok
}

// claimsAnswer is AccessToken(c) as the test routes answer it.
type claimsAnswer struct {
	Subject        string
	ClientID       string
	Scopes         []string
	OrganizationID string
	Machine        bool
}

// TestBearerPermissionModels: each of Logto's permission models, and
// machine-to-machine tokens accepted or refused as the route says, with
// the verified claims for the handler.
func TestBearerPermissionModels(t *testing.T) { forEachAdapter(t, testBearerPermissionModels) }

func testBearerPermissionModels(t *testing.T, ad adapter) {
	h := apiHarness(t, ad)
	p := h.provider
	user := mint(p.UserAccessToken(testResource, "read:data"))
	machine := mint(p.MachineAccessToken(testResource, "read:data"))
	org := mint(p.OrganizationToken(demoOrg, "read:org"))
	orgResource := mint(p.OrganizationResourceToken(demoOrg, testResource, "read:data"))
	for _, tc := range []struct {
		name, path, token string
		want              claimsAnswer
	}{
		{"API resource, a user", "/api/data", user, claimsAnswer{Subject: logtotest.DemoUser.ID, ClientID: p.ClientID, OrganizationID: ""}},
		{"API resource, a machine", "/api/data", machine, claimsAnswer{Subject: logtotest.DemoMachineApp.ID, ClientID: logtotest.DemoMachineApp.ID, Machine: true}},
		{"users only", "/api/users-only", user, claimsAnswer{Subject: logtotest.DemoUser.ID, ClientID: p.ClientID}},
		{"machines only", "/api/machines-only", machine, claimsAnswer{Subject: logtotest.DemoMachineApp.ID, ClientID: logtotest.DemoMachineApp.ID, Machine: true}},
		{"organization permissions", "/api/organizations/" + demoOrg + "/data", org, claimsAnswer{Subject: logtotest.DemoUser.ID, ClientID: p.ClientID, OrganizationID: demoOrg}},
		{"organization fixed by the route", "/api/demo-org", org, claimsAnswer{Subject: logtotest.DemoUser.ID, ClientID: p.ClientID, OrganizationID: demoOrg}},
		{"organization-level API resource", "/api/organizations/" + demoOrg + "/reports", orgResource, claimsAnswer{Subject: logtotest.DemoUser.ID, ClientID: p.ClientID, OrganizationID: demoOrg}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := h.call(tc.path, "Bearer "+tc.token)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			var got claimsAnswer
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			if got.Subject != tc.want.Subject || got.ClientID != tc.want.ClientID || got.OrganizationID != tc.want.OrganizationID ||
				got.Machine != tc.want.Machine || len(got.Scopes) == 0 {
				t.Fatalf("claims %+v, want %+v with scopes", got, tc.want)
			}
		})
	}
}

// TestBearerRefusals: every rule of RFC 9068 and RFC 6750 the middleware
// enforces, as a case: the status, the WWW-Authenticate challenge, a JSON
// body whatever Accept says, and nothing of the token echoed.
func TestBearerRefusals(t *testing.T) { forEachAdapter(t, testBearerRefusals) }

func testBearerRefusals(t *testing.T, ad adapter) {
	h := apiHarness(t, ad)
	p := h.provider
	other := logtotest.NewServer(t, logtotest.Options{})
	at := func(a logtotest.AccessToken) string {
		if a.Audience == "" {
			a.Audience = testResource
		}
		if a.Subject == "" && a.ClientID == "" {
			a.Subject = logtotest.DemoUser.ID
		}
		if a.Scopes == nil {
			a.Scopes = []string{"read:data"}
		}
		return mint(p.MintAccessToken(a))
	}
	valid := at(logtotest.AccessToken{})
	const (
		none         = "Bearer"
		invalidToken = `Bearer error="invalid_token"`
	)
	for _, tc := range []struct {
		name      string
		path      string
		headers   []string
		status    int
		challenge string
	}{
		{"no token", "/api/data", nil, 401, none},
		{"another scheme", "/api/data", []string{"Basic dXNlcjpwYXNz"}, 401, none},
		{"a token in the query only", "/api/data?access_token=" + valid, nil, 401, none},
		{"two Authorization headers", "/api/data", []string{"Bearer " + valid, "Bearer " + valid}, 400, `Bearer error="invalid_request"`},
		{"not a JWT", "/api/data", []string{"Bearer not-a-token"}, 401, invalidToken},
		{"a long garbage token", "/api/data", []string{"Bearer " + strings.Repeat("a", 3000) + "." + strings.Repeat("b", 500) + ".c"}, 401, invalidToken},
		// Past Fiber's 4 KiB read buffer the server refuses the request
		// before any handler runs.
		{"a header past the read buffer", "/api/data", []string{"Bearer " + strings.Repeat("a", 9000) + ".b.c"}, 431, ""},
		{"an ID token (typ JWT)", "/api/data", []string{"Bearer " + at(logtotest.AccessToken{Edit: func(hd, c map[string]any) { hd["typ"] = "JWT"; c["aud"] = p.ClientID }})}, 401, invalidToken},
		{"typ JWT for the resource", "/api/data", []string{"Bearer " + at(logtotest.AccessToken{Edit: func(hd, _ map[string]any) { hd["typ"] = "JWT" }})}, 401, invalidToken},
		{"a token of another Logto", "/api/data", []string{"Bearer " + mint(other.UserAccessToken(testResource, "read:data"))}, 401, invalidToken},
		{"another iss", "/api/data", []string{"Bearer " + at(logtotest.AccessToken{Edit: func(_, c map[string]any) { c["iss"] = "https://evil.example/oidc" }})}, 401, invalidToken},
		{"another resource", "/api/data", []string{"Bearer " + at(logtotest.AccessToken{Audience: "https://other.example.test"})}, 401, invalidToken},
		{"expired", "/api/data", []string{"Bearer " + at(logtotest.AccessToken{IssuedAt: time.Now().Add(-3 * time.Hour), TTL: time.Hour})}, 401, invalidToken},
		{"not yet valid", "/api/data", []string{"Bearer " + at(logtotest.AccessToken{NotBefore: time.Now().Add(time.Hour)})}, 401, invalidToken},
		{"iat in the future", "/api/data", []string{"Bearer " + at(logtotest.AccessToken{IssuedAt: time.Now().Add(time.Hour)})}, 401, invalidToken},
		{"no sub", "/api/data", []string{"Bearer " + at(logtotest.AccessToken{Edit: func(_, c map[string]any) { delete(c, "sub") }})}, 401, invalidToken},
		{"no client_id", "/api/data", []string{"Bearer " + at(logtotest.AccessToken{Edit: func(_, c map[string]any) { delete(c, "client_id") }})}, 401, invalidToken},
		{"missing a scope", "/api/data", []string{"Bearer " + at(logtotest.AccessToken{Scopes: []string{"write:data"}})}, 403, `Bearer error="insufficient_scope", scope="read:data"`},
		{"no scope at all", "/api/data", []string{"Bearer " + at(logtotest.AccessToken{Scopes: []string{}})}, 403, `Bearer error="insufficient_scope", scope="read:data"`},
		{"alg none", "/api/data", []string{"Bearer " + at(logtotest.AccessToken{Signing: logtotest.SigningNone})}, 401, invalidToken},
		{"HS256 keyed with the public key", "/api/data", []string{"Bearer " + at(logtotest.AccessToken{Signing: logtotest.SigningHS256PublicKey})}, 401, invalidToken},
		{"a foreign key with Logto's kid", "/api/data", []string{"Bearer " + at(logtotest.AccessToken{Signing: logtotest.SigningForeignKey})}, 401, invalidToken},
		{"an altered payload", "/api/data", []string{"Bearer " + alterPayload(valid)}, 401, invalidToken},
		{"a machine where only users", "/api/users-only", []string{"Bearer " + mint(p.MachineAccessToken(testResource, "read:data"))}, 401, invalidToken},
		{"a user where only machines", "/api/machines-only", []string{"Bearer " + valid}, 401, invalidToken},
		{"another organization", "/api/organizations/another-org/data", []string{"Bearer " + mint(p.OrganizationToken(demoOrg, "read:org"))}, 401, invalidToken},
		{"an organization token for a resource", "/api/data", []string{"Bearer " + mint(p.OrganizationToken(demoOrg, "read:data"))}, 401, invalidToken},
		{"an organization-level token on a global route", "/api/data", []string{"Bearer " + mint(p.OrganizationResourceToken(demoOrg, testResource, "read:data"))}, 401, invalidToken},
		{"a resource token for an organization", "/api/organizations/" + demoOrg + "/data", []string{"Bearer " + valid}, 401, invalidToken},
		{"an organization-level token of another organization", "/api/organizations/another-org/reports", []string{"Bearer " + mint(p.OrganizationResourceToken(demoOrg, testResource, "read:data"))}, 401, invalidToken},
	} {
		if tc.status == http.StatusRequestHeaderFieldsTooLarge && ad.name == "http" {
			// net/http reads headers up to MaxHeaderBytes (1 MiB): the
			// token reaches the middleware, which refuses it by its length.
			tc.status, tc.challenge = http.StatusUnauthorized, invalidToken
		}
		t.Run(tc.name, func(t *testing.T) {
			resp, body := h.call(tc.path, tc.headers...)
			if resp.StatusCode != tc.status || resp.Header.Get("WWW-Authenticate") != tc.challenge {
				t.Fatalf("%d %q %s, want %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body, tc.status, tc.challenge)
			}
			if resp.StatusCode == http.StatusRequestHeaderFieldsTooLarge {
				return
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") || resp.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("Content-Type %q, Cache-Control %q: want JSON, no-store", ct, resp.Header.Get("Cache-Control"))
			}
			for _, hd := range tc.headers {
				if parts := strings.Split(strings.TrimPrefix(hd, "Bearer "), "."); len(parts[0]) > 8 && strings.Contains(body, parts[0]) {
					t.Fatalf("the token is echoed: %s", body)
				}
			}
		})
	}
	// The scheme is case-insensitive (RFC 7235 section 2.1).
	if resp, body := h.call("/api/data", "bEaReR "+valid); resp.StatusCode != http.StatusOK {
		t.Fatalf("scheme bEaReR: %d %s", resp.StatusCode, body)
	}
}

// alterPayload changes one character of a JWT's payload, keeping it
// base64url.
func alterPayload(jwt string) string {
	parts := strings.Split(jwt, ".")
	b := []byte(parts[1])
	if b[5] == 'A' {
		b[5] = 'B'
	} else {
		b[5] = 'A'
	}
	return parts[0] + "." + string(b) + "." + parts[2]
}

// TestBearerAPIOnly: an API that only takes access tokens configures the
// endpoint alone: no app ID, secret, base URL or storage, no sign-in routes.
func TestBearerAPIOnly(t *testing.T) { forEachAdapter(t, testBearerAPIOnly) }

func testBearerAPIOnly(t *testing.T, ad adapter) {
	h := apiHarness(t, ad, func(c *config) {
		c.AppID, c.AppSecret, c.BaseURL, c.Scopes, c.Resources, c.Storage = "", "", "", nil, nil, nil
	})
	if resp, body := h.call("/api/data", "Bearer "+mint(h.provider.UserAccessToken(testResource, "read:data"))); resp.StatusCode != http.StatusOK {
		t.Fatalf("API-only: %d %s", resp.StatusCode, body)
	}
	if resp, _ := h.get("/logto/sign-in"); resp.StatusCode == http.StatusFound {
		t.Fatal("an API-only config serves the sign-in routes")
	}
}

// TestBearerKeyRotation: a token signed with a key Logto rotated in is
// accepted (one JWKS refetch), and a cached token stays served from the
// cache while its key is in the set.
func TestBearerKeyRotation(t *testing.T) { forEachAdapter(t, testBearerKeyRotation) }

func testBearerKeyRotation(t *testing.T, ad adapter) {
	h := apiHarness(t, ad)
	before := mint(h.provider.UserAccessToken(testResource, "read:data"))
	if resp, _ := h.call("/api/data", "Bearer "+before); resp.StatusCode != http.StatusOK {
		t.Fatal("first token refused")
	}
	h.provider.RotateKeys()
	after := mint(h.provider.UserAccessToken(testResource, "read:data"))
	for _, tok := range []string{after, before, after} {
		if resp, body := h.call("/api/data", "Bearer "+tok); resp.StatusCode != http.StatusOK {
			t.Fatalf("after rotation: %d %s", resp.StatusCode, body)
		}
	}
}
