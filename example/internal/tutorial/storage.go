package tutorial

import (
	"fmt"
	"io"

	"github.com/fiberlogto/sdk/storage/memory"
	"github.com/fiberlogto/sdk/storage/postgres"
	fiberredis "github.com/fiberlogto/sdk/storage/redis"
	"github.com/fiberlogto/sdk/storage/sqlite"
)

// openStorage opens the session storage SESSION_STORAGE names. Each
// backend is a fiber.Storage of Fiber v2 and of Fiber v3 alike; Open hands
// it to the app as its framework's.
func openStorage(cfg Config) (io.Closer, error) {
	switch cfg.SessionStorage {
	case StorageMemory:
		return memory.New(), nil
	case StorageSQLite, "":
		s, err := sqlite.New(sqlite.Config{Path: cfg.SessionDB})
		if err != nil {
			return nil, fmt.Errorf("SESSION_DB: %w", err)
		}
		return s, nil
	case StorageRedis:
		// Every instance on the same server, database number and key
		// prefix shares the sessions; storage.Redis's errors never show
		// the password.
		s, err := fiberredis.New(fiberredis.Config{URL: cfg.RedisURL, KeyPrefix: cfg.RedisKeyPrefix})
		if err != nil {
			return nil, fmt.Errorf("SESSION_STORAGE=redis, REDIS_URL: %w", err)
		}
		return s, nil
	case StoragePostgres:
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
