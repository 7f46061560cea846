// Package fiberadapter is the Fiber side of fiberlogto, written once for
// both Fiber majors. Fiber v2's *fiber.Ctx and v3's fiber.Ctx share the
// methods of Ctx, and both run on fasthttp, so everything here works on
// *fasthttp.Request and *fasthttp.Response; what differs between the
// majors (the context a request carries, Fiber's own error type) comes in a
// Framework from each adapter package, which only names types. It imports
// no Fiber package.
package fiberadapter

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unsafe"

	"github.com/valyala/fasthttp"

	"github.com/fiberlogto/sdk/internal/engine"
	"github.com/fiberlogto/sdk/storage/memory"
)

// Ctx is what Fiber v2's *fiber.Ctx and v3's fiber.Ctx have in common, and
// all the adapter uses.
type Ctx interface {
	Request() *fasthttp.Request
	Response() *fasthttp.Response
	Locals(key any, value ...any) any
	Next() error
	Path(override ...string) string
	Method(override ...string) string
	OriginalURL() string
	Params(key string, defaultValue ...string) string
}

// Framework is what differs between the Fiber majors: C is the handler's
// context, H the major's fiber.Handler.
type Framework[C Ctx, H ~func(C) error] struct {
	// Context is the request's context.Context, for calls to Logto.
	Context func(c C) context.Context
	// FiberError reads Fiber's own *fiber.Error of that major.
	FiberError func(err error) (status int, message string, ok bool)
	// MethodNotAllowed is that major's fiber.ErrMethodNotAllowed.
	MethodNotAllowed error
	// SetLocal is c.Locals(key, value), called on the major's own type: a
	// variadic call through Ctx would allocate its argument slice on every
	// request, as the compiler cannot see that Locals keeps only value.
	SetLocal func(c C, key, value any)
}

// Logto is an adapter's middleware: the engine and the config, built once.
// S is the major's fiber.Storage.
type Logto[C Ctx, S any, H ~func(C) error] struct {
	*state[C, H]
	cfg engine.Config[C, S]
}

// state is what a request needs, independent of the storage type: it is
// what the middleware leaves in Locals for RequireAuth and Fetch.
type state[C Ctx, H ~func(C) error] struct {
	eng          *engine.Engine
	fw           Framework[C, H]
	next         func(C) bool
	errorHandler func(C, error) error
	// userKey is Config.ContextKey boxed once: c.Locals takes an interface,
	// and boxing the string on every request would allocate.
	userKey    any
	prefix     string // RoutesPrefix + "/"
	cookieName string
	onSignIn   func(C, *engine.UserContext) error
}

// localsKey is where the middleware leaves its *state for RequireAuth and
// Fetch.
const localsKey = "fiberlogto.logto"

// New checks the config and builds the middleware's state. It does not
// contact Logto (see engine.New).
func New[C Ctx, S any, H ~func(C) error](fw Framework[C, H], config engine.Config[C, S]) (*Logto[C, S, H], error) {
	cfg, err := engine.Prepare(config)
	if err != nil {
		return nil, err
	}
	var store engine.Storage
	if any(cfg.Storage) == nil {
		mem := memory.New()
		cfg.Storage, _ = any(mem).(S)
		store = mem
	} else if store, _ = any(cfg.Storage).(engine.Storage); store == nil {
		return nil, errors.New("fiberlogto: invalid config: Storage lacks Get, Set, Delete, Reset or Close")
	}
	if cfg.ErrorHandler == nil {
		cfg.ErrorHandler = func(c C, err error) error { return DefaultErrorHandler(fw, c, err) }
	}
	eng, err := engine.New(&cfg, store)
	if err != nil {
		return nil, err
	}
	return &Logto[C, S, H]{cfg: cfg, state: &state[C, H]{
		eng: eng, fw: fw, next: cfg.Next, errorHandler: cfg.ErrorHandler,
		userKey: cfg.ContextKey, prefix: eng.RoutesPrefix(), cookieName: eng.CookieName(), onSignIn: cfg.OnSignIn,
	}}, nil
}

// WithLogto builds the middleware for config and returns its handler; it
// panics on an invalid config, at startup, as Fiber's own middleware does.
func WithLogto[C Ctx, S any, H ~func(C) error](fw Framework[C, H], config engine.Config[C, S]) H {
	l, err := New(fw, config)
	if err != nil {
		panic(err)
	}
	return l.Handler()
}

