// Package fiberlogto signs the users of a Fiber v3 app in with Logto, the
// open-source OpenID Connect identity server: the Go counterpart of
// @logto/express. It has the names of the Fiber v2 adapter
// (github.com/fiberlogto/sdk/fiberlogto) and runs on the same engine; the
// vocabulary they share (UserContext, FetchOptions, the sentinel errors,
// the scopes) is package github.com/fiberlogto/sdk/logto.
//
//	import (
//		"github.com/fiberlogto/sdk/fiberlogto/v3"
//		"github.com/fiberlogto/sdk/logto"
//	)
//
//	app.Use(fiberlogto.WithLogto(fiberlogto.Config{
//		Endpoint:  "https://tenant.logto.app",
//		AppID:     "...",
//		AppSecret: "...",
//		BaseURL:   "http://localhost:3000",
//	}))
//	app.Get("/protected", fiberlogto.RequireAuth(), handler)
//
// The handler serves /logto/sign-in, /logto/sign-up, /logto/sign-in-callback,
// /logto/sign-out and /logto/backchannel-logout, and puts a
// *logto.UserContext in c.Locals("user") for every other request; read it
// with User(c).
package fiberlogto

import (
	"github.com/gofiber/fiber/v3"

	"github.com/fiberlogto/sdk/internal/fiberadapter"
)

// Logto is the shared state behind the routes and the middleware: config,
// provider (discovery, key set, HTTP client) and session store, built once
// by New. Its methods: Handler returns the middleware (see WithLogto);
// RequireAccessToken(logto.AccessTokenOptions) protects API routes with
// Logto access tokens (Authorization: Bearer), on the same discovery and
// key set, and panics on invalid options at setup; Config returns the
// effective config, defaults filled.
type Logto = fiberadapter.Logto[fiber.Ctx, fiber.Storage, fiber.Handler]

// New checks the config and builds the shared state; a bad config is an
// error naming the field (wrapping logto.ErrConfig). It does not contact
// Logto: discovery runs in the background and on first use, so an app
// starts even while Logto is down.
func New(config Config) (*Logto, error) { return fiberadapter.New(fiberV3, config) }

// WithLogto returns the middleware for config: it serves the sign-in routes
// under Config.RoutesPrefix and fills c.Locals(Config.ContextKey) with a
// *logto.UserContext on every other request. Like Fiber's own middleware it
// panics on an invalid config, at startup; use New to get the error instead.
func WithLogto(config Config) fiber.Handler { return fiberadapter.WithLogto(fiberV3, config) }

// fiberV3 is what the engine's Fiber side needs to know of Fiber v3.
var fiberV3 = fiberadapter.Framework[fiber.Ctx, fiber.Handler]{
	Context:          fiber.Ctx.Context,
	FiberError:       fiberadapter.FiberErrorReader(func(e *fiber.Error) (int, string) { return e.Code, e.Message }),
	MethodNotAllowed: fiber.ErrMethodNotAllowed,
	// What v3's own Locals does (DefaultReq.Locals), without its variadic
	// argument, which escapes through the fiber.Ctx interface: 2
	// allocations per request.
	SetLocal: func(c fiber.Ctx, key, value any) { c.RequestCtx().SetUserValue(key, value) },
}
