package main

import (
	"github.com/gofiber/fiber/v2"

	"github.com/fiberlogto/sdk/bench/guidepeer"
	"github.com/fiberlogto/sdk/fiberlogto"
	"github.com/fiberlogto/sdk/logto"
)

// fiberV2 builds loadapp's apps on Fiber v2.
var fiberV2 = major{
	logtoApp: func(s settings) (server, error) {
		lg, err := fiberlogto.New(fiberlogto.Config{Config: logtoConfig(s)})
		if err != nil {
			return server{}, err
		}
		return appV2(lg.Handler(), logtoRoutes(fiberlogto.SendUser, fiberlogto.User)), nil
	},
	bareApp: func(body []byte, user *logto.UserContext) server {
		return appV2(nil, bareRoutes[*fiber.Ctx](body, user))
	},
	apiApp: func(mode string, s settings, body []byte) (server, error) {
		var mw fiber.Handler
		if mode == "guide" {
			peer, err := guidepeer.New(s.provider.Issuer+"/jwks", s.provider.Issuer, resource, "read:data")
			if err != nil {
				return server{}, err
			}
			mw = peer.Handler()
		} else {
			lg, err := fiberlogto.New(fiberlogto.Config{Config: apiConfig(s)})
			if err != nil {
				return server{}, err
			}
			mw = lg.RequireAccessToken(apiPolicy)
		}
		return appV2(mw, apiRoutes[*fiber.Ctx](body)), nil
	},
}

// appV2 is a Fiber v2 app with the example app's config: mw (when not nil)
// then routes.
func appV2(mw fiber.Handler, routes []route[*fiber.Ctx]) server {
	app := fiber.New(fiber.Config{
		DisableStartupMessage: true,
		ReadTimeout:           readTimeout,
		WriteTimeout:          writeTimeout,
		IdleTimeout:           idleTimeout,
	})
	mount(mw, routes, func(h fiber.Handler) { app.Use(h) }, func(path string, h fiber.Handler) { app.Get(path, h) })
	return server{serve: app.Listener, shutdown: app.ShutdownWithTimeout}
}
