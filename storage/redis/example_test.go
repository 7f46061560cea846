package redis_test

import (
	"log"
	"os"

	"github.com/gofiber/fiber/v2"

	"github.com/fiberlogto/sdk/fiberlogto"
	"github.com/fiberlogto/sdk/logto"
	"github.com/fiberlogto/sdk/storage/redis"
)

// Several instances behind a load balancer share their sessions on one
// Redis server; each call fails after CommandTimeout rather than hang a
// request when the server does not answer.
func Example() {
	sessions, err := redis.New(redis.Config{
		URL:       os.Getenv("REDIS_URL"), // redis://user:password@host:6379/0
		KeyPrefix: "myapp:",
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
