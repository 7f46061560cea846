// Package logtotest runs an in-process OpenID Provider that answers the way a
// Logto server (v1.37) does, in the style of net/http/httptest.
//
// It exists so that fiberlogto, and the applications that use it, can test a
// complete sign-in against something that behaves like Logto without running
// Logto: the same endpoint paths under /oidc, the same redirect hops
// (/sign-in, /consent, /oidc/auth/<uid>), Logto's Experience API, Logto's
// error bodies, refresh-token rules (tokens only with prompt=consent, late
// rotation, replay that revokes the grant), resource and organization access
// tokens, machine-to-machine apps with the client_credentials grant, token
// exchange (impersonation, personal access tokens), magic links (one-time
// tokens), max_age and auth_time, RP-initiated and back-channel logout.
// What Logto does is recorded in
// docs/logto-observed.md in this repository; the comments below name the
// section they follow.
//
// The protocol endpoints are an implementation of zitadel/oidc's op.Server,
// served with op.RegisterServer, so request parsing and client
// authentication are the library's; the Logto-specific pages and the
// Experience API are plain handlers next to it.
//
// A test of an app signs a user in through the app's own routes with
// SignInTo and goes on with the browser it returns. For a Fiber v2 app
// built by its newApp (fiber.New, fiberlogto.WithLogto with cfg, the
// routes), served in process by app.Test:
//
//	func TestProtected(t *testing.T) {
//		p := logtotest.NewServer(t, logtotest.Options{})
//		app := newApp(logto.Config{Endpoint: p.URL, AppID: p.ClientID, AppSecret: p.ClientSecret,
//			BaseURL: "http://localhost:3000"})
//		browser := p.SignInTo(t, "http://localhost:3000", app.Test)
//		resp, err := browser.Get("http://localhost:3000/protected")
//		if err != nil {
//			t.Fatal(err)
//		}
//		if resp.StatusCode != http.StatusOK {
//			t.Fatalf("GET /protected after sign-in: %s", resp.Status)
//		}
//	}
//
// A net/http app passes its http.Handler instead of app.Test, an app
// listening at its BaseURL nil.
//
// A relying party that builds its authorization URL itself hands it to
// SignIn, which plays the provider's pages and returns the callback URL:
//
//	p := logtotest.NewServer(t, logtotest.Options{})
//	// point the relying party at p.URL with p.ClientID / p.ClientSecret
//	callback, err := p.SignIn(ctx, browser, authorizeURL, "demo", "demo-password")
//
// A test of an API that Logto access tokens protect needs no sign-in: the
// provider mints the bearer tokens, signed with the key its JWKS serves,
// and MintAccessToken forges the near-valid ones:
//
//	token := p.MustUserAccessToken(t, logtotest.DefaultResource, "read:data")
//	token := p.MustMachineAccessToken(t, logtotest.DefaultResource, "read:data")
//
// The tokens Logto's Management API makes come from methods that stand for
// its calls: SubjectToken (POST /api/subject-tokens, to impersonate a
// user), PersonalAccessToken (POST /api/users/{id}/personal-access-tokens)
// and OneTimeToken (POST /api/one-time-tokens). An app allowed to exchange
// tokens (Options.AllowTokenExchange, MachineApp.AllowTokenExchange) trades
// the first two at the token endpoint (RFC 8693) for access tokens of their
// user, an ActorToken naming who acts (the act claim); ExchangeToken does it
// as the app would:
//
//	p := logtotest.NewServer(t, logtotest.Options{AllowTokenExchange: true})
//	token := p.MustExchangeToken(t, logtotest.TokenExchange{
//		SubjectToken: p.MustSubjectToken(t, userID),
//		ActorToken:   p.MustActorToken(t, supportAgentID),
//		Resource:     logtotest.DefaultResource,
//		Scopes:       []string{"read:data"},
//	})
//
// A one-time token signs the user with its email in without a password (a
// magic link): SignIn follows an authorization request that carries
// one_time_token and login_hint, and SignInTo a sign-in through the app's
// route with SignInToOptions.OneTimeToken. An authorization request with
// max_age has the user sign in again once the session's sign-in is older
// (Options.Clock moves time), and its ID token carries auth_time, as with
// prompt=login.
//
// Providers are quiet: they write nothing to slog.Default (but for the
// malformed requests zitadel's op refuses itself, see Options.Logger).
// Options.Logger gets a record of every answer, saying why a request was
// refused.
package logtotest

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// User is an account the provider can sign in. The fields map onto the claims
// Logto returns for the matching scopes (see claims.go).
type User struct {
	ID, Username, Password, Name string
	// Picture "" is sent as JSON null, as Logto does for a user without avatar.
	Picture             string
	Email               string
	EmailVerified       bool
	PhoneNumber         string
	PhoneNumberVerified bool
	// Roles is the "roles" claim (scope "roles").
	Roles []string
	// Organizations lists the IDs of the organizations the user belongs to.
	Organizations []string
	// OrganizationRoles are "<orgId>:<role>" strings, as in Logto's
	// organization_roles claim.
	OrganizationRoles []string
	// CustomData is the custom_data claim (scope custom_data).
	CustomData map[string]any
	// ResourceScopes are the scopes the user's roles grant per API resource
	// indicator, e.g. {"https://api.example.test": {"read:data"}}.
	ResourceScopes map[string][]string
	// OrganizationScopes are the scopes granted in organization tokens, e.g.
	// {"read:org"}.
	OrganizationScopes []string
}

