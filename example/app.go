package main

import (
	"github.com/gofiber/fiber/v2"

	"github.com/fiberlogto/sdk/example/internal/tutorial"
	"github.com/fiberlogto/sdk/fiberlogto"
	"github.com/fiberlogto/sdk/logto"
)

// newApp builds the tutorial app for cfg, with its sessions in store.
func newApp(cfg tutorial.Config, store logto.Storage) (tutorial.App, error) {
	lg, err := fiberlogto.New(fiberlogto.Config{Config: logto.Config{
		Endpoint:      cfg.Endpoint,
		AppID:         cfg.AppID,
		AppSecret:     cfg.AppSecret,
		BaseURL:       cfg.BaseURL,
		Scopes:        cfg.Scopes,
		Resources:     cfg.Resources(),
		Storage:       store,
		EncryptionKey: cfg.EncryptionKey,
		Logger:        cfg.Logger,
		// CookieName stays fiberlogto_session: not one of Logto's own
		// cookies (_session, _interaction, _logto), which a browser sends to
		// every port of localhost.
	}})
	if err != nil {
		return nil, err
	}

	app := fiber.New(fiber.Config{
		AppName:               tutorial.AppName,
		DisableStartupMessage: true, // the tutorial prints its own
		ReadTimeout:           tutorial.ReadTimeout,
		WriteTimeout:          tutorial.WriteTimeout,
		IdleTimeout:           tutorial.IdleTimeout,
	})
	if h := loopbackAliasRedirect(cfg.BaseURL); h != nil {
		app.Use(h)
	}
	// The /logto/* routes, and fiberlogto.User(c) on every other request.
	app.Use(lg.Handler())
	registerRoutes(app, cfg, lg)
	return app, nil
}

// loopbackAliasRedirect sends a GET for this app on another loopback name
// to BASE_URL (see tutorial.LoopbackAlias for why); nil unless BASE_URL is
// on a loopback name.
func loopbackAliasRedirect(baseURL string) fiber.Handler {
	alias := tutorial.LoopbackAlias(baseURL)
	if alias == nil {
		return nil
	}
	return func(c *fiber.Ctx) error {
		// The Host header itself: c.Hostname() would trust X-Forwarded-Host.
		to := alias(c.Method(), string(c.Request().Host()), string(c.Request().URI().RequestURI()))
		if to == "" {
			return c.Next()
		}
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.Redirect(to, fiber.StatusFound)
	}
}
