package guidepeer

import (
	"bufio"
	"bytes"
	jsonpkg "encoding/json"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"github.com/valyala/fasthttp"

	"github.com/fiberlogto/sdk/logtotest"
)

// The tests run the peer against the in-process Logto-compatible provider
// over real HTTP, to show that it really validates: a benchmark against a
// middleware that let everything through would not be fair.

// claimsRoute puts the middleware in front of a handler that answers the
// verified token's claims as JSON, to check what reaches the application.
const claimsRoute = "/api/claims"

// benchRoute is the same middleware in front of a handler that does the
// least possible, so that the benchmark measures the middleware.
const benchRoute = "/api/bench"

// newApp mounts the peer on a Fiber v2 app, per route, as a user of the
// guide would.
func newApp(m *Middleware) *fiber.App {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})

	app.Get(claimsRoute, m.Handler(), func(c *fiber.Ctx) error {
		token, ok := c.Locals(localsKey).(jwt.Token)
		if !ok {
			return c.Status(fiber.StatusInternalServerError).JSON(fiber.Map{"error": "middleware left no token"})
		}
		sub, _ := token.Subject()
		aud, _ := token.Audience()
		var clientID any
		_ = token.Get("client_id", &clientID)
		return c.JSON(fiber.Map{
			"sub":       sub,
			"client_id": clientID,
			"scopes":    grantedScopes(token),
			"audience":  aud,
		})
	})

	app.Get(benchRoute, m.Handler(), func(c *fiber.Ctx) error {
		if c.Locals(localsKey) == nil {
			return c.SendStatus(fiber.StatusInternalServerError)
		}
		return c.SendStatus(fiber.StatusOK)
	})
	return app
}

type env struct {
	p    *logtotest.Provider
	m    *Middleware
	app  *fiber.App
	base string // http://127.0.0.1:port of the app
}

// setup starts the provider and the peer; the app listens on 127.0.0.1:0
// when listen is true.
func setup(tb testing.TB, listen bool) *env {
	tb.Helper()
	p := logtotest.NewServer(tb, logtotest.Options{})
	m, err := New(p.Issuer+"/jwks", p.Issuer, logtotest.DefaultResource, "read:data")
	if err != nil {
		tb.Fatal(err)
	}
	e := &env{p: p, m: m, app: newApp(m)}
	if !listen {
		return e
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.app.Listener(ln) }()
	tb.Cleanup(func() {
		if err := e.app.ShutdownWithTimeout(5 * time.Second); err != nil {
			tb.Error(err)
		}
		if err := <-done; err != nil {
			tb.Error(err)
		}
	})
	e.base = "http://" + ln.Addr().String()
	return e
}

type answer struct {
	status int
	body   map[string]any
}

// get sends GET path with the Authorization header authz ("" for none) over
// HTTP.
func (e *env) get(t *testing.T, path, authz string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{status: resp.StatusCode}
	json := strings.HasPrefix(resp.Header.Get("Content-Type"), fiber.MIMEApplicationJSON)
	if json && jsonpkg.Unmarshal(raw, &a.body) != nil || !json && a.status != http.StatusOK {
		t.Fatalf("GET %s: %d, body not JSON: %q", path, resp.StatusCode, raw)
	}
	return a
}

// minted returns the token a logtotest minting call returns, failing tb on
// its error: minted(t)(p.UserAccessToken(...)).
func minted(tb testing.TB) func(string, error) string {
	return func(token string, err error) string {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		return token
	}
}

func TestGuidePeerAccepts(t *testing.T) {
	e := setup(t, true)

	user := minted(t)(e.p.UserAccessToken(logtotest.DefaultResource, "read:data"))
	a := e.get(t, claimsRoute, "Bearer "+user)
	if a.status != http.StatusOK {
		t.Fatalf("user token: status %d, body %v, want 200", a.status, a.body)
	}
	if a.body["sub"] != logtotest.DemoUser.ID || a.body["client_id"] != e.p.ClientID {
		t.Errorf("user token: body %v, want sub %q client_id %q", a.body, logtotest.DemoUser.ID, e.p.ClientID)
	}
	if s, _ := a.body["scopes"].([]any); !slices.Contains(s, any("read:data")) {
		t.Errorf("user token: scopes %v, want read:data", a.body["scopes"])
	}
	if aud, _ := a.body["audience"].([]any); !slices.Equal(aud, []any{logtotest.DefaultResource}) {
		t.Errorf("user token: audience %v, want [%s]", a.body["audience"], logtotest.DefaultResource)
	}

	machine := minted(t)(e.p.MachineAccessToken(logtotest.DefaultResource, "read:data"))
	a = e.get(t, claimsRoute, "Bearer "+machine)
	if a.status != http.StatusOK || a.body["sub"] != logtotest.DemoMachineApp.ID {
		t.Fatalf("machine token: status %d, body %v, want 200 and sub %q", a.status, a.body, logtotest.DemoMachineApp.ID)
	}

	// More scopes than required, and the bench route.
	wide := minted(t)(e.p.UserAccessToken(logtotest.DefaultResource, "write:data", "read:data"))
	if a := e.get(t, benchRoute, "Bearer "+wide); a.status != http.StatusOK {
		t.Fatalf("token with read:data and write:data on %s: status %d, body %v, want 200", benchRoute, a.status, a.body)
	}
}

