package fiberlogto_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	fiberv3 "github.com/gofiber/fiber/v3"
	"github.com/valyala/fasthttp"

	"github.com/fiberlogto/sdk/fiberlogto"
	fiberlogtov3 "github.com/fiberlogto/sdk/fiberlogto/v3"
	"github.com/fiberlogto/sdk/internal/fiberadapter"
	"github.com/fiberlogto/sdk/logto"
	"github.com/fiberlogto/sdk/logtohttp"
)

// The flow, security, concurrency and storage-fault tests and the
// benchmarks run once per adapter, from the table adapters: each test's
// body takes the adapter it runs on, and forEachAdapter runs it as a
// subtest named after the adapter (TestSignInFlow/v2/memory). A test
// writes its config as a config (logto.Config and a sign-in hook) and its
// extra routes as routes; each adapter turns them into its own.

// Storage is what the tests hand an adapter as Config.Storage: Fiber v3's
// fiber.Storage, which has v2's methods and their context variants (the
// ones the engine calls, logto.Storage). Every storage of this repository
// is one; the tests' wrappers embed one and count or fail its context
// methods.
type Storage = fiberv3.Storage

// config is what a test configures: the core config, and an OnSignIn hook
// that looks at the user only (each adapter binds it to its own request).
type config struct {
	logto.Config
	OnSignIn func(user *logto.UserContext) error
}

// adapter is one adapter as the tests drive it.
type adapter struct {
	name string
	// new is the adapter's New.
	new func(cfg config) (*middleware, error)
	// withLogto is the adapter's WithLogto, which panics on a bad config.
	withLogto func(cfg config)
	// bare is an app of the adapter's framework without fiberlogto.
	bare func(routes ...route) served
}

// middleware is what an adapter's New built.
type middleware struct {
	// cfg is the effective config.
	cfg config
	// errorHandler tells whether the effective config has an ErrorHandler.
	errorHandler bool
	// app is an app of the adapter's framework behind the middleware,
	// serving routes. On an API-only config (Endpoint alone) the
	// middleware is left out, as such an app does.
	app func(routes ...route) served
	// middleware builds the adapter's middleware (Handler), which panics
	// on a config that cannot sign users in.
	middleware func()
}

// apiOnly reports a config of Endpoint alone.
func apiOnly(c logto.Config) bool { return c.BaseURL == "" }

// served is an app with its routes mounted: a Fiber app's fasthttp
// handler or a net/http app's http.Handler, to drive it in process, or
// served on a listener until shutdown.
type served struct {
	handler  func() fasthttp.RequestHandler // Fiber
	http     http.Handler                   // net/http
	listen   func(ln net.Listener) error
	shutdown func(timeout time.Duration) error
}

// route is a GET route of a test app, the same on every adapter (a path
// parameter is written {name}, as net/http's ServeMux does): its
// handlers are RequireAuth() when guard is set, then Fetch(*fetch) when
// fetch is, then a handler that calls ran (when set) and sends answer.
type route struct {
	path  string
	guard bool
	// recent, when set, puts RequireRecentSignIn(recent) after the guard.
	recent time.Duration
	fetch  *logto.FetchOptions
	// bearer, when set, puts the middleware's RequireAccessToken(*bearer)
	// first (API protection); signIn makes the route SignIn(*signIn).
	bearer *logto.AccessTokenOptions
	signIn *logto.SignInOptions
	ran    func()
	answer answer
	// with is what answerText sends (a string), what answerBody sends
	// (JSON bytes) or what builds the value answerValue encodes (a func()
	// any, called on every request).
	with any
}

// answer is what a route's handler sends.
type answer int

