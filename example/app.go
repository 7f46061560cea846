package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/fiberlogto/sdk/fiberlogto"
	"github.com/fiberlogto/sdk/storage/memory"
	"github.com/fiberlogto/sdk/storage/postgres"
	fiberredis "github.com/fiberlogto/sdk/storage/redis"
	"github.com/fiberlogto/sdk/storage/sqlite"
)

// newApp builds the tutorial app for cfg, whose Endpoint must be set (see
// startDevProvider for embedded mode). cleanup closes the session storage;
// call it after the app has shut down.
func newApp(cfg appConfig) (app *fiber.App, cleanup func(), err error) {
	if cfg.Endpoint == "" {
		return nil, nil, errors.New("no Logto endpoint: set LOGTO_ENDPOINT or start the embedded provider")
	}
	store, err := openStorage(cfg)
	if err != nil {
		return nil, nil, err
	}
	cleanup = func() { _ = store.Close() }
	defer func() {
		if err != nil {
			cleanup()
			app, cleanup = nil, nil
		}
	}()

	base := fiberlogto.Config{
		Endpoint:      cfg.Endpoint,
		AppID:         cfg.AppID,
		AppSecret:     cfg.AppSecret,
		BaseURL:       cfg.BaseURL,
		Scopes:        cfg.Scopes,
		Storage:       store,
		EncryptionKey: cfg.EncryptionKey,
		// CookieName stays fiberlogto_session: not one of Logto's own
		// cookies (_session, _interaction, _logto), which a browser sends to
		// every port of localhost.
	}
	if cfg.Resource != "" {
		base.Resources = []string{cfg.Resource}
	}

	logto, err := fiberlogto.New(base)
	if err != nil {
		return nil, nil, fmt.Errorf("fiberlogto: %w", err)
	}

	app = fiber.New(fiber.Config{
		AppName:               "fiberlogto example",
		DisableStartupMessage: true,
		ReadTimeout:           15 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           60 * time.Second,
	})
	if h := loopbackAliasRedirect(cfg.BaseURL); h != nil {
		app.Use(h)
	}
	// The /logto/* routes, and fiberlogto.User(c) on every other request.
	app.Use(logto.Handler())
	registerRoutes(app, cfg)
	return app, cleanup, nil
}

// openStorage opens the session storage SESSION_STORAGE names.
func openStorage(cfg appConfig) (fiber.Storage, error) {
	switch cfg.SessionStorage {
	case storageMemory:
		return memory.New(), nil
	case storageSQLite, "":
		s, err := sqlite.New(sqlite.Config{Path: cfg.SessionDB})
		if err != nil {
			return nil, fmt.Errorf("SESSION_DB: %w", err)
		}
		return s, nil
	case storageRedis:
		// Every instance on the same server, database number and key
		// prefix shares the sessions; storage.Redis's errors never show
		// the password.
		s, err := fiberredis.New(fiberredis.Config{URL: cfg.RedisURL, KeyPrefix: cfg.RedisKeyPrefix})
		if err != nil {
			return nil, fmt.Errorf("SESSION_STORAGE=redis, REDIS_URL: %w", err)
		}
		return s, nil
	case storagePostgres:
		// Every instance on the same database and table shares the
		// sessions (the table is created when missing).
		s, err := postgres.New(postgres.Config{URL: cfg.DatabaseURL, Table: cfg.PostgresTable})
		if err != nil {
			return nil, fmt.Errorf("SESSION_STORAGE=postgres, DATABASE_URL or POSTGRES_TABLE: %w", err)
		}
		return s, nil
	default:
		return nil, fmt.Errorf("SESSION_STORAGE=%q is not supported", cfg.SessionStorage)
	}
}
