// Package logtohttp signs the users of a net/http app in with Logto, the
// open-source OpenID Connect identity server, and protects its APIs with
// Logto's access tokens. It has the names of the Fiber adapters
// (github.com/fiberlogto/sdk/fiberlogto and .../fiberlogto/v3) and runs on
// the same engine; every type but net/http's is package logto's, documented
// there.
//
// The middleware is a func(http.Handler) http.Handler: it serves the
// sign-in routes under Config.RoutesPrefix (/logto/sign-in, /logto/sign-up,
// /logto/sign-in-callback, /logto/sign-out, /logto/backchannel-logout) and
// puts the request's *logto.UserContext in its context for every other
// request; read it with User(r). It works in front of the standard
// ServeMux, with chi (r.Use(lg.Handler)), and with Echo through
// echo.WrapMiddleware(lg.Handler).
//
//	lg, err := logtohttp.New(logtohttp.Config{Config: logto.Config{
//		Endpoint:  "https://tenant.logto.app",
//		AppID:     "...",
//		AppSecret: "...",
//		BaseURL:   "http://localhost:3000",
//	}})
//	mux := http.NewServeMux()
//	mux.Handle("GET /protected", logtohttp.RequireAuth(protected))
//	http.ListenAndServe(":3000", lg.Handler(mux))
//
// RequireAuth, Fetch(opts) and lg.RequireAccessToken(opts) are middleware
// of the same form, for one route or a group of them.
package logtohttp

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/fiberlogto/sdk/internal/engine"
	"github.com/fiberlogto/sdk/logto"
)

// Config is the config of the middleware and its routes: logto.Config
// (Endpoint, AppID, AppSecret, BaseURL, Storage... each documented there),
// and the hooks that take net/http's *http.Request.
type Config struct {
	logto.Config

	// Next defines a function to skip this middleware when it returns
	// true. The sign-in routes are never skipped.
	//
	// Optional. Default: nil
	Next func(r *http.Request) bool

	// ErrorHandler renders every error of the routes and the middleware.
	// Errors wrap one of package logto's sentinel errors; StatusOf gives
	// the status the default handler uses.
	//
	// Optional. Default: DefaultErrorHandler
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	// OnSignIn runs when a sign-in is about to succeed: after the ID token
	// is verified, before the session is stored, with the request and the
	// new user context (claims, Subject, IDToken). Returning an error
	// refuses the sign-in: no session is stored, the new refresh token is
	// revoked, and ErrorHandler gets an error wrapping
	// logto.ErrSignInRefused and yours (403 by default). A panic in it
	// refuses the sign-in the same way. Use it to create the app's own
	// user row, or to turn away a suspended account.
	//
	// Optional. Default: nil
	OnSignIn func(r *http.Request, user *logto.UserContext) error

	// PathValue reads a route parameter, for
	// logto.AccessTokenOptions.OrganizationParam. The default reads the
	// standard ServeMux's wildcards ({id} in "GET /orgs/{id}/data"); with
	// chi, set chi.URLParam.
	//
	// Optional. Default: (*http.Request).PathValue
	PathValue func(r *http.Request, name string) string
}

// ConfigDefault is the default config: logto.ConfigDefault. ErrorHandler
// nil means DefaultErrorHandler, PathValue nil (*http.Request).PathValue.
var ConfigDefault = Config{Config: logto.ConfigDefault}

// Logto is the state behind the routes and the middleware: config,
// discovery, key set, HTTP client and session store, built once by New.
type Logto struct {
	eng        *engine.Engine
	cfg        Config
	prefix     string // RoutesPrefix + "/"
	cookieName string
}

// New checks the config and builds the middleware; a bad config is an
// error naming the field (wrapping logto.ErrConfig). It does not contact
// Logto: discovery runs in the background and on first use, so an app
// starts even while Logto is down.
func New(config Config) (*Logto, error) {
	eng, err := engine.New(config.Config)
	if err != nil {
		return nil, err
	}
	cfg := config
	cfg.Config = eng.Config()
	if cfg.ErrorHandler == nil {
		cfg.ErrorHandler = DefaultErrorHandler
	}
	if cfg.PathValue == nil {
		cfg.PathValue = (*http.Request).PathValue
	}
	return &Logto{eng: eng, cfg: cfg, prefix: eng.RoutesPrefix(), cookieName: eng.CookieName()}, nil
}

