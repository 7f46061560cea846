package fiberlogto_test

import (
	"fmt"
	"log"

	"github.com/gofiber/fiber/v2"

	"github.com/fiberlogto/sdk/fiberlogto"
	"github.com/fiberlogto/sdk/logto"
	"github.com/fiberlogto/sdk/storage/sqlite"
)

// The tutorial's app: sign-in routes, the user context and a protected
// route.
func ExampleWithLogto() {
	app := fiber.New()
	app.Use(fiberlogto.WithLogto(fiberlogto.Config{Config: logto.Config{
		Endpoint:  "https://tenant.logto.app",
		AppID:     "your-app-id",
		AppSecret: "your-app-secret",
		BaseURL:   "http://localhost:3000",
	}}))
	app.Get("/", func(c *fiber.Ctx) error {
		if user := fiberlogto.User(c); user.IsAuthenticated {
			return c.SendString("Hello, " + user.DisplayName())
		}
		return c.SendString(`<a href="/logto/sign-in">Sign In</a>`)
	})
	app.Get("/user", fiberlogto.SendUser)
	app.Get("/protected", fiberlogto.RequireAuth(), func(c *fiber.Ctx) error {
		return c.SendString("protected resource")
	})
	log.Fatal(app.Listen("127.0.0.1:3000"))
}

// An access token for an API resource, refreshed when it expires, with
// sessions kept in SQLite across restarts.
func ExampleConfig_accessToken() {
	sessions, err := sqlite.New(sqlite.Config{Path: "./sessions.sqlite3"})
	if err != nil {
		log.Fatal(err)
	}
	lg, err := fiberlogto.New(fiberlogto.Config{Config: logto.Config{
		Endpoint:       "https://tenant.logto.app",
		AppID:          "your-app-id",
		AppSecret:      "your-app-secret",
		BaseURL:        "http://localhost:3000",
		Scopes:         []string{logto.ScopeEmail, "read:data"},
		Resource:       "https://api.example.com",
		GetAccessToken: true,
		Storage:        sessions,
	}})
	if err != nil {
		log.Fatal(err)
	}
	app := fiber.New()
	app.Use(lg.Handler())
	app.Get("/access-token", fiberlogto.RequireAuth(), func(c *fiber.Ctx) error {
		return c.JSON(fiber.Map{"accessToken": fiberlogto.User(c).AccessToken})
	})
}

// An API that takes Logto access tokens: Endpoint alone, no sign-in.
func ExampleLogto_RequireAccessToken() {
	lg, err := fiberlogto.New(fiberlogto.Config{Config: logto.Config{Endpoint: "https://tenant.logto.app"}})
	if err != nil {
		log.Fatal(err)
	}
	app := fiber.New()
	app.Get("/api/data", lg.RequireAccessToken(logto.AccessTokenOptions{
		Resource: "https://api.example.com",
		Scopes:   []string{"read:data"},
	}), func(c *fiber.Ctx) error {
		return c.JSON(fiber.Map{"caller": fiberlogto.AccessToken(c).Subject})
	})
	app.Get("/api/organizations/:id/data", lg.RequireAccessToken(logto.AccessTokenOptions{
		OrganizationParam: "id",
		Scopes:            []string{"read:org"},
	}), func(c *fiber.Ctx) error {
		return c.JSON(fiber.Map{"organization": fiberlogto.AccessToken(c).OrganizationID})
	})
}

// A bad config is an error that names the field.
func ExampleNew() {
	_, err := fiberlogto.New(fiberlogto.Config{Config: logto.Config{
		Endpoint:  "https://tenant.logto.app",
		AppID:     "your-app-id",
		AppSecret: "your-app-secret",
		BaseURL:   "localhost:3000",
	}})
	fmt.Println(err)
	// Output: fiberlogto: invalid config: BaseURL must be an absolute http(s) URL without query or fragment, got "localhost:3000"
}