func TestGuidePeerRefuses(t *testing.T) {
	e := setup(t, true)
	now := time.Now()
	mint := func(at logtotest.AccessToken) string {
		if at.Subject == "" {
			at.Subject = logtotest.DemoUser.ID
		}
		if at.Audience == "" {
			at.Audience = logtotest.DefaultResource
		}
		if at.Scopes == nil {
			at.Scopes = []string{"read:data"}
		}
		return "Bearer " + minted(t)(e.p.MintAccessToken(at))
	}

	cases := []struct {
		name   string
		authz  string
		status int
		error  string // the start of the "error" message
	}{
		// The cases the benchmark's fairness rests on.
		{"missing token", "", 401, "no credentials"},
		{"another audience", mint(logtotest.AccessToken{Audience: "https://other-api.example.test"}), 403, "token not meant for this API"},
		{"scope lacking", "Bearer " + minted(t)(e.p.UserAccessToken(logtotest.DefaultResource, "write:data")), 403, "token lacks a required scope"},
		{"no scope at all", "Bearer " + minted(t)(e.p.MachineAccessToken(logtotest.DefaultResource)), 403, "token lacks a required scope"},
		{"expired", mint(logtotest.AccessToken{IssuedAt: now.Add(-2 * time.Hour), TTL: time.Hour}), 401, "token rejected: "},

		// The rest of the checks.
		{"not Bearer", "Basic ZGVtbzpkZW1vLXBhc3N3b3Jk", 401, "unsupported credentials"},
		{"not a JWT", "Bearer not-a-jwt", 401, "token rejected: "},
		{"another issuer", mint(logtotest.AccessToken{Edit: func(_, claims map[string]any) { claims["iss"] = "https://evil.example.test/oidc" }}), 401, "token from an untrusted issuer"},
		{"organization token", "Bearer " + minted(t)(e.p.OrganizationToken(logtotest.DemoOrganization.ID, "read:data")), 403, "token not meant for this API"},
		{"not yet valid", mint(logtotest.AccessToken{NotBefore: now.Add(time.Hour)}), 401, "token rejected: "},
		{"key not in the JWKS", mint(logtotest.AccessToken{Signing: logtotest.SigningForeignKey}), 401, "token rejected: "},
		{"alg none", mint(logtotest.AccessToken{Signing: logtotest.SigningNone}), 401, "token rejected: "},
		{"HS256 keyed with the public key", mint(logtotest.AccessToken{Signing: logtotest.SigningHS256PublicKey}), 401, "token rejected: "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := e.get(t, claimsRoute, c.authz)
			msg, _ := a.body["error"].(string)
			if a.status != c.status || !strings.HasPrefix(msg, c.error) {
				t.Fatalf("status %d, body %v; want %d and an error starting %q", a.status, a.body, c.status, c.error)
			}
			if _, ok := a.body["sub"]; ok {
				t.Fatalf("the protected handler ran: %v", a.body)
			}
			t.Logf("%d %q", a.status, msg)
		})
	}
}