// WithLogto returns the middleware for config (see Logto.Handler). It
// panics on an invalid config, at startup, as Fiber's middleware does; use
// New to get the error instead.
func WithLogto(config Config) func(http.Handler) http.Handler {
	l, err := New(config)
	if err != nil {
		panic(err)
	}
	return l.Handler
}

// Config returns the effective config, defaults filled.
func (l *Logto) Config() Config { return l.cfg }

// Handler is the middleware: it serves the sign-in routes under
// Config.RoutesPrefix and puts a *logto.UserContext in the context of
// every other request before next serves it (read it with User). It panics,
// at setup, on a config of Endpoint alone, which cannot sign users in (API
// routes need RequireAccessToken only).
func (l *Logto) Handler(next http.Handler) http.Handler {
	if err := l.eng.CheckSignIn(); err != nil {
		panic(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := &requestContext{Context: r.Context(), l: l}
		r = r.WithContext(rc)
		if strings.HasPrefix(r.URL.Path, l.prefix) {
			if a, ok := l.eng.Serve(rc, r.URL.Path, &request{r: r, w: w}, l.signInHook(r)); ok {
				l.answer(w, r, a)
				return
			}
		}
		if l.cfg.Next != nil && l.cfg.Next(r) {
			next.ServeHTTP(w, r)
			return
		}
		sess, clear, err := l.eng.User(rc, cookie(r, l.cookieName))
		if clear {
			http.SetCookie(w, l.eng.ClearSessionCookie())
		}
		if err != nil {
			l.cfg.ErrorHandler(w, r, err)
			return
		}
		rc.sess, rc.passed = sess, true
		next.ServeHTTP(w, r)
	})
}

// signInHook binds the app's OnSignIn to the request (nil without one).
func (l *Logto) signInHook(r *http.Request) engine.SignInHook {
	if l.cfg.OnSignIn == nil {
		return nil
	}
	return func(user *logto.UserContext) error { return l.cfg.OnSignIn(r, user) }
}

// RequireAccessToken returns middleware that protects the handlers after
// it with Logto access tokens (Authorization: Bearer, RFC 6750): a request
// whose token passes opts goes on, its claims for AccessToken; any other
// gets 401, 403 or 400 with WWW-Authenticate, through the error handler.
// It shares l's discovery and key set, and needs no Handler before it. It
// panics on invalid opts, at setup.
//
//	mux.Handle("GET /api/organizations/{id}/data", lg.RequireAccessToken(logto.AccessTokenOptions{
//		OrganizationParam: "id",
//		Scopes:            []string{"read:org"},
//	})(handler))
func (l *Logto) RequireAccessToken(opts logto.AccessTokenOptions) func(http.Handler) http.Handler {
	policy, err := l.eng.AccessTokenPolicy(opts)
	if err != nil {
		panic(err)
	}
	param := policy.OrganizationParam()
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var org string
			if param != "" {
				org = l.cfg.PathValue(r, param)
			}
			claims, refused := l.eng.CheckAccessToken(r.Context(), r.Header.Values("Authorization"), org, policy)
			if refused != nil {
				l.answer(w, r, refused)
				return
			}
			if rc := contextOf(r); rc != nil {
				rc.claims = claims // the middleware's context: no new one
			} else {
				r = r.WithContext(&claimsContext{Context: r.Context(), claims: claims})
			}
			next.ServeHTTP(w, r)
		})
	}
}

