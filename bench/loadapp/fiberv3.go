package main

import (
	"fmt"
	"net"

	"github.com/gofiber/fiber/v3"

	"github.com/fiberlogto/sdk/fiberlogto/v3"
	"github.com/fiberlogto/sdk/logto"
)

// storage is what the storage backends (memory, sqlite, redis, postgres)
// implement: Fiber v3's fiber.Storage, a superset of v2's, so one value
// goes into the Config of either major.
type storage = fiber.Storage

// fiberV3 builds loadapp's apps on Fiber v3.
var fiberV3 = major{
	logtoApp: func(s settings) (server, error) {
		lg, err := fiberlogto.New(fiberlogto.Config{Config: logtoConfig(s)})
		if err != nil {
			return server{}, err
		}
		return appV3(lg.Handler(), logtoRoutes(fiberlogto.SendUser, fiberlogto.User)), nil
	},
	bareApp: func(body []byte, user *logto.UserContext) server {
		return appV3(nil, bareRoutes[fiber.Ctx](body, user))
	},
	apiApp: func(mode string, s settings, body []byte) (server, error) {
		if mode != "bearer" {
			return server{}, fmt.Errorf("-mode %s: Fiber v2 only", mode)
		}
		lg, err := fiberlogto.New(fiberlogto.Config{Config: apiConfig(s)})
		if err != nil {
			return server{}, err
		}
		return appV3(lg.RequireAccessToken(apiPolicy), apiRoutes[fiber.Ctx](body)), nil
	},
}

// appV3 is a Fiber v3 app with the example app's config: mw (when not nil)
// then routes.
func appV3(mw fiber.Handler, routes []route[fiber.Ctx]) server {
	app := fiber.New(fiber.Config{
		ReadTimeout:  readTimeout,
		WriteTimeout: writeTimeout,
		IdleTimeout:  idleTimeout,
	})
	mount(mw, routes, func(h fiber.Handler) { app.Use(h) }, func(path string, h fiber.Handler) { app.Get(path, h) })
	listen := func(ln net.Listener) error {
		return app.Listener(ln, fiber.ListenConfig{DisableStartupMessage: true})
	}
	return server{serve: listen, shutdown: app.ShutdownWithTimeout}
}
