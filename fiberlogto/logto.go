// Package fiberlogto signs the users of a Fiber v2 app in with Logto, the
// open-source OpenID Connect identity server: the Go counterpart of
// @logto/express.
//
//	app.Use(fiberlogto.WithLogto(fiberlogto.Config{
//		Endpoint:  "https://tenant.logto.app",
//		AppID:     "...",
//		AppSecret: "...",
//		BaseURL:   "http://localhost:3000",
//	}))
//	app.Get("/protected", fiberlogto.RequireAuth(), handler)
//
// The handler serves /logto/sign-in, /logto/sign-up, /logto/sign-in-callback
// and /logto/sign-out, and puts a *UserContext in c.Locals("user") for every
// other request; read it with User(c).
package fiberlogto

import (
	"context"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// Logto is the shared state behind the routes and the middleware: config,
// provider (discovery, key set, HTTP client) and session store, built once.
type Logto struct {
	cfg      Config
	provider *provider
	store    *sessionStore
	locks    keyedMutex
	routes   map[string]route
	fetch    FetchOptions // what Config asks for on every request
	// userKey is Config.ContextKey boxed once: c.Locals takes an interface,
	// and boxing the string on every request would allocate.
	userKey any
	// signInCookie holds the browser's pending sign-ins, sealed by sealer.
	signInCookie string
	sealer       *signInSealer
}

type route struct {
	methods []string
	handle  fiber.Handler
}

// localsKey is where Handler leaves the *Logto for RequireAuth.
const localsKey = "fiberlogto.logto"

// New checks the config and builds the shared state. It does not contact
// Logto: discovery runs on first use (and is tried once in the background
// now), so an app starts even while Logto is down.
func New(config ...Config) (*Logto, error) {
	cfg, err := configDefault(config...)
	if err != nil {
		return nil, err
	}
	l := &Logto{cfg: cfg, fetch: cfg.fetchOptions(), userKey: cfg.ContextKey}
	l.provider = newProvider(&l.cfg)
	l.store, err = newSessionStore(&l.cfg)
	if err != nil {
		return nil, err
	}
	l.signInCookie = cfg.CookieName + "_signin"
	if l.sealer, err = newSignInSealer(&l.cfg, l.signInCookie); err != nil {
		return nil, err
	}
	p := cfg.RoutesPrefix
	l.routes = map[string]route{
		p + "/sign-in":            {methods: []string{fiber.MethodGet}, handle: l.signIn},
		p + "/sign-up":            {methods: []string{fiber.MethodGet}, handle: l.signUp},
		p + "/sign-in-callback":   {methods: []string{fiber.MethodGet}, handle: l.callback},
		p + "/sign-out":           {methods: []string{fiber.MethodGet, fiber.MethodPost}, handle: l.signOut},
		p + "/backchannel-logout": {methods: []string{fiber.MethodPost}, handle: l.backchannelLogout},
	}
	go func() { _, _ = l.provider.get(context.Background()) }()
	return l, nil
}

// WithLogto returns the middleware for cfg: it serves the sign-in routes
// under Config.RoutesPrefix and fills c.Locals(Config.ContextKey) with a
// *UserContext on every other request. Like Fiber's own middleware it panics
// on an invalid config, at startup; use New to get the error instead.
func WithLogto(config ...Config) fiber.Handler {
	l, err := New(config...)
	if err != nil {
		panic(err)
	}
	return l.Handler()
}

// Handler returns the middleware: see WithLogto.
func (l *Logto) Handler() fiber.Handler {
	prefix := l.cfg.RoutesPrefix + "/"
	return func(c *fiber.Ctx) error {
		c.Locals(localsKey, l)
		if path := c.Path(); strings.HasPrefix(path, prefix) {
			if rt, ok := l.routes[strings.TrimSuffix(path, "/")]; ok {
				for _, m := range rt.methods {
					if c.Method() == m {
						return rt.handle(c)
					}
				}
				c.Set(fiber.HeaderAllow, strings.Join(rt.methods, ", "))
				return l.cfg.ErrorHandler(c, fiber.ErrMethodNotAllowed)
			}
		}
		if l.cfg.Next != nil && l.cfg.Next(c) {
			return c.Next()
		}
		user, err := l.userContext(c)
		if err != nil {
			return l.cfg.ErrorHandler(c, err)
		}
		c.Locals(l.userKey, user)
		return c.Next()
	}
}

// Config returns the effective config, defaults filled.
func (l *Logto) Config() Config { return l.cfg }
