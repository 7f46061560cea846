package main

import (
	"net"

	"github.com/gofiber/fiber/v3"

	"github.com/fiberlogto/sdk/example/internal/tutorial"
	"github.com/fiberlogto/sdk/fiberlogto/v3"
	"github.com/fiberlogto/sdk/logto"
)

// server is the Fiber v3 app as tutorial.Run serves it: v3 takes its
// start-up options in Listener, and the tutorial prints its own start-up
// message.
type server struct{ *fiber.App }

func (s server) Listener(ln net.Listener) error {
	return s.App.Listener(ln, fiber.ListenConfig{DisableStartupMessage: true})
}

// newApp builds the tutorial app for cfg, with its sessions in store.
func newApp(cfg tutorial.Config, store logto.Storage) (tutorial.App, error) {
	app := fiber.New(fiber.Config{
		AppName:      tutorial.AppName,
		ReadTimeout:  tutorial.ReadTimeout,
		WriteTimeout: tutorial.WriteTimeout,
		IdleTimeout:  tutorial.IdleTimeout,
	})
	if h := loopbackAliasRedirect(cfg.BaseURL); h != nil {
		app.Use(h)
	}

	// The /logto/* routes, and fiberlogto.User(c) on every other request.
	// CookieName stays fiberlogto_session: not one of Logto's own cookies,
	// which a browser sends to every port of localhost.
	lg, err := fiberlogto.New(fiberlogto.Config{Config: logto.Config{
		Endpoint: cfg.Endpoint, AppID: cfg.AppID, AppSecret: cfg.AppSecret, BaseURL: cfg.BaseURL,
		Scopes: cfg.Scopes, Resources: cfg.Resources(),
		Storage: store, EncryptionKey: cfg.EncryptionKey, Logger: cfg.Logger,
	}})
	if err != nil {
		return nil, err
	}
	app.Use(lg.Handler())

	registerRoutes(app, cfg, lg)
	return server{app}, nil
}

// loopbackAliasRedirect sends a GET for this app on another loopback name
// to BASE_URL (see tutorial.LoopbackAlias for why); nil unless BASE_URL is
// on a loopback name.
func loopbackAliasRedirect(baseURL string) fiber.Handler {
	alias := tutorial.LoopbackAlias(baseURL)
	if alias == nil {
		return nil
	}
	return func(c fiber.Ctx) error {
		// The Host header itself: c.Hostname() would trust X-Forwarded-Host.
		if to := alias(c.Method(), string(c.Request().Host()), string(c.Request().URI().RequestURI())); to != "" {
			c.Set(fiber.HeaderCacheControl, "no-store")
			// Found, as on Fiber v2: v3's Redirect defaults to 303 See Other.
			return c.Redirect().Status(fiber.StatusFound).To(to)
		}
		return c.Next()
	}
}
