// Command example is fiberlogto's tutorial app, the Fiber counterpart of
// Logto's Express tutorial: a home page with a sign-in link, the user's
// claims, a protected route and an API access token.
//
// It is configured by environment variables only (see README.md). Without
// LOGTO_ENDPOINT it runs a Logto-compatible provider in-process on
// 127.0.0.1:3001 with a demo user, so `make example` works on a fresh clone
// with nothing else running.
package main

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
	"syscall"
	"time"

	"github.com/fiberlogto/sdk/fiberlogto/logtotest"
)

// shutdownTimeout bounds how long in-flight requests may take to finish
// after SIGINT or SIGTERM.
const shutdownTimeout = 10 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Getenv, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

// run reads the configuration, starts the embedded provider when
// LOGTO_ENDPOINT is unset, and serves the app on ADDR until ctx is done,
// then shuts down cleanly.
func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}

	if cfg.Embedded {
		// zitadel's op logs every route it registers and every error it
		// answers to the global logger; only errors matter for a demo.
		slog.SetDefault(slog.New(slog.NewTextHandler(stderr(stdout), &slog.HandlerOptions{Level: slog.LevelError})))
		p, effective, err := startDevProvider(cfg)
		if err != nil {
			return err
		}
		defer p.Close()
		cfg = effective
	}

	app, cleanup, err := newApp(cfg)
	if err != nil {
		return err
	}
	defer cleanup()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on ADDR=%s: %w", cfg.Addr, err)
	}
	printBanner(stdout, cfg, ln.Addr().String())

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

// printBanner tells where the app is and, in embedded mode, how to sign in.
func printBanner(w io.Writer, cfg appConfig, listening string) {
	fmt.Fprintf(w, "fiberlogto example listening on %s, open %s\n", listening, cfg.BaseURL)
	fmt.Fprintf(w, "  sessions: %s", cfg.SessionStorage)
	switch cfg.SessionStorage {
	case storageSQLite:
		fmt.Fprintf(w, " (%s)", cfg.SessionDB)
	case storageRedis:
		fmt.Fprintf(w, " (%s)", redactURL(cfg.RedisURL))
	case storagePostgres:
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
