package logto

import (
	"context"
	"time"
)

// Storage keeps sessions: a key-value store with expiry, whose calls carry
// the request's context, so a request's deadline and cancellation reach
// Redis or PostgreSQL. Its methods are those of Fiber v3's fiber.Storage:
// every v3 storage is one, and so is every storage of
// github.com/fiberlogto/sdk/storage/.... StorageOf adapts a Fiber v2
// storage (or any storage without context).
//
// Get returns nil, nil for a missing or expired key. Set with exp 0 keeps
// the value until it is deleted.
type Storage interface {
	GetWithContext(ctx context.Context, key string) ([]byte, error)
	SetWithContext(ctx context.Context, key string, val []byte, exp time.Duration) error
	DeleteWithContext(ctx context.Context, key string) error
}

// Leaser is implemented by a session storage that can grant a short
// exclusive lease atomically; every storage of
// github.com/fiberlogto/sdk/storage/... does. A key-value storage has no
// compare-and-set, so every read-modify-write that several instances may
// run at once takes one:
//
//   - a session's refresh, so one rotating refresh token is never sent
//     twice (Logto revokes the whole grant when it is), and every other
//     write of the session (touch, userinfo answer, sign-out), so none
//     puts back a token another instance has just rotated;
//   - the back-channel logout index of a user, so concurrent sign-ins
//     never drop each other from it;
//   - a callback's claim on its state, so a code is exchanged once.
//
// Without one, all of these are serialised inside each process only.
type Leaser interface {
	// AcquireLease takes key for owner until ttl passes, unless another
	// owner holds it. It reports whether owner holds it now.
	AcquireLease(ctx context.Context, key, owner string, ttl time.Duration) (bool, error)
	// ReleaseLease gives key up if owner holds it.
	ReleaseLease(ctx context.Context, key, owner string) error
}

// FreshReader is implemented by a storage that keeps a process-local read
// cache kept coherent with the other instances by the server
// (invalidations arrive a moment after another instance's write): the
// storages of github.com/fiberlogto/sdk/storage/redis and .../postgres. A
// signed-in request reads its session through the cache; what is read to
// be rewritten (under a lease: a refresh, a touch, a sign-out, a logout
// index) is read with GetFreshWithContext, from the server itself, so a
// refresh token another instance has just rotated is never read stale.
type FreshReader interface {
	GetFreshWithContext(ctx context.Context, key string) ([]byte, error)
}

// PlainStorage is a storage whose calls take no context: Fiber v2's
// fiber.Storage, for one.
type PlainStorage interface {
	Get(key string) ([]byte, error)
	Set(key string, val []byte, exp time.Duration) error
	Delete(key string) error
}

// StorageOf returns s as a Storage: s itself when it is one already (a
// Fiber v3 storage, a storage of this module); otherwise a Storage whose
// calls give up when their context has ended before they start, and then
// call s without it. A Leaser stays one.
func StorageOf(s PlainStorage) Storage {
	if st, ok := s.(Storage); ok {
		return st
	}
	p := plainStorage{s}
	if l, ok := s.(plainLeaser); ok {
		return leasingPlainStorage{p, l}
	}
	return p
}

type plainStorage struct{ s PlainStorage }

func (p plainStorage) GetWithContext(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return p.s.Get(key)
}

func (p plainStorage) SetWithContext(ctx context.Context, key string, val []byte, exp time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return p.s.Set(key, val, exp)
}

func (p plainStorage) DeleteWithContext(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return p.s.Delete(key)
}

// plainLeaser is a Leaser without context.
type plainLeaser interface {
	AcquireLease(key, owner string, ttl time.Duration) (bool, error)
	ReleaseLease(key, owner string) error
}

type leasingPlainStorage struct {
	plainStorage
	l plainLeaser
}

func (p leasingPlainStorage) AcquireLease(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	return p.l.AcquireLease(key, owner, ttl)
}

func (p leasingPlainStorage) ReleaseLease(ctx context.Context, key, owner string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return p.l.ReleaseLease(key, owner)
}
