package fiberlogto

import (
	"github.com/gofiber/fiber/v3"

	"github.com/fiberlogto/sdk/internal/fiberadapter"
	"github.com/fiberlogto/sdk/logto"
)

// RequireAuth protects the routes after it: a signed-in request goes on; an
// anonymous page request is redirected to sign-in, coming back to the page
// afterwards; an anonymous API request gets 401 JSON. It must run after
// WithLogto.
func RequireAuth() fiber.Handler { return fiberadapter.RequireAuth(fiberV3) }

// Fetch returns a route middleware that adds what opts asks for to the
// request's UserContext, as @logto/express's per-route withLogto config
// does. It runs after WithLogto and shares its sessions and its refresh
// lock, so a route asking for more never races the others. An anonymous
// request passes untouched (guard it with RequireAuth). It panics on an
// invalid Resource, at startup.
func Fetch(opts logto.FetchOptions) fiber.Handler { return fiberadapter.Fetch(fiberV3, opts) }
