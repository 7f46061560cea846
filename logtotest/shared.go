package logtotest

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// sharedServer is the op.Server of opHandler, which every provider shares:
// each method finds the request's provider in its context and runs the
// provider's opServer method.
//
// It also keeps the answers the provider decides out of op's error paths
// (op.WriteError, op.TryErrorRedirect), which log every error answer at
// WARN through slog.Default: when a method has set the exchange's page
// (Provider.fail), the page is the answer whatever op writes, so op is
// handed something it writes without logging (an empty response, a
// redirect, or for a refused client refusedClient); an authorization error
// is turned into its redirect here, as op's TryErrorRedirect would. What
// op refuses itself, before any method runs (a token request without
// grant_type or client authentication, an authorization request without
// scope ...), op still logs.
type sharedServer struct {
	op.UnimplementedServer
}

// providerOf is the provider serving the request ctx belongs to.
func providerOf(ctx context.Context) *Provider {
	p := exchangeFrom(ctx).p
	if p == nil {
		panic("logtotest: a request reached the provider's op handler without its Provider")
	}
	return p
}

func serverOf(ctx context.Context) *opServer { return &opServer{p: providerOf(ctx)} }

// answered reports whether the provider has set the request's answer.
func answered(ctx context.Context) bool { return exchangeFrom(ctx).page != nil }

// quiet passes a method's result on, or instead when the method failed
// after setting the answer.
func quiet[T any](ctx context.Context, instead T) func(T, error) (T, error) {
	return func(v T, err error) (T, error) {
		if err != nil && answered(ctx) {
			return instead, nil
		}
		return v, err
	}
}

// emptyResponse is what op writes for a request whose answer is the page.
func emptyResponse() *op.Response { return op.NewResponse(struct{}{}) }

// refusedRedirectURI is the redirect URI of refusedClient's stand-in
// authorization request; it is never sent anywhere.
const refusedRedirectURI = "https://refused.logtotest.invalid/"

// refusedClient stands for a client the provider refused (VerifyClient,
// VerifyAuthRequest) after setting the answer: op goes on with it to the
// method of the endpoint, which answers nothing of its own. It allows every
// grant type and response type so that op's checks on the way pass.
type refusedClient struct{}

func refused(c op.Client) bool { _, ok := c.(refusedClient); return ok }

