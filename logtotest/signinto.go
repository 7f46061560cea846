package logtotest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// SignInToOptions change whom SignInTo signs in, and at which routes.
type SignInToOptions struct {
	// Username and Password are what the user types on Logto's sign-in
	// page. An empty Username means the first of Options.Users (DemoUser
	// by default); an empty Password means that user's own. So
	// SignInToOptions{Password: "wrong"} tests a wrong password, and
	// SignInToOptions{Username: "alice"} signs alice in.
	Username, Password string
	// RoutesPrefix is the app's logto.Config.RoutesPrefix; "" means
	// "/logto".
	RoutesPrefix string
	// OneTimeToken, when set, signs in with this magic link token
	// (OneTimeToken) instead of a password: the sign-in starts at the
	// app's sign-in route with one_time_token=<token>&login_hint=<the
	// token's email>, which must pass both on to the authorization request;
	// the provider's /one-time-token page then signs the user with that
	// email in. Username and Password must be empty.
	OneTimeToken string
}

// SignInTo signs a user in to the app at baseURL the way a browser does,
// and returns that browser: an *http.Client whose cookie jar holds the
// app's session cookie, which follows no redirect (its CheckRedirect
// returns http.ErrUseLastResponse), ready for the test's next requests to
// the app. It fails t with what went wrong (the answer of the app's route,
// the provider's refusal) on any error.
//
// The user is the first of Options.Users (DemoUser by default); opts, at
// most one, can name another, another password, a one-time token to sign
// in with (a magic link) or the app's RoutesPrefix.
//
// The hops: GET baseURL + "/logto/sign-in" with Accept: text/html (with
// one_time_token and login_hint for a magic link), which must redirect to
// this provider's authorization endpoint; the provider's pages, as SignIn
// plays them; then the app's callback (/logto/sign-in-callback), which
// must answer a redirect.
//
// serve says how requests reach the app; requests to any other origin (the
// provider) go through a clone of http.DefaultTransport:
//
//   - nil: the app listens at baseURL;
//   - an http.Handler: a net/http app, served in process (each answer
//     recorded by httptest.ResponseRecorder);
//   - a func whose first parameter is *http.Request, possibly variadic
//     after it, returning (*http.Response, error), called with the request
//     alone: a Fiber app's Test method, app.Test, of Fiber v2 or v3.
//
// The returned browser reaches the app the same way. Fiber's Test gives
// each request one second by default; to lift that, pass on Fiber v2
//
//	func(r *http.Request) (*http.Response, error) { return app.Test(r, -1) }
//
// and on v3 the same with app.Test(r, fiber.TestConfig{}).
//
// An app served in process may use any loopback BaseURL, such as
// http://localhost:3000: the provider accepts any loopback redirect URI
// while Options.RedirectURIs is empty, and nothing listens there.
func (p *Provider) SignInTo(t testing.TB, baseURL string, serve any, opts ...SignInToOptions) *http.Client {
	t.Helper()
	c, err := p.SignInToE(t.Context(), baseURL, serve, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// SignInToE is SignInTo for code that is not a test: it returns the error
// instead of failing a test. Call the client's CloseIdleConnections when
// done with it.
func (p *Provider) SignInToE(ctx context.Context, baseURL string, serve any, opts ...SignInToOptions) (*http.Client, error) {
	fail := func(format string, args ...any) (*http.Client, error) {
		return nil, fmt.Errorf("logtotest: SignInTo %s: "+format, append([]any{baseURL}, args...)...)
	}
	var o SignInToOptions
	switch len(opts) {
	case 0:
	case 1:
		o = opts[0]
	default:
		return fail("more than one SignInToOptions")
	}
	app, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (app.Scheme != "http" && app.Scheme != "https") || app.Host == "" || app.Path != "" {
		return fail("baseURL must be an http(s) origin such as http://localhost:3000, the app's logto.Config.BaseURL")
	}
	username, password, err := p.credentials(o)
	if err != nil {
		return fail("%v", err)
	}
	var magic url.Values // the magic link's parameters
	if o.OneTimeToken != "" {
		if magic, err = p.magicLink(o); err != nil {
			return fail("%v", err)
		}
		username = magic.Get("login_hint")
	}
	prefix := "/" + strings.Trim(o.RoutesPrefix, "/")
	if o.RoutesPrefix == "" {
		prefix = "/logto"
	}
	rt, err := newAppTransport(app, serve)
	if err != nil {
		return fail("%v", err)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return fail("%v", err)
	}
	c := &http.Client{
		Jar:           jar,
		Transport:     rt,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	ok := false
	defer func() {
		if !ok {
			c.CloseIdleConnections()
		}
	}()

	// The app's sign-in route redirects to the provider.
	signIn := app.String() + prefix + "/sign-in"
	if magic != nil {
		signIn += "?" + magic.Encode()
	}
	status, loc, body, err := getPage(ctx, c, signIn)
	if err != nil {
		return fail("GET %s: %v", signIn, err)
	}
	authorize, err := url.Parse(signIn)
	if err == nil && loc != "" {
		authorize, err = authorize.Parse(loc)
	}
	if err != nil || loc == "" || status < 300 || status > 399 {
		return fail("GET %s answered %s, not a redirect to the provider (is the middleware mounted, with RoutesPrefix %q?)", signIn, answer(status, body), prefix)
	}
	if a := authorize.Scheme + "://" + authorize.Host + authorize.Path; a != p.issuer()+"/auth" {
		if authorize.Path == prefix+"/sign-in" {
			return fail("GET %s redirected to %s: is the app's BaseURL %s?", signIn, authorize, app)
		}
		return fail("GET %s redirected to %s, not to this provider's %s/auth: is the app's Endpoint %s?", signIn, a, p.issuer(), p.baseURL())
	}
	if q := authorize.Query(); magic != nil && (q.Get("one_time_token") != magic.Get("one_time_token") || q.Get("login_hint") != magic.Get("login_hint")) {
		return fail("GET %s redirected to an authorization request without its one_time_token and login_hint: the app's sign-in route does not pass a magic link on", signIn)
	}
	hint := p.resourceHint(authorize)

	// The provider's pages.
	callback, err := p.SignIn(ctx, c, authorize.String(), username, password)
	if err != nil {
		if magic != nil {
			return fail("signing %q in with a one-time token at the provider: %w", username, err)
		}
		return fail("signing %q in at the provider: %w", username, err)
	}
	cb, err := url.Parse(callback)
	if err != nil || origin(cb) != origin(app) {
		return fail("the provider sent the browser to %s, not to the app: is the app's BaseURL %s?", callback, app)
	}
	refusal := ""
	if q := callbackParams(cb); q.Has("error") {
		refusal = fmt.Sprintf("the provider refused the authorization request with error=%s error_description=%q%s; ",
			q.Get("error"), q.Get("error_description"), hint)
	}

	// The app's callback.
	seen := p.refusalsNoted()
	status, _, body, err = getPage(ctx, c, callback)
	if err == nil && status >= 300 && status <= 399 && refusal == "" {
		ok = true
		return c, nil
	}
	meanwhile := ""
	if lines := p.refusalsSince(seen); len(lines) > 0 {
		meanwhile = "; meanwhile the provider refused " + strings.Join(lines, "; ")
	}
	if err != nil {
		return fail("%sGET %s: %v%s", refusal, callback, err, meanwhile)
	}
	return fail("%sthe app's callback %s answered %s%s", refusal, cb.Path, answer(status, body), meanwhile)
}

// answer is a status and the start of a body, for a failure.
func answer(status int, body string) string {
	if len(body) > 300 {
		body = body[:300] + "..."
	}
	if body == "" {
		return strconv.Itoa(status)
	}
	return strconv.Itoa(status) + ": " + body
}

// credentials are the username and password SignInTo types.
func (p *Provider) credentials(o SignInToOptions) (string, string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if o.Username == "" {
		u := p.users[p.userOrder[0]]
		if o.Password == "" {
			return u.Username, u.Password, nil
		}
		return u.Username, o.Password, nil
	}
	if o.Password != "" {
		return o.Username, o.Password, nil
	}
	for _, id := range p.userOrder {
		if u := p.users[id]; u.Username == o.Username || (u.Email != "" && u.Email == o.Username) {
			return o.Username, u.Password, nil
		}
	}
	return "", "", fmt.Errorf("no user %q in Options.Users to take the password from", o.Username)
}

// magicLink is the query a magic link adds to the app's sign-in route for
// o.OneTimeToken: the token and, as login_hint, the email it was issued for.
func (p *Provider) magicLink(o SignInToOptions) (url.Values, error) {
	if o.Username != "" || o.Password != "" {
		return nil, errors.New("SignInToOptions: set OneTimeToken or Username and Password, not both")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ott := p.oneTimeTokens[o.OneTimeToken]
	if ott == nil {
		return nil, fmt.Errorf("SignInToOptions.OneTimeToken %q is not a token of this provider's OneTimeToken", o.OneTimeToken)
	}
	return url.Values{"one_time_token": {o.OneTimeToken}, "login_hint": {ott.email}}, nil
}

// resourceHint names the resources of an authorization request that the
// provider does not know, which Logto's invalid_target does not.
func (p *Provider) resourceHint(authorize *url.URL) string {
	var unknown []string
	for _, r := range authorize.Query()["resource"] {
		if !p.resources[r] {
			unknown = append(unknown, r)
		}
	}
	if len(unknown) == 0 {
		return ""
	}
	return fmt.Sprintf(" (the app asks for resource %q, not among Options.Resources %q: add it there, or remove it from the app's logto.Config)",
		unknown, p.opts.Resources)
}

// callbackParams are the parameters of a redirect to the app: the query,
// or the fragment.
func callbackParams(u *url.URL) url.Values {
	if q := u.Query(); len(q) > 0 {
		return q
	}
	q, _ := url.ParseQuery(u.RawFragment)
	return q
}

// getPage GETs u as a browser navigating to it, and returns the status,
// the Location and the start of the body.
func getPage(ctx context.Context, c *http.Client, u string) (int, string, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, "", "", err
	}
	req.Header.Set("Accept", "text/html")
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 2<<10))
	return resp.StatusCode, resp.Header.Get("Location"), strings.TrimSpace(string(b)), nil
}

// appTransport sends the requests for the app's origin to serve, and the
// others (the provider's) through next.
type appTransport struct {
	app   string // origin
	serve func(*http.Request) (*http.Response, error)
	next  http.RoundTripper
}

func newAppTransport(app *url.URL, serve any) (*appTransport, error) {
	t := &appTransport{app: origin(app), next: http.DefaultTransport}
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		t.next = dt.Clone()
	}
	switch s := serve.(type) {
	case nil:
	case http.Handler:
		t.serve = serveHandler(s)
	default:
		if t.serve = serveFunc(serve); t.serve == nil {
			return nil, fmt.Errorf("serve is a %T: want nil (the app listens at baseURL), an http.Handler, "+
				"or a Fiber app's Test method (a func(*http.Request, ...) (*http.Response, error))", serve)
		}
	}
	return t, nil
}