// Config returns the effective config, defaults filled.
func (l *Logto[C, S, H]) Config() engine.Config[C, S] { return l.cfg }

// Handler returns the middleware: it serves the routes under RoutesPrefix
// and puts the request's *UserContext in Locals for every other request.
func (l *Logto[C, S, H]) Handler() H { return l.handle }

func (s *state[C, H]) handle(c C) error {
	s.fw.SetLocal(c, localsKey, s)
	if path := c.Path(); strings.HasPrefix(path, s.prefix) {
		if a, ok := s.eng.Serve(s.fw.Context(c), path, request[C]{c: c, onSignIn: s.onSignIn}); ok {
			return s.answer(c, a)
		}
	}
	if s.next != nil && s.next(c) {
		return c.Next()
	}
	user, clear, err := s.eng.User(s.fw.Context(c), cookie(c, s.cookieName))
	if clear {
		setCookie(c.Response(), s.eng.ClearSessionCookie())
	}
	if err != nil {
		return s.errorHandler(c, err)
	}
	s.fw.SetLocal(c, s.userKey, user)
	return c.Next()
}

// answer writes what the engine answered: headers and cookies, then the
// error through the error handler, the redirect, or the status and body.
func (s *state[C, H]) answer(c C, a *engine.Answer) error {
	resp := c.Response()
	for _, h := range a.Headers {
		resp.Header.Set(h.Name, h.Value)
	}
	for _, ck := range a.Cookies {
		setCookie(resp, ck)
	}
	if a.Err != nil {
		err := a.Err
		if errors.Is(err, engine.ErrMethodNotAllowed) {
			err = s.fw.MethodNotAllowed
		}
		return s.errorHandler(c, err)
	}
	if a.Location != "" {
		resp.Header.Set(fasthttp.HeaderLocation, a.Location)
	}
	if a.ContentType != "" {
		resp.Header.SetContentType(a.ContentType)
	}
	resp.SetStatusCode(a.Status)
	if a.Body != nil {
		resp.SetBody(a.Body)
	}
	return nil
}

// setCookie sends a cookie of ours: HttpOnly and SameSite=Lax always; a
// cookie to clear expires in 1970.
func setCookie(resp *fasthttp.Response, ck engine.Cookie) {
	fc := fasthttp.AcquireCookie()
	defer fasthttp.ReleaseCookie(fc)
	fc.SetKey(ck.Name)
	fc.SetValue(ck.Value)
	fc.SetPath(ck.Path)
	fc.SetDomain(ck.Domain)
	if ck.MaxAge < 0 {
		fc.SetExpire(fasthttp.CookieExpireDelete)
	} else {
		fc.SetMaxAge(ck.MaxAge)
	}
	fc.SetHTTPOnly(true)
	fc.SetSecure(ck.Secure)
	fc.SetSameSite(fasthttp.CookieSameSiteLaxMode)
	resp.Header.SetCookie(fc)
}

// cookie returns a request cookie's value without copying it: it is valid
// for the request only, which is all the engine keeps it for.
func cookie[C Ctx](c C, name string) string {
	b := c.Request().Header.Cookie(name)
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// request is the engine's view of a Fiber request.
type request[C Ctx] struct {
	c        C
	onSignIn func(C, *engine.UserContext) error
}

func (r request[C]) OnSignIn(user *engine.UserContext) (err error) {
	if r.onSignIn == nil {
		return nil
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", engine.ErrHookPanicked, p)
		}
	}()
	return r.onSignIn(r.c, user)
}

func (r request[C]) Query(key string) string {
	return string(r.c.Request().URI().QueryArgs().Peek(key))
}

func (r request[C]) QueryCount(key string) int {
	return countArgs(r.c.Request().URI().QueryArgs(), key)
}

func (r request[C]) FormCount(key string) int {
	return countArgs(r.c.Request().PostArgs(), key)
}

// countArgs counts the values of key in args.
func countArgs(args *fasthttp.Args, key string) int {
	n := 0
	for k := range args.All() {
		if string(k) == key {
			n++
		}
	}
	return n
}

func (r request[C]) Cookie(name string) string {
	return string(r.c.Request().Header.Cookie(name))
}

func (r request[C]) Header(name string) string {
	return string(r.c.Request().Header.Peek(name))
}

func (r request[C]) FormValue(key string) string {
	return string(r.c.Request().PostArgs().Peek(key))
}

func (r request[C]) Method() string      { return r.c.Method() }
func (r request[C]) OriginalURL() string { return r.c.OriginalURL() }
