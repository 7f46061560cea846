package logtotest

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// MachineApp is a Logto machine-to-machine application: a confidential
// client that gets access tokens for itself, with no user, through the
// client_credentials grant.
type MachineApp struct {
	// ID and Secret are its client credentials, sent with
	// client_secret_basic or client_secret_post.
	ID, Secret string
	// ResourceScopes are the scopes its machine-to-machine roles grant per
	// API resource indicator, e.g. {"https://api.example.test": {"read:data"}}.
	ResourceScopes map[string][]string
	// AllowTokenExchange lets the app exchange tokens (a user's subject
	// token or personal access token for an access token, exchange.go),
	// as Logto's customClientMetadata.allowTokenExchange does. Off, as in
	// Logto: its token exchange requests get 400 invalid_request
	// "requested grant type is not allowed for this client" (§18).
	AllowTokenExchange bool
}

// DemoMachineApp is the machine-to-machine app a provider has when
// Options.MachineApps is empty: its role grants read:data on
// DefaultResource.
var DemoMachineApp = MachineApp{
	ID:             "demo-m2m-app",
	Secret:         "demo-m2m-secret",
	ResourceScopes: map[string][]string{DefaultResource: {"read:data"}},
}

// copyMachineApp deep-copies a, as copyUser does for users.
func copyMachineApp(a MachineApp) MachineApp {
	if a.ResourceScopes != nil {
		rs := make(map[string][]string, len(a.ResourceScopes))
		for k, v := range a.ResourceScopes {
			rs[k] = slices.Clone(v)
		}
		a.ResourceScopes = rs
	}
	return a
}

// addMachineApps registers o.MachineApps (called by NewUnstarted).
func (p *Provider) addMachineApps(apps []MachineApp) error {
	for _, a := range apps {
		switch {
		case a.ID == "" || a.Secret == "":
			return fmt.Errorf("logtotest: every machine-to-machine app needs an ID and a Secret")
		case a.ID == p.ClientID || p.machines[a.ID] != nil:
			return fmt.Errorf("logtotest: duplicate application ID %q", a.ID)
		}
		c := copyMachineApp(a)
		p.machines[a.ID] = &c
		p.machineOrder = append(p.machineOrder, a.ID)
	}
	return nil
}

// authenticate returns the client whose credentials these are: the web
// application or a machine-to-machine app. Secrets are compared in
// constant time. nil means client authentication failed.
func (p *Provider) authenticate(id, secret string) op.Client {
	if secret == "" {
		return nil
	}
	if subtle.ConstantTimeCompare([]byte(id), []byte(p.ClientID)) == 1 {
		if subtle.ConstantTimeCompare([]byte(secret), []byte(p.ClientSecret)) == 1 {
			return &client{p: p}
		}
		return nil
	}
	if app := p.machines[id]; app != nil && subtle.ConstantTimeCompare([]byte(secret), []byte(app.Secret)) == 1 {
		return &machineClient{p: p, app: app}
	}
	return nil
}

// machineClient is a MachineApp as an op.Client. Its only grant op sees is
// client_credentials, as Logto registers machine-to-machine apps, so op
// refuses every other grant with unauthorized_client; the web application,
// in turn, lacks client_credentials (server.go). Token exchange, which
// Logto allows per app, never reaches op (exchange.go).
type machineClient struct {
	p   *Provider
	app *MachineApp
}

func (c *machineClient) GetID() string                       { return c.app.ID }
func (c *machineClient) RedirectURIs() []string              { return nil }
func (c *machineClient) PostLogoutRedirectURIs() []string    { return nil }
func (c *machineClient) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c *machineClient) AuthMethod() oidc.AuthMethod         { return oidc.AuthMethodBasic }
func (c *machineClient) ResponseTypes() []oidc.ResponseType  { return nil }
func (c *machineClient) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeClientCredentials}
}
func (c *machineClient) LoginURL(string) string               { return "" }
func (c *machineClient) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeJWT }
func (c *machineClient) IDTokenLifetime() time.Duration       { return c.p.opts.IDTokenTTL }
func (c *machineClient) DevMode() bool                        { return false }
func (c *machineClient) IDTokenUserinfoClaimsAssertion() bool { return false }
func (c *machineClient) ClockSkew() time.Duration             { return 0 }
func (c *machineClient) IsScopeAllowed(string) bool           { return true }
func (c *machineClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *machineClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// clientCredentialsResponse is Logto's client_credentials answer, fields
// in its order. scope is left out when no scope was granted: Logto's
// client-credentials handler sets it to undefined then, rather than "".
type clientCredentialsResponse struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
	TokenType   string `json:"token_type"`
	Scope       string `json:"scope,omitempty"`
}

// ClientCredentialsExchange is grant_type=client_credentials, as Logto
// v1.37 answered it for a machine-to-machine app (observed: the
// machine-to-machine access token): a JWT for the one resource sent, with
// sub = client_id = the app's ID, no organization_id, and a lifetime that
// follows the resource.
//
// What was not observed follows Logto's client-credentials handler:
//
//   - scope is the requested scopes the app's roles grant on the resource,
//     in the order requested; requested scopes that are not granted are
//     dropped without an error. With no scope requested, or none granted,
//     the token and the response carry no scope at all;
//   - no resource is 400 invalid_target (what Logto says when the tenant
//     has no default API, which this provider never has), more than one is
//     400 invalid_target, an unknown one 400 invalid_target with the body
//     seen for the refresh grant;
//   - organization_id is 403 access_denied, Logto's answer for an app that
//     was not added to the organization: machine-to-machine organization
//     tokens are not modelled here.
//
// A wrong secret never gets here (401 invalid_client, VerifyClient), nor
// does the web application (op answers its client_credentials request
// with 400 unauthorized_client, which respond.go words as Logto does).
func (s *opServer) ClientCredentialsExchange(ctx context.Context, cr *op.ClientRequest[oidc.ClientCredentialsRequest]) (*op.Response, error) {
	p := s.p
	mc, ok := cr.Client.(*machineClient)
	if !ok {
		return nil, p.fail(ctx, http.StatusBadRequest, "unauthorized_client", "requested grant type is not allowed for this client", nil)
	}
	if cr.Form.Get("organization_id") != "" {
		return nil, p.fail(ctx, http.StatusForbidden, "access_denied", "app has not associated with the organization", nil)
	}
	resources := cr.Form["resource"]
	for _, res := range resources {
		if !p.resources[res] {
			return nil, p.invalidTarget(ctx, "resource %q is not among Options.Resources", res)
		}
	}
	switch len(resources) {
	case 0:
		return nil, p.fail(ctx, http.StatusBadRequest, "invalid_target", "both `resource` and `organization_id` are not provided", nil)
	case 1:
	default:
		return nil, p.fail(ctx, http.StatusBadRequest, "invalid_target", "only a single resource indicator value is supported for this grant type", nil)
	}
	res := resources[0]
	scopes := intersect([]string(cr.Data.Scope), mc.app.ResourceScopes[res])
	ttl := p.accessTTL(res)
	claims := jwtAccessClaims(p.issuer(), mc.app.ID, mc.app.ID, res, scopes, "", p.now(), ttl)
	at, err := p.signAccessToken(claims)
	if err != nil {
		return nil, err
	}
	return p.tokenJSON(ctx, clientCredentialsResponse{
		AccessToken: at,
		ExpiresIn:   int64(ttl / time.Second),
		TokenType:   "Bearer",
		Scope:       strings.Join(scopes, " "),
	})
}
