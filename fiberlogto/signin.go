package fiberlogto

import (
	"github.com/gofiber/fiber/v2"

	"github.com/fiberlogto/sdk/internal/fiberadapter"
)

// SignIn returns a handler that starts a sign-in with fixed options, for a
// route of the app's own: a sign-up button, "continue with Google"
// (DirectSignIn), a known email (LoginHint). Only returnTo is read from the
// request; /logto/sign-in itself takes first_screen, login_hint,
// direct_sign_in and identifier from its query, checked against what Logto
// accepts. It must run after WithLogto; it panics on invalid options, at
// setup.
//
//	app.Get("/join", fiberlogto.SignIn(fiberlogto.SignInOptions{FirstScreen: "register"}))
func SignIn(opts SignInOptions) fiber.Handler { return fiberadapter.SignIn(fiberV2, opts) }
