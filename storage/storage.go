// Package storage forwards to the session storages fiberlogto ships with,
// which now live in a package each, so that a program links only the
// backend it imports:
//
//   - github.com/fiberlogto/sdk/storage/sqlite: one instance whose sessions
//     survive restarts.
//   - github.com/fiberlogto/sdk/storage/memory: tests and throwaway
//     instances.
//   - github.com/fiberlogto/sdk/storage/redis: several instances, the
//     fastest shared storage.
//   - github.com/fiberlogto/sdk/storage/postgres: several instances on a
//     PostgreSQL you already run.
//
// Importing this package links all four (cgo SQLite, pgx and go-redis).
//
// Deprecated: import the backend's own package instead. The names here are
// aliases of its types and wrappers of its New.
package storage

import (
	"github.com/fiberlogto/sdk/storage/memory"
	"github.com/fiberlogto/sdk/storage/postgres"
	"github.com/fiberlogto/sdk/storage/redis"
	"github.com/fiberlogto/sdk/storage/sqlite"
)

// SQLiteStorage is sqlite.Storage.
//
// Deprecated: use github.com/fiberlogto/sdk/storage/sqlite.
type SQLiteStorage = sqlite.Storage

// SQLiteConfig is sqlite.Config.
//
// Deprecated: use github.com/fiberlogto/sdk/storage/sqlite.
type SQLiteConfig = sqlite.Config

// SQLite is sqlite.New.
//
// Deprecated: use github.com/fiberlogto/sdk/storage/sqlite.
func SQLite(cfg SQLiteConfig) (*SQLiteStorage, error) { return sqlite.New(cfg) }

// MemoryStorage is memory.Storage.
//
// Deprecated: use github.com/fiberlogto/sdk/storage/memory.
type MemoryStorage = memory.Storage

// Memory is memory.New.
//
// Deprecated: use github.com/fiberlogto/sdk/storage/memory.
func Memory() *MemoryStorage { return memory.New() }

// RedisStorage is redis.Storage.
//
// Deprecated: use github.com/fiberlogto/sdk/storage/redis.
type RedisStorage = redis.Storage

// RedisConfig is redis.Config.
//
// Deprecated: use github.com/fiberlogto/sdk/storage/redis.
type RedisConfig = redis.Config

// Redis is redis.New.
//
// Deprecated: use github.com/fiberlogto/sdk/storage/redis.
func Redis(cfg RedisConfig) (*RedisStorage, error) { return redis.New(cfg) }

// PostgresStorage is postgres.Storage.
//
// Deprecated: use github.com/fiberlogto/sdk/storage/postgres.
type PostgresStorage = postgres.Storage

// PostgresConfig is postgres.Config.
//
// Deprecated: use github.com/fiberlogto/sdk/storage/postgres.
type PostgresConfig = postgres.Config

// Postgres is postgres.New.
//
// Deprecated: use github.com/fiberlogto/sdk/storage/postgres.
func Postgres(cfg PostgresConfig) (*PostgresStorage, error) { return postgres.New(cfg) }