const (
	// answerUser is c.JSON(User(c)), the harness's /user.
	answerUser answer = iota
	// answerAccessToken is c.SendString(User(c).AccessToken).
	answerAccessToken
	// answerText is c.SendString(with).
	answerText
	// answerSendUser is the example app's /user: Cache-Control: no-store,
	// then SendUser(c).
	answerSendUser
	// answerBody is a bare /user (bench/run.sh's): Cache-Control:
	// no-store and the JSON bytes with.
	answerBody
	// answerValue is a bare /user encoding a value: Cache-Control:
	// no-store, then c.JSON(with()).
	answerValue
	// answerClaims is c.JSON(AccessToken(c)): the verified access token's
	// claims, behind bearer.
	answerClaims
	// answerExchange is the middleware's ExchangeToken of the request
	// with() builds (with is a func() logto.TokenExchangeRequest): 200
	// and the exchanged token as JSON, or the error's status and
	// {"error": its sentinel's message}.
	answerExchange
)

// exchangeAnswer is what answerExchange sends.
func exchangeAnswer(x *logto.ExchangedToken, err error) (int, any) {
	if err != nil {
		msg := "internal error"
		if s := logto.Sentinel(err); s != nil {
			msg = s.Error()
		}
		return logto.StatusOf(err), map[string]string{"error": msg}
	}
	return http.StatusOK, x
}

// userRoute is the harness's /user.
var userRoute = route{path: "/user", answer: answerUser}

// harnessRoutes are the routes of every harness app.
var harnessRoutes = []route{
	{path: "/", answer: answerText, with: "home"},
	userRoute,
	{path: "/protected", guard: true, answer: answerText, with: "protected resource"},
}

// runner is *testing.T or *testing.B.
type runner[TB any] interface {
	testing.TB
	Run(name string, f func(TB)) bool
}

// forEachAdapter runs f once per adapter, as a subtest named after it: v2,
// v3 or http in a test (TestSignInFlow/http/memory), adapter=v2,
// adapter=v3 or adapter=http in a benchmark
// (BenchmarkSignedInRequest/adapter=v3/memory), the key=value form
// benchstat projects on: benchstat -col /adapter compares them.
func forEachAdapter[TB runner[TB]](tb TB, f func(TB, adapter)) {
	tb.Helper()
	for _, a := range adapters {
		name := a.name
		if _, ok := any(tb).(*testing.B); ok {
			name = "adapter=" + name
		}
		tb.Run(name, func(tb TB) { f(tb, a) })
	}
}

// fiberCtx is what the adapters and the tests' handlers call on a
// request: methods that Fiber v2's *fiber.Ctx and v3's fiber.Ctx share.
type fiberCtx interface {
	fiberadapter.Ctx
	Set(key, val string)
	Send(body []byte) error
	SendString(body string) error
	JSON(data any, ctype ...string) error
}

// major is one Fiber major and its adapter package: C is the major's
// handler context, H its fiber.Handler.
type major[C fiberCtx, H ~func(C) error] struct {
	name        string
	new         func(cfg config) (fiberMiddleware[H], error)
	withLogto   func(cfg config) H
	requireAuth func() H
	// requireRecent is the major's RequireRecentSignIn.
	requireRecent func(maxAge time.Duration) H
	fetch         func(opts logto.FetchOptions) H
	signIn        func(opts logto.SignInOptions) H
	user          func(c C) *logto.UserContext
	sendUser      func(c C) error
	accessToken   func(c C) *logto.AccessTokenClaims
	// app is a new app of the major, its startup message off.
	app func() fiberApp[H]
}

// fiberMiddleware is what a Fiber adapter's New built.
type fiberMiddleware[H any] struct {
	cfg                logto.Config
	errorHandler       bool
	handler            func() H
	requireAccessToken func(opts logto.AccessTokenOptions) H
	// exchange is the major's (*Logto).ExchangeToken, a func(C,
	// logto.TokenExchangeRequest) (*logto.ExchangedToken, error).
	exchange any
}

// fiberApp is a new Fiber app of a major, to mount handlers on.
type fiberApp[H any] struct {
	served
	use func(h H)
	get func(path string, handlers ...H)
}

