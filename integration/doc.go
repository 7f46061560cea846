// Package integration is fiberlogto's end-to-end suite: it builds the three
// example apps (./example on Fiber v2, ./example/fiberv3 on v3,
// ./example/nethttp on net/http), runs each against a Logto (a real one, or
// the Logto-compatible provider in ./provider, which it starts itself) and
// drives it over real HTTP as a browser would, then once more in headless
// Chromium.
//
// The tests need Node.js and Chromium, so they sit behind the integration
// build tag:
//
//	make integration                                    # npm ci, then the suite
//	go test -race -tags integration -count=1 ./integration/...
//
// README.md in this directory lists the environment variables that point the
// suite at a real Logto.
package integration