// ExchangeToken exchanges a token at Logto for an access token (RFC 8693
// token exchange, with the app's credentials; Logto must allow it for the
// app): an impersonation subject token, a personal access token. With
// req.SignedInUserActs the signed-in user of r is the actor, recorded in the
// issued token's act claim. It returns the token with its verified claims;
// Logto's refusals are logto.ErrSubjectTokenInvalid,
// logto.ErrTokenExchangeNotAllowed and logto.ErrConfig (an unknown resource).
func (l *Logto) ExchangeToken(r *http.Request, req logto.TokenExchangeRequest) (*logto.ExchangedToken, error) {
	var sess *engine.Session
	if rc := contextOf(r); rc != nil && rc.passed {
		sess = rc.sess
	}
	return l.eng.ExchangeToken(r.Context(), sess, req)
}

// RequireRecentSignIn returns middleware that protects sensitive handlers:
// a session whose last sign-in with credentials (the ID token's auth_time)
// is older than maxAge (a session without auth_time counts as old) is sent
// through sign-in again with max_age, coming back to the page (a page
// request), or answered 401 logto.ErrRecentSignInRequired (an API
// request); an anonymous request is answered as RequireAuth does. It must
// run after the middleware; it panics on a maxAge that is not whole seconds
// of at least one, at setup.
//
//	mux.Handle("GET /account/security", logtohttp.RequireRecentSignIn(5*time.Minute)(handler))
func RequireRecentSignIn(maxAge time.Duration) func(http.Handler) http.Handler {
	if err := engine.CheckRecentSignIn(maxAge); err != nil {
		panic(err)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rc, ok := stateOf(w, r, "logtohttp.RequireRecentSignIn")
			if !ok {
				return
			}
			if a := rc.l.eng.RequireRecentSignIn(&request{r: r, w: w}, rc.sess, maxAge); a != nil {
				rc.l.answer(w, r, a)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// RequireAuth is middleware that protects the handler after it: a
// signed-in request goes on; an anonymous page request is redirected to
// sign-in, coming back to the page afterwards; an anonymous API request
// gets 401 JSON. It must run after the middleware (Logto.Handler).
func RequireAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc, ok := stateOf(w, r, "logtohttp.RequireAuth")
		if !ok {
			return
		}
		if rc.sess.User.IsAuthenticated {
			// A Fetch after this guard that signs the user out (the grant
			// was revoked) answers as the guard would.
			rc.authRequired = true
			next.ServeHTTP(w, r)
			return
		}
		rc.l.answer(w, r, rc.l.eng.DenyAnonymous(&request{r: r, w: w}))
	})
}

