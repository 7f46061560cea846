package logtotest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// opServer holds the Logto rules of the op.Server methods for one
// provider; sharedServer, the op.Server every provider shares, makes one per
// request. op.RegisterServer does routing, request decoding and client
// credential parsing (Basic credentials are form-urldecoded, RFC 6749
// §2.3.1).
type opServer struct {
	p *Provider
}

// opHandler serves /oidc/* for every provider of the process: op's
// handler, built once, finds the provider of a request in its context
// (serve puts it there) through sharedServer and the routes below.
//
// It is built while the package initializes, before any test or main code
// runs, with slog.Default discarding: op.RegisterServer logs every route it
// registers at INFO through slog.Default, seven lines per handler, and
// building a handler per provider would mean swapping the process's default
// logger while other goroutines use it.
var opHandler = quietly(func() http.Handler {
	endpoints := op.Endpoints{
		Authorization: op.NewEndpoint("auth"),
		Token:         op.NewEndpoint("token"),
		Introspection: op.NewEndpoint("token/introspection"),
		Userinfo:      op.NewEndpoint("me"),
		Revocation:    op.NewEndpoint("token/revocation"),
		EndSession:    op.NewEndpoint("session/end"),
		JwksURI:       op.NewEndpoint("jwks"),
	}
	route := func(h func(*Provider, http.ResponseWriter, *http.Request)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { h(providerOf(r.Context()), w, r) }
	}
	return op.RegisterServer(sharedServer{}, endpoints,
		op.WithSetRouter(func(r chi.Router) {
			r.Get("/auth/{uid}", route((*Provider).handleResume))
			r.HandleFunc("/session/end/confirm", route((*Provider).handleEndSessionConfirm))
			r.Get("/session/end/success", route((*Provider).handleEndSessionSuccess))
			r.NotFound(route((*Provider).oidcNotFound))
			r.MethodNotAllowed(route((*Provider).oidcNotFound))
		}),
	)
})

// quietly returns build() run with slog.Default discarding every record,
// then puts back the default logger and the log package's output and
// flags, which slog.SetDefault changes.
func quietly(build func() http.Handler) http.Handler {
	saved, out, flags := slog.Default(), log.Writer(), log.Flags()
	slog.SetDefault(slog.New(slog.DiscardHandler))
	defer func() {
		slog.SetDefault(saved)
		log.SetOutput(out)
		log.SetFlags(flags)
	}()
	return build()
}

// buildHandler wires everything:
//
//	/oidc/*            opHandler (endpoint paths as Logto's), plus
//	                   /oidc/auth/{uid} and /oidc/session/end/{confirm,success}
//	POST /oidc/token   handleToken: the token exchange grant (exchange.go),
//	                   every other grant to opHandler
//	/sign-in, /consent, /unknown-session, /one-time-token, /switch-account,
//	/api/experience/*  plain handlers
//
// wrapped by serve, which counts calls, implements SetDown and the token
// hook, and rewrites responses into Logto's shapes (respond.go).
func (p *Provider) buildHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/oidc/", http.StripPrefix("/oidc", opHandler))
	mux.HandleFunc("GET /sign-in", p.handleSignInPage)
	mux.HandleFunc("POST /sign-in", p.handleSignInForm)
	mux.HandleFunc("GET /unknown-session", p.handleUnknownSession)
	mux.HandleFunc("GET /consent", p.handleConsent)
	mux.HandleFunc("PUT /api/experience", p.handleExperienceStart)
	mux.HandleFunc("POST /api/experience/verification/password", p.handleExperiencePassword)
	mux.HandleFunc("POST /api/experience/identification", p.handleExperienceIdentify)
	mux.HandleFunc("POST /api/experience/submit", p.handleExperienceSubmit)
	mux.HandleFunc("POST /api/experience/verification/one-time-token/verify", p.handleExperienceOneTimeToken)
	mux.HandleFunc("GET /one-time-token", p.handleOneTimeTokenPage)
	mux.HandleFunc("GET /switch-account", p.handleSwitchAccount)
	mux.HandleFunc("POST /oidc/token", p.handleToken)
	p.mux = mux
	return http.HandlerFunc(p.serve)
}

