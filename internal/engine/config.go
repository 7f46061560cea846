package engine

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Config defines the config for the Logto middleware and its routes. It is
// written once for both Fiber majors: C is the handler's context
// (*fiber.Ctx for Fiber v2, fiber.Ctx for v3) and S the storage interface
// (fiber.Storage of that major). Each adapter names it Config.
//
// Field names follow @logto/express's LogtoExpressConfig where one exists, so
// a configuration can be carried over from an Express app field by field.
type Config[C, S any] struct {
	// Next defines a function to skip this middleware when it returns true.
	// The sign-in routes are never skipped.
	//
	// Optional. Default: nil
	Next func(c C) bool

	// Endpoint is the Logto endpoint, e.g. "https://tenant.logto.app" or
	// "http://localhost:3001". The issuer is Endpoint + "/oidc".
	//
	// Required.
	Endpoint string

	// AppID is the application ID of a "Traditional web" application in Logto.
	//
	// Required.
	AppID string

	// AppSecret is that application's secret. It is sent with
	// client_secret_basic and never logged. A key derived from it seals the
	// sign-in cookie, which holds the browser's pending sign-ins, so every
	// instance of the app must have the same one.
	//
	// Required.
	AppSecret string

	// BaseURL is the public origin of this app, e.g.
	// "https://app.example.com", with no path: the app is served at the
	// root of its host. The redirect URI (BaseURL + RoutesPrefix + "/sign-in-callback") and the
	// post-sign-out URI are built from it and never from the request's Host,
	// which an attacker or a proxy controls.
	//
	// Required.
	BaseURL string

	// Scopes to request besides openid, offline_access and profile, which are
	// always added (as @logto/express does with includeReservedScopes).
	//
	// Optional. Default: nil
	Scopes []string

	// Resources are API resource indicators to request at sign-in. Resource is
	// added when set, and urn:logto:resource:organizations when Scopes holds
	// urn:logto:scope:organizations.
	//
	// Optional. Default: nil
	Resources []string

	// Prompt is sent as the prompt parameter. Logto only issues a refresh token
	// with prompt=consent, so dropping it means tokens cannot be refreshed.
	//
	// Optional. Default: []string{"consent"}
	Prompt []string

	// FetchUserInfo fills UserContext.UserInfo from Logto's userinfo endpoint.
	// The answer is cached in the session for UserInfoTTL.
	//
	// Optional. Default: false
	FetchUserInfo bool

	// UserInfoTTL is how long a fetched userinfo answer is reused.
	//
	// Optional. Default: 5 * time.Minute
	UserInfoTTL time.Duration

	// GetAccessToken fills UserContext.AccessToken, refreshing it when expired.
	// With Resource set it is that API's JWT access token. When the session
	// cannot give one (no refresh token, a resource Logto refuses) it stays
	// empty; Fetch on a route answers ErrNoToken instead.
	//
	// Optional. Default: false
	GetAccessToken bool

	// Resource is the API resource indicator GetAccessToken asks a token for.
	//
	// Optional. Default: ""
	Resource string

	// GetOrganizationToken fills UserContext.OrganizationTokens with a token
	// for every organization in the user's claims (or OrganizationID only).
	//
	// Optional. Default: false
	GetOrganizationToken bool

	// OrganizationID restricts GetOrganizationToken to one organization.
	//
	// Optional. Default: "" (every organization of the user)
	OrganizationID string

	// RoutesPrefix is where the sign-in routes live.
	//
	// Optional. Default: "/logto"
	RoutesPrefix string

	// SignInOptions are sent with every sign-in redirect.
	//
	// Optional. Default: zero value
	SignInOptions SignInOptions

	// Storage keeps sessions. Use a shared storage (Redis, PostgreSQL) when
	// several instances serve one app.
	//
	// Optional. Default: an in-memory storage
	Storage S

	// CookieName is the session cookie. It must not be one of Logto's own
	// (_session, _interaction, _logto): browsers share cookies across the
	// ports of localhost.
	//
	// Optional. Default: "fiberlogto_session"
	CookieName string

	// CookieDomain sets the Domain attribute of the session cookie. It must
	// be BaseURL's host or a parent domain of it.
	//
	// Optional. Default: "" (host-only)
	CookieDomain string

	// AbsoluteTimeout ends a session this long after sign-in, whatever its use.
	//
	// Optional. Default: 14 * 24 * time.Hour (Logto's refresh token lifetime)
	AbsoluteTimeout time.Duration

	// IdleTimeout ends a session unused for this long. The last use is written
	// at most every IdleTimeout/24, so a signed-in request rarely writes.
	//
	// Optional. Default: 24 * time.Hour
	IdleTimeout time.Duration

	// EncryptionKey encrypts session records at rest with AES-GCM when set. It
	// must be 16, 24 or 32 bytes. It also goes into the key of the sign-in
	// cookie, so changing it ends the sign-ins under way.
	//
	// Optional. Default: nil (records stored in clear)
	EncryptionKey []byte

	// HTTPClient talks to Logto. It should have a timeout and must not follow
	// redirects from the token endpoint.
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

	// ErrorHandler renders every error of the routes and the middleware.
	// Errors wrap one of the package's sentinel errors; StatusOf gives the
	// status the default handler uses.
	//
	// Optional. Default: DefaultErrorHandler
	ErrorHandler func(c C, err error) error

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
	// (Debug), succeeded (Info) or failed (Warn, naming the check),
	// refresh succeeded (Debug) or failed (Warn), sign-out and back-channel
	// logout (Info), storage and provider errors, discovery and JWKS
	// failures (Error, at most one a minute while they last). No record
	// holds a token, a code, a secret, a cookie's value or a session ID; a
	// session is named by a fingerprint. The default hears only what needs
	// an operator; give it slog.Default() to hear everything.
	//
	// Optional. Default: slog.Default(), records below Warn dropped
	Logger *slog.Logger

	// OnSignIn runs when a sign-in is about to succeed: after the ID token
	// is verified, before the session is stored, with the request and the
	// new user context (claims, Subject, IDToken). Returning an error
	// refuses the sign-in: no session is stored, the new refresh token is
	// revoked, and ErrorHandler gets an error wrapping ErrSignInRefused and
	// yours (403 by default). A panic in it refuses the sign-in the same
	// way. Use it to create the app's own user row, or to turn away a
	// suspended account.
	//
	// Optional. Default: nil
	OnSignIn func(c C, user *UserContext) error

	// ContextKey is the c.Locals key of the *UserContext.
	//
	// Optional. Default: "user"
	ContextKey string

	// PostLogoutRedirectURI is where Logto sends the browser after sign-out.
	// It must be registered in Logto.
	//
	// Optional. Default: BaseURL
	PostLogoutRedirectURI string

	// now is the clock: time.Now, or a test's (SetClock). Not a field of
	// the public config: a test hook has no place there.
	now func() time.Time
}

