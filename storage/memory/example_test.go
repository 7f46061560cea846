package memory_test

import (
	"log"

	"github.com/gofiber/fiber/v2"

	"github.com/fiberlogto/sdk/fiberlogto"
	"github.com/fiberlogto/sdk/logto"
	"github.com/fiberlogto/sdk/storage/memory"
)

// One throwaway instance (development, tests): sessions live in the
// process, with the lease fiberlogto uses when a storage has one.
func Example() {
	sessions := memory.New()
	defer sessions.Close()

	lg, err := fiberlogto.New(fiberlogto.Config{Config: logto.Config{
		Endpoint:  "https://tenant.logto.app",
		AppID:     "your-app-id",
		AppSecret: "your-app-secret",
		BaseURL:   "http://localhost:3000",
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
	log.Fatal(app.Listen("127.0.0.1:3000"))
}
