package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/fiberlogto/sdk/example/internal/tutorial"
	"github.com/fiberlogto/sdk/logto"
	"github.com/fiberlogto/sdk/logtohttp"
)

// server is the net/http app as tutorial.Run serves it: an *http.Server
// with Fiber's method names.
type server struct{ *http.Server }

// Listener serves on ln until ShutdownWithTimeout; Serve's
// http.ErrServerClosed is the end of a clean shutdown, not an error.
func (s server) Listener(ln net.Listener) error {
	if err := s.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// ShutdownWithTimeout stops accepting connections and waits up to timeout
// for the requests in flight; those still running then are cut off.
func (s server) ShutdownWithTimeout(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := s.Shutdown(ctx)
	if err != nil {
		_ = s.Close()
	}
	return err
}

// newApp builds the tutorial app for cfg, with its sessions in store.
func newApp(cfg tutorial.Config, store logto.Storage) (tutorial.App, error) {
	// The /logto/* routes, and logtohttp.User(r) on every other request.
	// CookieName stays fiberlogto_session: not one of Logto's own cookies
	// (_session, _interaction, _logto), which a browser sends to every port
	// of localhost.
	lg, err := logtohttp.New(logtohttp.Config{Config: logto.Config{
		Endpoint: cfg.Endpoint, AppID: cfg.AppID, AppSecret: cfg.AppSecret, BaseURL: cfg.BaseURL,
		Scopes: cfg.Scopes, Resources: cfg.Resources(),
		Storage: store, EncryptionKey: cfg.EncryptionKey, Logger: cfg.Logger,
	}})
	if err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	registerRoutes(mux, cfg, lg)
	handler := lg.Handler(mux)
	if redirect := loopbackAliasRedirect(cfg.BaseURL); redirect != nil {
		handler = redirect(handler)
	}

	srv := &http.Server{
		Handler:      handler,
		ReadTimeout:  tutorial.ReadTimeout,
		WriteTimeout: tutorial.WriteTimeout,
		IdleTimeout:  tutorial.IdleTimeout,
	}
	if cfg.Logger != nil {
		// net/http's own complaints (a bad TLS handshake, a panic in a
		// handler) as records of LOG_FORMAT, beside fiberlogto's.
		srv.ErrorLog = slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn)
	}
	return server{srv}, nil
}

// loopbackAliasRedirect is middleware that sends a GET for this app on
// another loopback name to BASE_URL (see tutorial.LoopbackAlias for why);
// nil unless BASE_URL is on a loopback name.
func loopbackAliasRedirect(baseURL string) func(http.Handler) http.Handler {
	alias := tutorial.LoopbackAlias(baseURL)
	if alias == nil {
		return nil
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// The Host header itself, never X-Forwarded-Host; the path and
			// query as received (escaped), also for an absolute-form target.
			to := alias(r.Method, r.Host, r.URL.RequestURI())
			if to == "" {
				next.ServeHTTP(w, r)
				return
			}
			// A bare 302, as Fiber's c.Redirect: http.Redirect would add a
			// small HTML body.
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("Location", to)
			w.WriteHeader(http.StatusFound)
		})
	}
}
