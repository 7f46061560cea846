package fiberlogto_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/fiberlogto/sdk/logtotest"
	"github.com/fiberlogto/sdk/storage/memory"
	"github.com/fiberlogto/sdk/storage/sqlite"

	"github.com/fiberlogto/sdk/logto"
)

// This file holds what benchmark_test.go and storage_cost_test.go share: an
// app driven in-process (no listener, no client), a counting storage and a
// meter on the app's calls to the provider.
//
// Why in-process: the benchmarks want the server-side cost of one request,
// middleware included, with as little noise as possible. serve does what
// fasthttp's connection loop does for each request (parse the request
// bytes, run the handler, serialise the response) minus the syscalls; a
// client over an in-memory listener would add its own parsing, allocations
// and two goroutine hand-offs per request to every number, identical for
// the bare and the signed-in app, and so dilute the ratio the issue asks
// about. The whole stack, sockets included, is what bench/run.sh measures
// with wrk.

// benchBaseURL is the app's BaseURL. Nothing listens there: requests reach
// the app through inprocServer, and the provider only redirects to it.
const benchBaseURL = "http://127.0.0.1:3000"

// benchResource is the API resource of the example app (its dev default).
const benchResource = "https://api.example.test"

// countingStorage wraps a storage and counts what reaches it.
type countingStorage struct {
	Storage // the storage it wraps

	gets, sets, deletes, resets, leases atomic.Int64
}

// countingLeaser is a countingStorage around a storage that implements
// logto.Leaser (Storage.SQLite does): it keeps the lease path the
// middleware takes with that storage, and counts lease calls as writes.
type countingLeaser struct {
	*countingStorage
	leaser logto.Leaser
}

func (s *countingLeaser) AcquireLease(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	s.leases.Add(1)
	return s.leaser.AcquireLease(ctx, key, owner, ttl)
}

func (s *countingLeaser) ReleaseLease(ctx context.Context, key, owner string) error {
	s.leases.Add(1)
	return s.leaser.ReleaseLease(ctx, key, owner)
}

// storageCounts is a snapshot of a countingStorage.
type storageCounts struct{ Gets, Sets, Deletes, Resets, Leases int64 }

// Writes is every call that changes the storage, leases included.
func (c storageCounts) Writes() int64 { return c.Sets + c.Deletes + c.Resets + c.Leases }

func (s *countingStorage) GetWithContext(ctx context.Context, key string) ([]byte, error) {
	s.gets.Add(1)
	return s.Storage.GetWithContext(ctx, key)
}

func (s *countingStorage) SetWithContext(ctx context.Context, key string, val []byte, exp time.Duration) error {
	s.sets.Add(1)
	return s.Storage.SetWithContext(ctx, key, val, exp)
}

func (s *countingStorage) DeleteWithContext(ctx context.Context, key string) error {
	s.deletes.Add(1)
	return s.Storage.DeleteWithContext(ctx, key)
}

func (s *countingStorage) Reset() error {
	s.resets.Add(1)
	return s.Storage.Reset()
}

func (s *countingStorage) counts() storageCounts {
	return storageCounts{Gets: s.gets.Load(), Sets: s.sets.Load(), Deletes: s.deletes.Load(), Resets: s.resets.Load(), Leases: s.leases.Load()}
}

func (s *countingStorage) zero() {
	s.gets.Store(0)
	s.sets.Store(0)
	s.deletes.Store(0)
	s.resets.Store(0)
	s.leases.Store(0)
}

// counting wraps st, keeping its Leaser when it has one (all of package
// storage's have one).
func counting(st Storage) (Storage, *countingStorage) {
	cs := &countingStorage{Storage: st}
	l, isLeaser := st.(logto.Leaser)
	if !isLeaser {
		return cs, cs
	}
	return &countingLeaser{countingStorage: cs, leaser: l}, cs
}

