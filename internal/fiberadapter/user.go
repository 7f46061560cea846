package fiberadapter

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/valyala/bytebufferpool"

	"github.com/fiberlogto/sdk/internal/engine"
	"github.com/fiberlogto/sdk/logto"
)

// defaultUserKey is the default ContextKey "user", boxed once.
var defaultUserKey any = DefaultContextKey

// User returns the *UserContext the middleware stored under key (nil: the
// default key "user"). It never returns nil: without the middleware, or for
// an anonymous request, it returns a context with IsAuthenticated false.
func User[C Ctx](c C, key any) *logto.UserContext {
	if key == nil {
		key = defaultUserKey
	}
	if u, ok := c.Locals(key).(*logto.UserContext); ok && u != nil {
		return u
	}
	return &logto.UserContext{}
}

// SendUser answers with u as JSON (@logto/express's LogtoContext), without
// encoding/json: the claims are written as Logto sent them.
func SendUser[C Ctx](c C, u *logto.UserContext) error {
	resp := c.Response()
	resp.Header.SetContentType("application/json")
	if sess, _ := c.Locals(sessionKey).(*engine.Session); sess != nil && &sess.User == u && sess.JSON() != nil {
		resp.SetBody(sess.JSON()) // built once per session version
		return nil
	}
	bb := bytebufferpool.Get()
	bb.B = u.AppendJSON(bb.B[:0])
	resp.SetBody(bb.B) // copies into the response's own buffer
	bytebufferpool.Put(bb)
	return nil
}

// authRequiredKey marks a request that passed RequireAuth.
const authRequiredKey = "fiberlogto.auth-required"

// stateOf returns the request's state, or answers the misconfiguration
// of a route that runs without the middleware.
//
// A route registered before app.Use(WithLogto(...)) never sees the
// middleware: that is the app's mistake, not the user's, so it answers 500
// and says so in the log, rather than 401 to a signed-in user.
func stateOf[C Ctx, H ~func(C) error](fw Framework[C, H], c C, what string) (*state[C, H], error) {
	s, _ := c.Locals(localsKey).(*state[C, H])
	if s == nil {
		slog.Default().Error("fiberlogto: configuration error",
			"error", what+" ran without WithLogto: register the route after app.Use(fiberlogto.WithLogto(...)), or mount it on a group that uses it",
			"path", c.Path())
		return nil, DefaultErrorHandler(fw, c, fmt.Errorf("%w: %s runs after WithLogto", logto.ErrConfig, what))
	}
	return s, nil
}

// RequireAuth is the guard: a signed-in request goes on; an anonymous page
// request is redirected to sign-in, coming back afterwards; an anonymous
// API request gets 401.
func RequireAuth[C Ctx, H ~func(C) error](fw Framework[C, H]) H {
	return func(c C) error {
		s, err := stateOf(fw, c, "fiberlogto.RequireAuth")
		if s == nil {
			return err
		}
		if User(c, s.userKey).IsAuthenticated {
			// A Fetch after this guard that signs the user out (the
			// grant was revoked) answers as the guard would.
			fw.SetLocal(c, authRequiredKey, true)
			return c.Next()
		}
		return s.answer(c, s.eng.DenyAnonymous(request[C]{c: c}))
	}
}

// Fetch adds what opts asks for to the request's UserContext. It runs after
// the middleware and shares its sessions and its refresh lock.
func Fetch[C Ctx, H ~func(C) error](fw Framework[C, H], opts logto.FetchOptions) H {
	if err := engine.CheckFetchOptions(opts); err != nil {
		panic(err)
	}
	return func(c C) error {
		s, err := stateOf(fw, c, "fiberlogto.Fetch")
		if s == nil {
			return err
		}
		sess, _ := c.Locals(sessionKey).(*engine.Session)
		if sess == nil { // Next skipped the middleware: anonymous
			return c.Next()
		}
		sess, signedOut, err := s.eng.Fetch(fw.Context(c), sess, opts)
		if err != nil {
			return s.errorHandler(c, err)
		}
		s.setSession(c, sess)
		if signedOut {
			setCookie(c.Response(), s.eng.ClearSessionCookie())
			if required, _ := c.Locals(authRequiredKey).(bool); required {
				return s.answer(c, s.eng.DenyAnonymous(request[C]{c: c}))
			}
		}
		return c.Next()
	}
}

