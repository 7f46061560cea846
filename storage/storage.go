// Package storage builds the session storages fiberlogto ships with. It
// knows nothing of fiberlogto: each constructor returns a plain
// fiber.Storage, and any other fiber.Storage works as well.
//
// Pick SQLite for one instance that must keep its sessions across restarts
// (the default of the example), memory for tests and throwaway instances.
package storage

import (
	"fmt"
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/storage/memory/v2"
	"github.com/gofiber/storage/sqlite3/v2"
)

// SQLiteConfig configures SQLite.
type SQLiteConfig struct {
	// Path of the database file; created when missing.
	//
	// Optional. Default: "./fiberlogto.sqlite3"
	Path string

	// Table holding the sessions.
	//
	// Optional. Default: "fiberlogto_sessions"
	Table string

	// GCInterval is how often expired sessions are deleted.
	//
	// Optional. Default: time.Minute
	GCInterval time.Duration

	// BusyTimeout is how long a write waits for another one to finish before
	// it fails with "database is locked".
	//
	// Optional. Default: 5 * time.Second
	BusyTimeout time.Duration
}

// SQLite opens (or creates) a SQLite session storage. The database runs in
// WAL mode with a busy timeout, so concurrent requests read while one writes
// instead of failing with SQLITE_BUSY.
func SQLite(cfg SQLiteConfig) (s fiber.Storage, err error) {
	if cfg.Path == "" {
		cfg.Path = "./fiberlogto.sqlite3"
	}
	if cfg.Table == "" {
		cfg.Table = "fiberlogto_sessions"
	}
	if cfg.GCInterval <= 0 {
		cfg.GCInterval = time.Minute
	}
	if cfg.BusyTimeout <= 0 {
		cfg.BusyTimeout = 5 * time.Second
	}
	q := url.Values{}
	q.Set("_busy_timeout", fmt.Sprint(cfg.BusyTimeout.Milliseconds()))
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "NORMAL")
	dsn := "file:" + cfg.Path + "?" + q.Encode()

	// gofiber's constructor panics on a bad path; a library returns an error.
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("storage: open SQLite %q: %v", cfg.Path, r)
		}
	}()
	return sqlite3.New(sqlite3.Config{
		Database:   dsn,
		Table:      cfg.Table,
		GCInterval: cfg.GCInterval,
		// One writer at a time is all SQLite does; a small pool avoids
		// piling goroutines on its lock.
		MaxOpenConns:    8,
		MaxIdleConns:    8,
		ConnMaxLifetime: time.Hour,
	}), nil
}

// Memory returns an in-process storage. Sessions are lost on restart and not
// shared between instances.
func Memory() fiber.Storage {
	return memory.New(memory.Config{GCInterval: time.Minute})
}
