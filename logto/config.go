package logto

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/fiberlogto/sdk/internal/hooks"
)

// Config is what every adapter needs to know of Logto and of the app, with
// no web framework in it. Each adapter's Config embeds it and adds the
// hooks that take its framework's request (Next, ErrorHandler, OnSignIn).
// An adapter's New fills the defaults of ConfigDefault and checks the rest,
// naming the field that is wrong (an error wrapping ErrConfig).
//
// Field names follow @logto/express's LogtoExpressConfig where one exists,
// so a configuration can be carried over from an Express app field by
// field.
//
// Sign-in needs Endpoint, AppID, AppSecret and BaseURL. An API that only
// takes access tokens (RequireAccessToken) needs Endpoint alone: without
// BaseURL no sign-in routes are served. Such an API sets AppID and
// AppSecret too (a machine-to-machine app's, say) when it exchanges tokens
// (ExchangeToken, personal access tokens on its routes).
type Config struct {
	// Endpoint is the Logto endpoint, e.g. "https://tenant.logto.app" or
	// "http://localhost:3001". The issuer is Endpoint + "/oidc".
	//
	// Required.
	Endpoint string

	// AppID is the application ID of a "Traditional web" application in
	// Logto.
	//
	// Required for sign-in.
	AppID string

	// AppSecret is that application's secret. It is sent with
	// client_secret_basic and never logged. A key derived from it seals the
	// sign-in cookie, which holds the browser's pending sign-ins, so every
	// instance of the app must have the same one.
	//
	// Required for sign-in.
	AppSecret string

	// BaseURL is the public origin of this app, e.g.
	// "https://app.example.com", with no path: the app is served at the
	// root of its host. The redirect URI (BaseURL + RoutesPrefix +
	// "/sign-in-callback") and the post-sign-out URI are built from it and
	// never from the request's Host, which an attacker or a proxy controls.
	//
	// Required for sign-in.
	BaseURL string

	// Scopes to request besides openid, offline_access and profile, which
	// are always added (as @logto/express does with includeReservedScopes).
	//
	// Optional. Default: nil
	Scopes []string

	// Resources are API resource indicators to request at sign-in. Resource
	// is added when set, and urn:logto:resource:organizations when Scopes
	// holds urn:logto:scope:organizations.
	//
	// Optional. Default: nil
	Resources []string

	// Prompt is sent as the prompt parameter. Logto only issues a refresh
	// token with prompt=consent, so dropping it means tokens cannot be
	// refreshed.
	//
	// Optional. Default: []string{"consent"}
	Prompt []string

	// FetchUserInfo fills UserContext.UserInfo from Logto's userinfo
	// endpoint on every request. The answer is cached in the session for
	// UserInfoTTL.
	//
	// Optional. Default: false
	FetchUserInfo bool

	// UserInfoTTL is how long a fetched userinfo answer is reused.
	//
	// Optional. Default: 5 * time.Minute
	UserInfoTTL time.Duration

	// GetAccessToken fills UserContext.AccessToken on every request,
	// refreshing it when expired. With Resource set it is that API's JWT
	// access token. When the session cannot give one (no refresh token, a
	// resource Logto refuses) it stays empty; Fetch on a route answers
	// ErrNoToken instead.
	//
	// Optional. Default: false
	GetAccessToken bool

	// Resource is the API resource indicator GetAccessToken asks a token
	// for. It is requested at sign-in too (added to Resources).
	//
	// Optional. Default: ""
	Resource string

	// GetOrganizationToken fills UserContext.OrganizationTokens on every
	// request with a token for every organization in the user's claims (or
	// OrganizationID only). It needs ScopeOrganizations in Scopes.
	//
	// Optional. Default: false
	GetOrganizationToken bool

	// OrganizationID restricts GetOrganizationToken to one organization.
	//
	// Optional. Default: "" (every organization of the user)
	OrganizationID string

	// RoutesPrefix is where the sign-in routes live: RoutesPrefix +
	// "/sign-in", "/sign-up", "/sign-in-callback", "/sign-out" and
	// "/backchannel-logout".
	//
	// Optional. Default: "/logto"
	RoutesPrefix string

	// SignInOptions are sent with every sign-in redirect.
	//
	// Optional. Default: zero value
	SignInOptions SignInOptions

	// Storage keeps sessions. Use a shared storage (Redis, PostgreSQL)
	// when several instances serve one app. Every storage of package
	// github.com/fiberlogto/sdk/storage/... is one, and so is a Fiber v3
	// storage; wrap a Fiber v2 storage with StorageOf.
	//
	// Optional. Default: an in-memory storage
	// (github.com/fiberlogto/sdk/storage/memory)
	Storage Storage

	// CookieName is the session cookie. It must not be one of Logto's own
	// (_session, _interaction, _logto): browsers share cookies across the
	// ports of localhost. The sign-in cookie is named after it
	// (CookieName + "_signin").
	//
	// Optional. Default: "fiberlogto_session"
	CookieName string

	// CookieDomain sets the Domain attribute of the session cookie. It must
	// be BaseURL's host or a parent domain of it.
	//
	// Optional. Default: "" (host-only)
	CookieDomain string

	// AbsoluteTimeout ends a session this long after sign-in, whatever its
	// use.
	//
	// Optional. Default: 14 * 24 * time.Hour (Logto's refresh token lifetime)
	AbsoluteTimeout time.Duration

	// IdleTimeout ends a session unused for this long. The last use is
	// written at most every IdleTimeout/24, so a signed-in request rarely
	// writes.
	//
	// Optional. Default: 24 * time.Hour
	IdleTimeout time.Duration

	// EncryptionKey encrypts session records at rest with AES-GCM when set.
	// It must be 16, 24 or 32 bytes. It also goes into the key of the
	// sign-in cookie, so changing it ends the sign-ins under way.
	//
	// Optional. Default: nil (records stored in clear)
	EncryptionKey []byte

	// HTTPClient talks to Logto. It should have a timeout and must not
	// follow redirects from the token endpoint.
	//
	// Optional. Default: a client with HTTPTimeout that follows no redirects
	HTTPClient *http.Client

	// HTTPTimeout bounds each call to Logto.
	//
	// Optional. Default: 10 * time.Second
	HTTPTimeout time.Duration

	// DiscoveryRetryInterval is how long after a failed discovery the next
	// request tries again. Meanwhile the sign-in routes answer 503.
	//
	// Optional. Default: 5 * time.Second
	DiscoveryRetryInterval time.Duration

	// ClockSkew is the leeway for token timestamps and how early an access
	// token is refreshed before it expires.
	//
	// Optional. Default: 60 * time.Second
	ClockSkew time.Duration

	// StayOnRequestHost turns off the redirect that keeps sign-ins on
	// BaseURL's host name when BaseURL is a loopback address (localhost,
	// 127.0.0.1, [::1]). A browser keeps cookies per host name: a sign-in
	// started on http://127.0.0.1:3000 for BaseURL http://localhost:3000
	// comes back to localhost, where its sign-in cookie is not, and fails.
	// So, by default, the sign-in routes first send such a request to the
	// same path on BaseURL's host. Other BaseURLs are never redirected:
	// behind a proxy the Host header may be an internal name.
	//
	// Optional. Default: false
	StayOnRequestHost bool

	// Logger receives one structured record per event: sign-in started
	// (Debug), succeeded (Info) or failed (Warn, naming the check), refresh
	// succeeded (Debug) or failed (Warn), sign-out and back-channel logout
	// (Info), storage and provider errors, discovery and JWKS failures
	// (Error, at most one a minute while they last). No record holds a
	// token, a code, a secret, a cookie's value or a session ID; a session
	// is named by a fingerprint. The default hears only what needs an
	// operator; give it slog.Default() to hear everything.
	//
	// Optional. Default: slog.Default(), records below Warn dropped
	Logger *slog.Logger

	// PostLogoutRedirectURI is where Logto sends the browser after
	// sign-out. It must be registered in Logto.
	//
	// Optional. Default: BaseURL
	PostLogoutRedirectURI string

	// now is the clock, time.Now when nil: a test's own through package
	// internal/hooks, never a field of the API.
	now func() time.Time
}

