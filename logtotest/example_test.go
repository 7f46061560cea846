package logtotest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/fiberlogto/sdk/logto"
	"github.com/fiberlogto/sdk/logtohttp"
	"github.com/fiberlogto/sdk/logtotest"
)

// A test starts a provider, points its relying party at p.URL (the Logto
// endpoint) with p.ClientID and p.ClientSecret, and lets SignIn play the
// browser between the RP's sign-in redirect and its callback.
func Example() {
	p, err := logtotest.New(logtotest.Options{}) // in a test: logtotest.NewServer(t, ...)
	if err != nil {
		panic(err)
	}
	defer p.Close()

	// What an RP's /logto/sign-in would redirect to.
	authorize := p.Issuer + "/auth?" + url.Values{
		"client_id":     {p.ClientID},
		"redirect_uri":  {"http://localhost:3000/logto/sign-in-callback"},
		"response_type": {"code"},
		"scope":         {"openid profile offline_access"},
		"prompt":        {"consent"},
		"state":         {"xyz"},
	}.Encode()

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	callback, err := p.SignIn(context.Background(), browser, authorize, "demo", "demo-password")
	if err != nil {
		panic(err)
	}
	u, _ := url.Parse(callback)
	fmt.Println(u.Path, u.Query().Get("state"), u.Query().Get("iss") == p.Issuer, p.Calls("token"))
	// Output: /logto/sign-in-callback xyz true 0
}

// claimsOf decodes a JWT's payload without verifying it, for the examples'
// output. A real API verifies the signature first (see
// ExampleProvider_UserAccessToken).
func claimsOf(token string) map[string]any {
	parts := strings.Split(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		panic(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		panic(err)
	}
	return c
}

// An API protected by Logto gets a user's bearer token in one line, signed
// with the key the provider serves at /oidc/jwks.
func ExampleProvider_UserAccessToken() {
	p, err := logtotest.New(logtotest.Options{}) // in a test: logtotest.NewServer(t, ...)
	if err != nil {
		panic(err)
	}
	defer p.Close()

	token, err := p.UserAccessToken(logtotest.DefaultResource, "read:data")
	if err != nil {
		panic(err)
	}

	// What the API does: verify against the JWKS, then read the claims.
	resp, err := http.Get(p.Issuer + "/jwks")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var jwks jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&jwks); err != nil {
		panic(err)
	}
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.ES384})
	if err != nil {
		panic(err)
	}
	payload, err := jws.Verify(jwks.Key(jws.Signatures[0].Header.KeyID)[0])
	if err != nil {
		panic(err)
	}
	var claims map[string]any
	_ = json.Unmarshal(payload, &claims)
	fmt.Println(jws.Signatures[0].Protected.ExtraHeaders["typ"], claims["sub"], claims["client_id"], claims["aud"], claims["scope"])
	// Output: at+jwt demo-user-id test-app https://api.example.test read:data
}

// An organization token names the organization in aud only.
func ExampleProvider_OrganizationToken() {
	p, err := logtotest.New(logtotest.Options{})
	if err != nil {
		panic(err)
	}
	defer p.Close()

	token, err := p.OrganizationToken("demo-org", "read:org")
	if err != nil {
		panic(err)
	}
	c := claimsOf(token)
	fmt.Println(c["sub"], c["aud"], c["scope"], c["organization_id"])
	// Output: demo-user-id urn:logto:organization:demo-org read:org <nil>
}

// An organization-scoped token for an API resource carries organization_id.
func ExampleProvider_OrganizationResourceToken() {
	p, err := logtotest.New(logtotest.Options{})
	if err != nil {
		panic(err)
	}
	defer p.Close()

	token, err := p.OrganizationResourceToken("demo-org", logtotest.DefaultResource, "read:data")
	if err != nil {
		panic(err)
	}
	c := claimsOf(token)
	fmt.Println(c["sub"], c["aud"], c["scope"], c["organization_id"])
	// Output: demo-user-id https://api.example.test read:data demo-org
}

// A machine-to-machine token has sub = client_id = the app.
func ExampleProvider_MachineAccessToken() {
	p, err := logtotest.New(logtotest.Options{})
	if err != nil {
		panic(err)
	}
	defer p.Close()

	token, err := p.MachineAccessToken(logtotest.DefaultResource, "read:data")
	if err != nil {
		panic(err)
	}
	c := claimsOf(token)
	fmt.Println(c["sub"], c["client_id"], c["aud"], c["scope"])
	// Output: demo-m2m-app demo-m2m-app https://api.example.test read:data
}

