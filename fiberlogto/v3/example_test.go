package fiberlogto_test

import (
	"errors"
	"fmt"
	"log"

	"github.com/gofiber/fiber/v3"

	"github.com/fiberlogto/sdk/fiberlogto/v3"
	"github.com/fiberlogto/sdk/logto"
	"github.com/fiberlogto/sdk/storage/sqlite"
)

// The tutorial's app on Fiber v3: sign-in routes, the user context as JSON
// and a protected route. Handlers take v3's fiber.Ctx.
func ExampleWithLogto() {
	withLogto := fiberlogto.WithLogto(fiberlogto.Config{Config: logto.Config{
		Endpoint:  "https://tenant.logto.app",
		AppID:     "your-app-id",
		AppSecret: "your-app-secret",
		BaseURL:   "http://localhost:3000",
	}})
	app := fiber.New()
	app.Use(withLogto)
	app.Get("/user", fiberlogto.SendUser)
	app.Get("/protected", fiberlogto.RequireAuth(), func(c fiber.Ctx) error {
		return c.SendString("Hello, " + fiberlogto.User(c).DisplayName())
	})
	log.Fatal(app.Listen("127.0.0.1:3000", fiber.ListenConfig{DisableStartupMessage: true}))
}

// An access token for an API resource on every request, refreshed when it
// expires, with sessions kept in SQLite across restarts. The scopes, like
// the user context and the sentinel errors, are package logto's.
func ExampleConfig_accessToken() {
	sessions, err := sqlite.New(sqlite.Config{Path: "./sessions.sqlite3"})
	if err != nil {
		log.Fatal(err)
	}
	lg, err := fiberlogto.New(fiberlogto.Config{Config: logto.Config{
		GetAccessToken: true,
		Resource:       "https://api.example.com",
		Scopes:         []string{logto.ScopeEmail, "read:data"},
		Storage:        sessions,
		Endpoint:       "https://tenant.logto.app",
		AppID:          "your-app-id",
		AppSecret:      "your-app-secret",
		BaseURL:        "http://localhost:3000",
	}})
	if err != nil {
		log.Fatal(err)
	}
	app := fiber.New()
	app.Use(lg.Handler())
	app.Get("/access-token", fiberlogto.RequireAuth(), func(c fiber.Ctx) error {
		return c.SendString(fiberlogto.User(c).AccessToken)
	})
}

// A bad config is an error that wraps logto.ErrConfig and names the field.
func ExampleNew() {
	cfg := fiberlogto.Config{Config: logto.Config{Endpoint: "https://tenant.logto.app", AppID: "your-app-id", AppSecret: "your-app-secret"}}
	cfg.BaseURL = "localhost:3000" // no scheme
	_, err := fiberlogto.New(cfg)
	fmt.Println(errors.Is(err, logto.ErrConfig))
	fmt.Println(err)
	// Output:
	// true
	// fiberlogto: invalid config: BaseURL must be an absolute http(s) URL without query or fragment, got "localhost:3000"
}
