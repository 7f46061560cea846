// Package engine is fiberlogto's machinery behind the public core (package
// logto) and without a web framework: OpenID Connect with Logto, sessions,
// tokens, leases, the bearer checks, and every security rule (cookie
// attributes, the sign-in hook's recovery, body limits, repeated
// parameters). Its operations take the facts of a request (Request) and
// return what to answer (Answer); the adapters for Fiber v2, Fiber v3 and
// net/http translate both ways and only copy the answer onto their
// response. Nothing here imports a web framework.
package engine

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/fiberlogto/sdk/logto"
)

// Engine is the state shared by the routes and the middleware: config,
// provider (discovery, key set, HTTP client) and session store, built once.
type Engine struct {
	cfg      *settings
	provider *provider
	store    *sessionStore
	routes   map[string]route
	fetch    logto.FetchOptions // what Config asks for on every request
	// signInCookie holds the browser's pending sign-ins, sealed by sealer.
	signInCookie string
	sealer       *signInSealer
	// tokens caches verified access tokens (API protection).
	tokens *tokenCache
	// sessions caches decoded sessions for the signed-in hot path.
	sessions *sessionCache
	// pats exchanges personal access tokens on API routes.
	pats patExchanges
	log  *slog.Logger
}

type route struct {
	methods []string
	handle  func(ctx context.Context, r Request, hook SignInHook) *Answer
}

// SignInHook is an adapter's OnSignIn, bound to the request: it runs when
// a sign-in is about to succeed (see the adapters' Config.OnSignIn). The
// engine recovers its panics.
type SignInHook func(user *logto.UserContext) error

// New builds the engine for cfg: defaults filled and checked by Prepare
// (an error wrapping logto.ErrConfig names the field). It does not contact
// Logto: discovery runs in the background now and on first use, so an app
// starts even while Logto is down.
func New(config logto.Config) (*Engine, error) {
	cfg, err := Prepare(config)
	if err != nil {
		return nil, err
	}
	e := &Engine{cfg: settingsOf(&cfg), tokens: newTokenCache(), sessions: newSessionCache(), log: cfg.Logger}
	e.fetch = e.cfg.fetchOptions()
	e.pats.inflight, e.pats.refused = make(map[cacheKey]*patCall), make(map[cacheKey]int64)
	e.provider = newProvider(e.cfg)
	if e.store, err = newSessionStore(e.cfg); err != nil {
		return nil, err
	}
	go func() { _, _ = e.provider.get(context.Background()) }()
	if apiOnly(&cfg) {
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

// CheckSignIn reports, wrapping logto.ErrConfig, that the config cannot
// serve the sign-in routes and sessions: an API-only config (Endpoint
// alone). The adapters call it when the middleware is built, so the
// mistake shows at setup rather than as a 404 on /logto/sign-in.
func (e *Engine) CheckSignIn() error {
	if e.routes == nil {
		return fmt.Errorf("%w: the middleware serves sign-in and sessions, which need AppID, AppSecret and BaseURL; a config without BaseURL is for RequireAccessToken only (API routes need no middleware)", logto.ErrConfig)
	}
	return nil
}

// Config returns the effective config: defaults filled.
func (e *Engine) Config() logto.Config { return e.cfg.Config }

// Serve answers a request to one of the routes under RoutesPrefix. It
// reports false for any other path, which the middleware passes on.
func (e *Engine) Serve(ctx context.Context, path string, r Request, hook SignInHook) (*Answer, bool) {
	rt, ok := e.routes[strings.TrimSuffix(path, "/")]
	if !ok {
		return nil, false
	}
	method := r.Method()
	for _, m := range rt.methods {
		if method == m {
			return rt.handle(ctx, r, hook), true
		}
	}
	a := &Answer{}
	a.header("Allow", strings.Join(rt.methods, ", "))
	return a.fail(logto.ErrMethodNotAllowed), true
}

// RoutesPrefix is where the routes live, with a trailing slash.
func (e *Engine) RoutesPrefix() string { return e.cfg.RoutesPrefix + "/" }

// CookieName is the session cookie's name.
func (e *Engine) CookieName() string { return e.cfg.CookieName }

// ClearSessionCookie is the cookie that removes the session cookie.
func (e *Engine) ClearSessionCookie() *http.Cookie {
	return e.cfg.cookie(e.cfg.CookieName, "", "/", -1)
}
