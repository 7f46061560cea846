package logtohttp_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/labstack/echo/v4"

	"github.com/fiberlogto/sdk/logto"
	"github.com/fiberlogto/sdk/logtohttp"
	"github.com/fiberlogto/sdk/logtotest"
)

// The adapter behind the routers users mount it on, end to end against the
// in-process provider: sign-in, the user on a guarded route, and an
// organization route whose parameter the router holds. (Every flow and
// attack runs on the standard ServeMux in the shared test table of
// package fiberlogto.)

const (
	resource = "https://api.example.test"
	demoOrg  = "demo-org"
)

// app is a router the middleware of lg is mounted on.
type app func(lg *logtohttp.Logto) http.Handler

func TestRouters(t *testing.T) {
	orgOptions := logto.AccessTokenOptions{OrganizationParam: "id", Scopes: []string{"read:org"}}
	claimsJSON := func(w http.ResponseWriter, r *http.Request) { _ = json.NewEncoder(w).Encode(logtohttp.AccessToken(r)) }
	greet := func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "Hello, "+logtohttp.User(r).Subject)
	}
	for name, tc := range map[string]struct {
		pathValue func(*http.Request, string) string
		app       app
	}{
		"ServeMux": {nil, func(lg *logtohttp.Logto) http.Handler {
			mux := http.NewServeMux()
			mux.HandleFunc("GET /user", logtohttp.SendUser)
			mux.Handle("GET /protected", logtohttp.RequireAuth(http.HandlerFunc(greet)))
			mux.Handle("GET /api/organizations/{id}/data", lg.RequireAccessToken(orgOptions)(http.HandlerFunc(claimsJSON)))
			return lg.Handler(mux)
		}},
		"chi": {chi.URLParam, func(lg *logtohttp.Logto) http.Handler {
			r := chi.NewRouter()
			r.Use(lg.Handler)
			r.Get("/user", logtohttp.SendUser)
			r.With(logtohttp.RequireAuth).Get("/protected", greet)
			r.With(lg.RequireAccessToken(orgOptions)).Get("/api/organizations/{id}/data", claimsJSON)
			return r
		}},
		"echo": {func(r *http.Request, name string) string {
			// Echo keeps its parameters in its own context: an app reads
			// them from the path.
			parts := strings.Split(r.URL.Path, "/")
			if len(parts) > 3 && name == "id" {
				return parts[3]
			}
			return ""
		}, func(lg *logtohttp.Logto) http.Handler {
			e := echo.New()
			e.HideBanner = true
			e.Use(echo.WrapMiddleware(lg.Handler))
			e.GET("/user", echo.WrapHandler(http.HandlerFunc(logtohttp.SendUser)))
			e.GET("/protected", echo.WrapHandler(http.HandlerFunc(greet)), echo.WrapMiddleware(logtohttp.RequireAuth))
			e.GET("/api/organizations/:id/data", echo.WrapHandler(http.HandlerFunc(claimsJSON)), echo.WrapMiddleware(lg.RequireAccessToken(orgOptions)))
			return e
		}},
	} {
		t.Run(name, func(t *testing.T) {
			base, p, serve := listen(t)
			lg, err := logtohttp.New(logtohttp.Config{
				Config: logto.Config{
					Endpoint: p.URL, AppID: p.ClientID, AppSecret: p.ClientSecret, BaseURL: base,
					Scopes: []string{logto.ScopeOrganizations}, Resources: []string{resource},
				},
				PathValue: tc.pathValue,
			})
			if err != nil {
				t.Fatal(err)
			}
			serve(tc.app(lg))
			browser := newBrowser()
			get := func(path string, header ...string) (int, string) {
				req, _ := http.NewRequest(http.MethodGet, base+path, nil)
				req.Header.Set("Accept", "application/json")
				if len(header) == 2 {
					req.Header.Set(header[0], header[1])
				}
				resp, err := browser.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}
			if status, _ := get("/protected"); status != http.StatusUnauthorized {
				t.Fatalf("anonymous /protected = %d, want 401", status)
			}
			signIn(t, p, browser, base)
			if status, body := get("/user"); status != http.StatusOK || !strings.Contains(body, `"isAuthenticated":true`) {
				t.Fatalf("/user after sign-in = %d %s", status, body)
			}
			if status, body := get("/protected"); status != http.StatusOK || body != "Hello, "+logtotest.DemoUser.ID {
				t.Fatalf("/protected = %d %s", status, body)
			}
			tok, err := p.OrganizationToken(demoOrg, "read:org")
			if err != nil {
				t.Fatal(err)
			}
			if status, body := get("/api/organizations/"+demoOrg+"/data", "Authorization", "Bearer "+tok); status != http.StatusOK || !strings.Contains(body, `"organizationId":"`+demoOrg+`"`) {
				t.Fatalf("organization route = %d %s", status, body)
			}
			if status, _ := get("/api/organizations/another-org/data", "Authorization", "Bearer "+tok); status != http.StatusUnauthorized {
				t.Fatalf("another organization's route = %d, want 401", status)
			}
		})
	}
}

// listen opens the app's listener and a provider that redirects to it, and
// returns a function that serves a handler on it until the test ends.
func listen(t *testing.T) (string, *logtotest.Provider, func(http.Handler)) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	p := logtotest.NewServer(t, logtotest.Options{
		RedirectURIs:           []string{base + "/logto/sign-in-callback"},
		PostLogoutRedirectURIs: []string{base},
		Resources:              []string{resource},
	})
	return base, p, func(h http.Handler) {
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
		})
	}
}

// newBrowser is a client with a cookie jar that follows no redirect.
func newBrowser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// signIn runs the app's sign-in in browser as the demo user.
func signIn(t *testing.T, p *logtotest.Provider, browser *http.Client, base string) {
	t.Helper()
	resp, err := browser.Get(base + "/logto/sign-in")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cb, err := p.SignIn(context.Background(), browser, resp.Header.Get("Location"), logtotest.DemoUser.Username, logtotest.DemoUser.Password)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err = browser.Get(cb); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("callback = %d", resp.StatusCode)
	}
}
