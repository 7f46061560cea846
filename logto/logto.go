// Package logto is fiberlogto's vocabulary, shared by the adapters for
// Fiber v2 (package github.com/fiberlogto/sdk/fiberlogto) and Fiber v3
// (github.com/fiberlogto/sdk/fiberlogto/v3): the user context a request
// carries, what a route can ask for beyond it, Logto's sign-in options, the
// sentinel errors every failure wraps, and the scopes Logto reserves. It
// imports no web framework.
//
// A Fiber v3 app uses it next to its adapter:
//
//	app.Get("/user/info", fiberlogto.Fetch(logto.FetchOptions{UserInfo: true}), handler)
//	if errors.Is(err, logto.ErrNotAuthenticated) { ... }
//
// The Fiber v2 adapter keeps these names of its own too (fiberlogto.UserContext
// is logto.UserContext), as it had them before the v3 adapter existed.
package logto

import "github.com/fiberlogto/sdk/internal/engine"

type (
	// UserContext is what the middleware puts in Locals: the Go
	// counterpart of @logto/express's LogtoContext, with the same JSON
	// field names, so a front end written against an Express backend reads
	// it unchanged. Its fields: IsAuthenticated; Claims (the verified ID
	// token's claims as Logto sent them: RawClaims); UserInfo (with
	// FetchUserInfo); AccessToken and Scopes (with GetAccessToken);
	// OrganizationTokens (with GetOrganizationToken). Its methods:
	// IDTokenClaims decodes the claims, Subject and IDToken return the
	// session's, AppendJSON writes its JSON without encoding/json.
	UserContext = engine.UserContext
	// RawClaims is a JSON object kept as Logto sent it; it marshals as
	// itself. Decode unmarshals it into a struct of your own.
	RawClaims = engine.RawClaims
	// IDTokenClaims are the claims Logto puts in an ID token, by scope.
	IDTokenClaims = engine.IDTokenClaims
	// FetchOptions ask for more than the claims, on one route (the
	// adapters' Fetch) or, through Config, on every request: an access
	// token (for a Resource), organization tokens, Logto's userinfo.
	FetchOptions = engine.FetchOptions
	// SignInOptions are Logto's extra sign-in parameters (first screen,
	// identifiers, login hint, direct sign-in, extra parameters).
	SignInOptions = engine.SignInOptions
	// DirectSignIn sends the user straight to a social or SSO connector.
	DirectSignIn = engine.DirectSignIn
	// AccessTokenOptions say what a route protected by an adapter's
	// (*Logto).RequireAccessToken accepts, in Logto's three permission
	// models: an API resource (Resource), organization permissions
	// (OrganizationParam or OrganizationID, no Resource), an
	// organization-level API resource (both); Scopes to require; Callers
	// (users', machine-to-machine apps', or both).
	AccessTokenOptions = engine.AccessTokenOptions
	// AccessTokenClaims are a verified access token's claims: Subject,
	// ClientID, Audience, Scopes (HasScope), OrganizationID, Machine (a
	// machine-to-machine token: sub is the app's ID), times, and Raw.
	AccessTokenClaims = engine.AccessTokenClaims
	// Callers says whose access tokens a route accepts.
	Callers = engine.Callers
	// Leaser is implemented by a session storage that can grant a short
	// exclusive lease atomically; with one, every read-modify-write of a
	// session (refresh, touch, sign-out), of a back-channel logout index
	// and of a callback's claim is serialised across instances. All of
	// package storage's backends implement it.
	Leaser = engine.Leaser
)