// SetClock sets the clock the engine built from cfg reads (time.Now by
// default): the adapters' tests move time with it.
func SetClock[C, S any](cfg *Config[C, S], now func() time.Time) { cfg.now = now }

// ClockOf is the clock SetClock set on cfg, nil for time.Now.
func ClockOf[C, S any](cfg *Config[C, S]) func() time.Time { return cfg.now }

// SignInOptions are Logto's extra sign-in parameters.
type SignInOptions struct {
	// FirstScreen is "sign_in", "register", "identifier:sign_in",
	// "identifier:register", "reset_password" or "single_sign_on".
	FirstScreen string
	// Identifiers restricts the identifiers shown (e.g. "email", "phone", "username").
	Identifiers []string
	// LoginHint pre-fills the identifier.
	LoginHint string
	// DirectSignIn skips Logto's page: Method "social" or "sso", Target the
	// connector or SSO connector ID.
	DirectSignIn *DirectSignIn
	// ExtraParams are added to the authorization request as they are.
	ExtraParams map[string]string
}

// DirectSignIn sends the user straight to a social or SSO connector.
type DirectSignIn struct {
	Method string
	Target string
}

// Reserved scopes and resources Logto needs for the features this package offers.
const (
	ScopeOpenID        = "openid"
	ScopeOfflineAccess = "offline_access"
	ScopeProfile       = "profile"
	ScopeEmail         = "email"
	ScopePhone         = "phone"
	ScopeRoles         = "roles"
	ScopeCustomData    = "custom_data"
	ScopeIdentities    = "identities"
	// ScopeOrganizations asks for the organizations claim and organization tokens.
	ScopeOrganizations     = "urn:logto:scope:organizations"
	ScopeOrganizationRoles = "urn:logto:scope:organization_roles"
	// ResourceOrganizations is the resource organization tokens are issued for.
	ResourceOrganizations = "urn:logto:resource:organizations"
)

