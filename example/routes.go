package main

import (
	"html"
	"net"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/fiberlogto/sdk/fiberlogto"
)

// registerRoutes adds the tutorial's pages, after app.Use(logto.Handler()).
// The routes that want more than the claims ask for it with
// fiberlogto.Fetch, as the tutorial's per-route withLogto config does.
func registerRoutes(app *fiber.App, cfg appConfig) {
	app.Get("/", home)

	// The user context as @logto/express's req.user: isAuthenticated, claims.
	// SendUser writes the same JSON as c.JSON(fiberlogto.User(c)), without
	// encoding/json's reflection and re-scan of the claims.
	app.Get("/user", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "no-store")
		return fiberlogto.SendUser(c)
	})

	// The same with Logto's userinfo answer (FetchUserInfo on this route only).
	app.Get("/user/info", fiberlogto.Fetch(fiberlogto.FetchOptions{UserInfo: true}), func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.JSON(fiberlogto.User(c))
	})

	// Signed-in users only: browsers are sent to sign in, API clients get 401.
	app.Get("/protected", fiberlogto.RequireAuth(), func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.SendString("protected resource")
	})

	// Organization tokens, for the organizations of the user (or
	// LOGTO_ORGANIZATION_ID); they need the organizations scope.
	app.Get("/organization-token", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "no-store")
		if !hasScope(cfg.Scopes, fiberlogto.ScopeOrganizations) {
			return c.Status(fiber.StatusBadRequest).JSON(fiber.Map{
				"error": "add " + fiberlogto.ScopeOrganizations + " to LOGTO_SCOPES for organization tokens",
			})
		}
		return c.Next()
	}, fiberlogto.RequireAuth(),
		fiberlogto.Fetch(fiberlogto.FetchOptions{OrganizationTokens: true, OrganizationID: cfg.OrganizationID}),
		func(c *fiber.Ctx) error {
			tokens := fiberlogto.User(c).OrganizationTokens
			if tokens == nil {
				tokens = map[string]string{}
			}
			return c.JSON(fiber.Map{"organizationTokens": tokens})
		})

	// An access token for the API resource LOGTO_RESOURCE.
	if cfg.Resource == "" {
		app.Get("/access-token", func(c *fiber.Ctx) error {
			c.Set(fiber.HeaderCacheControl, "no-store")
			return c.Status(fiber.StatusBadRequest).JSON(fiber.Map{
				"error": "no API resource configured: set LOGTO_RESOURCE to an API identifier registered in Logto",
			})
		})
		return
	}
	app.Get("/access-token", fiberlogto.RequireAuth(),
		fiberlogto.Fetch(fiberlogto.FetchOptions{AccessToken: true, Resource: cfg.Resource}), func(c *fiber.Ctx) error {
			c.Set(fiber.HeaderCacheControl, "no-store")
			user := fiberlogto.User(c)
			scopes := user.Scopes
			if scopes == nil {
				scopes = []string{}
			}
			return c.JSON(fiber.Map{"accessToken": user.AccessToken, "scopes": scopes})
		})
}

// home is the tutorial's page: a sign-in link, or a greeting and a
// sign-out link.
func home(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Type("html", "utf-8")
	user := fiberlogto.User(c)
	var b strings.Builder
	b.WriteString("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>fiberlogto example</title></head><body>\n")
	if !user.IsAuthenticated {
		b.WriteString(`<p><a href="/logto/sign-in">Sign In</a></p>`)
	} else {
		b.WriteString("<p>Hello, " + html.EscapeString(displayName(user)) + "</p>\n")
		b.WriteString(`<ul><li><a href="/user">/user</a></li><li><a href="/user/info">/user/info</a></li>` +
			`<li><a href="/protected">/protected</a></li><li><a href="/access-token">/access-token</a></li></ul>` + "\n")
		b.WriteString(`<p><a href="/logto/sign-out">Sign Out</a></p>`)
	}
	b.WriteString("\n</body></html>\n")
	return c.SendString(b.String())
}

// displayName is the name claim, else the username, else the subject.
func displayName(user *fiberlogto.UserContext) string {
	claims := user.IDTokenClaims()
	if claims == nil {
		return user.Subject()
	}
	if claims.Name != nil && strings.TrimSpace(*claims.Name) != "" {
		return *claims.Name
	}
	if claims.Username != nil && *claims.Username != "" {
		return *claims.Username
	}
	return claims.Subject
}

// loopbackAliasRedirect sends a GET for this app on another loopback name
// (http://127.0.0.1:3000 when BASE_URL is http://localhost:3000, or the
// reverse) to BASE_URL. Browsers keep cookies per host name, so a sign-in
// started on one name and finished on BASE_URL's would fail the check that
// binds it to the browser. It returns nil unless BASE_URL is on a loopback
// name without a path: behind a proxy, where Host may be anything, it does
// nothing.
func loopbackAliasRedirect(baseURL string) fiber.Handler {
	u, err := url.Parse(baseURL)
	if err != nil || !isLoopbackHost(u.Hostname()) || strings.Trim(u.Path, "/") != "" {
		return nil
	}
	baseHost, basePort := u.Hostname(), portOf(u.Scheme, u.Port())
	return func(c *fiber.Ctx) error {
		if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
			return c.Next()
		}
		// The Host header itself: c.Hostname() would trust X-Forwarded-Host.
		host, port := splitHost(string(c.Request().Host()), u.Scheme)
		if host == "" || strings.EqualFold(host, baseHost) || port != basePort || !isLoopbackHost(host) {
			return c.Next()
		}
		c.Set(fiber.HeaderCacheControl, "no-store")
		// Path and query only, whatever form the request line had.
		return c.Redirect(baseURL+string(c.Request().URI().RequestURI()), fiber.StatusFound)
	}
}

// splitHost splits a Host header into host name (without brackets) and port,
// the scheme's default port when there is none.
func splitHost(hostport, scheme string) (host, port string) {
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		return h, p
	}
	return strings.Trim(hostport, "[]"), portOf(scheme, "")
}

func portOf(scheme, port string) string {
	if port != "" {
		return port
	}
	if scheme == "https" {
		return "443"
	}
	return "80"
}

func hasScope(scopes []string, s string) bool {
	for _, v := range scopes {
		if v == s {
			return true
		}
	}
	return false
}