// Sentinel errors. Every error the routes and the middleware hand to the
// error handler wraps exactly one of them, so a handler can switch on
// errors.Is and StatusOf without parsing messages. Details (the provider's
// answer, the failing claim) are in the wrapped text, which the default
// handler never shows: it may hold token material or attacker input.
var (
	// ErrConfig: the Config is invalid (500 if seen at run time).
	ErrConfig = engine.ErrConfig
	// ErrInvalidCallback: the callback lacks code or state, or its state is
	// unknown, used, expired or from another browser (400).
	ErrInvalidCallback = engine.ErrInvalidCallback
	// ErrNoSignInUnderWay: the callback reached a browser with no sign-in
	// under way, started in another browser or on another host name than
	// BaseURL's (400).
	ErrNoSignInUnderWay = engine.ErrNoSignInUnderWay
	// ErrIssuerMismatch: the callback's iss is missing or not Logto's (400).
	ErrIssuerMismatch = engine.ErrIssuerMismatch
	// ErrAuthorizationDenied: Logto redirected back with an error (400).
	ErrAuthorizationDenied = engine.ErrAuthorizationDenied
	// ErrInvalidGrant: Logto refused the code or refresh token (400).
	ErrInvalidGrant = engine.ErrInvalidGrant
	// ErrInvalidIDToken: the ID token failed verification (400).
	ErrInvalidIDToken = engine.ErrInvalidIDToken
	// ErrInvalidClient: Logto refused AppID or AppSecret (500).
	ErrInvalidClient = engine.ErrInvalidClient
	// ErrProviderResponse: Logto's answer is not a valid one (502).
	ErrProviderResponse = engine.ErrProviderResponse
	// ErrProviderUnavailable: Logto cannot be reached (503).
	ErrProviderUnavailable = engine.ErrProviderUnavailable
	// ErrProviderTimeout: a call to Logto took longer than HTTPTimeout (504).
	ErrProviderTimeout = engine.ErrProviderTimeout
	// ErrStorage: the session storage failed; nothing half-written is kept (503).
	ErrStorage = engine.ErrStorage
	// ErrCrossSiteRequest: a sign-out came from another site (403).
	ErrCrossSiteRequest = engine.ErrCrossSiteRequest
	// ErrNotAuthenticated: RequireAuth refused an anonymous API request (401).
	ErrNotAuthenticated = engine.ErrNotAuthenticated
	// ErrNoToken: an access or organization token was asked for but the
	// session cannot give one (401).
	ErrNoToken = engine.ErrNoToken
	// ErrSignInRefused: Config.OnSignIn turned the sign-in away (403); the
	// error also wraps the hook's own.
	ErrSignInRefused = engine.ErrSignInRefused
	// ErrInvalidToken: a bearer access token is malformed, expired, not
	// Logto's, or not for this route (401, WWW-Authenticate error="invalid_token").
	ErrInvalidToken = engine.ErrInvalidToken
	// ErrInsufficientScope: a bearer access token lacks a scope the route
	// needs (403, WWW-Authenticate error="insufficient_scope").
	ErrInsufficientScope = engine.ErrInsufficientScope
	// ErrInvalidRequest: malformed credentials, e.g. two Authorization
	// headers (400).
	ErrInvalidRequest = engine.ErrInvalidRequest
)

// Whose access tokens a route accepts (AccessTokenOptions.Callers).
const (
	// Users: tokens Logto issued to a user (the default).
	Users = engine.Users
	// UsersAndMachines: users' and machine-to-machine apps' tokens.
	UsersAndMachines = engine.UsersAndMachines
	// Machines: only machine-to-machine apps' tokens (client credentials).
	Machines = engine.Machines
)

// StatusOf returns the HTTP status the default error handler answers err
// with: the sentinel's (see the errors above), else 500. The adapters'
// StatusOf also read Fiber's own *fiber.Error.
func StatusOf(err error) int {
	status, _ := engine.StatusOf(err)
	return status
}

// Reserved scopes and resources Logto needs for the features fiberlogto offers.
const (
	ScopeOpenID        = engine.ScopeOpenID
	ScopeOfflineAccess = engine.ScopeOfflineAccess
	ScopeProfile       = engine.ScopeProfile
	ScopeEmail         = engine.ScopeEmail
	ScopePhone         = engine.ScopePhone
	ScopeRoles         = engine.ScopeRoles
	ScopeCustomData    = engine.ScopeCustomData
	ScopeIdentities    = engine.ScopeIdentities
	// ScopeOrganizations asks for the organizations claim and organization tokens.
	ScopeOrganizations     = engine.ScopeOrganizations
	ScopeOrganizationRoles = engine.ScopeOrganizationRoles
	// ResourceOrganizations is the resource organization tokens are issued for.
	ResourceOrganizations = engine.ResourceOrganizations
)