// ConfigDefault returns the default config. Endpoint, AppID, AppSecret and
// BaseURL have no default; Storage and ErrorHandler are the adapter's.
func ConfigDefault[C, S any]() Config[C, S] {
	return Config[C, S]{
		Prompt:                 []string{"consent"},
		UserInfoTTL:            5 * time.Minute,
		RoutesPrefix:           "/logto",
		CookieName:             "fiberlogto_session",
		AbsoluteTimeout:        14 * 24 * time.Hour,
		IdleTimeout:            24 * time.Hour,
		HTTPTimeout:            10 * time.Second,
		DiscoveryRetryInterval: 5 * time.Second,
		ClockSkew:              60 * time.Second,
		ContextKey:             "user",
	}
}

// apiOnly reports a config for API protection alone: Endpoint set, and no
// AppID, AppSecret or BaseURL (which sign-in needs, all three).
func (cfg *Config[C, S]) apiOnly() bool {
	return cfg.AppID == "" && cfg.AppSecret == "" && cfg.BaseURL == ""
}

// reservedCookieNames are Logto's own cookies; a browser on localhost sends
// them to every port, so a session cookie by one of these names would clash.
var reservedCookieNames = []string{"_session", "_session.sig", "_interaction", "_interaction.sig", "_interaction_resume", "_logto"}