// Organization is a Logto organization, returned in organization_data.
type Organization struct{ ID, Name, Description string }

// DemoUser is the user a provider has when Options.Users is empty.
var DemoUser = User{
	ID:                 "demo-user-id",
	Username:           "demo",
	Password:           "demo-password",
	Name:               "Demo User",
	Email:              "demo@example.test",
	EmailVerified:      true,
	Roles:              []string{"admin"},
	Organizations:      []string{"demo-org"},
	OrganizationRoles:  []string{"demo-org:member"},
	ResourceScopes:     map[string][]string{DefaultResource: {"read:data"}},
	OrganizationScopes: []string{"read:org"},
}

// DemoOrganization is the organization a provider has when
// Options.Organizations is empty.
var DemoOrganization = Organization{ID: "demo-org", Name: "Demo Org", Description: "demo organization"}

// DefaultResource is the API resource indicator registered when
// Options.Resources is empty.
const DefaultResource = "https://api.example.test"

// OrganizationsResource is Logto's built-in resource indicator for
// organization scopes; it is always registered.
const OrganizationsResource = "urn:logto:resource:organizations"

// Options configure a Provider. The zero value gives Logto's defaults with
// one confidential client and DemoUser.
type Options struct {
	// ClientID and ClientSecret of the one (traditional web, first-party)
	// application; defaults "test-app" and "test-secret".
	ClientID, ClientSecret string
	// RedirectURIs must match exactly. If empty, any http(s) loopback URI
	// (localhost, 127.0.0.0/8, ::1) is accepted, which suits tests whose RP
	// listens on a random port.
	RedirectURIs []string
	// PostLogoutRedirectURIs follow the same rule as RedirectURIs.
	PostLogoutRedirectURIs []string
	// Users default to []User{DemoUser}.
	Users []User
	// MachineApps are the machine-to-machine applications, which get
	// access tokens with the client_credentials grant; default
	// []MachineApp{DemoMachineApp}.
	MachineApps []MachineApp
	// Organizations default to []Organization{DemoOrganization}.
	Organizations []Organization
	// Resources are the registered API resource indicators; default
	// {DefaultResource}. OrganizationsResource is always registered.
	//
	// The app's resources (logto.Config.Resources and Resource) must be
	// among them, as each must be an API resource of the Logto tenant.
	// Otherwise the provider answers as Logto does: an authorization
	// request naming another resource is redirected to the app's callback
	// with error=invalid_target and error_description "resource indicator
	// is missing, or unknown", which does not say which, and the app's
	// callback fails the sign-in; a token request naming one gets 400
	// invalid_target. The failure SignInTo reports and the record
	// Options.Logger gets name the resource.
	Resources []string
	// SigningAlg is "ES384" (default, P-384 key, Logto's default) or "RS256".
	SigningAlg string
	// Lifetimes; defaults 1h, 1h and 14 days as in Logto.
	IDTokenTTL, AccessTokenTTL, RefreshTokenTTL time.Duration
	// ResourceAccessTokenTTL is Logto's per-API-resource "access token
	// expiration": JWT access tokens whose aud is a listed resource
	// indicator live that long (expires_in and exp - iat alike), whether
	// issued to a user or a machine-to-machine app. Other access tokens
	// live AccessTokenTTL.
	ResourceAccessTokenTTL map[string]time.Duration
	// AlwaysIssueRefreshToken issues a refresh token for every code exchange
	// that asked for offline_access. By default, as Logto, a refresh token is
	// issued only when offline_access was requested AND prompt included
	// consent (logto-observed §0.1, §4).
	AlwaysIssueRefreshToken bool
	// AllowTokenExchange lets the web application exchange tokens at the
	// token endpoint (RFC 8693, grant_type
	// urn:ietf:params:oauth:grant-type:token-exchange): a user's
	// impersonation subject token (SubjectToken) or personal access token
	// (PersonalAccessToken) for an access token, as Logto's
	// customClientMetadata.allowTokenExchange does; MachineApp has its own
	// switch. Off, as in Logto: the app's token exchange requests get 400
	// invalid_request "requested grant type is not allowed for this
	// client" (§18).
	AllowTokenExchange bool
	// RotateRefreshTokens rotates on every refresh. By default, as Logto for
	// confidential clients, the same token is returned until 70 % of its TTL
	// has passed (§11).
	RotateRefreshTokens bool
	// ReplayGrace is how long a rotated-out refresh token is still accepted;
	// default 3s as observed. A negative value means no grace at all.
	ReplayGrace time.Duration
	// BackchannelLogoutURI, when set, receives a logout_token (logout+jwt, no
	// exp) when an end-session is confirmed (§15).
	BackchannelLogoutURI string
	// BackchannelLogoutSessionRequired adds sid to ID tokens and logout tokens.
	BackchannelLogoutSessionRequired bool
	// IDTokenExtendedClaims is Logto's "Custom JWT > ID token" toggle: which
	// extended claims go into ID tokens when their scope is granted. They are
	// always in userinfo. Default {"roles","organizations",
	// "organization_roles"}, what Logto v1.37 put in ID tokens (§7); add
	// "custom_data", "identities", "sso_identities" or "organization_data"
	// to mirror a tenant that enabled them.
	IDTokenExtendedClaims []string
	// Clock defaults to time.Now. Every lifetime and timestamp uses it, so a
	// test can move time forward to expire tokens or trigger rotation.
	Clock func() time.Time
	// Logger, when set, gets a record of every answer the provider gives:
	// "logtotest: refused" at WARN for an error body or an error redirect,
	// with Logto's error and error_description and, where logtotest knows
	// more than Logto says on the wire, a reason (the unknown resource, the
	// redirect_uri that is not registered, why a code or refresh token is
	// refused); "logtotest: failed" at ERROR for a 5xx (SetDown included);
	// "logtotest: answered" at DEBUG for the rest. nil, the default, logs
	// nothing.
	//
	// The provider writes nothing to slog.Default. zitadel's op, which
	// parses the protocol requests, still logs there, at WARN, the
	// malformed requests it refuses itself (a token request without
	// grant_type or client authentication, a userinfo request without a
	// token, an authorization request without scope or response_type); a
	// relying party such as fiberlogto sends none.
	Logger *slog.Logger
}