// oidcNotFound answers unknown routes under /oidc with Logto's JSON 404.
func (p *Provider) oidcNotFound(w http.ResponseWriter, r *http.Request) {
	p.writeError(w, http.StatusNotFound, "invalid_request",
		"unrecognized route or not allowed method ("+r.Method+" on /oidc"+r.URL.Path+")")
}

// endpointNames maps paths to the names Calls accepts.
var endpointNames = map[string]string{
	"/oidc/.well-known/openid-configuration": "discovery",
	"/oidc/jwks":                             "jwks",
	"/oidc/auth":                             "auth",
	"/oidc/token":                            "token",
	"/oidc/me":                               "userinfo",
	"/oidc/token/revocation":                 "revocation",
	"/oidc/session/end":                      "end_session",
	"/oidc/token/introspection":              "introspection",
}

// serve is the provider's outermost handler: count the call, answer 503
// while down, give the token hook its turn, then route with a logtoWriter
// around the response; then note the answer (logging.go).
func (p *Provider) serve(w http.ResponseWriter, r *http.Request) {
	name := endpointNames[r.URL.Path]
	switch {
	case name != "":
	case strings.HasPrefix(r.URL.Path, "/oidc/auth/"):
		name = "auth_resume" // /oidc/auth/<uid>: one name for every uid
	default:
		name = r.URL.Path
	}
	p.mu.Lock()
	p.calls[name]++
	down, hook := p.down, p.tokenHook
	p.mu.Unlock()
	ex := &exchange{p: p}
	rec := &answerRecorder{ResponseWriter: w}
	w = rec
	defer p.noteAnswer(r, rec, ex)

	if down {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{
			"code": "logtotest.down", "message": "The provider is down (logtotest SetDown).",
		})
		return
	}
	p.delay(r, name)
	if name == "token" && hook != nil {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if hook(w, r) {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.Form, r.PostForm = nil, nil
	}
	lw := &logtoWriter{w: w, r: r, p: p, ex: ex}
	p.mux.ServeHTTP(lw, r.WithContext(context.WithValue(r.Context(), exchangeKey{}, ex)))
	lw.finish()
}

// client is the one registered application: traditional web, confidential,
// first-party. redirectURIs is built per request when Options.RedirectURIs
// is empty, so that op's redirect_uri check accepts any loopback URI.
type client struct {
	p            *Provider
	redirectURIs []string
}

func (c *client) GetID() string                       { return c.p.ClientID }
func (c *client) RedirectURIs() []string              { return c.redirectURIs }
func (c *client) PostLogoutRedirectURIs() []string    { return c.p.opts.PostLogoutRedirectURIs }
func (c *client) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c *client) AuthMethod() oidc.AuthMethod         { return oidc.AuthMethodBasic }
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}
func (c *client) LoginURL(string) string               { return "/sign-in?app_id=" + url.QueryEscape(c.p.ClientID) }
func (c *client) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeBearer }
func (c *client) IDTokenLifetime() time.Duration       { return c.p.opts.IDTokenTTL }
func (c *client) DevMode() bool                        { return false }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return false }
func (c *client) ClockSkew() time.Duration             { return 0 }
func (c *client) IsScopeAllowed(string) bool           { return true } // resource scopes such as read:data pass through
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// uriAllowed applies the Options rule for redirect and post-logout URIs:
// exact match against the list, or any http(s) loopback URI if it is empty.
func uriAllowed(registered []string, uri string) bool {
	if uri == "" {
		return false
	}
	if len(registered) > 0 {
		return contains(registered, uri)
	}
	_, loopback := op.HTTPLoopbackOrLocalhost(uri)
	return loopback
}

