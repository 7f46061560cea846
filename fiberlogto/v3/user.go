package fiberlogto

import (
	"github.com/gofiber/fiber/v3"

	"github.com/fiberlogto/sdk/internal/fiberadapter"
	"github.com/fiberlogto/sdk/logto"
)

// User returns the *logto.UserContext WithLogto stored under the default
// ContextKey "user". It never returns nil: without WithLogto, or for an
// anonymous request, it returns a context with IsAuthenticated false.
func User(c fiber.Ctx) *logto.UserContext { return fiberadapter.User(c, nil) }

// UserFrom is User for a custom Config.ContextKey.
func UserFrom(c fiber.Ctx, key string) *logto.UserContext { return fiberadapter.User(c, key) }

// SendUser answers the request with its user context as JSON: the Go
// counterpart of the tutorial's res.json(req.user), the same bytes as
// c.JSON(User(c)) without encoding/json.
func SendUser(c fiber.Ctx) error { return fiberadapter.SendUser(c, User(c)) }