func (refusedClient) GetID() string                       { return "" }
func (refusedClient) RedirectURIs() []string              { return []string{refusedRedirectURI} }
func (refusedClient) PostLogoutRedirectURIs() []string    { return nil }
func (refusedClient) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (refusedClient) AuthMethod() oidc.AuthMethod         { return oidc.AuthMethodBasic }
func (refusedClient) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (refusedClient) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken, oidc.GrantTypeClientCredentials,
		oidc.GrantTypeBearer, oidc.GrantTypeTokenExchange, oidc.GrantTypeDeviceCode, oidc.GrantTypeImplicit}
}
func (refusedClient) LoginURL(string) string               { return "" }
func (refusedClient) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeBearer }
func (refusedClient) IDTokenLifetime() time.Duration       { return 0 }
func (refusedClient) DevMode() bool                        { return false }
func (refusedClient) IDTokenUserinfoClaimsAssertion() bool { return false }
func (refusedClient) ClockSkew() time.Duration             { return 0 }
func (refusedClient) IsScopeAllowed(string) bool           { return false }
func (refusedClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (refusedClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// oidcEncoder encodes authorization error redirects, as op's default
// encoder does. respond.go adds iss.
var oidcEncoder = oidc.NewEncoder()

func (sharedServer) Health(ctx context.Context, r *op.Request[struct{}]) (*op.Response, error) {
	return serverOf(ctx).Health(ctx, r)
}

func (sharedServer) Ready(ctx context.Context, r *op.Request[struct{}]) (*op.Response, error) {
	return serverOf(ctx).Ready(ctx, r)
}

func (sharedServer) Discovery(ctx context.Context, r *op.Request[struct{}]) (*op.Response, error) {
	return quiet(ctx, emptyResponse())(serverOf(ctx).Discovery(ctx, r))
}

func (sharedServer) Keys(ctx context.Context, r *op.Request[struct{}]) (*op.Response, error) {
	return quiet(ctx, emptyResponse())(serverOf(ctx).Keys(ctx, r))
}

func (sharedServer) VerifyAuthRequest(ctx context.Context, r *op.Request[oidc.AuthRequest]) (*op.ClientRequest[oidc.AuthRequest], error) {
	cr, err := serverOf(ctx).VerifyAuthRequest(ctx, r)
	if err != nil && answered(ctx) {
		// A stand-in request that passes op's checks on to Authorize.
		stand := *r
		stand.Data = &oidc.AuthRequest{
			Scopes:       oidc.SpaceDelimitedArray{oidc.ScopeOpenID},
			ResponseType: oidc.ResponseTypeCode,
			RedirectURI:  refusedRedirectURI,
		}
		return &op.ClientRequest[oidc.AuthRequest]{Request: &stand, Client: refusedClient{}}, nil
	}
	return cr, err
}

func (sharedServer) Authorize(ctx context.Context, cr *op.ClientRequest[oidc.AuthRequest]) (*op.Redirect, error) {
	if refused(cr.Client) {
		return op.NewRedirect(refusedRedirectURI), nil
	}
	red, err := serverOf(ctx).Authorize(ctx, cr)
	var oe *oidc.Error
	switch {
	case err == nil:
		return red, nil
	case answered(ctx):
		return op.NewRedirect(cr.Data.RedirectURI), nil
	case errors.As(err, new(op.StatusError)) || !errors.As(err, &oe) || oe.IsRedirectDisabled():
		return nil, err
	}
	// op's TryErrorRedirect, without its log record.
	e := *oe
	e.State = cr.Data.State
	u, err := op.AuthResponseURL(cr.Data.RedirectURI, cr.Data.ResponseType, cr.Data.ResponseMode, &e, oidcEncoder)
	if err != nil {
		return nil, err
	}
	return op.NewRedirect(u), nil
}

func (s sharedServer) DeviceAuthorization(ctx context.Context, cr *op.ClientRequest[oidc.DeviceAuthorizationRequest]) (*op.Response, error) {
	if refused(cr.Client) {
		return emptyResponse(), nil
	}
	return s.UnimplementedServer.DeviceAuthorization(ctx, cr)
}

// VerifyClient also refuses a grant the client is not registered for (the
// web application's client_credentials, a machine-to-machine app's
// authorization_code), which op would refuse next, with a log record, and
// respond.go word as Logto does.
func (sharedServer) VerifyClient(ctx context.Context, r *op.Request[op.ClientCredentials]) (op.Client, error) {
	s := serverOf(ctx)
	c, err := s.VerifyClient(ctx, r)
	if gt := oidc.GrantType(r.Form.Get("grant_type")); err == nil && gt != "" && !op.ValidateGrantType(c, gt) {
		err = s.p.fail(ctx, http.StatusBadRequest, "unauthorized_client", "requested grant type is not allowed for this client", nil)
	}
	return quiet[op.Client](ctx, refusedClient{})(c, err)
}

func (sharedServer) CodeExchange(ctx context.Context, cr *op.ClientRequest[oidc.AccessTokenRequest]) (*op.Response, error) {
	if refused(cr.Client) {
		return emptyResponse(), nil
	}
	return quiet(ctx, emptyResponse())(serverOf(ctx).CodeExchange(ctx, cr))
}

func (sharedServer) RefreshToken(ctx context.Context, cr *op.ClientRequest[oidc.RefreshTokenRequest]) (*op.Response, error) {
	if refused(cr.Client) {
		return emptyResponse(), nil
	}
	return quiet(ctx, emptyResponse())(serverOf(ctx).RefreshToken(ctx, cr))
}

func (sharedServer) ClientCredentialsExchange(ctx context.Context, cr *op.ClientRequest[oidc.ClientCredentialsRequest]) (*op.Response, error) {
	if refused(cr.Client) {
		return emptyResponse(), nil
	}
	return quiet(ctx, emptyResponse())(serverOf(ctx).ClientCredentialsExchange(ctx, cr))
}

// TokenExchange is never reached: Provider.handleToken answers the token
// exchange grant before op (exchange.go).
func (s sharedServer) TokenExchange(ctx context.Context, cr *op.ClientRequest[oidc.TokenExchangeRequest]) (*op.Response, error) {
	if refused(cr.Client) {
		return emptyResponse(), nil
	}
	return s.UnimplementedServer.TokenExchange(ctx, cr)
}

func (s sharedServer) DeviceToken(ctx context.Context, cr *op.ClientRequest[oidc.DeviceAccessTokenRequest]) (*op.Response, error) {
	if refused(cr.Client) {
		return emptyResponse(), nil
	}
	return s.UnimplementedServer.DeviceToken(ctx, cr)
}

func (sharedServer) Revocation(ctx context.Context, cr *op.ClientRequest[oidc.RevocationRequest]) (*op.Response, error) {
	if refused(cr.Client) {
		return emptyResponse(), nil
	}
	return quiet(ctx, emptyResponse())(serverOf(ctx).Revocation(ctx, cr))
}

func (sharedServer) UserInfo(ctx context.Context, r *op.Request[oidc.UserInfoRequest]) (*op.Response, error) {
	return quiet(ctx, emptyResponse())(serverOf(ctx).UserInfo(ctx, r))
}

func (sharedServer) Introspect(ctx context.Context, r *op.Request[op.IntrospectionRequest]) (*op.Response, error) {
	return quiet(ctx, emptyResponse())(serverOf(ctx).Introspect(ctx, r))
}

func (sharedServer) EndSession(ctx context.Context, r *op.Request[oidc.EndSessionRequest]) (*op.Redirect, error) {
	return quiet(ctx, op.NewRedirect(refusedRedirectURI))(serverOf(ctx).EndSession(ctx, r))
}