// Provider is a running (or not yet started) Logto-compatible provider.
type Provider struct {
	// URL is the Logto "endpoint": the base URL without trailing slash,
	// e.g. http://127.0.0.1:41234. It must be an origin (no path): the
	// provider's pages redirect to root-relative paths, as Logto does.
	URL string
	// Issuer is URL + "/oidc".
	Issuer string
	// ClientID and ClientSecret of the registered application.
	ClientID, ClientSecret string

	opts      Options
	handler   http.Handler
	mux       *http.ServeMux
	resources map[string]bool
	orgs      map[string]Organization
	idExtra   map[string]bool
	bcClient  *http.Client

	// machines are the machine-to-machine apps by ID; like resources and
	// orgs they are fixed at NewUnstarted and read without a lock.
	machines     map[string]*MachineApp
	machineOrder []string

	mu            sync.Mutex
	base          string                 // URL, guarded by mu, read by handlers
	users         map[string]*userRecord // by ID
	userOrder     []string
	interactions  map[string]*interaction
	sessions      map[string]*ssoSession
	codes         map[string]*authCode
	grants        map[string]*grant
	accessTokens  map[string]*accessToken
	refreshTokens map[string]*refreshToken
	logouts       map[string]*pendingLogout
	subjectTokens map[string]*subjectToken        // by value (sub_...)
	pats          map[string]*personalAccessToken // by value (pat_...)
	oneTimeTokens map[string]*oneTimeToken        // by value
	calls         map[string]int
	down          bool
	tokenHook     func(http.ResponseWriter, *http.Request) bool
	misbehavior   Misbehavior
	refusals      []string // the last maxRefusals refusals, for SignInTo's failures
	refusalCount  int      // refusals noted since the start

	keyMu sync.RWMutex
	keys  []*signingKey // keys[0] signs; the rest stay in the JWKS

	srvMu  sync.Mutex
	srv    *http.Server
	closed bool
}

