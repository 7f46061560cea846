// Command example is fiberlogto's tutorial app on Fiber v2, the Fiber
// counterpart of Logto's Express tutorial: a home page with a sign-in link,
// the user's claims, a protected route and an API access token.
//
// It is configured by environment variables only (see README.md). Without
// LOGTO_ENDPOINT it runs a Logto-compatible provider in-process on
// 127.0.0.1:3001 with a demo user, so `make example` works on a fresh clone
// with nothing else running. ./fiberv3 is the same app on Fiber v3; what
// both do the same (the environment, the embedded provider, the session
// storages, serving and shutting down) is package
// example/internal/tutorial, so this package is only the Fiber app and its
// routes.
package main

import "github.com/fiberlogto/sdk/example/internal/tutorial"

func main() { tutorial.Main(newApp) }
