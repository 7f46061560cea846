// Command fiberv3 is fiberlogto's tutorial app on Fiber v3: the same app as
// ./example (Fiber v2), with the same environment variables, routes and
// answers, on fiberlogto's Fiber v3 adapter (github.com/fiberlogto/sdk/fiberlogto/v3)
// and the vocabulary it shares with the v2 one (package
// github.com/fiberlogto/sdk/logto).
//
//	go run ./example/fiberv3      # or: make example-v3
//
// See ../README.md. What both examples do the same is package
// example/internal/tutorial, so this package is only the Fiber v3 app and
// its routes.
package main

import "github.com/fiberlogto/sdk/example/internal/tutorial"

func main() { tutorial.Main(newApp) }
