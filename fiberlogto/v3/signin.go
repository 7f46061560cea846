package fiberlogto

import (
	"github.com/gofiber/fiber/v3"

	"github.com/fiberlogto/sdk/internal/fiberadapter"
	"github.com/fiberlogto/sdk/logto"
)

// SignIn returns a handler that starts a sign-in with fixed options, for a
// route of the app's own: a sign-up button, "continue with Google"
// (DirectSignIn), a known email (LoginHint). Only returnTo is read from the
// request; /logto/sign-in itself takes first_screen, login_hint,
// direct_sign_in and identifier from its query, checked against what Logto
// accepts. It must run after WithLogto; it panics on invalid options, at
// setup.
//
//	app.Get("/join", fiberlogto.SignIn(logto.SignInOptions{FirstScreen: "register"}))
func SignIn(opts logto.SignInOptions) fiber.Handler { return fiberadapter.SignIn(fiberV3, opts) }
