package logtohttp_test

import (
	"encoding/json"
	"log"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/labstack/echo/v4"

	"github.com/fiberlogto/sdk/logto"
	"github.com/fiberlogto/sdk/logtohttp"
	"github.com/fiberlogto/sdk/storage/sqlite"
)

// The tutorial's app on the standard ServeMux (Go 1.22 patterns): the
// middleware wraps the mux, serves /logto/* and gives every other request
// its user.
func ExampleLogto_Handler() {
	sessions, err := sqlite.New(sqlite.Config{Path: "./sessions.sqlite3"})
	if err != nil {
		log.Fatal(err)
	}
	lg, err := logtohttp.New(logtohttp.Config{Config: logto.Config{
		Endpoint:  "https://tenant.logto.app",
		AppID:     "your-app-id",
		AppSecret: "your-app-secret",
		BaseURL:   "http://localhost:3000",
		Storage:   sessions,
	}})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		if user := logtohttp.User(r); user.IsAuthenticated {
			_, _ = w.Write([]byte("Hello, " + user.DisplayName()))
			return
		}
		_, _ = w.Write([]byte(`<a href="/logto/sign-in">Sign In</a>`))
	})
	mux.HandleFunc("GET /user", logtohttp.SendUser)
	mux.Handle("GET /protected", logtohttp.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("protected resource"))
	})))
	log.Fatal(http.ListenAndServe("127.0.0.1:3000", lg.Handler(mux)))
}

// An API on the standard ServeMux that takes Logto access tokens: an API
// resource, and organization permissions with the organization in a path
// wildcard (read with r.PathValue).
func ExampleLogto_RequireAccessToken() {
	lg, err := logtohttp.New(logtohttp.Config{Config: logto.Config{Endpoint: "https://tenant.logto.app"}})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /api/data", lg.RequireAccessToken(logto.AccessTokenOptions{
		Resource: "https://api.example.com",
		Scopes:   []string{"read:data"},
	})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"caller": logtohttp.AccessToken(r).Subject})
	})))
	mux.Handle("GET /api/organizations/{id}/data", lg.RequireAccessToken(logto.AccessTokenOptions{
		OrganizationParam: "id",
		Scopes:            []string{"read:org"},
	})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"organization": logtohttp.AccessToken(r).OrganizationID})
	})))
	log.Fatal(http.ListenAndServe("127.0.0.1:3000", mux))
}

// With chi: the middleware in r.Use, the guards in r.With, and chi's
// route parameters through Config.PathValue.
func Example_chi() {
	lg, err := logtohttp.New(logtohttp.Config{
		Config: logto.Config{
			Endpoint:  "https://tenant.logto.app",
			AppID:     "your-app-id",
			AppSecret: "your-app-secret",
			BaseURL:   "http://localhost:3000",
		},
		PathValue: chi.URLParam,
	})
	if err != nil {
		log.Fatal(err)
	}
	r := chi.NewRouter()
	r.Use(lg.Handler)
	r.Get("/user", logtohttp.SendUser)
	r.With(logtohttp.RequireAuth).Get("/protected", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("Hello, " + logtohttp.User(r).DisplayName()))
	})
	r.With(lg.RequireAccessToken(logto.AccessTokenOptions{OrganizationParam: "id", Scopes: []string{"read:org"}})).
		Get("/api/organizations/{id}/data", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(logtohttp.AccessToken(r).OrganizationID))
		})
	log.Fatal(http.ListenAndServe("127.0.0.1:3000", r))
}

// With Echo: the middleware through echo.WrapMiddleware, the user and the
// claims read from the request as Echo holds it.
func Example_echo() {
	lg, err := logtohttp.New(logtohttp.Config{Config: logto.Config{
		Endpoint:  "https://tenant.logto.app",
		AppID:     "your-app-id",
		AppSecret: "your-app-secret",
		BaseURL:   "http://localhost:3000",
	}})
	if err != nil {
		log.Fatal(err)
	}
	e := echo.New()
	e.Use(echo.WrapMiddleware(lg.Handler))
	e.GET("/user", func(c echo.Context) error { return c.JSON(http.StatusOK, logtohttp.User(c.Request())) })
	e.GET("/protected", func(c echo.Context) error {
		return c.String(http.StatusOK, "Hello, "+logtohttp.User(c.Request()).DisplayName())
	}, echo.WrapMiddleware(logtohttp.RequireAuth))
	e.GET("/api/data", func(c echo.Context) error {
		return c.JSON(http.StatusOK, logtohttp.AccessToken(c.Request()))
	}, echo.WrapMiddleware(lg.RequireAccessToken(logto.AccessTokenOptions{Resource: "https://api.example.com"})))
	log.Fatal(e.Start("127.0.0.1:3000"))
}
