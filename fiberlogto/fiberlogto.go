// Package fiberlogto signs the users of a Fiber v2 app in with Logto, the
// open-source OpenID Connect identity server, and protects its APIs with
// Logto's access tokens: the Go counterpart of @logto/express. (For Fiber
// v3, import github.com/fiberlogto/sdk/fiberlogto/v3; for net/http,
// github.com/fiberlogto/sdk/logtohttp: the same names, on the same engine.)
//
//	import (
//		"github.com/fiberlogto/sdk/fiberlogto"
//		"github.com/fiberlogto/sdk/logto"
//	)
//
//	app.Use(fiberlogto.WithLogto(fiberlogto.Config{Config: logto.Config{
//		Endpoint:  "https://tenant.logto.app",
//		AppID:     "...",
//		AppSecret: "...",
//		BaseURL:   "http://localhost:3000",
//	}}))
//	app.Get("/protected", fiberlogto.RequireAuth(), handler)
//
// The middleware serves /logto/sign-in, /logto/sign-up,
// /logto/sign-in-callback, /logto/sign-out and /logto/backchannel-logout,
// and puts a *logto.UserContext in c.Locals("user") for every other
// request; read it with User(c). Everything but Fiber's own types is
// package logto's, documented there: the settings (logto.Config), the user
// context, the options of Fetch, SignIn and RequireAccessToken, the errors.
// This package only translates between Fiber v2 and the engine the
// adapters share.
package fiberlogto

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/fiberlogto/sdk/internal/fiberadapter"
	"github.com/fiberlogto/sdk/logto"
)

// Config is the config of the middleware and its routes: logto.Config
// (Endpoint, AppID, AppSecret, BaseURL, Storage... each documented there),
// and the hooks that take Fiber v2's *fiber.Ctx.
type Config struct {
	logto.Config

	// Next defines a function to skip this middleware when it returns
	// true. The sign-in routes are never skipped.
	//
	// Optional. Default: nil
	Next func(c *fiber.Ctx) bool

	// ErrorHandler renders every error of the routes and the middleware.
	// Errors wrap one of package logto's sentinel errors; StatusOf gives
	// the status the default handler uses.
	//
	// Optional. Default: DefaultErrorHandler
	ErrorHandler func(c *fiber.Ctx, err error) error

	// OnSignIn runs when a sign-in is about to succeed: after the ID token
	// is verified, before the session is stored, with the request and the
	// new user context (claims, Subject, IDToken). Returning an error
	// refuses the sign-in: no session is stored, the new refresh token is
	// revoked, and ErrorHandler gets an error wrapping
	// logto.ErrSignInRefused and yours (403 by default). A panic in it
	// refuses the sign-in the same way. Use it to create the app's own
	// user row, or to turn away a suspended account.
	//
	// Optional. Default: nil
	OnSignIn func(c *fiber.Ctx, user *logto.UserContext) error

	// ContextKey is the c.Locals key of the *logto.UserContext.
	//
	// Optional. Default: "user"
	ContextKey string
}

// ConfigDefault is the default config: logto.ConfigDefault, and
// ContextKey "user". ErrorHandler nil means DefaultErrorHandler.
var ConfigDefault = Config{Config: logto.ConfigDefault, ContextKey: fiberadapter.DefaultContextKey}

// Logto is the state behind the routes and the middleware: config,
// discovery, key set, HTTP client and session store, built once by New.
type Logto struct {
	core *fiberadapter.Logto[*fiber.Ctx, fiber.Handler]
	cfg  Config
}

// New checks the config and builds the middleware; a bad config is an
// error naming the field (wrapping logto.ErrConfig). It does not contact
// Logto: discovery runs in the background and on first use, so an app
// starts even while Logto is down.
func New(config Config) (*Logto, error) {
	core, err := fiberadapter.New(fiberV2, config.Config, fiberadapter.Hooks[*fiber.Ctx]{
		Next: config.Next, ErrorHandler: config.ErrorHandler, OnSignIn: config.OnSignIn, ContextKey: config.ContextKey,
	})
	if err != nil {
		return nil, err
	}
	cfg := config
	cfg.Config = core.Engine().Config()
	cfg.ContextKey = core.EffectiveHooks().ContextKey
	if cfg.ErrorHandler == nil {
		cfg.ErrorHandler = DefaultErrorHandler
	}
	return &Logto{core: core, cfg: cfg}, nil
}

// WithLogto returns the middleware for config (see Logto.Handler). Like
// Fiber's own middleware it panics on an invalid config, at startup; use
// New to get the error instead.
func WithLogto(config Config) fiber.Handler {
	l, err := New(config)
	if err != nil {
		panic(err)
	}
	return l.Handler()
}

// Handler returns the middleware: it serves the sign-in routes under
// Config.RoutesPrefix and puts a *logto.UserContext in
// c.Locals(Config.ContextKey) on every other request.
func (l *Logto) Handler() fiber.Handler { return l.core.Handler() }

// Config returns the effective config, defaults filled.
func (l *Logto) Config() Config { return l.cfg }

// RequireAccessToken protects the routes after it with Logto access
// tokens (Authorization: Bearer, RFC 6750): a request whose token passes
// opts goes on, its claims for AccessToken; any other gets 401, 403 or 400
// with WWW-Authenticate, through the error handler. It shares l's
// discovery and key set, and needs no WithLogto before it. It panics on
// invalid opts, at setup.
//
//	app.Get("/api/data", lg.RequireAccessToken(logto.AccessTokenOptions{
//		Resource: "https://api.example.com",
//		Scopes:   []string{"read:data"},
//	}), handler)
func (l *Logto) RequireAccessToken(opts logto.AccessTokenOptions) fiber.Handler {
	return l.core.RequireAccessToken(opts)
}

