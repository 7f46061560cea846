package fiberlogto_test

import (
	"fmt"
	"net"
	"reflect"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	fiberv3 "github.com/gofiber/fiber/v3"
	"github.com/valyala/fasthttp"

	"github.com/fiberlogto/sdk/fiberlogto"
	fiberlogtov3 "github.com/fiberlogto/sdk/fiberlogto/v3"
	"github.com/fiberlogto/sdk/internal/engine"
	"github.com/fiberlogto/sdk/internal/fiberadapter"
)

// The flow, security, concurrency and storage-fault tests and the
// benchmarks run once per Fiber adapter, from the table adapters: each
// test's body takes the adapter it runs on, and forEachAdapter runs it as a
// subtest named after the adapter (TestSignInFlow/v2/memory). A test writes
// its config as the v2 package's fiberlogto.Config and its extra routes as
// routes; each adapter turns them into its own major's.

// Storage is what the tests hand an adapter as Config.Storage: Fiber v3's
// fiber.Storage, which has v2's methods and their context variants, so one
// value fits either major. Every storage of this repository is one; the
// tests' wrappers embed one and count or fail its plain methods, which are
// all the engine calls (engine.Storage).
type Storage = fiberv3.Storage

// adapter is one Fiber adapter as the tests drive it.
type adapter struct {
	name string
	// new is the adapter's New, for configs written as fiberlogto.Config.
	new func(config fiberlogto.Config) (*middleware, error)
	// withLogto is the adapter's WithLogto, which panics on a bad config.
	withLogto func(config fiberlogto.Config)
	// bare is an app of the adapter's major without fiberlogto.
	bare func(routes ...route) served
}

// middleware is what an adapter's New built.
type middleware struct {
	// cfg is the effective config in fiberlogto.Config's shape, without
	// Next and ErrorHandler: they take a major's own context.
	cfg fiberlogto.Config
	// errorHandler tells whether the effective config has an ErrorHandler.
	errorHandler bool
	// app is an app of the adapter's major behind the middleware, serving
	// routes.
	app func(routes ...route) served
}

// served is a Fiber app of either major with its routes mounted: its
// fasthttp handler, to drive it in process, or served on a listener until
// shutdown.
type served struct {
	handler  func() fasthttp.RequestHandler
	listen   func(ln net.Listener) error
	shutdown func(timeout time.Duration) error
}

// route is a GET route of a test app, the same on every adapter: its
// handlers are RequireAuth() when guard is set, then Fetch(*fetch) when
// fetch is, then a handler that calls ran (when set) and sends answer.
type route struct {
	path  string
	guard bool
	fetch *fiberlogto.FetchOptions
	// bearer, when set, puts the middleware's RequireAccessToken(*bearer)
	// first (API protection); signIn makes the route SignIn(*signIn).
	bearer *engine.AccessTokenOptions
	signIn *engine.SignInOptions
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
)

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

