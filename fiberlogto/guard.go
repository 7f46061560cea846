package fiberlogto

import (
	"net/url"

	"github.com/gofiber/fiber/v2"
)

// RequireAuth protects the routes after it: a signed-in request goes on; an
// anonymous page request is redirected to sign-in, coming back to the page
// afterwards; an anonymous API request gets 401 JSON. It must run after
// WithLogto.
func RequireAuth() fiber.Handler {
	return func(c *fiber.Ctx) error {
		l, _ := c.Locals(localsKey).(*Logto)
		if l == nil {
			return DefaultErrorHandler(c, ErrNotAuthenticated)
		}
		if userAt(c, l.userKey).IsAuthenticated {
			// A Fetch after this guard that signs the user out (the
			// grant was revoked) answers as the guard would.
			c.Locals(authRequiredKey, true)
			return c.Next()
		}
		return l.denyAnonymous(c)
	}
}

// authRequiredKey marks a request that passed RequireAuth.
const authRequiredKey = "fiberlogto.auth-required"

// denyAnonymous answers a request that needs a signed-in user: a page is
// redirected to sign-in, coming back to it afterwards; an API gets 401.
func (l *Logto) denyAnonymous(c *fiber.Ctx) error {
	if isPageRequest(c) && c.Method() == fiber.MethodGet {
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.Redirect(l.cfg.RoutesPrefix+"/sign-in?returnTo="+url.QueryEscape(c.OriginalURL()), fiber.StatusFound)
	}
	c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="`+l.cfg.BaseURL+`"`)
	return l.cfg.ErrorHandler(c, ErrNotAuthenticated)
}