// ExchangeToken exchanges a token at Logto for an access token (RFC 8693
// token exchange, with the app's credentials; Logto must allow it for the
// app): an impersonation subject token, a personal access token. With
// req.SignedInUserActs the signed-in user of c is the actor, recorded in the
// issued token's act claim. It returns the token with its verified claims;
// Logto's refusals are logto.ErrSubjectTokenInvalid,
// logto.ErrTokenExchangeNotAllowed and logto.ErrConfig (an unknown resource).
//
//	tok, err := lg.ExchangeToken(c, logto.TokenExchangeRequest{
//		SubjectToken:     subjectToken, // from the Management API's POST /api/subject-tokens
//		Resource:         "https://api.example.com",
//		Scopes:           []string{"read:data"},
//		SignedInUserActs: true,
//	})
func (l *Logto) ExchangeToken(c *fiber.Ctx, req logto.TokenExchangeRequest) (*logto.ExchangedToken, error) {
	return l.core.ExchangeToken(c, req)
}

// RequireRecentSignIn protects sensitive routes after it: a session whose
// last sign-in with credentials (the ID token's auth_time) is older than
// maxAge (a session without auth_time counts as old) is sent through
// sign-in again with max_age, coming back to the page (a page request), or
// answered 401 logto.ErrRecentSignInRequired (an API request); an anonymous
// request is answered as RequireAuth does. It must run after WithLogto; it
// panics on a maxAge that is not whole seconds of at least one, at setup.
//
//	app.Get("/account/security", fiberlogto.RequireRecentSignIn(5*time.Minute), handler)
func RequireRecentSignIn(maxAge time.Duration) fiber.Handler {
	return fiberadapter.RequireRecentSignIn(fiberV2, maxAge)
}

// RequireAuth protects the routes after it: a signed-in request goes on; an
// anonymous page request is redirected to sign-in, coming back to the page
// afterwards; an anonymous API request gets 401 JSON. It must run after
// WithLogto.
func RequireAuth() fiber.Handler { return fiberadapter.RequireAuth(fiberV2) }

// Fetch returns a route middleware that adds what opts asks for to the
// request's user context, as @logto/express's per-route withLogto config
// does. It runs after WithLogto and shares its sessions and its refresh
// lock, so a route asking for more never races the others. An anonymous
// request passes untouched (guard it with RequireAuth). It panics on an
// invalid Resource, at setup.
func Fetch(opts logto.FetchOptions) fiber.Handler { return fiberadapter.Fetch(fiberV2, opts) }

// SignIn returns a handler that starts a sign-in with fixed options, for a
// route of the app's own: a sign-up button, "continue with Google"
// (DirectSignIn), a known email (LoginHint). Only returnTo is read from the
// request; /logto/sign-in itself takes first_screen, login_hint,
// direct_sign_in and identifier from its query, checked against what Logto
// accepts. It must run after WithLogto; it panics on invalid options, at
// setup.
//
//	app.Get("/join", fiberlogto.SignIn(logto.SignInOptions{FirstScreen: "register"}))
func SignIn(opts logto.SignInOptions) fiber.Handler { return fiberadapter.SignIn(fiberV2, opts) }

// User returns the *logto.UserContext WithLogto stored under the default
// ContextKey "user". It never returns nil: without WithLogto, or for an
// anonymous request, it returns a context with IsAuthenticated false. It
// is read-only: a signed-in user's context may be shared with the other
// requests of the same session, an anonymous one with every anonymous
// request. Read it; copy it to change it.
func User(c *fiber.Ctx) *logto.UserContext { return fiberadapter.User(c, nil) }

// UserFrom is User for a custom Config.ContextKey.
func UserFrom(c *fiber.Ctx, key string) *logto.UserContext { return fiberadapter.User(c, key) }

// SendUser answers the request with its user context as JSON: the Go
// counterpart of the tutorial's res.json(req.user), the same bytes as
// c.JSON(User(c)) without encoding/json.
func SendUser(c *fiber.Ctx) error { return fiberadapter.SendUser(c, User(c)) }

// AccessToken returns the claims of the access token RequireAccessToken
// verified for the request: nil when it did not run.
func AccessToken(c *fiber.Ctx) *logto.AccessTokenClaims { return fiberadapter.AccessToken(c) }

// StatusOf returns the HTTP status the default error handler answers err
// with: its logto sentinel's, a *fiber.Error's code, else 500.
func StatusOf(err error) int { return fiberadapter.StatusOf(fiberV2, err) }

// DefaultErrorHandler answers JSON to API clients and a small HTML page to
// browsers, with the sentinel's message only, escaped, and not cacheable.
func DefaultErrorHandler(c *fiber.Ctx, err error) error {
	return fiberadapter.DefaultErrorHandler(fiberV2, c, err)
}

// fiberV2 is what the Fiber layer needs to know of Fiber v2.
var fiberV2 = fiberadapter.Framework[*fiber.Ctx, fiber.Handler]{
	Context:          (*fiber.Ctx).UserContext,
	FiberError:       fiberadapter.FiberErrorReader(func(e *fiber.Error) (int, string) { return e.Code, e.Message }),
	MethodNotAllowed: fiber.ErrMethodNotAllowed,
	SetLocal:         func(c *fiber.Ctx, key, value any) { c.Locals(key, value) },
}