func (t *appTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.serve == nil || origin(req.URL) != t.app {
		return t.next.RoundTrip(req)
	}
	if req.Body != nil {
		defer req.Body.Close()
	}
	resp, err := t.serve(req.Clone(req.Context()))
	if err != nil {
		return nil, err
	}
	if resp == nil {
		return nil, errors.New("logtotest: the app's serve func returned no response and no error")
	}
	resp.Request = req
	return resp, nil
}

func (t *appTransport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// serveHandler serves a request with h in process, as a server would
// receive it.
func serveHandler(h http.Handler) func(*http.Request) (*http.Response, error) {
	return func(req *http.Request) (*http.Response, error) {
		u, err := url.ParseRequestURI(req.URL.RequestURI())
		if err != nil {
			return nil, err
		}
		if req.Host == "" {
			req.Host = req.URL.Host
		}
		req.URL, req.RequestURI = u, u.RequestURI()
		req.Proto, req.ProtoMajor, req.ProtoMinor = "HTTP/1.1", 1, 1
		req.RemoteAddr = net.JoinHostPort("127.0.0.1", "50000")
		if req.Body == nil {
			req.Body = http.NoBody
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Result(), nil
	}
}

var (
	requestType  = reflect.TypeFor[*http.Request]()
	responseType = reflect.TypeFor[*http.Response]()
	errorType    = reflect.TypeFor[error]()
)

// serveFunc wraps a func(*http.Request[, ...]) (*http.Response, error),
// such as a Fiber app's Test method, or returns nil for anything else.
func serveFunc(serve any) func(*http.Request) (*http.Response, error) {
	if f, ok := serve.(func(*http.Request) (*http.Response, error)); ok {
		return f
	}
	v := reflect.ValueOf(serve)
	ft := v.Type()
	if ft.Kind() != reflect.Func || v.IsNil() || ft.NumOut() != 2 || ft.Out(0) != responseType || ft.Out(1) != errorType {
		return nil
	}
	if ft.NumIn() == 0 || ft.In(0) != requestType || ft.NumIn() > 2 || (ft.NumIn() == 2 && !ft.IsVariadic()) {
		return nil
	}
	return func(req *http.Request) (*http.Response, error) {
		out := v.Call([]reflect.Value{reflect.ValueOf(req)})
		resp, _ := out[0].Interface().(*http.Response)
		err, _ := out[1].Interface().(error)
		return resp, err
	}
}

// origin is scheme://host:port, lower case, with the scheme's default port
// made explicit.
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[strings.ToLower(u.Scheme)]
	}
	return strings.ToLower(u.Scheme + "://" + net.JoinHostPort(u.Hostname(), port))
}