// Prepare fills the defaults and checks the config, naming the field that
// is wrong. Storage and ErrorHandler are left to the adapter, which knows
// their types.
func Prepare[C, S any](cfg Config[C, S]) (Config[C, S], error) {
	def := ConfigDefault[C, S]()

	if cfg.Prompt == nil {
		cfg.Prompt = def.Prompt
	}
	if cfg.UserInfoTTL <= 0 {
		cfg.UserInfoTTL = def.UserInfoTTL
	}
	if cfg.RoutesPrefix == "" {
		cfg.RoutesPrefix = def.RoutesPrefix
	}
	cfg.RoutesPrefix = "/" + strings.Trim(cfg.RoutesPrefix, "/")
	if cfg.CookieName == "" {
		cfg.CookieName = def.CookieName
	}
	if cfg.AbsoluteTimeout <= 0 {
		cfg.AbsoluteTimeout = def.AbsoluteTimeout
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = def.IdleTimeout
	}
	if cfg.HTTPTimeout <= 0 {
		cfg.HTTPTimeout = def.HTTPTimeout
	}
	if cfg.DiscoveryRetryInterval <= 0 {
		cfg.DiscoveryRetryInterval = def.DiscoveryRetryInterval
	}
	if cfg.ClockSkew <= 0 {
		cfg.ClockSkew = def.ClockSkew
	}
	if cfg.ContextKey == "" {
		cfg.ContextKey = def.ContextKey
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = defaultLogger()
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{
			Timeout: cfg.HTTPTimeout,
			// A token endpoint that redirects is misconfigured or hostile:
			// following it would resend the code and the client secret.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	cfg.Endpoint = strings.TrimSuffix(cfg.Endpoint, "/")
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")

	if err := checkAbsoluteURL("Endpoint", cfg.Endpoint); err != nil {
		return cfg, err
	}
	if err := checkEndpointPath(cfg.Endpoint); err != nil {
		return cfg, err
	}
	if cfg.apiOnly() {
		// An API that only takes access tokens: no sign-in, so no app of
		// its own in Logto.
		return cfg, nil
	}
	if err := checkAbsoluteURL("BaseURL", cfg.BaseURL); err != nil {
		return cfg, err
	}
	base, _ := url.Parse(cfg.BaseURL)
	if base.Path != "" || base.User != nil {
		// Cookie paths, RequireAuth's redirect and return paths are all
		// relative to the origin: an app under a path would lose its
		// sign-in cookie at the callback.
		return cfg, fmt.Errorf("%w: BaseURL must be the app's origin (scheme://host[:port]) with no path or user info, got %q", ErrConfig, cfg.BaseURL)
	}
	// Scheme and host are case-insensitive; the redirect URI Logto matches
	// exactly and the Secure flag are derived from the lower-case form.
	base.Scheme, base.Host = strings.ToLower(base.Scheme), strings.ToLower(base.Host)
	cfg.BaseURL = base.String()
	if !validRoutesPrefix(cfg.RoutesPrefix) {
		return cfg, fmt.Errorf("%w: RoutesPrefix must be a path such as /logto (letters, digits, -._~ between slashes), got %q", ErrConfig, cfg.RoutesPrefix)
	}
	if cfg.CookieDomain != "" {
		cfg.CookieDomain = strings.ToLower(strings.TrimPrefix(cfg.CookieDomain, "."))
		if host := base.Hostname(); host != cfg.CookieDomain && !strings.HasSuffix(host, "."+cfg.CookieDomain) {
			return cfg, fmt.Errorf("%w: CookieDomain %q does not cover BaseURL's host %q: browsers would drop the cookies", ErrConfig, cfg.CookieDomain, host)
		}
	}
	if cfg.PostLogoutRedirectURI == "" {
		cfg.PostLogoutRedirectURI = cfg.BaseURL
	} else if err := checkAbsoluteURL("PostLogoutRedirectURI", cfg.PostLogoutRedirectURI); err != nil {
		return cfg, err
	}
	if strings.TrimSpace(cfg.AppID) == "" {
		return cfg, fmt.Errorf("%w: AppID is required", ErrConfig)
	}
	if cfg.AppSecret == "" {
		return cfg, fmt.Errorf("%w: AppSecret is required (a Traditional web app in Logto has one)", ErrConfig)
	}
	for _, name := range reservedCookieNames {
		if strings.EqualFold(cfg.CookieName, name) {
			return cfg, fmt.Errorf("%w: CookieName %q is one of Logto's own cookies", ErrConfig, cfg.CookieName)
		}
	}
	if !validCookieName(cfg.CookieName) {
		return cfg, fmt.Errorf("%w: CookieName %q is not a valid cookie name", ErrConfig, cfg.CookieName)
	}
	switch {
	case strings.HasPrefix(strings.ToLower(cfg.CookieName), "__host-"):
		// The sign-in cookie is named after it and scoped to RoutesPrefix,
		// which a __Host- cookie may not be (Path must be /).
		return cfg, fmt.Errorf("%w: CookieName %q: the __Host- prefix is not supported (the sign-in cookie's path is RoutesPrefix)", ErrConfig, cfg.CookieName)
	case strings.HasPrefix(strings.ToLower(cfg.CookieName), "__secure-") && !strings.HasPrefix(cfg.BaseURL, "https://"):
		return cfg, fmt.Errorf("%w: CookieName %q: a __Secure- cookie needs an https BaseURL", ErrConfig, cfg.CookieName)
	}
	switch len(cfg.EncryptionKey) {
	case 0, 16, 24, 32:
	default:
		return cfg, fmt.Errorf("%w: EncryptionKey must be 16, 24 or 32 bytes, got %d", ErrConfig, len(cfg.EncryptionKey))
	}
	if cfg.GetOrganizationToken && !containsString(cfg.Scopes, ScopeOrganizations) {
		return cfg, fmt.Errorf("%w: GetOrganizationToken needs %q in Scopes", ErrConfig, ScopeOrganizations)
	}
	if cfg.Resource != "" {
		if err := checkResource("Resource", cfg.Resource); err != nil {
			return cfg, err
		}
		// Resources is what is requested at sign-in, Resource the one of
		// them GetAccessToken asks a token for: it is requested too, and
		// the effective config says so.
		if !containsString(cfg.Resources, cfg.Resource) {
			cfg.Resources = append(append([]string(nil), cfg.Resources...), cfg.Resource)
		}
	}
	for _, r := range cfg.Resources {
		if err := checkResource("Resources", r); err != nil {
			return cfg, err
		}
	}
	if err := CheckSignInOptions(cfg.SignInOptions); err != nil {
		return cfg, err
	}
	return cfg, nil
}

func checkAbsoluteURL(field, raw string) error {
	if raw == "" {
		return fmt.Errorf("%w: %s is required", ErrConfig, field)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%w: %s must be an absolute http(s) URL without query or fragment, got %q", ErrConfig, field, raw)
	}
	return nil
}

// checkEndpointPath refuses what is not a Logto endpoint but often taken for
// one: the issuer (endpoint + "/oidc"), or a URL of one of its documents.
// The issuer is derived from the endpoint, so either would make every
// sign-in fail later with "unavailable".
func checkEndpointPath(endpoint string) error {
	u, _ := url.Parse(endpoint)
	path := strings.TrimSuffix(u.Path, "/")
	for _, marker := range []string{"/oidc", "/.well-known/", "/api/"} {
		i := strings.Index(path+"/", marker)
		if i < 0 || (marker == "/oidc" && !strings.HasSuffix(path, "/oidc") && !strings.Contains(path, "/oidc/")) {
			continue
		}
		origin := u.Scheme + "://" + u.Host + path[:i]
		return fmt.Errorf("%w: Endpoint %q is not Logto's endpoint but a URL under it: use %q (the issuer is Endpoint + \"/oidc\")", ErrConfig, endpoint, origin)
	}
	return nil
}

// checkResource accepts an absolute URI (RFC 8707 section 2), which covers both
// https://api.example.com and Logto's urn:logto:... indicators.
func checkResource(field, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Fragment != "" {
		return fmt.Errorf("%w: %s entry %q must be an absolute URI without fragment", ErrConfig, field, raw)
	}
	return nil
}

// validRoutesPrefix accepts "/" followed by path segments of unreserved
// characters (RFC 3986), normalised with no trailing slash.
func validRoutesPrefix(p string) bool {
	if len(p) < 2 || p[0] != '/' {
		return false
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0) {
				return false
			}
		}
	}
	return true
}