// adapterOf is the adapter of major m.
func adapterOf[C fiberCtx, H ~func(C) error](m major[C, H]) adapter {
	mount := func(app fiberApp[H], lg *fiberMiddleware[H], routes []route) served {
		for _, r := range routes {
			app.get(fiberPath(r.path), m.handlers(lg, r)...)
		}
		return app.served
	}
	return adapter{
		name: m.name,
		new: func(cfg config) (*middleware, error) {
			lg, err := m.new(cfg)
			if err != nil {
				return nil, err
			}
			mw := &middleware{cfg: config{Config: lg.cfg}, errorHandler: lg.errorHandler, middleware: func() { lg.handler() }}
			mw.app = func(routes ...route) served {
				app := m.app()
				if !apiOnly(lg.cfg) {
					app.use(lg.handler())
				}
				return mount(app, &lg, routes)
			}
			return mw, nil
		},
		withLogto: func(cfg config) { m.withLogto(cfg) },
		bare:      func(routes ...route) served { return mount(m.app(), nil, routes) },
	}
}

// fiberPath is a route's path in Fiber's syntax: /api/{id}/data is
// /api/:id/data.
func fiberPath(path string) string {
	out := []byte{}
	for i := 0; i < len(path); i++ {
		switch path[i] {
		case '{':
			out = append(out, ':')
		case '}':
		default:
			out = append(out, path[i])
		}
	}
	return string(out)
}

// handlers are r's handlers on major m, behind lg.
func (m major[C, H]) handlers(lg *fiberMiddleware[H], r route) []H {
	var hs []H
	if r.signIn != nil {
		return []H{m.signIn(*r.signIn)}
	}
	if r.bearer != nil {
		hs = append(hs, lg.requireAccessToken(*r.bearer))
	}
	if r.guard {
		hs = append(hs, m.requireAuth())
	}
	if r.recent != 0 {
		hs = append(hs, m.requireRecent(r.recent))
	}
	if r.fetch != nil {
		hs = append(hs, m.fetch(*r.fetch))
	}
	h := m.answer(r)
	if r.answer == answerExchange {
		exchange := lg.exchange.(func(C, logto.TokenExchangeRequest) (*logto.ExchangedToken, error))
		req := r.with.(func() logto.TokenExchangeRequest)
		h = func(c C) error {
			status, v := exchangeAnswer(exchange(c, req()))
			c.Response().SetStatusCode(status)
			return c.JSON(v)
		}
	}
	if r.ran != nil {
		answer := h
		h = func(c C) error {
			r.ran()
			return answer(c)
		}
	}
	return append(hs, h)
}

// answer is the handler that sends r.answer.
func (m major[C, H]) answer(r route) H {
	switch r.answer {
	case answerUser:
		return func(c C) error { return c.JSON(m.user(c)) }
	case answerAccessToken:
		return func(c C) error { return c.SendString(m.user(c).AccessToken) }
	case answerText:
		text := r.with.(string)
		return func(c C) error { return c.SendString(text) }
	case answerSendUser:
		return func(c C) error {
			c.Set(fiber.HeaderCacheControl, "no-store")
			return m.sendUser(c)
		}
	case answerBody:
		body := r.with.([]byte)
		return func(c C) error {
			c.Set(fiber.HeaderCacheControl, "no-store")
			c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
			return c.Send(body)
		}
	case answerValue:
		value := r.with.(func() any)
		return func(c C) error {
			c.Set(fiber.HeaderCacheControl, "no-store")
			return c.JSON(value())
		}
	case answerClaims:
		return func(c C) error { return c.JSON(m.accessToken(c)) }
	case answerExchange:
		return nil // handlers builds it, with the middleware
	}
	panic(fmt.Sprintf("route %s: unknown answer %d", r.path, r.answer))
}