// forEachAdapter runs f once per adapter, as a subtest named after it: v2
// or v3 in a test (TestSignInFlow/v3/memory), fiber=v2 or fiber=v3 in a
// benchmark (BenchmarkSignedInRequest/fiber=v3/memory), the key=value form
// benchstat projects on: benchstat -col /fiber compares the majors.
func forEachAdapter[TB runner[TB]](tb TB, f func(TB, adapter)) {
	tb.Helper()
	for _, a := range adapters {
		name := a.name
		if _, ok := any(tb).(*testing.B); ok {
			name = "fiber=" + name
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
// handler context, S its fiber.Storage, H its fiber.Handler.
type major[C fiberCtx, S any, H ~func(C) error] struct {
	name        string
	new         func(config engine.Config[C, S]) (*fiberadapter.Logto[C, S, H], error)
	withLogto   func(config engine.Config[C, S]) H
	requireAuth func() H
	fetch       func(opts engine.FetchOptions) H
	signIn      func(opts engine.SignInOptions) H
	user        func(c C) *engine.UserContext
	sendUser    func(c C) error
	accessToken func(c C) *engine.AccessTokenClaims
	// app is a new app of the major, its startup message off.
	app func() fiberApp[H]
}

// fiberApp is a new Fiber app of a major, to mount handlers on.
type fiberApp[H any] struct {
	served
	use func(h H)
	get func(path string, handlers ...H)
}

// adapterOf is the adapter of major m.
func adapterOf[C fiberCtx, S any, H ~func(C) error](m major[C, S, H]) adapter {
	mount := func(app fiberApp[H], lg *fiberadapter.Logto[C, S, H], routes []route) served {
		for _, r := range routes {
			app.get(r.path, m.handlers(lg, r)...)
		}
		return app.served
	}
	return adapter{
		name: m.name,
		new: func(config fiberlogto.Config) (*middleware, error) {
			lg, err := m.new(convertConfig[engine.Config[C, S]](config))
			if err != nil {
				return nil, err
			}
			eff := lg.Config()
			mw := &middleware{errorHandler: eff.ErrorHandler != nil}
			eff.Next, eff.ErrorHandler = nil, nil
			mw.cfg = convertConfig[fiberlogto.Config](eff)
			engine.SetClock(&mw.cfg, engine.ClockOf(&eff))
			mw.app = func(routes ...route) served {
				app := m.app()
				app.use(lg.Handler())
				return mount(app, lg, routes)
			}
			return mw, nil
		},
		withLogto: func(config fiberlogto.Config) {
			m.withLogto(convertConfig[engine.Config[C, S]](config))
		},
		bare: func(routes ...route) served { return mount(m.app(), nil, routes) },
	}
}

// handlers are r's handlers on major m, behind lg.
func (m major[C, S, H]) handlers(lg *fiberadapter.Logto[C, S, H], r route) []H {
	var hs []H
	if r.signIn != nil {
		return []H{m.signIn(*r.signIn)}
	}
	if r.bearer != nil {
		hs = append(hs, lg.RequireAccessToken(*r.bearer))
	}
	if r.guard {
		hs = append(hs, m.requireAuth())
	}
	if r.fetch != nil {
		hs = append(hs, m.fetch(*r.fetch))
	}
	h := m.answer(r)
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
func (m major[C, S, H]) answer(r route) H {
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
	}
	panic(fmt.Sprintf("route %s: unknown answer %d", r.path, r.answer))
}

// convertConfig copies the fields of src, an engine.Config, into a D,
// another instance of it, field by field: a field of the same type as it
// is; Storage by its value, which must fit D's storage type (see Storage).
// Next and ErrorHandler take one major's context and cannot cross: a test
// that sets one must run on that major only.
//
// The clock (engine.SetClock) is no field: it is copied too, when src and D
// are configs of an adapter of this table.
func convertConfig[D any](src any) D {
	var dst D
	d, s := reflect.ValueOf(&dst).Elem(), reflect.ValueOf(src)
	for i := range s.NumField() {
		if !s.Type().Field(i).IsExported() {
			continue // the clock: copyClock
		}
		name := s.Type().Field(i).Name
		sf, df := s.Field(i), d.FieldByName(name)
		switch {
		case sf.IsZero():
		case sf.Type() == df.Type():
			df.Set(sf)
		case sf.Kind() == reflect.Interface && df.Kind() == reflect.Interface && sf.Elem().Type().Implements(df.Type()):
			df.Set(sf.Elem())
		case name == "OnSignIn":
			// The tests' hooks look at the user, never at the request: the
			// other major's gets a nil context.
			df.Set(reflect.MakeFunc(df.Type(), func(args []reflect.Value) []reflect.Value {
				return sf.Call([]reflect.Value{reflect.Zero(sf.Type().In(0)), args[1]})
			}))
		default:
			panic(fmt.Sprintf("Config.%s (%s) has no %s counterpart: set it on one major's tests only", name, sf.Type(), df.Type()))
		}
	}
	copyClock(&dst, src)
	return dst
}

// copyClock copies the test clock of src to *dst, both configs of one of
// the table's majors.
func copyClock(dst, src any) {
	var now func() time.Time
	switch c := src.(type) {
	case engine.Config[*fiber.Ctx, fiber.Storage]:
		now = engine.ClockOf(&c)
	case engine.Config[fiberv3.Ctx, fiberv3.Storage]:
		now = engine.ClockOf(&c)
	}
	switch d := dst.(type) {
	case *engine.Config[*fiber.Ctx, fiber.Storage]:
		engine.SetClock(d, now)
	case *engine.Config[fiberv3.Ctx, fiberv3.Storage]:
		engine.SetClock(d, now)
	}
}

// adapters are the adapters every test runs against.
var adapters = []adapter{
	adapterOf(major[*fiber.Ctx, fiber.Storage, fiber.Handler]{
		name: "v2", new: fiberlogto.New, withLogto: fiberlogto.WithLogto,
		requireAuth: fiberlogto.RequireAuth, fetch: fiberlogto.Fetch, signIn: fiberlogto.SignIn,
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
	adapterOf(major[fiberv3.Ctx, fiberv3.Storage, fiberv3.Handler]{
		name: "v3", new: fiberlogtov3.New, withLogto: fiberlogtov3.WithLogto,
		requireAuth: fiberlogtov3.RequireAuth, fetch: fiberlogtov3.Fetch, signIn: fiberlogtov3.SignIn,
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
}
