package engine

import (
	"errors"
	"html"
)

// Sentinel errors. Every error the routes and the middleware hand to
// Config.ErrorHandler wraps exactly one of them, so a handler can switch on
// errors.Is and StatusOf without parsing messages. Details (the provider's
// answer, the failing claim) are in the wrapped text, which the default
// handler never shows: it may hold token material or attacker input.
var (
	// ErrConfig: the Config is invalid. Returned by New; WithLogto panics with it.
	ErrConfig = errors.New("fiberlogto: invalid config")

	// ErrInvalidCallback: the callback lacks code or state, or its state is
	// unknown, used, expired or from another browser.
	ErrInvalidCallback = errors.New("the sign-in link is invalid or has expired, please sign in again")
	// ErrNoSignInUnderWay: the callback came to a browser with no sign-in
	// under way: started in another browser, or on another host name than
	// BaseURL's (the browser keeps cookies per host name).
	ErrNoSignInUnderWay = errors.New("no sign-in is under way in this browser on this site, please sign in again from the start")
	// ErrIssuerMismatch: the callback's iss is missing or not Logto's (RFC 9207).
	ErrIssuerMismatch = errors.New("the sign-in response did not come from the expected issuer")
	// ErrAuthorizationDenied: Logto redirected back with an error (access_denied, login_required...).
	ErrAuthorizationDenied = errors.New("sign-in was not completed")
	// ErrInvalidGrant: Logto refused the code or refresh token; the user must sign in again.
	ErrInvalidGrant = errors.New("the sign-in has expired, please sign in again")
	// ErrInvalidIDToken: the ID token failed verification (signature, iss, aud, exp, iat, nonce, sub).
	ErrInvalidIDToken = errors.New("the identity token could not be verified")
	// ErrInvalidClient: Logto refused the app's credentials: AppID or AppSecret is wrong.
	ErrInvalidClient = errors.New("the application is misconfigured")
	// ErrProviderResponse: Logto answered with something that is not a valid token response.
	ErrProviderResponse = errors.New("the identity provider sent an invalid response")
	// ErrProviderUnavailable: Logto cannot be reached (discovery failed, 5xx).
	ErrProviderUnavailable = errors.New("the identity provider is unavailable, please try again later")
	// ErrProviderTimeout: a call to Logto took longer than Config.HTTPTimeout.
	ErrProviderTimeout = errors.New("the identity provider did not answer in time")
	// ErrStorage: the session storage failed; nothing half-written is kept.
	ErrStorage = errors.New("the session could not be stored, please try again later")
	// ErrCrossSiteRequest: a sign-out (or another state-changing route) came from another site.
	ErrCrossSiteRequest = errors.New("cross-site request refused")
	// ErrNotAuthenticated: RequireAuth refused an anonymous API request.
	ErrNotAuthenticated = errors.New("authentication required")
	// ErrSignInRefused: Config.OnSignIn turned the sign-in away.
	ErrSignInRefused = errors.New("sign-in was refused")
	// ErrNoToken: an access or organization token was asked for but the session cannot give one.
	ErrNoToken = errors.New("no access token available, please sign in again")
)

// ErrHookPanicked: Config.OnSignIn panicked; the adapter recovered it and
// the sign-in is refused.
var ErrHookPanicked = errors.New("OnSignIn panicked")

var statusBySentinel = []struct {
	err    error
	status int
}{
	{ErrInvalidCallback, StatusBadRequest},
	{ErrNoSignInUnderWay, StatusBadRequest},
	{ErrIssuerMismatch, StatusBadRequest},
	{ErrAuthorizationDenied, StatusBadRequest},
	{ErrInvalidGrant, StatusBadRequest},
	{ErrInvalidIDToken, StatusBadRequest},
	{ErrCrossSiteRequest, StatusForbidden},
	{ErrSignInRefused, StatusForbidden},
	{ErrInvalidToken, StatusUnauthorized},
	{ErrInsufficientScope, StatusForbidden},
	{ErrInvalidRequest, StatusBadRequest},
	{ErrNotAuthenticated, StatusUnauthorized},
	{ErrNoToken, StatusUnauthorized},
	{ErrInvalidClient, StatusInternalServerError},
	{ErrConfig, StatusInternalServerError},
	{ErrProviderResponse, StatusBadGateway},
	{ErrProviderUnavailable, StatusServiceUnavailable},
	{ErrStorage, StatusServiceUnavailable},
	{ErrProviderTimeout, StatusGatewayTimeout},
}

// HTTP statuses of the table, without importing net/http's names for them.
const (
	StatusBadRequest          = 400
	StatusUnauthorized        = 401
	StatusForbidden           = 403
	StatusMethodNotAllowed    = 405
	StatusInternalServerError = 500
	StatusBadGateway          = 502
	StatusServiceUnavailable  = 503
	StatusGatewayTimeout      = 504
)

// StatusOf returns the HTTP status the default error handler answers err
// with, and whether err wraps one of the sentinels (else 500).
func StatusOf(err error) (int, bool) {
	for _, s := range statusBySentinel {
		if errors.Is(err, s.err) {
			return s.status, true
		}
	}
	if errors.Is(err, ErrMethodNotAllowed) {
		return StatusMethodNotAllowed, true
	}
	return StatusInternalServerError, false
}

// PublicMessage is the text shown to the user for err: the sentinel's own,
// never the wrapped details ("" when err wraps none).
func PublicMessage(err error) string {
	for _, s := range statusBySentinel {
		if errors.Is(err, s.err) {
			return s.err.Error()
		}
	}
	return ""
}

// ErrorPage is the default error handler's page for browsers: the message
// only, escaped.
func ErrorPage(msg string) string {
	return "<!doctype html><title>" + html.EscapeString(msg) + "</title><p>" + html.EscapeString(msg) + "</p>"
}

// ErrorJSON is the default error handler's body for API clients:
// {"error": msg}.
func ErrorJSON(msg string) []byte {
	return append(appendJSONString([]byte(`{"error":`), msg), '}')
}
