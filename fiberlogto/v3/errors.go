package fiberlogto

import (
	"github.com/gofiber/fiber/v3"

	"github.com/fiberlogto/sdk/internal/fiberadapter"
)

// StatusOf returns the HTTP status the default error handler answers err
// with: the sentinel's (see package logto), a *fiber.Error's code, else 500.
func StatusOf(err error) int { return fiberadapter.StatusOf(fiberV3, err) }

// DefaultErrorHandler answers JSON to API clients and a small HTML page to
// browsers, with the sentinel's message only, escaped, and not cacheable.
func DefaultErrorHandler(c fiber.Ctx, err error) error {
	return fiberadapter.DefaultErrorHandler(fiberV3, c, err)
}