// Fetch returns middleware that adds what opts asks for to the request's
// user context, as @logto/express's per-route withLogto config does. It
// runs after the middleware and shares its sessions and its refresh lock,
// so a route asking for more never races the others. An anonymous request
// passes untouched (guard it with RequireAuth). It panics on an invalid
// Resource, at setup.
func Fetch(opts logto.FetchOptions) func(http.Handler) http.Handler {
	if err := engine.CheckFetchOptions(opts); err != nil {
		panic(err)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rc, ok := stateOf(w, r, "logtohttp.Fetch")
			if !ok {
				return
			}
			l := rc.l
			sess, signedOut, err := l.eng.Fetch(r.Context(), rc.sess, opts)
			if err != nil {
				l.cfg.ErrorHandler(w, r, err)
				return
			}
			rc.sess = sess
			if signedOut {
				http.SetCookie(w, l.eng.ClearSessionCookie())
				if rc.authRequired {
					l.answer(w, r, l.eng.DenyAnonymous(&request{r: r, w: w}))
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// SignIn returns a handler that starts a sign-in with fixed options, for a
// route of the app's own: a sign-up button, "continue with Google"
// (DirectSignIn), a known email (LoginHint). Only returnTo is read from the
// request; /logto/sign-in itself takes first_screen, login_hint,
// direct_sign_in and identifier from its query, checked against what Logto
// accepts. It must run after the middleware; it panics on invalid options,
// at setup.
//
//	mux.Handle("GET /join", logtohttp.SignIn(logto.SignInOptions{FirstScreen: "register"}))
func SignIn(opts logto.SignInOptions) http.Handler {
	if err := engine.CheckSignInOptions(opts); err != nil {
		panic(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc, ok := stateOf(w, r, "logtohttp.SignIn")
		if !ok {
			return
		}
		rc.l.answer(w, r, rc.l.eng.SignInWith(r.Context(), &request{r: r, w: w}, opts))
	})
}

// User returns the request's *logto.UserContext. It never returns nil:
// without the middleware, or for an anonymous request, it returns a context
// with IsAuthenticated false. It is read-only: a signed-in user's context
// may be shared with the other requests of the same session, an anonymous
// one with every anonymous request. Read it; copy it to change it.
func User(r *http.Request) *logto.UserContext {
	if rc := contextOf(r); rc != nil && rc.passed {
		return &rc.sess.User
	}
	return &logto.UserContext{}
}

// SendUser answers the request with its user context as JSON: the Go
// counterpart of the tutorial's res.json(req.user), the same bytes as
// encoding/json's, without it.
func SendUser(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if rc := contextOf(r); rc != nil && rc.passed && rc.sess.JSON() != nil {
		_, _ = w.Write(rc.sess.JSON()) // built once per session version
		return
	}
	bp := jsonBuffers.Get().(*[]byte)
	*bp = User(r).AppendJSON((*bp)[:0])
	_, _ = w.Write(*bp) // the ResponseWriter copies it
	if cap(*bp) <= 64<<10 {
		jsonBuffers.Put(bp)
	}
}

// jsonBuffers are SendUser's, reused: a user context's JSON is about half a
// kilobyte, and growing a new one from nil took three allocations.
var jsonBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// AccessToken returns the claims of the access token RequireAccessToken
// verified for the request: nil when it did not run.
func AccessToken(r *http.Request) *logto.AccessTokenClaims {
	switch c := r.Context().Value(claimsKey{}).(type) {
	case *requestContext:
		return c.claims
	case *claimsContext:
		return c.claims
	}
	return nil
}

// StatusOf returns the HTTP status the default error handler answers err
// with: its logto sentinel's, else 500.
func StatusOf(err error) int { return logto.StatusOf(err) }

// DefaultErrorHandler answers JSON to API clients and a small HTML page to
// browsers, with the sentinel's message only, escaped, and not cacheable.
func DefaultErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	status, known := engine.StatusOf(err)
	msg := engine.PublicMessage(err)
	if !known {
		msg = "internal error"
	}
	writeAnswer(w, engine.ErrorAnswer(status, msg, engine.ForAPI(err) || !engine.IsPageRequest(&request{r: r, w: w})))
}

// answer writes what the engine answered: headers and cookies, then the
// error through the error handler, the redirect, or the status and body.
func (l *Logto) answer(w http.ResponseWriter, r *http.Request, a *engine.Answer) {
	for _, c := range a.Cookies {
		http.SetCookie(w, c)
	}
	if a.Err != nil {
		for _, h := range a.Headers {
			w.Header().Set(h.Name, h.Value)
		}
		l.cfg.ErrorHandler(w, r, a.Err)
		return
	}
	writeAnswer(w, a)
}

// writeAnswer writes an answer's headers, then its redirect or its status
// and body.
func writeAnswer(w http.ResponseWriter, a *engine.Answer) {
	h := w.Header()
	for _, hd := range a.Headers {
		h.Set(hd.Name, hd.Value)
	}
	if a.Location != "" {
		h.Set("Location", a.Location)
	}
	if a.ContentType != "" {
		h.Set("Content-Type", a.ContentType)
	}
	w.WriteHeader(a.Status)
	if a.Body != nil {
		_, _ = w.Write(a.Body)
	}
}

// stateOf returns the request's middleware context, or answers the
// misconfiguration of a route that runs without the middleware: the app's
// mistake, not the user's, so a 500 and a record saying so, rather than a
// 401 to a signed-in user.
func stateOf(w http.ResponseWriter, r *http.Request, what string) (*requestContext, bool) {
	rc := contextOf(r)
	if rc == nil || !rc.passed {
		slog.Default().Error("fiberlogto: configuration error",
			"error", what+" ran without WithLogto: wrap the handler, or the mux that serves it, in the middleware (Logto.Handler or WithLogto)",
			"path", r.URL.Path)
		DefaultErrorHandler(w, r, errNoMiddleware(what))
		return nil, false
	}
	return rc, true
}

func errNoMiddleware(what string) error {
	return fmt.Errorf("%w: %s runs after WithLogto", logto.ErrConfig, what)
}

// requestContext is the request's context once the middleware ran: the
// parent, the session (and the user context the app reads; a session may be
// shared with other requests of the same session, and is then read-only),
// the verified access token's claims, in one allocation.
type requestContext struct {
	context.Context
	l            *Logto
	sess         *engine.Session
	claims       *logto.AccessTokenClaims
	passed       bool // the middleware handed the request on
	authRequired bool // RequireAuth let it through
}

// stateKey and claimsKey are the typed keys of the request's context.
type (
	stateKey  struct{}
	claimsKey struct{}
)

// Value answers the middleware's own keys, and asks the parent for any
// other.
func (c *requestContext) Value(key any) any {
	switch key.(type) {
	case stateKey, claimsKey:
		return c
	}
	return c.Context.Value(key)
}

// claimsContext carries the verified claims of a request that
// RequireAccessToken passed without the middleware before it.
type claimsContext struct {
	context.Context
	claims *logto.AccessTokenClaims
}

func (c *claimsContext) Value(key any) any {
	if _, ok := key.(claimsKey); ok {
		return c
	}
	return c.Context.Value(key)
}

// contextOf is the middleware's context of r, nil without the middleware.
func contextOf(r *http.Request) *requestContext {
	rc, _ := r.Context().Value(stateKey{}).(*requestContext)
	return rc
}

// cookie returns the value of the request's cookie name, without the
// allocations of r.Cookie, which parses every cookie: a view of the
// header's string ("" when absent).
func cookie(r *http.Request, name string) string {
	for _, line := range r.Header["Cookie"] {
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimLeft(part, " \t")
			if k, v, ok := strings.Cut(part, "="); ok && k == name {
				return strings.Trim(strings.TrimRight(v, " \t"), `"`)
			}
		}
	}
	return ""
}

// request is the engine's view of a net/http request.
type request struct {
	r     *http.Request
	w     http.ResponseWriter
	query url.Values // parsed on first use
	form  url.Values // the url-encoded body, read on first use
}

func (q *request) Method() string { return q.r.Method }
func (q *request) Host() string   { return q.r.Host }

func (q *request) OriginalURL() string {
	if q.r.RequestURI != "" {
		return q.r.RequestURI
	}
	return q.r.URL.RequestURI()
}

func (q *request) queryValues() url.Values {
	if q.query == nil {
		q.query = q.r.URL.Query()
	}
	return q.query
}

func (q *request) Query(key string) string   { return q.queryValues().Get(key) }
func (q *request) QueryCount(key string) int { return len(q.queryValues()[key]) }

func (q *request) Cookie(name string) string { return cookie(q.r, name) }
func (q *request) Header(name string) string { return q.r.Header.Get(name) }

// formValues reads a url-encoded body of at most engine.MaxFormBytes
// (http.MaxBytesReader: a larger one is not read past the limit), once.
// Any other body reads as an empty form.
func (q *request) formValues() url.Values {
	if q.form != nil {
		return q.form
	}
	q.form = url.Values{}
	if q.r.Body == nil {
		return q.form
	}
	if mt, _, err := mime.ParseMediaType(q.r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		return q.form
	}
	body, err := io.ReadAll(http.MaxBytesReader(q.w, q.r.Body, engine.MaxFormBytes))
	if err != nil {
		return q.form
	}
	if v, err := url.ParseQuery(string(body)); err == nil {
		q.form = v
	}
	return q.form
}

func (q *request) FormValue(key string) string { return q.formValues().Get(key) }
func (q *request) FormCount(key string) int    { return len(q.formValues()[key]) }
