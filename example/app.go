package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/fiberlogto/sdk/fiberlogto"
	"github.com/fiberlogto/sdk/storage"
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

	// One Config per fiberlogto instance: the routes that want more than the
	// claims (userinfo, an API access token) get an instance of their own,
	// on the same storage, cookie and key, so they read the same sessions.
	// The app-wide instance skips those routes so that a request is served
	// by one instance only.
	mainCfg := base
	mainCfg.Next = func(c *fiber.Ctx) bool {
		// As Fiber routes: case-insensitive, trailing slash optional.
		p := strings.TrimSuffix(c.Path(), "/")
		return strings.EqualFold(p, "/user/info") || strings.EqualFold(p, "/access-token")
	}
	logto, err := fiberlogto.New(mainCfg)
	if err != nil {
		return nil, nil, fmt.Errorf("fiberlogto: %w", err)
	}

	infoCfg := base
	infoCfg.FetchUserInfo = true
	userInfo, err := fiberlogto.New(infoCfg)
	if err != nil {
		return nil, nil, fmt.Errorf("fiberlogto (userinfo): %w", err)
	}

	var accessToken *fiberlogto.Logto
	if cfg.Resource != "" {
		tokenCfg := base
		tokenCfg.GetAccessToken = true
		tokenCfg.Resource = cfg.Resource
		if accessToken, err = fiberlogto.New(tokenCfg); err != nil {
			return nil, nil, fmt.Errorf("fiberlogto (access token): %w", err)
		}
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
	registerRoutes(app, cfg, userInfo, accessToken)
	return app, cleanup, nil
}

// openStorage opens the session storage SESSION_STORAGE names.
func openStorage(cfg appConfig) (fiber.Storage, error) {
	switch cfg.SessionStorage {
	case storageMemory:
		return storage.Memory(), nil
	case storageSQLite, "":
		s, err := storage.SQLite(storage.SQLiteConfig{Path: cfg.SessionDB})
		if err != nil {
			return nil, fmt.Errorf("SESSION_DB: %w", err)
		}
		return s, nil
	default:
		return nil, fmt.Errorf("SESSION_STORAGE=%q is not supported", cfg.SessionStorage)
	}
}
