// Command nethttp is fiberlogto's tutorial app on net/http: the same app as
// ./example (Fiber v2) and ./example/fiberv3, with the same environment
// variables, routes and answers, on the standard library's http.Server and
// ServeMux (Go 1.22 patterns, no third-party router) with fiberlogto's
// net/http adapter (github.com/fiberlogto/sdk/logtohttp) and the vocabulary
// every adapter shares (package github.com/fiberlogto/sdk/logto).
//
//	go run ./example/nethttp      # or: make example-http
//
// See ../README.md. What every example does the same is package
// example/internal/tutorial, so this package is only the net/http server
// and its routes.
package main

import "github.com/fiberlogto/sdk/example/internal/tutorial"

func main() { tutorial.Main(newApp) }