// TestGuidePeerJWKSOnce pins down the key handling the benchmark measures:
// the key set is downloaded when the middleware is built and at no other
// time, so a token signed with a key Logto rotated in later is refused.
func TestGuidePeerJWKSOnce(t *testing.T) {
	e := setup(t, true)
	if n := e.p.Calls("jwks"); n != 1 {
		t.Fatalf("JWKS fetched %d times at start, want 1", n)
	}
	token := "Bearer " + minted(t)(e.p.UserAccessToken(logtotest.DefaultResource, "read:data"))
	for range 5 {
		if a := e.get(t, claimsRoute, token); a.status != http.StatusOK {
			t.Fatalf("status %d, body %v, want 200", a.status, a.body)
		}
	}
	e.p.RotateKeys()
	rotated := "Bearer " + minted(t)(e.p.UserAccessToken(logtotest.DefaultResource, "read:data"))
	if a := e.get(t, claimsRoute, rotated); a.status != http.StatusUnauthorized {
		t.Fatalf("token signed with the rotated-in key: status %d, body %v; the key set is never downloaded again, want 401", a.status, a.body)
	}
	if a := e.get(t, claimsRoute, token); a.status != http.StatusOK {
		t.Fatalf("token signed before the rotation: status %d, body %v, want 200", a.status, a.body)
	}
	if n := e.p.Calls("jwks"); n != 1 {
		t.Fatalf("JWKS fetched %d times in all, want 1", n)
	}
}

// BenchmarkGuidePeer measures the peer on a valid token, the same token
// every time (there is no cache of verified tokens, so every request parses
// the token and verifies its signature).
//
// Each request goes through app.Handler() on a reused fasthttp.RequestCtx,
// the way fiberlogto's own benchmarks do (fiberlogto/bench_helpers_test.go,
// inprocServer): fasthttp parses the raw HTTP/1.1 request bytes, Fiber
// routes, the middleware runs, the handler answers 200 with no work of its
// own, and the response is serialised to io.Discard. No socket, no HTTP
// client, no goroutine hand-off: what is left is the server's side of one
// request, of which the middleware is nearly all. app.Test is not used
// because it runs a client and a connection per request. The JWKS fetch
// happens once in setup, before the timer, as it does once at start-up for
// a user of the guide.
//
//	go test -run '^$' -bench GuidePeer -benchmem ./bench/guidepeer/
func BenchmarkGuidePeer(b *testing.B) {
	e := setup(b, false)
	token := minted(b)(e.p.UserAccessToken(logtotest.DefaultResource, "read:data"))
	raw := []byte("GET " + benchRoute + " HTTP/1.1\r\nHost: 127.0.0.1:3000\r\nAuthorization: Bearer " + token + "\r\n\r\n")
	s := newInprocServer(e.app)
	b.ReportAllocs()
	for b.Loop() {
		status, err := s.serve(raw)
		if err != nil {
			b.Fatal(err)
		}
		if status != fiber.StatusOK {
			b.Fatalf("status %d, want 200", status)
		}
	}
}

// BenchmarkGuidePeerParallel is BenchmarkGuidePeer with GOMAXPROCS
// goroutines, each with its own RequestCtx, sharing the middleware and its
// key set as a server's connections do.
func BenchmarkGuidePeerParallel(b *testing.B) {
	e := setup(b, false)
	token := minted(b)(e.p.UserAccessToken(logtotest.DefaultResource, "read:data"))
	raw := []byte("GET " + benchRoute + " HTTP/1.1\r\nHost: 127.0.0.1:3000\r\nAuthorization: Bearer " + token + "\r\n\r\n")
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		s := newInprocServer(e.app)
		for pb.Next() {
			status, err := s.serve(raw)
			if err != nil {
				b.Error(err)
				return
			}
			if status != fiber.StatusOK {
				b.Errorf("status %d, want 200", status)
				return
			}
		}
	})
}

// inprocServer runs a Fiber app's handler on one reused fasthttp.RequestCtx
// (a copy of fiberlogto's bench helper, which is in another package's
// tests).
type inprocServer struct {
	handler fasthttp.RequestHandler
	ctx     fasthttp.RequestCtx
	in      bytes.Reader
	br      *bufio.Reader
	bw      *bufio.Writer
}

func newInprocServer(app *fiber.App) *inprocServer {
	return &inprocServer{
		handler: app.Handler(),
		br:      bufio.NewReaderSize(nil, 4096),
		bw:      bufio.NewWriterSize(io.Discard, 4096),
	}
}

// serve parses raw (a whole HTTP/1.1 request) as fasthttp's server does,
// runs the app, writes the response out to io.Discard and returns its
// status.
func (s *inprocServer) serve(raw []byte) (int, error) {
	ctx := &s.ctx
	ctx.Request.Reset()
	ctx.Response.Reset()
	ctx.ResetUserValues()
	s.in.Reset(raw)
	s.br.Reset(&s.in)
	if err := ctx.Request.Read(s.br); err != nil {
		return 0, err
	}
	s.handler(ctx)
	if err := ctx.Response.Write(s.bw); err != nil {
		return 0, err
	}
	if err := s.bw.Flush(); err != nil {
		return 0, err
	}
	return ctx.Response.StatusCode(), nil
}
