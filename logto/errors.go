package logto

import "errors"

// Sentinel errors. Every error the routes and the middleware hand to an
// adapter's error handler wraps exactly one of them, so a handler can
// switch on errors.Is and StatusOf without parsing messages. Each message
// is safe to show to the user; the details (the provider's answer, the
// failing claim) are in the wrapped text, which the default error handler
// never shows: it may hold token material or attacker input.
var (
	// ErrConfig: a setting is wrong. Returned by an adapter's New, naming
	// the field; at run time (a route that names no organization, a
	// resource not requested at sign-in...) a 500, with a record naming
	// the setting.
	ErrConfig = errors.New("fiberlogto: invalid config")

	// ErrInvalidCallback: the callback lacks code or state, or its state is
	// unknown, used, expired or from another browser (400).
	ErrInvalidCallback = errors.New("the sign-in link is invalid or has expired, please sign in again")
	// ErrNoSignInUnderWay: the callback came to a browser with no sign-in
	// under way: started in another browser, or on another host name than
	// BaseURL's, which the browser keeps other cookies for (400).
	ErrNoSignInUnderWay = errors.New("no sign-in is under way in this browser on this site, please sign in again from the start")
	// ErrIssuerMismatch: the callback's iss is missing or not Logto's (RFC
	// 9207) (400).
	ErrIssuerMismatch = errors.New("the sign-in response did not come from the expected issuer")
	// ErrAuthorizationDenied: Logto redirected back with an error
	// (access_denied, login_required...) (400).
	ErrAuthorizationDenied = errors.New("sign-in was not completed")
	// ErrInvalidGrant: Logto refused the code or refresh token; the user
	// must sign in again (400).
	ErrInvalidGrant = errors.New("the sign-in has expired, please sign in again")
	// ErrInvalidIDToken: the ID token failed verification (signature, iss,
	// aud, exp, iat, nonce, sub) (400).
	ErrInvalidIDToken = errors.New("the identity token could not be verified")
	// ErrInvalidClient: Logto refused the app's credentials: AppID or
	// AppSecret is wrong (500).
	ErrInvalidClient = errors.New("the application is misconfigured")
	// ErrProviderResponse: Logto answered with something that is not a
	// valid answer (502).
	ErrProviderResponse = errors.New("the identity provider sent an invalid response")
	// ErrProviderUnavailable: Logto cannot be reached (discovery failed,
	// 5xx) (503).
	ErrProviderUnavailable = errors.New("the identity provider is unavailable, please try again later")
	// ErrProviderTimeout: a call to Logto took longer than
	// Config.HTTPTimeout (504).
	ErrProviderTimeout = errors.New("the identity provider did not answer in time")
	// ErrStorage: the session storage failed; nothing half-written is kept
	// (503).
	ErrStorage = errors.New("the session could not be stored, please try again later")
	// ErrCrossSiteRequest: a sign-out came from another site (403).
	ErrCrossSiteRequest = errors.New("cross-site request refused")
	// ErrNotAuthenticated: RequireAuth refused an anonymous API request
	// (401).
	ErrNotAuthenticated = errors.New("authentication required")
	// ErrSignInRefused: the adapter's OnSignIn hook turned the sign-in
	// away (403); the error also wraps the hook's own.
	ErrSignInRefused = errors.New("sign-in was refused")
	// ErrNoToken: an access or organization token was asked for but the
	// session cannot give one (401).
	ErrNoToken = errors.New("no access token available, please sign in again")
	// ErrInvalidToken: a bearer access token is malformed, expired, not
	// Logto's, or not for this route (401, WWW-Authenticate
	// error="invalid_token", RFC 6750 section 3.1).
	ErrInvalidToken = errors.New("the access token is invalid")
	// ErrInsufficientScope: a bearer access token lacks a scope the route
	// needs (403, WWW-Authenticate error="insufficient_scope").
	ErrInsufficientScope = errors.New("the access token lacks a required permission")
	// ErrInvalidRequest: the request is malformed: two Authorization
	// headers, or a protocol parameter given twice (RFC 6749 section 3.1)
	// (400).
	ErrInvalidRequest = errors.New("the request is malformed")
	// ErrMethodNotAllowed: a route of the SDK's was asked with another
	// method (405). The Fiber adapters hand Fiber's own error instead.
	ErrMethodNotAllowed = errors.New("method not allowed")
	// ErrRecentSignInRequired: RequireRecentSignIn refused an API request
	// whose session's last sign-in is too old; the user must sign in
	// again (401).
	ErrRecentSignInRequired = errors.New("a recent sign-in is required, please sign in again")
	// ErrSubjectTokenInvalid: Logto refused the subject token of a token
	// exchange (invalid_grant): unknown, expired, revoked, or a single-use
	// subject token used already (400).
	ErrSubjectTokenInvalid = errors.New("the token to exchange was refused: unknown, expired or used already")
	// ErrTokenExchangeNotAllowed: Logto does not allow token exchange for
	// the app of Config.AppID: turn it on for the app in Logto
	// (customClientMetadata.allowTokenExchange) (500).
	ErrTokenExchangeNotAllowed = errors.New("token exchange is not allowed for this application")
)

// statusBySentinel is the one error-to-status table.
var statusBySentinel = []struct {
	err    error
	status int
}{
	{ErrInvalidCallback, 400},
	{ErrNoSignInUnderWay, 400},
	{ErrIssuerMismatch, 400},
	{ErrAuthorizationDenied, 400},
	{ErrInvalidGrant, 400},
	{ErrInvalidIDToken, 400},
	{ErrCrossSiteRequest, 403},
	{ErrSignInRefused, 403},
	{ErrInvalidToken, 401},
	{ErrInsufficientScope, 403},
	{ErrInvalidRequest, 400},
	{ErrNotAuthenticated, 401},
	{ErrNoToken, 401},
	{ErrMethodNotAllowed, 405},
	{ErrRecentSignInRequired, 401},
	{ErrSubjectTokenInvalid, 400},
	{ErrTokenExchangeNotAllowed, 500},
	{ErrInvalidClient, 500},
	{ErrConfig, 500},
	{ErrProviderResponse, 502},
	{ErrProviderUnavailable, 503},
	{ErrStorage, 503},
	{ErrProviderTimeout, 504},
}

// StatusOf returns the HTTP status the default error handler answers err
// with: its sentinel's (see the errors above), else 500.
func StatusOf(err error) int {
	for _, s := range statusBySentinel {
		if errors.Is(err, s.err) {
			return s.status
		}
	}
	return 500
}

// Sentinel returns the sentinel error err wraps, one of this package's
// Err variables, or nil. Its message is what the default error handler
// shows.
func Sentinel(err error) error {
	for _, s := range statusBySentinel {
		if errors.Is(err, s.err) {
			return s.err
		}
	}
	return nil
}
