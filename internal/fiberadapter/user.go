package fiberadapter

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/valyala/bytebufferpool"

	"github.com/fiberlogto/sdk/internal/engine"
)

// defaultUserKey is the default ContextKey "user", boxed once.
var defaultUserKey any = "user"

// User returns the *UserContext the middleware stored under key (nil: the
// default key "user"). It never returns nil: without the middleware, or for
// an anonymous request, it returns a context with IsAuthenticated false.
func User[C Ctx](c C, key any) *engine.UserContext {
	if key == nil {
		key = defaultUserKey
	}
	if u, ok := c.Locals(key).(*engine.UserContext); ok && u != nil {
		return u
	}
	return &engine.UserContext{}
}

// SendUser answers with u as JSON (@logto/express's LogtoContext), without
// encoding/json: the claims are written as Logto sent them.
func SendUser[C Ctx](c C, u *engine.UserContext) error {
	resp := c.Response()
	resp.Header.SetContentType("application/json")
	bb := bytebufferpool.Get()
	bb.B = u.AppendJSON(bb.B[:0])
	resp.SetBody(bb.B) // copies into the response's own buffer
	bytebufferpool.Put(bb)
	return nil
}

// authRequiredKey marks a request that passed RequireAuth.
const authRequiredKey = "fiberlogto.auth-required"

// stateOf returns the middleware's state, or answers the misconfiguration
// of a route that runs without it.
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
		return nil, DefaultErrorHandler(fw, c, fmt.Errorf("%w: %s runs after WithLogto", engine.ErrConfig, what))
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
func Fetch[C Ctx, H ~func(C) error](fw Framework[C, H], opts engine.FetchOptions) H {
	if err := engine.CheckFetchOptions(opts); err != nil {
		panic(err)
	}
	return func(c C) error {
		s, err := stateOf(fw, c, "fiberlogto.Fetch")
		if s == nil {
			return err
		}
		user := User(c, s.userKey)
		signedOut, err := s.eng.Fetch(fw.Context(c), user, opts)
		if err != nil {
			return s.errorHandler(c, err)
		}
		if signedOut {
			setCookie(c.Response(), s.eng.ClearSessionCookie())
			fw.SetLocal(c, s.userKey, &engine.UserContext{})
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
	return engine.StatusInternalServerError
}

// DefaultErrorHandler answers JSON to API clients and a small HTML page to
// browsers, with the sentinel's message only, escaped, and not cacheable.
func DefaultErrorHandler[C Ctx, H ~func(C) error](fw Framework[C, H], c C, err error) error {
	status := StatusOf(fw, err)
	msg := engine.PublicMessage(err)
	if msg == "" {
		if code, m, ok := fw.FiberError(err); ok && code < engine.StatusInternalServerError {
			msg = m
		} else {
			msg = "internal error"
		}
	}
	resp := c.Response()
	resp.Header.Set("Cache-Control", "no-store")
	resp.SetStatusCode(status)
	if engine.ForAPI(err) || !engine.IsPageRequest(request[C]{c: c}) {
		resp.Header.SetContentType("application/json")
		resp.SetBody(engine.ErrorJSON(msg))
		return nil
	}
	resp.Header.SetContentType("text/html; charset=utf-8")
	resp.SetBodyString(engine.ErrorPage(msg))
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
func SignIn[C Ctx, H ~func(C) error](fw Framework[C, H], opts engine.SignInOptions) H {
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
