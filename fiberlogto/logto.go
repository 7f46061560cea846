// Package fiberlogto signs the users of a Fiber v2 app in with Logto, the
// open-source OpenID Connect identity server: the Go counterpart of
// @logto/express. (For Fiber v3, import github.com/fiberlogto/sdk/fiberlogto/v3:
// the same names, on the same engine.)
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
// /logto/sign-out and /logto/backchannel-logout, and puts a *UserContext in
// c.Locals("user") for every other request; read it with User(c).
//
// This package only translates between Fiber v2 and fiberlogto's engine,
// which holds everything else and is shared with the v3 adapter.
package fiberlogto

import (
	"github.com/gofiber/fiber/v2"

	"github.com/fiberlogto/sdk/internal/fiberadapter"
)

// Logto is the shared state behind the routes and the middleware: config,
// provider (discovery, key set, HTTP client) and session store, built once
// by New. Its methods: Handler returns the middleware (see WithLogto);
// RequireAccessToken(logto.AccessTokenOptions) protects API routes with
// Logto access tokens (Authorization: Bearer), on the same discovery and
// key set, and panics on invalid options at setup; Config returns the
// effective config, defaults filled.
type Logto = fiberadapter.Logto[*fiber.Ctx, fiber.Storage, fiber.Handler]

// New checks the config and builds the shared state; a bad config is an
// error naming the field (wrapping ErrConfig). It does not contact Logto:
// discovery runs in the background and on first use, so an app starts even
// while Logto is down.
func New(config Config) (*Logto, error) { return fiberadapter.New(fiberV2, config) }

// WithLogto returns the middleware for config: it serves the sign-in routes
// under Config.RoutesPrefix and fills c.Locals(Config.ContextKey) with a
// *UserContext on every other request. Like Fiber's own middleware it
// panics on an invalid config, at startup; use New to get the error instead.
func WithLogto(config Config) fiber.Handler { return fiberadapter.WithLogto(fiberV2, config) }

// fiberV2 is what the engine's Fiber side needs to know of Fiber v2.
var fiberV2 = fiberadapter.Framework[*fiber.Ctx, fiber.Handler]{
	Context:          (*fiber.Ctx).UserContext,
	FiberError:       fiberadapter.FiberErrorReader(func(e *fiber.Error) (int, string) { return e.Code, e.Message }),
	MethodNotAllowed: fiber.ErrMethodNotAllowed,
	SetLocal:         func(c *fiber.Ctx, key, value any) { c.Locals(key, value) },
}