func validCookieName(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return name != ""
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// settings is what the engine runs on: Config without the adapter's types,
// defaults filled and checked by Prepare.
type settings struct {
	Endpoint, AppID, AppSecret, BaseURL string
	Scopes, Resources, Prompt           []string
	FetchUserInfo                       bool
	UserInfoTTL                         time.Duration
	GetAccessToken                      bool
	Resource                            string
	GetOrganizationToken                bool
	OrganizationID                      string
	RoutesPrefix                        string
	SignInOptions                       SignInOptions
	Storage                             Storage
	CookieName, CookieDomain            string
	AbsoluteTimeout, IdleTimeout        time.Duration
	EncryptionKey                       []byte
	HTTPClient                          *http.Client
	HTTPTimeout                         time.Duration
	DiscoveryRetryInterval              time.Duration
	ClockSkew                           time.Duration
	PostLogoutRedirectURI               string
	Now                                 func() time.Time
	Logger                              *slog.Logger
	StayOnRequestHost                   bool
}

// settingsOf copies a prepared Config into the engine's settings.
func settingsOf[C, S any](cfg *Config[C, S], store Storage) *settings {
	return &settings{
		Endpoint: cfg.Endpoint, AppID: cfg.AppID, AppSecret: cfg.AppSecret, BaseURL: cfg.BaseURL,
		Scopes: cfg.Scopes, Resources: cfg.Resources, Prompt: cfg.Prompt,
		FetchUserInfo: cfg.FetchUserInfo, UserInfoTTL: cfg.UserInfoTTL,
		GetAccessToken: cfg.GetAccessToken, Resource: cfg.Resource,
		GetOrganizationToken: cfg.GetOrganizationToken, OrganizationID: cfg.OrganizationID,
		RoutesPrefix: cfg.RoutesPrefix, SignInOptions: cfg.SignInOptions, Storage: store,
		CookieName: cfg.CookieName, CookieDomain: cfg.CookieDomain,
		AbsoluteTimeout: cfg.AbsoluteTimeout, IdleTimeout: cfg.IdleTimeout,
		EncryptionKey: cfg.EncryptionKey, HTTPClient: cfg.HTTPClient, HTTPTimeout: cfg.HTTPTimeout,
		DiscoveryRetryInterval: cfg.DiscoveryRetryInterval, ClockSkew: cfg.ClockSkew,
		PostLogoutRedirectURI: cfg.PostLogoutRedirectURI, Now: cfg.now, Logger: cfg.Logger,
		StayOnRequestHost: cfg.StayOnRequestHost,
	}
}

// scopes returns the scopes sent at sign-in: the reserved ones first, then
// Config.Scopes without duplicates.
func (cfg *settings) scopes() []string {
	out := []string{ScopeOpenID, ScopeOfflineAccess, ScopeProfile}
	for _, s := range cfg.Scopes {
		for _, part := range strings.Fields(s) {
			if !containsString(out, part) {
				out = append(out, part)
			}
		}
	}
	return out
}

// resources returns the resource indicators sent at sign-in.
func (cfg *settings) resources() []string {
	var out []string
	add := func(r string) {
		if r != "" && !containsString(out, r) {
			out = append(out, r)
		}
	}
	for _, r := range cfg.Resources {
		add(r)
	}
	add(cfg.Resource)
	if containsString(cfg.scopes(), ScopeOrganizations) {
		add(ResourceOrganizations)
	}
	return out
}

func (cfg *settings) redirectURI() string {
	return cfg.BaseURL + cfg.RoutesPrefix + "/sign-in-callback"
}

// loopbackBaseURL reports whether BaseURL's host is a loopback name.
func (cfg *settings) loopbackBaseURL() bool {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// secureCookies reports whether cookies get the Secure attribute.
func (cfg *settings) secureCookies() bool {
	return strings.HasPrefix(cfg.BaseURL, "https://")
}
