package fiberlogto

import (
	"github.com/gofiber/fiber/v3"

	"github.com/fiberlogto/sdk/internal/engine"
)

// Config defines the config for the middleware and its routes: the fields
// of the Fiber v2 adapter's Config, with Next and ErrorHandler taking v3's
// fiber.Ctx and Storage v3's fiber.Storage. Required: Endpoint (the Logto
// endpoint; the issuer is Endpoint + "/oidc"), AppID and AppSecret (a
// "Traditional web" application in Logto) and BaseURL (this app's public
// origin, scheme://host[:port]). Everything else is optional, with the
// defaults of ConfigDefault; each field's own documentation says what it
// does, and README's Config table lists them all.
type Config = engine.Config[fiber.Ctx, fiber.Storage]

// ConfigDefault is the default config. Endpoint, AppID, AppSecret and BaseURL
// have no default; Storage defaults to an in-memory storage and
// ErrorHandler to DefaultErrorHandler.
var ConfigDefault = engine.ConfigDefault[fiber.Ctx, fiber.Storage]()
