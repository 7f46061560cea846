// Package engine is fiberlogto without Fiber: OpenID Connect with Logto,
// sessions, tokens and leases. Its operations take the facts of a request
// (Request) and return what to answer (Answer); the adapters for Fiber v2
// (package fiberlogto) and v3 (fiberlogto/v3) translate both ways, and are
// the public API. Nothing here imports a web framework.
package engine

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"
)

// Engine is the state shared by the routes and the middleware: config,
// provider (discovery, key set, HTTP client) and session store, built once.
type Engine struct {
	cfg      *settings
	provider *provider
	store    *sessionStore
	routes   map[string]route
	fetch    FetchOptions // what Config asks for on every request
	// signInCookie holds the browser's pending sign-ins, sealed by sealer.
	signInCookie string
	sealer       *signInSealer
	// tokens caches verified access tokens (API protection).
	tokens *tokenCache
	log    *slog.Logger
}

type route struct {
	methods []string
	handle  func(ctx context.Context, r Request) *Answer
}

// Storage is the session storage the engine needs: Fiber v2's
// fiber.Storage; v3's is a superset.
type Storage interface {
	Get(key string) ([]byte, error)
	Set(key string, val []byte, exp time.Duration) error
	Delete(key string) error
	Reset() error
	Close() error
}

// ErrMethodNotAllowed: a route of ours was asked with another method. The
// adapters answer it with their framework's 405.
var ErrMethodNotAllowed = errors.New("method not allowed")

// New builds the engine for a config Prepare accepted. It does not contact
// Logto: discovery runs in the background now and on first use, so an app
// starts even while Logto is down.
func New[C, S any](cfg *Config[C, S], store Storage) (*Engine, error) {
	e := &Engine{cfg: settingsOf(cfg, store), tokens: newTokenCache(), log: cfg.Logger}
	if e.log == nil { // a config New was given without Prepare (tests)
		e.log = defaultLogger()
	}
	e.fetch = e.cfg.fetchOptions()
	e.provider = newProvider(e.cfg)
	var err error
	if e.store, err = newSessionStore(e.cfg); err != nil {
		return nil, err
	}
	go func() { _, _ = e.provider.get(context.Background()) }()
	if cfg.apiOnly() {
		return e, nil // no sign-in routes: API protection only
	}
	e.signInCookie = e.cfg.CookieName + "_signin"
	if e.sealer, err = newSignInSealer(e.cfg, e.signInCookie); err != nil {
		return nil, err
	}
	p := e.cfg.RoutesPrefix
	e.routes = map[string]route{
		p + "/sign-in":            {methods: []string{"GET"}, handle: e.signIn},
		p + "/sign-up":            {methods: []string{"GET"}, handle: e.signUp},
		p + "/sign-in-callback":   {methods: []string{"GET"}, handle: e.callback},
		p + "/sign-out":           {methods: []string{"GET", "POST"}, handle: e.signOut},
		p + "/backchannel-logout": {methods: []string{"POST"}, handle: e.backchannelLogout},
	}
	return e, nil
}

// Serve answers a request to one of the routes under RoutesPrefix. It
// reports false for any other path, which the middleware passes on.
func (e *Engine) Serve(ctx context.Context, path string, r Request) (*Answer, bool) {
	rt, ok := e.routes[strings.TrimSuffix(path, "/")]
	if !ok {
		return nil, false
	}
	method := r.Method()
	for _, m := range rt.methods {
		if method == m {
			return rt.handle(ctx, r), true
		}
	}
	a := &Answer{}
	a.header("Allow", strings.Join(rt.methods, ", "))
	return a.fail(ErrMethodNotAllowed), true
}

// RoutesPrefix is where the routes live, with a trailing slash.
func (e *Engine) RoutesPrefix() string { return e.cfg.RoutesPrefix + "/" }

// CookieName is the session cookie's name.
func (e *Engine) CookieName() string { return e.cfg.CookieName }

// ClearSessionCookie is the cookie that removes the session cookie.
func (e *Engine) ClearSessionCookie() Cookie {
	return Cookie{Name: e.cfg.CookieName, Path: "/", Domain: e.cfg.CookieDomain, MaxAge: -1, Secure: e.cfg.secureCookies()}
}