// userRecord is a User plus the timestamps Logto keeps for it.
type userRecord struct {
	User
	createdAt int64 // epoch ms
	updatedAt int64 // epoch ms; changes on every sign-in (§7)
}

// New starts a provider on 127.0.0.1 on a random port.
func New(opts Options) (*Provider, error) {
	p, err := NewUnstarted(opts)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("logtotest: listen: %w", err)
	}
	p.Start(l)
	return p, nil
}

// NewServer is New for tests: it fails t on error and closes the provider
// when the test ends.
func NewServer(t testing.TB, opts Options) *Provider {
	t.Helper()
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// NewUnstarted builds a provider without a listener, for callers that serve
// Handler() themselves. Call Start, or SetURL with the public base URL, before
// the first request: issuer and redirect URLs are built from it.
func NewUnstarted(opts Options) (*Provider, error) {
	o, err := withDefaults(opts)
	if err != nil {
		return nil, err
	}
	p := &Provider{
		ClientID:      o.ClientID,
		ClientSecret:  o.ClientSecret,
		opts:          o,
		resources:     map[string]bool{OrganizationsResource: true},
		orgs:          map[string]Organization{},
		machines:      map[string]*MachineApp{},
		idExtra:       map[string]bool{},
		users:         map[string]*userRecord{},
		interactions:  map[string]*interaction{},
		sessions:      map[string]*ssoSession{},
		codes:         map[string]*authCode{},
		grants:        map[string]*grant{},
		accessTokens:  map[string]*accessToken{},
		refreshTokens: map[string]*refreshToken{},
		logouts:       map[string]*pendingLogout{},
		subjectTokens: map[string]*subjectToken{},
		pats:          map[string]*personalAccessToken{},
		oneTimeTokens: map[string]*oneTimeToken{},
		calls:         map[string]int{},
		bcClient:      &http.Client{Timeout: 3 * time.Second},
	}
	for _, r := range o.Resources {
		p.resources[r] = true
	}
	for _, org := range o.Organizations {
		p.orgs[org.ID] = org
	}
	for _, c := range o.IDTokenExtendedClaims {
		p.idExtra[c] = true
	}
	created := o.Clock().Add(-24 * time.Hour).UnixMilli()
	seen := map[string]bool{}
	for _, u := range o.Users {
		if u.ID == "" || u.Username == "" {
			return nil, errors.New("logtotest: every user needs an ID and a Username")
		}
		if seen["id:"+u.ID] || seen["name:"+u.Username] {
			return nil, fmt.Errorf("logtotest: duplicate user %q", u.Username)
		}
		seen["id:"+u.ID], seen["name:"+u.Username] = true, true
		p.users[u.ID] = &userRecord{User: copyUser(u), createdAt: created, updatedAt: created}
		p.userOrder = append(p.userOrder, u.ID)
	}
	if err := p.addMachineApps(o.MachineApps); err != nil {
		return nil, err
	}
	key, err := newSigningKey(o.SigningAlg)
	if err != nil {
		return nil, err
	}
	p.keys = []*signingKey{key}
	p.handler = p.buildHandler()
	return p, nil
}

// withDefaults validates opts and fills in Logto's defaults.
func withDefaults(o Options) (Options, error) {
	if o.ClientID == "" {
		o.ClientID = "test-app"
	}
	if o.ClientSecret == "" {
		o.ClientSecret = "test-secret"
	}
	if len(o.Users) == 0 {
		o.Users = []User{DemoUser}
	}
	if len(o.Organizations) == 0 {
		o.Organizations = []Organization{DemoOrganization}
	}
	if len(o.MachineApps) == 0 {
		o.MachineApps = []MachineApp{DemoMachineApp}
	}
	if len(o.Resources) == 0 {
		o.Resources = []string{DefaultResource}
	}
	switch o.SigningAlg {
	case "":
		o.SigningAlg = "ES384"
	case "ES384", "RS256":
	default:
		return o, fmt.Errorf("logtotest: SigningAlg %q not supported (ES384 or RS256)", o.SigningAlg)
	}
	if o.IDTokenTTL <= 0 {
		o.IDTokenTTL = time.Hour
	}
	if o.AccessTokenTTL <= 0 {
		o.AccessTokenTTL = time.Hour
	}
	if o.RefreshTokenTTL <= 0 {
		o.RefreshTokenTTL = 14 * 24 * time.Hour
	}
	o.ResourceAccessTokenTTL = maps.Clone(o.ResourceAccessTokenTTL)
	for res, ttl := range o.ResourceAccessTokenTTL {
		if ttl <= 0 {
			return o, fmt.Errorf("logtotest: ResourceAccessTokenTTL[%q] must be positive", res)
		}
	}
	switch {
	case o.ReplayGrace == 0:
		o.ReplayGrace = 3 * time.Second
	case o.ReplayGrace < 0:
		o.ReplayGrace = 0
	}
	if o.IDTokenExtendedClaims == nil {
		o.IDTokenExtendedClaims = []string{"roles", "organizations", "organization_roles"}
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	for _, list := range [][]string{o.RedirectURIs, o.PostLogoutRedirectURIs} {
		for _, u := range list {
			if _, err := url.Parse(u); err != nil {
				return o, fmt.Errorf("logtotest: bad URI %q: %w", u, err)
			}
		}
	}
	return o, nil
}

// copyUser deep-copies u so that later changes to the caller's value (or to
// DemoUser) do not reach a running provider.
func copyUser(u User) User {
	u.Roles = slices.Clone(u.Roles)
	u.Organizations = slices.Clone(u.Organizations)
	u.OrganizationRoles = slices.Clone(u.OrganizationRoles)
	u.OrganizationScopes = slices.Clone(u.OrganizationScopes)
	u.CustomData = maps.Clone(u.CustomData)
	if u.ResourceScopes != nil {
		rs := make(map[string][]string, len(u.ResourceScopes))
		for k, v := range u.ResourceScopes {
			rs[k] = slices.Clone(v)
		}
		u.ResourceScopes = rs
	}
	return u
}

// Start serves the provider on l. If no URL was set, it becomes
// "http://" + l.Addr().
func (p *Provider) Start(l net.Listener) {
	p.mu.Lock()
	unset := p.base == ""
	p.mu.Unlock()
	if unset {
		p.SetURL("http://" + l.Addr().String())
	}
	srv := &http.Server{Handler: p.handler, ReadHeaderTimeout: 10 * time.Second}
	p.srvMu.Lock()
	p.srv = srv
	p.srvMu.Unlock()
	go func() { _ = srv.Serve(l) }()
}

// SetURL sets the public base URL (scheme://host[:port]) and the issuer
// derived from it. Call it before the provider serves requests.
func (p *Provider) SetURL(u string) {
	u = strings.TrimRight(u, "/")
	p.mu.Lock()
	defer p.mu.Unlock()
	p.base = u
	p.URL = u
	p.Issuer = u + "/oidc"
}

// baseURL is URL for handlers, read under the lock so that SetURL and
// requests never race.
func (p *Provider) baseURL() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.base
}

func (p *Provider) issuer() string { return p.baseURL() + "/oidc" }

// Handler serves every route of the provider: /oidc/*, /sign-in, /consent,
// /unknown-session, /one-time-token, /switch-account and /api/experience/*.
func (p *Provider) Handler() http.Handler { return p.handler }

// Close stops the server started by New or Start and closes its connections.
// It is safe to call more than once.
func (p *Provider) Close() {
	p.srvMu.Lock()
	defer p.srvMu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	if p.srv != nil {
		_ = p.srv.Close()
	}
	p.bcClient.CloseIdleConnections()
}

// accessTTL is the lifetime of an access token for audience aud.
func (p *Provider) accessTTL(aud string) time.Duration {
	if ttl, ok := p.opts.ResourceAccessTokenTTL[aud]; ok {
		return ttl
	}
	return p.opts.AccessTokenTTL
}

// now is the provider's clock.
func (p *Provider) now() time.Time { return p.opts.Clock() }

// Calls reports how many requests an endpoint received since the start or
// the last ResetCalls. endpoint is one of "discovery", "jwks", "auth",
// "token", "userinfo", "revocation", "end_session", "introspection",
// "auth_resume" (every /oidc/auth/<uid>), or any other request path (e.g.
// "/oidc/session/end/confirm", "/sign-in", "/consent").
// Requests answered while SetDown(true) and requests a token hook handled
// count too: the test asks what reached the provider.
func (p *Provider) Calls(endpoint string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[endpoint]
}

// ResetCalls sets every counter to zero.
func (p *Provider) ResetCalls() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.calls)
}

// SetDown makes every endpoint answer 503 while down is true, to test an
// application while "Logto is down". State (sessions, tokens) is kept.
func (p *Provider) SetDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
}

// SetTokenHook installs a hook that sees every token endpoint request first.
// If it returns true it has written the response itself and the provider does
// nothing more; if false the request is handled normally (the body is still
// readable). Pass nil to remove it. It is meant for misbehaviour tests: 5xx,
// HTML, truncated JSON, slow answers.
func (p *Provider) SetTokenHook(hook func(w http.ResponseWriter, r *http.Request) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tokenHook = hook
}
