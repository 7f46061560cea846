package main

import (
	"slices"

	"github.com/gofiber/fiber/v2"

	"github.com/fiberlogto/sdk/example/internal/tutorial"
	"github.com/fiberlogto/sdk/fiberlogto"
	"github.com/fiberlogto/sdk/logto"
)

// registerRoutes adds the tutorial's pages, after app.Use(logto.Handler()).
// The routes that want more than the claims ask for it with
// fiberlogto.Fetch, as the tutorial's per-route withLogto config does.
func registerRoutes(app *fiber.App, cfg tutorial.Config, lg *fiberlogto.Logto) {
	// A sign-in link, or a greeting and a sign-out link.
	app.Get("/", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "no-store")
		c.Type("html", "utf-8")
		return c.SendString(tutorial.HomePage(fiberlogto.User(c)))
	})

	// The user context as @logto/express's req.user: isAuthenticated, claims.
	// SendUser writes the same JSON as c.JSON(fiberlogto.User(c)), without
	// encoding/json's reflection and re-scan of the claims.
	app.Get("/user", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "no-store")
		return fiberlogto.SendUser(c)
	})

	// The same with Logto's userinfo answer (FetchUserInfo on this route only).
	app.Get("/user/info", fiberlogto.Fetch(logto.FetchOptions{UserInfo: true}), func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.JSON(fiberlogto.User(c))
	})

	// Signed-in users only: browsers are sent to sign in, API clients get 401.
	app.Get("/protected", fiberlogto.RequireAuth(), func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.SendString(tutorial.Protected)
	})

	// Sensitive settings: a sign-in within the last five minutes. An older
	// one sends the browser through Logto again (max_age), back here.
	app.Get("/account/security", fiberlogto.RequireRecentSignIn(tutorial.RecentSignIn), func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "no-store")
		c.Type("html", "utf-8")
		return c.SendString(tutorial.SecurityPage(fiberlogto.User(c)))
	})

	// Organization tokens, for the organizations of the user (or
	// LOGTO_ORGANIZATION_ID); they need the organizations scope.
	app.Get("/organization-token", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "no-store")
		if !slices.Contains(cfg.Scopes, logto.ScopeOrganizations) {
			return c.Status(fiber.StatusBadRequest).JSON(tutorial.NoOrganizationsScope)
		}
		return c.Next()
	}, fiberlogto.RequireAuth(),
		fiberlogto.Fetch(logto.FetchOptions{OrganizationTokens: true, OrganizationID: cfg.OrganizationID}),
		func(c *fiber.Ctx) error {
			return c.JSON(tutorial.OrganizationTokens(fiberlogto.User(c)))
		})

	// The API, for single-page, mobile and machine-to-machine clients:
	// Logto access tokens (Authorization: Bearer), verified once and cached;
	// /api/data also takes users' personal access tokens.
	app.Get("/api/organizations/:id/data", lg.RequireAccessToken(tutorial.OrganizationDataPolicy), func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.JSON(tutorial.OrganizationData(fiberlogto.AccessToken(c)))
	})
	if cfg.Resource != "" {
		app.Get("/api/data", lg.RequireAccessToken(tutorial.APIDataPolicy(cfg.Resource)), func(c *fiber.Ctx) error {
			c.Set(fiber.HeaderCacheControl, "no-store")
			return c.JSON(tutorial.APIData(fiberlogto.AccessToken(c)))
		})
	}

	// An access token for the API resource LOGTO_RESOURCE.
	if cfg.Resource == "" {
		app.Get("/access-token", func(c *fiber.Ctx) error {
			c.Set(fiber.HeaderCacheControl, "no-store")
			return c.Status(fiber.StatusBadRequest).JSON(tutorial.NoResource)
		})
		return
	}
	app.Get("/access-token", fiberlogto.RequireAuth(),
		fiberlogto.Fetch(logto.FetchOptions{AccessToken: true, Resource: cfg.Resource}), func(c *fiber.Ctx) error {
			c.Set(fiber.HeaderCacheControl, "no-store")
			return c.JSON(tutorial.AccessToken(fiberlogto.User(c)))
		})
}
