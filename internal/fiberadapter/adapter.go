// Package fiberadapter is the Fiber side of fiberlogto, written once for
// both Fiber majors. Fiber v2's *fiber.Ctx and v3's fiber.Ctx share the
// methods of Ctx, and both run on fasthttp, so everything here works on
// *fasthttp.Request and *fasthttp.Response; what differs between the
// majors (the context a request carries, Fiber's own error type) comes in a
// Framework from each adapter package, which only names types. It imports
// no Fiber package, and decides nothing: the engine's answers (cookies with
// their attributes, statuses, bodies) are copied onto the response.
package fiberadapter

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"unsafe"

	"github.com/valyala/fasthttp"

	"github.com/fiberlogto/sdk/internal/engine"
	"github.com/fiberlogto/sdk/logto"
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
	// Context is the request's context.Context, for calls to Logto and to
	// the storage.
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

// Hooks are an adapter config's fields that take the major's context, and
// its Locals key.
type Hooks[C Ctx] struct {
	Next         func(c C) bool
	ErrorHandler func(c C, err error) error
	OnSignIn     func(c C, user *logto.UserContext) error
	ContextKey   string
}

// DefaultContextKey is the Locals key of the *logto.UserContext.
const DefaultContextKey = "user"

// Logto is an adapter's middleware: the engine and the hooks, built once.
type Logto[C Ctx, H ~func(C) error] struct {
	*state[C, H]
}

// state is what a request needs: the middleware leaves it in Locals for
// RequireAuth, Fetch and SignIn.
type state[C Ctx, H ~func(C) error] struct {
	eng          *engine.Engine
	fw           Framework[C, H]
	hooks        Hooks[C]
	errorHandler func(C, error) error
	// userKey is ContextKey boxed once: c.Locals takes an interface, and
	// boxing the string on every request would allocate.
	userKey    any
	prefix     string // RoutesPrefix + "/"
	cookieName string
}

// Locals keys of the middleware's own: its state, and the request's
// *engine.Session (which may be shared with other requests of the same
// session, and is then read-only).
const (
	localsKey  = "fiberlogto.logto"
	sessionKey = "fiberlogto.session"
)

// New checks the config and builds the middleware's state. It does not
// contact Logto (see engine.New).
func New[C Ctx, H ~func(C) error](fw Framework[C, H], cfg logto.Config, hooks Hooks[C]) (*Logto[C, H], error) {
	eng, err := engine.New(cfg)
	if err != nil {
		return nil, err
	}
	if hooks.ContextKey == "" {
		hooks.ContextKey = DefaultContextKey
	}
	s := &state[C, H]{
		eng: eng, fw: fw, hooks: hooks, errorHandler: hooks.ErrorHandler,
		userKey: hooks.ContextKey, prefix: eng.RoutesPrefix(), cookieName: eng.CookieName(),
	}
	if s.errorHandler == nil {
		s.errorHandler = func(c C, err error) error { return DefaultErrorHandler(fw, c, err) }
	}
	return &Logto[C, H]{state: s}, nil
}

// Engine is the engine behind the middleware.
func (l *Logto[C, H]) Engine() *engine.Engine { return l.eng }

// EffectiveHooks returns the hooks with their defaults filled (ContextKey).
func (l *Logto[C, H]) EffectiveHooks() Hooks[C] { return l.hooks }

// Handler returns the middleware: it serves the routes under RoutesPrefix
// and puts the request's *logto.UserContext in Locals for every other
// request. It panics, at setup, on a config that cannot sign users in (see
// engine.CheckSignIn).
func (l *Logto[C, H]) Handler() H {
	if err := l.eng.CheckSignIn(); err != nil {
		panic(err)
	}
	return l.handle
}

func (s *state[C, H]) handle(c C) error {
	s.fw.SetLocal(c, localsKey, s)
	if path := c.Path(); strings.HasPrefix(path, s.prefix) {
		if a, ok := s.eng.Serve(s.fw.Context(c), path, request[C]{c: c}, s.signInHook(c)); ok {
			return s.answer(c, a)
		}
	}
	if s.hooks.Next != nil && s.hooks.Next(c) {
		return c.Next()
	}
	sess, clear, err := s.eng.User(s.fw.Context(c), cookie(c, s.cookieName))
	if clear {
		setCookie(c.Response(), s.eng.ClearSessionCookie())
	}
	if err != nil {
		return s.errorHandler(c, err)
	}
	s.setSession(c, sess)
	return c.Next()
}

// setSession makes sess the request's: in Locals for Fetch, and its user
// context for the app.
func (s *state[C, H]) setSession(c C, sess *engine.Session) {
	s.fw.SetLocal(c, sessionKey, sess)
	s.fw.SetLocal(c, s.userKey, &sess.User)
}

// signInHook binds the app's OnSignIn to the request (nil without one).
func (s *state[C, H]) signInHook(c C) engine.SignInHook {
	if s.hooks.OnSignIn == nil {
		return nil
	}
	return func(user *logto.UserContext) error { return s.hooks.OnSignIn(c, user) }
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
		if errors.Is(err, logto.ErrMethodNotAllowed) {
			err = s.fw.MethodNotAllowed
		}
		return s.errorHandler(c, err)
	}
	writeAnswer(resp, a)
	return nil
}

// writeAnswer writes an answer's redirect, or its status and body.
func writeAnswer(resp *fasthttp.Response, a *engine.Answer) {
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
}

// setCookie writes a cookie of the engine's as it is: every attribute was
// decided there. A cookie to clear (MaxAge < 0) expires in 1970.
func setCookie(resp *fasthttp.Response, ck *http.Cookie) {
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
	fc.SetHTTPOnly(ck.HttpOnly)
	fc.SetSecure(ck.Secure)
	switch ck.SameSite {
	case http.SameSiteLaxMode:
		fc.SetSameSite(fasthttp.CookieSameSiteLaxMode)
	case http.SameSiteStrictMode:
		fc.SetSameSite(fasthttp.CookieSameSiteStrictMode)
	case http.SameSiteNoneMode:
		fc.SetSameSite(fasthttp.CookieSameSiteNoneMode)
	}
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
type request[C Ctx] struct{ c C }

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

func (r request[C]) Host() string { return string(r.c.Request().Host()) }

func (r request[C]) FormValue(key string) string {
	return string(r.c.Request().PostArgs().Peek(key))
}

func (r request[C]) Method() string      { return r.c.Method() }
func (r request[C]) OriginalURL() string { return r.c.OriginalURL() }