// adapters are the adapters every test runs against.
var adapters = []adapter{
	adapterOf(major[*fiber.Ctx, fiber.Handler]{
		name: "v2",
		new: func(c config) (fiberMiddleware[fiber.Handler], error) {
			lg, err := fiberlogto.New(fiberlogto.Config{Config: c.Config, OnSignIn: onSignIn[*fiber.Ctx](c.OnSignIn)})
			if err != nil {
				return fiberMiddleware[fiber.Handler]{}, err
			}
			eff := lg.Config()
			return fiberMiddleware[fiber.Handler]{cfg: eff.Config, errorHandler: eff.ErrorHandler != nil, handler: lg.Handler, requireAccessToken: lg.RequireAccessToken, exchange: lg.ExchangeToken}, nil
		},
		withLogto: func(c config) fiber.Handler {
			return fiberlogto.WithLogto(fiberlogto.Config{Config: c.Config, OnSignIn: onSignIn[*fiber.Ctx](c.OnSignIn)})
		},
		requireAuth: fiberlogto.RequireAuth, requireRecent: fiberlogto.RequireRecentSignIn, fetch: fiberlogto.Fetch, signIn: fiberlogto.SignIn,
		user: fiberlogto.User, sendUser: fiberlogto.SendUser, accessToken: fiberlogto.AccessToken,
		app: func() fiberApp[fiber.Handler] {
			app := fiber.New(fiber.Config{DisableStartupMessage: true})
			return fiberApp[fiber.Handler]{
				served: served{handler: app.Handler, listen: app.Listener, shutdown: app.ShutdownWithTimeout},
				use:    func(h fiber.Handler) { app.Use(h) },
				get:    func(path string, hs ...fiber.Handler) { app.Get(path, hs...) },
			}
		},
	}),
	adapterOf(major[fiberv3.Ctx, fiberv3.Handler]{
		name: "v3",
		new: func(c config) (fiberMiddleware[fiberv3.Handler], error) {
			lg, err := fiberlogtov3.New(fiberlogtov3.Config{Config: c.Config, OnSignIn: onSignIn[fiberv3.Ctx](c.OnSignIn)})
			if err != nil {
				return fiberMiddleware[fiberv3.Handler]{}, err
			}
			eff := lg.Config()
			return fiberMiddleware[fiberv3.Handler]{cfg: eff.Config, errorHandler: eff.ErrorHandler != nil, handler: lg.Handler, requireAccessToken: lg.RequireAccessToken, exchange: lg.ExchangeToken}, nil
		},
		withLogto: func(c config) fiberv3.Handler {
			return fiberlogtov3.WithLogto(fiberlogtov3.Config{Config: c.Config, OnSignIn: onSignIn[fiberv3.Ctx](c.OnSignIn)})
		},
		requireAuth: fiberlogtov3.RequireAuth, requireRecent: fiberlogtov3.RequireRecentSignIn, fetch: fiberlogtov3.Fetch, signIn: fiberlogtov3.SignIn,
		user: fiberlogtov3.User, sendUser: fiberlogtov3.SendUser, accessToken: fiberlogtov3.AccessToken,
		app: func() fiberApp[fiberv3.Handler] {
			app := fiberv3.New()
			listen := func(ln net.Listener) error {
				return app.Listener(ln, fiberv3.ListenConfig{DisableStartupMessage: true})
			}
			return fiberApp[fiberv3.Handler]{
				served: served{handler: app.Handler, listen: listen, shutdown: app.ShutdownWithTimeout},
				use:    func(h fiberv3.Handler) { app.Use(h) },
				get: func(path string, hs ...fiberv3.Handler) {
					more := make([]any, len(hs)-1)
					for i, h := range hs[1:] {
						more[i] = h
					}
					app.Get(path, hs[0], more...)
				},
			}
		},
	}),
	httpAdapter(),
}