// StatusOf returns the status the default error handler answers err with:
// the sentinel's, Fiber's own error's, else 500.
func StatusOf[C Ctx, H ~func(C) error](fw Framework[C, H], err error) int {
	if status, ok := engine.StatusOf(err); ok {
		return status
	}
	if status, _, ok := fw.FiberError(err); ok {
		return status
	}
	return http.StatusInternalServerError
}

// DefaultErrorHandler answers JSON to API clients and a small HTML page to
// browsers, with the sentinel's message only, escaped, and not cacheable.
func DefaultErrorHandler[C Ctx, H ~func(C) error](fw Framework[C, H], c C, err error) error {
	status := StatusOf(fw, err)
	msg := engine.PublicMessage(err)
	if msg == "" {
		if code, m, ok := fw.FiberError(err); ok && code < http.StatusInternalServerError {
			msg = m
		} else {
			msg = "internal error"
		}
	}
	a := engine.ErrorAnswer(status, msg, engine.ForAPI(err) || !engine.IsPageRequest(request[C]{c: c}))
	resp := c.Response()
	for _, h := range a.Headers {
		resp.Header.Set(h.Name, h.Value)
	}
	writeAnswer(resp, a)
	return nil
}

// FiberErrorReader builds Framework.FiberError for E, a major's
// *fiber.Error, from a function that reads its code and message.
func FiberErrorReader[E error](fields func(E) (int, string)) func(error) (int, string, bool) {
	return func(err error) (int, string, bool) {
		var e E
		if errors.As(err, &e) {
			status, msg := fields(e)
			return status, msg, true
		}
		return 0, "", false
	}
}

// SignIn starts a sign-in with fixed options, for a route of the app's own
// (a "sign up" or "continue with Google" button): only returnTo is read
// from the request. It runs after the middleware; it panics on invalid
// options, at setup.
func SignIn[C Ctx, H ~func(C) error](fw Framework[C, H], opts logto.SignInOptions) H {
	if err := engine.CheckSignInOptions(opts); err != nil {
		panic(err)
	}
	return func(c C) error {
		s, err := stateOf(fw, c, "fiberlogto.SignIn")
		if s == nil {
			return err
		}
		return s.answer(c, s.eng.SignInWith(fw.Context(c), request[C]{c: c}, opts))
	}
}

// RequireRecentSignIn guards sensitive routes: a session whose last
// sign-in with credentials is older than maxAge is sent through sign-in
// again (a page) or answered 401 logto.ErrRecentSignInRequired (an API
// call); see engine.RequireRecentSignIn. It runs after the middleware; it
// panics on a maxAge that is not whole seconds, at setup.
func RequireRecentSignIn[C Ctx, H ~func(C) error](fw Framework[C, H], maxAge time.Duration) H {
	if err := engine.CheckRecentSignIn(maxAge); err != nil {
		panic(err)
	}
	return func(c C) error {
		s, err := stateOf(fw, c, "fiberlogto.RequireRecentSignIn")
		if s == nil {
			return err
		}
		sess, _ := c.Locals(sessionKey).(*engine.Session)
		if sess == nil {
			sess = engine.Anonymous()
		}
		if a := s.eng.RequireRecentSignIn(request[C]{c: c}, sess, maxAge); a != nil {
			return s.answer(c, a)
		}
		return c.Next()
	}
}

// ExchangeToken exchanges a token at Logto (see engine.ExchangeToken); the
// request's session is the actor's with req.SignedInUserActs.
func (l *Logto[C, H]) ExchangeToken(c C, req logto.TokenExchangeRequest) (*logto.ExchangedToken, error) {
	sess, _ := c.Locals(sessionKey).(*engine.Session)
	return l.eng.ExchangeToken(l.fw.Context(c), sess, req)
}