// VerifyClient authenticates the client at the token, revocation and
// introspection endpoints (client_secret_basic or client_secret_post): the
// web application or a machine-to-machine app. A wrong secret is 401
// invalid_client with WWW-Authenticate (§12).
func (s *opServer) VerifyClient(ctx context.Context, r *op.Request[op.ClientCredentials]) (op.Client, error) {
	cc := r.Data
	if cc.ClientAssertion != "" {
		return nil, s.p.fail(ctx, http.StatusBadRequest, "invalid_request", "client assertions are not supported by logtotest", nil)
	}
	c := s.p.authenticate(cc.ClientID, cc.ClientSecret)
	if c == nil {
		return nil, s.p.clientAuthFailed(ctx, cc.ClientID)
	}
	return c, nil
}

// clientAuthFailed is Logto's answer to a client whose credentials are
// wrong: 401 invalid_client, with WWW-Authenticate (§12).
func (p *Provider) clientAuthFailed(ctx context.Context, clientID string) error {
	if clientID == p.ClientID || p.machines[clientID] != nil {
		setReason(ctx, "wrong client secret for %q", clientID)
	} else {
		setReason(ctx, "client_id %q is neither Options.ClientID nor a machine-to-machine app's", clientID)
	}
	return p.fail(ctx, http.StatusUnauthorized, "invalid_client", "client authentication failed", nil)
}

