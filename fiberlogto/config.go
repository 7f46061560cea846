package fiberlogto

import (
	"github.com/gofiber/fiber/v2"

	"github.com/fiberlogto/sdk/internal/engine"
)

// Config defines the config for the middleware and its routes. Required:
// Endpoint (the Logto endpoint; the issuer is Endpoint + "/oidc"), AppID
// and AppSecret (a "Traditional web" application in Logto) and BaseURL (this
// app's public origin, scheme://host[:port]). Everything else is optional,
// with the defaults of ConfigDefault: Scopes and Resources to request,
// Prompt ("consent"), FetchUserInfo, GetAccessToken with Resource,
// GetOrganizationToken with OrganizationID, RoutesPrefix ("/logto"),
// SignInOptions, Storage (in memory), CookieName ("fiberlogto_session") and
// CookieDomain, AbsoluteTimeout (14 days) and IdleTimeout (24 h),
// EncryptionKey, HTTPClient and HTTPTimeout (10 s), DiscoveryRetryInterval
// (5 s), ClockSkew (60 s), ErrorHandler (DefaultErrorHandler), ContextKey
// ("user"), PostLogoutRedirectURI (BaseURL) and Next. Each field's own
// documentation says what it does; README's Config table lists them all.
type Config = engine.Config[*fiber.Ctx, fiber.Storage]

// ConfigDefault is the default config. Endpoint, AppID, AppSecret and BaseURL
// have no default; Storage defaults to an in-memory storage and
// ErrorHandler to DefaultErrorHandler.
var ConfigDefault = engine.ConfigDefault[*fiber.Ctx, fiber.Storage]()
