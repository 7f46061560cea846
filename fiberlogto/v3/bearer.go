package fiberlogto

import (
	"github.com/gofiber/fiber/v3"

	"github.com/fiberlogto/sdk/internal/fiberadapter"
	"github.com/fiberlogto/sdk/logto"
)

// AccessToken returns the claims of the access token (*Logto).RequireAccessToken
// verified for the request: nil when it did not run.
func AccessToken(c fiber.Ctx) *logto.AccessTokenClaims { return fiberadapter.AccessToken(c) }