func init() {
	hooks.Clock = func(cfg any) *func() time.Time { return &cfg.(*Config).now }
}

// ConfigDefault is the default config: what New fills in for every field
// left zero. Endpoint, AppID, AppSecret and BaseURL have no default.
var ConfigDefault = Config{
	Prompt:                 []string{"consent"},
	UserInfoTTL:            5 * time.Minute,
	RoutesPrefix:           "/logto",
	CookieName:             "fiberlogto_session",
	AbsoluteTimeout:        14 * 24 * time.Hour,
	IdleTimeout:            24 * time.Hour,
	HTTPTimeout:            10 * time.Second,
	DiscoveryRetryInterval: 5 * time.Second,
	ClockSkew:              60 * time.Second,
}

// SignInOptions are Logto's extra sign-in parameters, for every sign-in
// (Config.SignInOptions) or for a route of the app's own (an adapter's
// SignIn). A sign-in link may choose FirstScreen, Identifiers, LoginHint
// and DirectSignIn itself: /logto/sign-in?first_screen=register (see the
// README's "Sign-in links").
type SignInOptions struct {
	// FirstScreen is "sign_in", "register", "identifier:sign_in",
	// "identifier:register", "reset_password" or "single_sign_on".
	FirstScreen string
	// Identifiers restricts the identifiers shown: "email", "phone",
	// "username".
	Identifiers []string
	// LoginHint pre-fills the identifier.
	LoginHint string
	// DirectSignIn skips Logto's page for a social or SSO connector.
	DirectSignIn *DirectSignIn
	// OneTimeToken signs the user in with a one-time token, a magic link's:
	// one that Logto's Management API issued for an email address (POST
	// /api/one-time-tokens). Set LoginHint to that address: Logto's page
	// then completes the sign-in without a password (and starts a sign-up
	// when no user has that email). A used, expired or mismatched token
	// ends on Logto's "invalid link" page. A sign-in link may carry it:
	// /logto/sign-in?one_time_token=<token>&login_hint=<email>.
	OneTimeToken string
	// MaxAge asks Logto to have the user authenticate again when their
	// last sign-in with credentials is older (OpenID Connect's max_age):
	// the ID token then carries auth_time, which the callback checks.
	// RequireRecentSignIn sends it. Whole seconds; 0 sends none.
	MaxAge time.Duration
	// ExtraParams are added to the authorization request as they are; they
	// never replace a parameter the SDK sets (state, nonce, PKCE...).
	ExtraParams map[string]string
}

// DirectSignIn sends the user straight to a social or SSO connector.
type DirectSignIn struct {
	// Method is "social" or "sso".
	Method string
	// Target is the connector's or SSO connector's ID.
	Target string
}

// Reserved scopes and resources Logto needs for the features this SDK
// offers.
const (
	ScopeOpenID        = "openid"
	ScopeOfflineAccess = "offline_access"
	ScopeProfile       = "profile"
	ScopeEmail         = "email"
	ScopePhone         = "phone"
	ScopeRoles         = "roles"
	ScopeCustomData    = "custom_data"
	ScopeIdentities    = "identities"
	// ScopeOrganizations asks for the organizations claim and organization
	// tokens.
	ScopeOrganizations     = "urn:logto:scope:organizations"
	ScopeOrganizationRoles = "urn:logto:scope:organization_roles"
	// ResourceOrganizations is the resource organization tokens are issued
	// for.
	ResourceOrganizations = "urn:logto:resource:organizations"
)