// httpAdapter is the net/http adapter (logtohttp) on the standard
// ServeMux.
func httpAdapter() adapter {
	mount := func(lg *logtohttp.Logto, routes []route) served {
		mux := http.NewServeMux()
		for _, r := range routes {
			pattern := "GET " + r.path
			if r.path == "/" {
				pattern = "GET /{$}"
			}
			mux.Handle(pattern, httpHandlers(lg, r))
		}
		if lg == nil || apiOnly(lg.Config().Config) {
			return httpServed(mux)
		}
		return httpServed(lg.Handler(mux))
	}
	return adapter{
		name: "http",
		new: func(c config) (*middleware, error) {
			lg, err := logtohttp.New(logtohttp.Config{Config: c.Config, OnSignIn: onSignIn[*http.Request](c.OnSignIn)})
			if err != nil {
				return nil, err
			}
			eff := lg.Config()
			mw := &middleware{cfg: config{Config: eff.Config}, errorHandler: eff.ErrorHandler != nil, middleware: func() { lg.Handler(http.NotFoundHandler()) }}
			mw.app = func(routes ...route) served { return mount(lg, routes) }
			return mw, nil
		},
		withLogto: func(c config) {
			logtohttp.WithLogto(logtohttp.Config{Config: c.Config, OnSignIn: onSignIn[*http.Request](c.OnSignIn)})
		},
		bare: func(routes ...route) served { return mount(nil, routes) },
	}
}

// httpServed serves h with an http.Server.
func httpServed(h http.Handler) served {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	return served{
		http:   h,
		listen: srv.Serve,
		shutdown: func(timeout time.Duration) error {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			return srv.Shutdown(ctx)
		},
	}
}

// httpHandlers is r's handler chain on net/http, behind lg.
func httpHandlers(lg *logtohttp.Logto, r route) http.Handler {
	if r.signIn != nil {
		return logtohttp.SignIn(*r.signIn)
	}
	h := httpAnswer(r)
	if r.answer == answerExchange {
		req := r.with.(func() logto.TokenExchangeRequest)
		h = http.HandlerFunc(func(w http.ResponseWriter, hr *http.Request) {
			status, v := exchangeAnswer(lg.ExchangeToken(hr, req()))
			b, _ := json.Marshal(v)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write(b)
		})
	}
	if r.ran != nil {
		answer := h
		h = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			r.ran()
			answer.ServeHTTP(w, req)
		})
	}
	if r.fetch != nil {
		h = logtohttp.Fetch(*r.fetch)(h)
	}
	if r.recent != 0 {
		h = logtohttp.RequireRecentSignIn(r.recent)(h)
	}
	if r.guard {
		h = logtohttp.RequireAuth(h)
	}
	if r.bearer != nil {
		h = lg.RequireAccessToken(*r.bearer)(h)
	}
	return h
}

// httpAnswer is the handler that sends r.answer on net/http.
func httpAnswer(r route) http.Handler {
	sendJSON := func(w http.ResponseWriter, v any) { // as Fiber's c.JSON: no newline
		b, err := json.Marshal(v)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}
	switch r.answer {
	case answerUser:
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { sendJSON(w, logtohttp.User(req)) })
	case answerAccessToken:
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			_, _ = io.WriteString(w, logtohttp.User(req).AccessToken)
		})
	case answerText:
		text := r.with.(string)
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = io.WriteString(w, text)
		})
	case answerSendUser:
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			w.Header().Set("Cache-Control", "no-store")
			logtohttp.SendUser(w, req)
		})
	case answerBody:
		body := r.with.([]byte)
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
		})
	case answerValue:
		value := r.with.(func() any)
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Cache-Control", "no-store")
			sendJSON(w, value())
		})
	case answerClaims:
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { sendJSON(w, logtohttp.AccessToken(req)) })
	case answerExchange:
		return nil // httpHandlers builds it, with the middleware
	}
	panic(fmt.Sprintf("route %s: unknown answer %d", r.path, r.answer))
}

// onSignIn binds a test's hook, which looks at the user only, to an
// adapter's request type R.
func onSignIn[R any](hook func(*logto.UserContext) error) func(R, *logto.UserContext) error {
	if hook == nil {
		return nil
	}
	return func(_ R, user *logto.UserContext) error { return hook(user) }
}