// MintAccessToken forges the near-valid tokens an API must refuse: here an
// expired one, and one with alg "none".
func ExampleProvider_MintAccessToken() {
	p, err := logtotest.New(logtotest.Options{})
	if err != nil {
		panic(err)
	}
	defer p.Close()

	expired, err := p.MintAccessToken(logtotest.AccessToken{
		Subject:  logtotest.DemoUser.ID,
		Audience: logtotest.DefaultResource,
		Scopes:   []string{"read:data"},
		IssuedAt: time.Now().Add(-2 * time.Hour), // exp = iat + 1h: an hour ago
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(int64(claimsOf(expired)["exp"].(float64)) < time.Now().Unix())

	unsigned, err := p.MintAccessToken(logtotest.AccessToken{
		Subject:  logtotest.DemoUser.ID,
		Audience: logtotest.DefaultResource,
		Signing:  logtotest.SigningNone,
		Edit:     func(header, claims map[string]any) { claims["scope"] = "admin" },
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.HasSuffix(unsigned, "."), claimsOf(unsigned)["scope"])
	// Output:
	// true
	// true admin
}

// A machine-to-machine app gets its token from the token endpoint with the
// client_credentials grant, here through golang.org/x/oauth2.
func ExampleMachineApp() {
	p, err := logtotest.New(logtotest.Options{})
	if err != nil {
		panic(err)
	}
	defer p.Close()

	cfg := clientcredentials.Config{
		ClientID:       logtotest.DemoMachineApp.ID,
		ClientSecret:   logtotest.DemoMachineApp.Secret,
		TokenURL:       p.Issuer + "/token",
		Scopes:         []string{"read:data"},
		EndpointParams: url.Values{"resource": {logtotest.DefaultResource}},
		AuthStyle:      oauth2.AuthStyleInHeader,
	}
	tok, err := cfg.Token(context.Background())
	if err != nil {
		panic(err)
	}
	c := claimsOf(tok.AccessToken)
	fmt.Println(tok.TokenType, tok.Extra("scope"), c["sub"], c["client_id"], c["aud"])
	// Output: Bearer read:data demo-m2m-app demo-m2m-app https://api.example.test
}

// A test of a net/http app signs the demo user in through the app's own
// routes, served in process, and goes on with the browser SignInTo
// returns (SignInToE here, where there is no *testing.T).
func ExampleProvider_SignInToE() {
	p, err := logtotest.New(logtotest.Options{}) // in a test: logtotest.NewServer(t, ...)
	if err != nil {
		panic(err)
	}
	defer p.Close()

	// The app: logtohttp's middleware and a route that needs a signed-in user.
	lg, err := logtohttp.New(logtohttp.Config{Config: logto.Config{
		Endpoint: p.URL, AppID: p.ClientID, AppSecret: p.ClientSecret, BaseURL: "http://localhost:3000",
	}})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /protected", logtohttp.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "Hello,", logtohttp.User(r).DisplayName())
	})))
	app := lg.Handler(mux)

	// In a test: browser := p.SignInTo(t, "http://localhost:3000", app)
	browser, err := p.SignInToE(context.Background(), "http://localhost:3000", app)
	if err != nil {
		panic(err)
	}
	resp, err := browser.Get("http://localhost:3000/protected")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Print(resp.Status, " ", string(body))
	// Output: 200 OK Hello, Demo User
}

// A support tool impersonates a user: Logto's Management API makes a
// subject token for the user (SubjectToken here), and the app, allowed to
// exchange tokens, trades it for an access token of that user; the acting
// agent's own access token (ActorToken) puts them in act.
func ExampleProvider_ExchangeToken() {
	agent := logtotest.User{ID: "agent-id", Username: "agent", Email: "agent@example.test"}
	p, err := logtotest.New(logtotest.Options{AllowTokenExchange: true, Users: []logtotest.User{logtotest.DemoUser, agent}})
	if err != nil {
		panic(err)
	}
	defer p.Close()

	subject, err := p.SubjectToken(logtotest.DemoUser.ID)
	if err != nil {
		panic(err)
	}
	actor, err := p.ActorToken(agent.ID)
	if err != nil {
		panic(err)
	}
	token, err := p.ExchangeToken(context.Background(), logtotest.TokenExchange{
		SubjectToken: subject,
		ActorToken:   actor,
		Resource:     logtotest.DefaultResource,
		Scopes:       []string{"read:data", "write:data"},
	})
	if err != nil {
		panic(err)
	}
	c := claimsOf(token)
	fmt.Println(c["sub"], c["client_id"], c["aud"], c["scope"], c["act"])

	// A subject token is good for one exchange.
	_, err = p.ExchangeToken(context.Background(), logtotest.TokenExchange{SubjectToken: subject})
	fmt.Println(strings.Contains(fmt.Sprint(err), `"error_description":"grant request is invalid"`))
	// Output:
	// demo-user-id test-app https://api.example.test read:data map[sub:agent-id]
	// true
}

// A magic link: Logto's Management API makes a one-time token for an email
// address (OneTimeToken here); the authorization request carries it with
// the address as login_hint, and SignIn signs the user in without a
// password, once.
func ExampleProvider_OneTimeToken() {
	p, err := logtotest.New(logtotest.Options{})
	if err != nil {
		panic(err)
	}
	defer p.Close()

	token, err := p.OneTimeToken(logtotest.DemoUser.Email, 0) // 0: Logto's 600 s
	if err != nil {
		panic(err)
	}
	authorize := p.Issuer + "/auth?" + url.Values{
		"client_id":      {p.ClientID},
		"redirect_uri":   {"http://localhost:3000/logto/sign-in-callback"},
		"response_type":  {"code"},
		"scope":          {"openid email"},
		"one_time_token": {token},
		"login_hint":     {logtotest.DemoUser.Email},
	}.Encode()
	callback, err := p.SignIn(context.Background(), nil, authorize, "", "")
	if err != nil {
		panic(err)
	}
	u, _ := url.Parse(callback)
	fmt.Println(u.Path, u.Query().Has("code"))

	_, err = p.SignIn(context.Background(), nil, authorize, "", "")
	fmt.Println(strings.Contains(fmt.Sprint(err), "Invalid link. The token has been consumed."))
	// Output:
	// /logto/sign-in-callback true
	// true
}
