package storage

import (
	"time"

	fiberv2 "github.com/gofiber/fiber/v2"
	fiberv3 "github.com/gofiber/fiber/v3"
)

// fiberlogtoLeaser and fiberlogtoTaker are fiberlogto.Leaser and
// fiberlogto.Taker, spelled out so the method sets are checked here without
// importing fiberlogto.
type (
	fiberlogtoLeaser interface {
		AcquireLease(key, owner string, ttl time.Duration) (bool, error)
		ReleaseLease(key, owner string) error
	}
	fiberlogtoTaker interface {
		Take(key string) ([]byte, error)
	}
)

// Every storage is a session storage for Fiber v2 and for Fiber v3 (with
// its context methods), and grants leases and takes.
var (
	_ fiberv2.Storage  = (*SQLiteStorage)(nil)
	_ fiberv3.Storage  = (*SQLiteStorage)(nil)
	_ fiberlogtoLeaser = (*SQLiteStorage)(nil)
	_ fiberlogtoTaker  = (*SQLiteStorage)(nil)
)
