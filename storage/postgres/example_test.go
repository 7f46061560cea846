package postgres_test

import (
	"log"
	"os"

	"github.com/gofiber/fiber/v2"

	"github.com/fiberlogto/sdk/fiberlogto"
	"github.com/fiberlogto/sdk/logto"
	"github.com/fiberlogto/sdk/storage/postgres"
)

// Several instances behind a load balancer share their sessions in one
// PostgreSQL table, created when missing; sessions survive restarts of the
// app and of the database.
func Example() {
	sessions, err := postgres.New(postgres.Config{
		URL:   os.Getenv("DATABASE_URL"), // postgres://user:password@host:5432/db?sslmode=require
		Table: "myapp_sessions",
	})
	if err != nil {
		log.Fatal(err) // never shows the password
	}
	defer sessions.Close()

	lg, err := fiberlogto.New(fiberlogto.Config{Config: logto.Config{
		Endpoint:  "https://tenant.logto.app",
		AppID:     "your-app-id",
		AppSecret: "your-app-secret",
		BaseURL:   "https://app.example.com",
		Storage:   sessions,
	}})
	if err != nil {
		log.Fatal(err)
	}
	app := fiber.New()
	app.Use(lg.Handler())
	app.Get("/protected", fiberlogto.RequireAuth(), func(c *fiber.Ctx) error {
		return c.SendString("Hello, " + fiberlogto.User(c).DisplayName())
	})
	log.Fatal(app.Listen(":3000"))
}
