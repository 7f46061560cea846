package engine

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/fiberlogto/sdk/internal/hooks"
	"github.com/fiberlogto/sdk/logto"
	"github.com/fiberlogto/sdk/storage/memory"
)

// apiOnly reports a config for API protection alone: no BaseURL, so no
// sign-in (which needs AppID, AppSecret and BaseURL). AppID and AppSecret
// may still be set, for token exchange.
func apiOnly(cfg *logto.Config) bool {
	return cfg.BaseURL == ""
}

// clockOf is the clock a test set on cfg (package internal/hooks), nil for
// time.Now.
func clockOf(cfg *logto.Config) func() time.Time { return *hooks.Clock(cfg) }

// reservedCookieNames are Logto's own cookies; a browser on localhost sends
// them to every port, so a session cookie by one of these names would clash.
var reservedCookieNames = []string{"_session", "_session.sig", "_interaction", "_interaction.sig", "_interaction_resume", "_logto"}

// Prepare fills the defaults of logto.ConfigDefault and checks the config,
// naming the field that is wrong (an error wrapping logto.ErrConfig).
func Prepare(cfg logto.Config) (logto.Config, error) {
	def := logto.ConfigDefault

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
	if cfg.Storage == nil {
		cfg.Storage = memory.New()
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
	if apiOnly(&cfg) {
		// An API that only takes access tokens: no sign-in; an app of its
		// own in Logto only to exchange tokens.
		if (cfg.AppID == "") != (cfg.AppSecret == "") {
			return cfg, fmt.Errorf("%w: AppID and AppSecret: set both (token exchange needs the app's credentials; sign-in needs BaseURL too) or neither (an API that only takes access tokens)", logto.ErrConfig)
		}
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
		return cfg, fmt.Errorf("%w: BaseURL must be the app's origin (scheme://host[:port]) with no path or user info, got %q", logto.ErrConfig, cfg.BaseURL)
	}
	// Scheme and host are case-insensitive; the redirect URI Logto matches
	// exactly and the Secure flag are derived from the lower-case form.
	base.Scheme, base.Host = strings.ToLower(base.Scheme), strings.ToLower(base.Host)
	cfg.BaseURL = base.String()
	if !validRoutesPrefix(cfg.RoutesPrefix) {
		return cfg, fmt.Errorf("%w: RoutesPrefix must be a path such as /logto (letters, digits, -._~ between slashes), got %q", logto.ErrConfig, cfg.RoutesPrefix)
	}
	if cfg.CookieDomain != "" {
		cfg.CookieDomain = strings.ToLower(strings.TrimPrefix(cfg.CookieDomain, "."))
		if host := base.Hostname(); host != cfg.CookieDomain && !strings.HasSuffix(host, "."+cfg.CookieDomain) {
			return cfg, fmt.Errorf("%w: CookieDomain %q does not cover BaseURL's host %q: browsers would drop the cookies", logto.ErrConfig, cfg.CookieDomain, host)
		}
	}
	if cfg.PostLogoutRedirectURI == "" {
		cfg.PostLogoutRedirectURI = cfg.BaseURL
	} else if err := checkAbsoluteURL("PostLogoutRedirectURI", cfg.PostLogoutRedirectURI); err != nil {
		return cfg, err
	}
	if strings.TrimSpace(cfg.AppID) == "" {
		return cfg, fmt.Errorf("%w: AppID is required", logto.ErrConfig)
	}
	if cfg.AppSecret == "" {
		return cfg, fmt.Errorf("%w: AppSecret is required (a Traditional web app in Logto has one)", logto.ErrConfig)
	}
	for _, name := range reservedCookieNames {
		if strings.EqualFold(cfg.CookieName, name) {
			return cfg, fmt.Errorf("%w: CookieName %q is one of Logto's own cookies", logto.ErrConfig, cfg.CookieName)
		}
	}
	if !validCookieName(cfg.CookieName) {
		return cfg, fmt.Errorf("%w: CookieName %q is not a valid cookie name", logto.ErrConfig, cfg.CookieName)
	}
	switch {
	case strings.HasPrefix(strings.ToLower(cfg.CookieName), "__host-"):
		// The sign-in cookie is named after it and scoped to RoutesPrefix,
		// which a __Host- cookie may not be (Path must be /).
		return cfg, fmt.Errorf("%w: CookieName %q: the __Host- prefix is not supported (the sign-in cookie's path is RoutesPrefix)", logto.ErrConfig, cfg.CookieName)
	case strings.HasPrefix(strings.ToLower(cfg.CookieName), "__secure-") && !strings.HasPrefix(cfg.BaseURL, "https://"):
		return cfg, fmt.Errorf("%w: CookieName %q: a __Secure- cookie needs an https BaseURL", logto.ErrConfig, cfg.CookieName)
	}
	switch len(cfg.EncryptionKey) {
	case 0, 16, 24, 32:
	default:
		return cfg, fmt.Errorf("%w: EncryptionKey must be 16, 24 or 32 bytes, got %d", logto.ErrConfig, len(cfg.EncryptionKey))
	}
	if cfg.GetOrganizationToken && !containsString(cfg.Scopes, logto.ScopeOrganizations) {
		return cfg, fmt.Errorf("%w: GetOrganizationToken needs %q in Scopes", logto.ErrConfig, logto.ScopeOrganizations)
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
		return fmt.Errorf("%w: %s is required", logto.ErrConfig, field)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%w: %s must be an absolute http(s) URL without query or fragment, got %q", logto.ErrConfig, field, raw)
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
		return fmt.Errorf("%w: Endpoint %q is not Logto's endpoint but a URL under it: use %q (the issuer is Endpoint + \"/oidc\")", logto.ErrConfig, endpoint, origin)
	}
	return nil
}

// checkResource accepts an absolute URI (RFC 8707 section 2), which covers both
// https://api.example.com and Logto's urn:logto:... indicators.
func checkResource(field, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Fragment != "" {
		return fmt.Errorf("%w: %s entry %q must be an absolute URI without fragment", logto.ErrConfig, field, raw)
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

// settings is what the engine runs on: a Config prepared by Prepare, and
// the clock.
type settings struct {
	logto.Config
	Now func() time.Time
}

// settingsOf returns the settings of a prepared config.
func settingsOf(cfg *logto.Config) *settings {
	now := clockOf(cfg)
	if now == nil {
		now = time.Now
	}
	return &settings{Config: *cfg, Now: now}
}

// scopes returns the scopes sent at sign-in: the reserved ones first, then
// Config.Scopes without duplicates.
func (cfg *settings) scopes() []string {
	out := []string{logto.ScopeOpenID, logto.ScopeOfflineAccess, logto.ScopeProfile}
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
	if containsString(cfg.scopes(), logto.ScopeOrganizations) {
		add(logto.ResourceOrganizations)
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