// providerMeter is the app's http.RoundTripper to the provider. It counts
// every call and times the token endpoint's round trips, from the request
// being sent until the response body is closed, so a benchmark can subtract
// them from its time per operation.
type providerMeter struct {
	base       http.RoundTripper
	calls      atomic.Int64 // every request the app sends to the provider
	tokenCalls atomic.Int64
	tokenNanos atomic.Int64
}

func (m *providerMeter) RoundTrip(r *http.Request) (*http.Response, error) {
	m.calls.Add(1)
	if !strings.HasSuffix(r.URL.Path, "/oidc/token") {
		return m.base.RoundTrip(r)
	}
	m.tokenCalls.Add(1)
	start := time.Now()
	resp, err := m.base.RoundTrip(r)
	if err != nil {
		m.tokenNanos.Add(int64(time.Since(start)))
		return nil, err
	}
	resp.Body = &timedBody{ReadCloser: resp.Body, start: start, m: m}
	return resp, nil
}

func (m *providerMeter) zero() {
	m.calls.Store(0)
	m.tokenCalls.Store(0)
	m.tokenNanos.Store(0)
}

type timedBody struct {
	io.ReadCloser
	start time.Time
	m     *providerMeter
	done  bool
}

func (b *timedBody) Close() error {
	err := b.ReadCloser.Close()
	if !b.done {
		b.done = true
		b.m.tokenNanos.Add(int64(time.Since(b.start)))
	}
	return err
}

// inprocServer runs a Fiber app's handler, of either major, on one reused
// fasthttp.RequestCtx; or a net/http app's handler on the request
// http.ReadRequest parses, its answer recorded into the same
// fasthttp.Response (the bare net/http app pays the same recording).
type inprocServer struct {
	handler fasthttp.RequestHandler
	http    http.Handler
	rec     responseRecorder
	ctx     fasthttp.RequestCtx
	in      bytes.Reader
	br      *bufio.Reader
	bw      *bufio.Writer
}

func newInprocServer(app served) *inprocServer {
	s := &inprocServer{
		http: app.http,
		br:   bufio.NewReaderSize(nil, 4096),
		bw:   bufio.NewWriterSize(io.Discard, 4096),
	}
	if app.handler != nil {
		s.handler = app.handler()
	}
	return s
}

// responseRecorder is a reused http.ResponseWriter.
type responseRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *responseRecorder) Header() http.Header { return r.header }
func (r *responseRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}
func (r *responseRecorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}

// serveHTTP is serve for a net/http app.
func (s *inprocServer) serveHTTP(raw []byte) (*fasthttp.Response, error) {
	s.in.Reset(raw)
	s.br.Reset(&s.in)
	req, err := http.ReadRequest(s.br)
	if err != nil {
		return nil, err
	}
	req.RemoteAddr = "127.0.0.1:50000"
	rec := &s.rec
	if rec.header == nil {
		rec.header = http.Header{}
	}
	clear(rec.header)
	rec.status = 0
	rec.body.Reset()
	s.http.ServeHTTP(rec, req)
	resp := &s.ctx.Response
	resp.Reset()
	rec.WriteHeader(http.StatusOK)
	resp.SetStatusCode(rec.status)
	for k, vs := range rec.header {
		for _, v := range vs {
			resp.Header.Add(k, v)
		}
	}
	resp.SetBodyRaw(rec.body.Bytes())
	if err := resp.Write(s.bw); err != nil {
		return nil, err
	}
	return resp, s.bw.Flush()
}

// serve parses raw (a whole HTTP/1.1 request) as fasthttp's server does,
// runs the app and writes the response out to io.Discard. The response is
// valid until the next call.
func (s *inprocServer) serve(raw []byte) (*fasthttp.Response, error) {
	if s.http != nil {
		return s.serveHTTP(raw)
	}
	ctx := &s.ctx
	ctx.Request.Reset()
	ctx.Response.Reset()
	ctx.ResetUserValues()
	s.in.Reset(raw)
	s.br.Reset(&s.in)
	if err := ctx.Request.Read(s.br); err != nil {
		return nil, err
	}
	s.handler(ctx)
	if err := ctx.Response.Write(s.bw); err != nil {
		return nil, err
	}
	return &ctx.Response, s.bw.Flush()
}

