package tutorial

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"reflect"
	"syscall"
	"time"

	"github.com/fiberlogto/sdk/logtotest"
)

// shutdownTimeout bounds how long in-flight requests may take to finish
// after SIGINT or SIGTERM.
const shutdownTimeout = 10 * time.Second

// App is a framework's tutorial app as Run serves it. Fiber v2's *fiber.App
// is one; Fiber v3's takes a ListenConfig in Listener too.
type App interface {
	// Listener serves on ln until ShutdownWithTimeout, then returns nil.
	Listener(ln net.Listener) error
	// ShutdownWithTimeout stops serving, giving the requests in flight up
	// to timeout to finish.
	ShutdownWithTimeout(timeout time.Duration) error
}

// NewApp builds a framework's app for cfg, whose Endpoint is set, with its
// sessions in store, the framework's fiber.Storage (S). The caller closes
// store after the app has shut down.
type NewApp[S any] func(cfg Config, store S) (App, error)

// Settings of the apps' HTTP servers.
const (
	AppName      = "fiberlogto example"
	ReadTimeout  = 15 * time.Second
	WriteTimeout = 30 * time.Second
	IdleTimeout  = 60 * time.Second
)

// Main is an example's main: Run with the process's environment and
// standard output until SIGINT or SIGTERM; an error is printed to standard
// error and the exit status is 1.
func Main[S any](newApp NewApp[S]) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Run(ctx, os.Getenv, os.Stdout, newApp)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

// Run reads the configuration, starts the embedded provider when
// LOGTO_ENDPOINT is unset, and serves the app newApp builds on ADDR until
// ctx is done, then shuts down cleanly.
func Run[S any](ctx context.Context, getenv func(string) string, stdout io.Writer, newApp NewApp[S]) error {
	cfg, err := LoadConfig(getenv)
	if err != nil {
		return err
	}

	demoPAT := ""
	if cfg.Embedded {
		// zitadel's op logs every route it registers and every error it
		// answers to the global logger; only errors matter for a demo.
		slog.SetDefault(slog.New(slog.NewTextHandler(stderr(stdout), &slog.HandlerOptions{Level: slog.LevelError})))
		p, effective, err := StartDevProvider(cfg)
		if err != nil {
			return err
		}
		defer p.Close()
		cfg = effective
		// A personal access token of the demo user, as Logto's Management
		// API would make one, for trying /api/data with it.
		if demoPAT, err = p.PersonalAccessToken(logtotest.DemoUser.ID, "demo", 0); err != nil {
			return fmt.Errorf("embedded provider: %w", err)
		}
	}

	cfg.Logger = cfg.NewLogger(stderr(stdout))
	app, closeStorage, err := Open(cfg, newApp)
	if err != nil {
		return err
	}
	defer closeStorage()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on ADDR=%s: %w", cfg.Addr, err)
	}
	printBanner(stdout, cfg, ln.Addr().String(), demoPAT)

	served := make(chan error, 1)
	go func() { served <- app.Listener(ln) }()

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	fmt.Fprintln(stdout, "shutting down")
	err = app.ShutdownWithTimeout(shutdownTimeout)
	// Closing the listener too ends Listener even if the signal came before
	// it had started serving.
	_ = ln.Close()
	<-served
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// Open opens the session storage and builds the app for cfg, whose
// Endpoint must be set (see StartDevProvider for embedded mode).
// closeStorage closes the storage: call it after the app has shut down.
func Open[S any](cfg Config, newApp NewApp[S]) (app App, closeStorage func(), err error) {
	if cfg.Endpoint == "" {
		return nil, nil, errors.New("no Logto endpoint: set LOGTO_ENDPOINT or start the embedded provider")
	}
	opened, err := openStorage(cfg)
	if err != nil {
		return nil, nil, err
	}
	closeStorage = func() { _ = opened.Close() }
	store, ok := opened.(S)
	if !ok {
		closeStorage()
		return nil, nil, fmt.Errorf("SESSION_STORAGE=%s: %T is not a %v", cfg.SessionStorage, opened, reflect.TypeFor[S]())
	}
	if app, err = newApp(cfg, store); err != nil {
		closeStorage()
		return nil, nil, fmt.Errorf("fiberlogto: %w", err)
	}
	return app, closeStorage, nil
}

// printBanner tells where the app is and, in embedded mode, how to sign in
// and call the API (demoPAT is the demo user's personal access token).
func printBanner(w io.Writer, cfg Config, listening, demoPAT string) {
	fmt.Fprintf(w, "fiberlogto example listening on %s, open %s\n", listening, cfg.BaseURL)
	fmt.Fprintf(w, "  sessions: %s", cfg.SessionStorage)
	switch cfg.SessionStorage {
	case StorageSQLite:
		fmt.Fprintf(w, " (%s)", cfg.SessionDB)
	case StorageRedis:
		fmt.Fprintf(w, " (%s)", redactURL(cfg.RedisURL))
	case StoragePostgres:
		fmt.Fprintf(w, " (%s)", redactURL(cfg.DatabaseURL))
	}
	if cfg.EncryptionKey != nil {
		fmt.Fprint(w, ", encrypted")
	}
	fmt.Fprintln(w)
	if !cfg.Embedded {
		fmt.Fprintf(w, "  Logto: %s, app %s\n", cfg.Endpoint, cfg.AppID)
		return
	}
	fmt.Fprintf(w, "  Logto: embedded Logto-compatible provider at %s (set LOGTO_ENDPOINT to use a real Logto)\n", cfg.Endpoint)
	fmt.Fprintf(w, "  Sign in: open %s/logto/sign-in, username: %s, password: %s\n",
		cfg.BaseURL, logtotest.DemoUser.Username, logtotest.DemoUser.Password)
	fmt.Fprintf(w, "  API: %s/api/data takes an access token (GET /access-token when signed in, or client credentials of the machine-to-machine app %s / %s at %s/oidc/token)\n",
		cfg.BaseURL, logtotest.DemoMachineApp.ID, logtotest.DemoMachineApp.Secret, cfg.Endpoint)
	fmt.Fprintf(w, "       or %s's personal access token %s\n", logtotest.DemoUser.Username, demoPAT)
}

// redactURL shows a storage URL without its password, and nothing of a
// connection string that is not a URL (a libpq key=value string).
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "connection string not shown"
	}
	u.RawQuery, u.Fragment = "", "" // a password may hide there too
	return u.Redacted()
}

// stderr is where logs go: os.Stderr, unless a test captures stdout.
func stderr(stdout io.Writer) io.Writer {
	if stdout == os.Stdout {
		return os.Stderr
	}
	return stdout
}