// discovery mirrors the document Logto v1.37 returned, field for field and
// in its order (§1). Some advertised features (implicit, PAR,
// private_key_jwt) are not implemented here; they are listed so a relying
// party sees the same document as with Logto. client_credentials is, for
// machine-to-machine apps (machine.go), and token exchange for the apps
// allowed to use it (exchange.go).
type discovery struct {
	AuthorizationEndpoint                      string   `json:"authorization_endpoint"`
	ClaimsParameterSupported                   bool     `json:"claims_parameter_supported"`
	ClaimsSupported                            []string `json:"claims_supported"`
	CodeChallengeMethodsSupported              []string `json:"code_challenge_methods_supported"`
	EndSessionEndpoint                         string   `json:"end_session_endpoint"`
	GrantTypesSupported                        []string `json:"grant_types_supported"`
	Issuer                                     string   `json:"issuer"`
	JwksURI                                    string   `json:"jwks_uri"`
	AuthorizationResponseIssParameterSupported bool     `json:"authorization_response_iss_parameter_supported"`
	ResponseModesSupported                     []string `json:"response_modes_supported"`
	ResponseTypesSupported                     []string `json:"response_types_supported"`
	ScopesSupported                            []string `json:"scopes_supported"`
	SubjectTypesSupported                      []string `json:"subject_types_supported"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgValuesSupported []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	TokenEndpoint                              string   `json:"token_endpoint"`
	IDTokenSigningAlgValuesSupported           []string `json:"id_token_signing_alg_values_supported"`
	PushedAuthorizationRequestEndpoint         string   `json:"pushed_authorization_request_endpoint"`
	RequestParameterSupported                  bool     `json:"request_parameter_supported"`
	RequestURIParameterSupported               bool     `json:"request_uri_parameter_supported"`
	UserinfoEndpoint                           string   `json:"userinfo_endpoint"`
	IntrospectionEndpoint                      string   `json:"introspection_endpoint"`
	RevocationEndpoint                         string   `json:"revocation_endpoint"`
	BackchannelLogoutSupported                 bool     `json:"backchannel_logout_supported"`
	BackchannelLogoutSessionSupported          bool     `json:"backchannel_logout_session_supported"`
	ClaimTypesSupported                        []string `json:"claim_types_supported"`
}

// logtoScopes is Logto's scopes_supported; these are also the scopes that
// appear in a token response's scope (resource scopes never do, §6).
var logtoScopes = []string{"openid", "offline_access", "profile", "email", "phone", "address", "custom_data",
	"identities", "roles", "urn:logto:scope:organizations", "urn:logto:scope:organization_roles", "urn:logto:scope:sessions"}

func (s *opServer) Discovery(ctx context.Context, r *op.Request[struct{}]) (*op.Response, error) {
	iss := s.p.issuer()
	d := discovery{
		AuthorizationEndpoint:    iss + "/auth",
		ClaimsParameterSupported: false,
		ClaimsSupported: []string{"sub", "name", "family_name", "given_name", "middle_name", "nickname",
			"preferred_username", "profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale",
			"updated_at", "username", "created_at", "email", "email_verified", "phone_number",
			"phone_number_verified", "address", "custom_data", "identities", "sso_identities", "roles",
			"organizations", "organization_data", "organization_roles", "sid", "auth_time", "iss"},
		CodeChallengeMethodsSupported: []string{"S256"},
		EndSessionEndpoint:            iss + "/session/end",
		GrantTypesSupported: []string{"implicit", "authorization_code", "refresh_token", "client_credentials",
			"urn:ietf:params:oauth:grant-type:token-exchange"},
		Issuer:  iss,
		JwksURI: iss + "/jwks",
		AuthorizationResponseIssParameterSupported: true,
		ResponseModesSupported:                     []string{"form_post", "fragment", "query"},
		ResponseTypesSupported:                     []string{"code id_token", "code", "id_token", "none"},
		ScopesSupported:                            logtoScopes,
		SubjectTypesSupported:                      []string{"public"},
		TokenEndpointAuthMethodsSupported: []string{"client_secret_basic", "client_secret_jwt",
			"client_secret_post", "private_key_jwt", "none"},
		TokenEndpointAuthSigningAlgValuesSupported: []string{"HS256", "RS256", "PS256", "ES256", "EdDSA"},
		TokenEndpoint:                      iss + "/token",
		IDTokenSigningAlgValuesSupported:   []string{s.p.opts.SigningAlg},
		PushedAuthorizationRequestEndpoint: iss + "/request",
		UserinfoEndpoint:                   iss + "/me",
		IntrospectionEndpoint:              iss + "/token/introspection",
		RevocationEndpoint:                 iss + "/token/revocation",
		BackchannelLogoutSupported:         true,
		BackchannelLogoutSessionSupported:  true,
		ClaimTypesSupported:                []string{"normal"},
	}
	var doc any = d
	if m := s.p.currentMisbehavior(); m.Discovery != nil {
		var mdoc map[string]any
		b, err := json.Marshal(d)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &mdoc); err != nil {
			return nil, err
		}
		m.Discovery(mdoc)
		doc = mdoc
	}
	resp := op.NewResponse(doc)
	resp.Header.Set("Access-Control-Allow-Origin", "*")
	return resp, nil
}

// Keys serves the JWKS (§2).
func (s *opServer) Keys(ctx context.Context, r *op.Request[struct{}]) (*op.Response, error) {
	keys, err := s.p.keysResponse(ctx)
	if err != nil {
		return nil, err
	}
	s.p.setContentType(ctx, "application/jwk-set+json; charset=utf-8")
	return op.NewResponse(keys), nil
}

// Health and Ready answer ok, so the op routes under /oidc are complete.
func (s *opServer) Health(ctx context.Context, r *op.Request[struct{}]) (*op.Response, error) {
	return op.NewResponse(op.Status{Status: "ok"}), nil
}

func (s *opServer) Ready(ctx context.Context, r *op.Request[struct{}]) (*op.Response, error) {
	return op.NewResponse(op.Status{Status: "ok"}), nil
}

// isProviderPath reports whether path is served by the provider, which is how
// SignIn tells the provider's own hops from the redirect to the RP.
func isProviderPath(path string) bool {
	return strings.HasPrefix(path, "/oidc/") || path == "/sign-in" || path == "/consent" ||
		path == "/unknown-session" || path == "/one-time-token" || path == "/switch-account" ||
		strings.HasPrefix(path, "/api/experience")
}