// rawGet is a GET as wrk sends it: the request line, Host and, when set,
// Cookie.
func rawGet(target, cookie string) []byte {
	if cookie == "" {
		return rawGetWith(target, "")
	}
	return rawGetWith(target, "Cookie: "+cookie)
}

// rawGetWith is a GET with one more header line, "Name: value" ("" for
// none).
func rawGetWith(target, header string) []byte {
	var b strings.Builder
	b.WriteString("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1:3000\r\n")
	if header != "" {
		b.WriteString(header + "\r\n")
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

// benchJar is the in-process browser's cookie jar: one host, cookies by
// name, sent on the paths they were set for.
type benchJar map[string]jarCookie

type jarCookie struct{ value, path string }

func (j benchJar) update(resp *fasthttp.Response) {
	for _, v := range resp.Header.Cookies() {
		var c fasthttp.Cookie
		if c.ParseBytes(v) != nil {
			continue
		}
		name := string(c.Key())
		if exp := c.Expire(); len(c.Value()) == 0 || (!exp.IsZero() && exp.Before(time.Now())) {
			delete(j, name)
			continue
		}
		path := string(c.Path())
		if path == "" {
			path = "/"
		}
		j[name] = jarCookie{value: string(c.Value()), path: path}
	}
}

// header is the Cookie header a browser sends for target.
func (j benchJar) header(target string) string {
	var parts []string
	for name, c := range j {
		if strings.HasPrefix(target, c.path) {
			parts = append(parts, name+"="+c.value)
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

// benchClock is a settable clock for Config.Now, for the refresh benchmark
// only: the others keep the default time.Now, as an app does.
type benchClock struct{ offset atomic.Int64 }

func (c *benchClock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *benchClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// benchEnv is one app behind fiberlogto, shaped as the example app
// (/user answers c.JSON(fiberlogto.User(c)) with Cache-Control: no-store),
// one in-process Logto-compatible provider on a loopback listener, and one
// in-process browser.
type benchEnv struct {
	tb       testing.TB
	provider *logtotest.Provider
	cfg      config
	mw       *middleware // builds more apps on the same middleware
	storage  *countingStorage
	meter    *providerMeter
	srv      *inprocServer
	jar      benchJar
	browser  *http.Client // the browser at the provider: keeps its SSO session
}

type benchOption func(*config)

// newBenchStorage opens a storage of kind "memory" or "sqlite".
func newBenchStorage(tb testing.TB, kind string) Storage {
	tb.Helper()
	switch kind {
	case "memory":
		return memory.New()
	case "sqlite":
		s, err := sqlite.New(sqlite.Config{Path: filepath.Join(tb.TempDir(), "sessions.sqlite3")})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = s.Close() })
		return s
	}
	tb.Fatalf("unknown storage %q", kind)
	return nil
}

// benchUserRoute is the example app's /user.
var benchUserRoute = route{path: "/user", answer: answerSendUser}

func newBenchEnv(tb testing.TB, ad adapter, st Storage, opts ...benchOption) *benchEnv {
	tb.Helper()
	p := logtotest.NewServer(tb, logtotest.Options{
		RedirectURIs:           []string{benchBaseURL + "/logto/sign-in-callback"},
		PostLogoutRedirectURIs: []string{benchBaseURL},
		Resources:              []string{benchResource},
	})
	meter := &providerMeter{base: http.DefaultTransport.(*http.Transport).Clone()}
	wrapped, cs := counting(st)
	cfg := config{Config: logto.Config{
		Endpoint:  p.URL,
		AppID:     p.ClientID,
		AppSecret: p.ClientSecret,
		BaseURL:   benchBaseURL,
		Scopes:    []string{"read:data"},
		Resources: []string{benchResource},
		Storage:   wrapped,
		// As the default client (timeout, no redirects), through the meter.
		HTTPClient: &http.Client{
			Transport:     meter,
			Timeout:       10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}}
	for _, o := range opts {
		o(&cfg)
	}
	mw, err := ad.new(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	e := &benchEnv{
		tb: tb, provider: p, cfg: mw.cfg, mw: mw, storage: cs, meter: meter,
		srv: newInprocServer(mw.app(benchUserRoute)), jar: benchJar{},
		browser: &http.Client{Jar: jar, Timeout: 10 * time.Second},
	}
	tb.Cleanup(func() {
		e.browser.CloseIdleConnections()
		meter.base.(*http.Transport).CloseIdleConnections()
	})
	// New starts discovery in the background; a sign-in route waits for it,
	// so that no request measured later overlaps with it.
	e.startSignIn()
	clear(e.jar)
	cs.zero()
	meter.zero()
	return e
}

// do serves a GET of target with the jar's cookies and keeps the cookies of
// the response. The response is valid until the next request.
func (e *benchEnv) do(target string) *fasthttp.Response {
	e.tb.Helper()
	resp, err := e.srv.serve(rawGet(target, e.jar.header(target)))
	if err != nil {
		e.tb.Fatalf("GET %s: %v", target, err)
	}
	e.jar.update(resp)
	return resp
}

// startSignIn GETs the sign-in route and returns Logto's authorization URL.
func (e *benchEnv) startSignIn() string {
	e.tb.Helper()
	resp := e.do("/logto/sign-in")
	if resp.StatusCode() != fiber.StatusFound {
		e.tb.Fatalf("sign-in = %d %s", resp.StatusCode(), resp.Body())
	}
	return string(resp.Header.Peek(fiber.HeaderLocation))
}

// authorize signs the demo user in at the provider and returns the callback
// request, cookies included.
func (e *benchEnv) authorize(authURL string) []byte {
	e.tb.Helper()
	cb, err := e.provider.SignIn(context.Background(), e.browser, authURL, logtotest.DemoUser.Username, logtotest.DemoUser.Password)
	if err != nil {
		e.tb.Fatalf("provider sign-in: %v", err)
	}
	u, err := url.Parse(cb)
	if err != nil {
		e.tb.Fatal(err)
	}
	target := u.RequestURI()
	return rawGet(target, e.jar.header(u.Path))
}

// finishSignIn runs a callback request and returns the new session ID.
func (e *benchEnv) finishSignIn(req []byte) string {
	e.tb.Helper()
	resp, err := e.srv.serve(req)
	if err != nil {
		e.tb.Fatal(err)
	}
	if resp.StatusCode() != fiber.StatusFound {
		e.tb.Fatalf("callback = %d %s", resp.StatusCode(), resp.Body())
	}
	e.jar.update(resp)
	id := e.jar[e.cfg.CookieName].value
	if id == "" {
		e.tb.Fatal("callback set no session cookie")
	}
	return id
}

// signIn runs a whole sign-in and returns the session ID.
func (e *benchEnv) signIn() string {
	e.tb.Helper()
	return e.finishSignIn(e.authorize(e.startSignIn()))
}

// userRequest is GET /user with the jar's cookies, built once.
func (e *benchEnv) userRequest() []byte { return rawGet("/user", e.jar.header("/user")) }

// user serves req and decodes the /user answer.
func (e *benchEnv) user(req []byte) (body []byte, ctx struct {
	IsAuthenticated bool            `json:"isAuthenticated"`
	Claims          json.RawMessage `json:"claims"`
	AccessToken     string          `json:"accessToken"`
}) {
	e.tb.Helper()
	resp, err := e.srv.serve(req)
	if err != nil {
		e.tb.Fatal(err)
	}
	if resp.StatusCode() != fiber.StatusOK {
		e.tb.Fatalf("/user = %d %s", resp.StatusCode(), resp.Body())
	}
	body = append([]byte(nil), resp.Body()...)
	if err := json.Unmarshal(body, &ctx); err != nil {
		e.tb.Fatalf("/user body %q: %v", body, err)
	}
	return body, ctx
}
