package fiberlogto

import (
	"errors"
	"html"

	"github.com/gofiber/fiber/v2"
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
	// ErrNoToken: an access or organization token was asked for but the session cannot give one.
	ErrNoToken = errors.New("no access token available, please sign in again")
)

var statusBySentinel = []struct {
	err    error
	status int
}{
	{ErrInvalidCallback, fiber.StatusBadRequest},
	{ErrIssuerMismatch, fiber.StatusBadRequest},
	{ErrAuthorizationDenied, fiber.StatusBadRequest},
	{ErrInvalidGrant, fiber.StatusBadRequest},
	{ErrInvalidIDToken, fiber.StatusBadRequest},
	{ErrCrossSiteRequest, fiber.StatusForbidden},
	{ErrNotAuthenticated, fiber.StatusUnauthorized},
	{ErrNoToken, fiber.StatusUnauthorized},
	{ErrInvalidClient, fiber.StatusInternalServerError},
	{ErrConfig, fiber.StatusInternalServerError},
	{ErrProviderResponse, fiber.StatusBadGateway},
	{ErrProviderUnavailable, fiber.StatusServiceUnavailable},
	{ErrStorage, fiber.StatusServiceUnavailable},
	{ErrProviderTimeout, fiber.StatusGatewayTimeout},
}

// StatusOf returns the HTTP status the default error handler answers err with.
func StatusOf(err error) int {
	for _, s := range statusBySentinel {
		if errors.Is(err, s.err) {
			return s.status
		}
	}
	var fe *fiber.Error
	if errors.As(err, &fe) {
		return fe.Code
	}
	return fiber.StatusInternalServerError
}

// publicMessage is the text shown to the user: the sentinel's own, never
// the wrapped details.
func publicMessage(err error) string {
	for _, s := range statusBySentinel {
		if errors.Is(err, s.err) {
			return s.err.Error()
		}
	}
	var fe *fiber.Error
	if errors.As(err, &fe) && fe.Code < fiber.StatusInternalServerError {
		return fe.Message
	}
	return "internal error"
}

// DefaultErrorHandler answers JSON to API clients and a small HTML page to
// browsers, with the sentinel's message only, escaped, and not cacheable.
func DefaultErrorHandler(c *fiber.Ctx, err error) error {
	status := StatusOf(err)
	msg := publicMessage(err)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Status(status)
	if !isPageRequest(c) {
		return c.JSON(fiber.Map{"error": msg})
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.SendString("<!doctype html><title>" + html.EscapeString(msg) + "</title><p>" + html.EscapeString(msg) + "</p>")
}
