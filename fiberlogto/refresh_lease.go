package fiberlogto

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// Leaser is implemented by a session storage that can grant a short
// exclusive lease atomically (storage.SQLite, storage.Redis,
// storage.Postgres and storage.Memory do). With one, a session's refresh
// runs on one instance at a time: the others wait for it and use its
// tokens, so several instances behind a load balancer never send one
// rotating refresh token twice, which makes Logto revoke the whole grant.
// The user's back-channel logout index is also written by one instance at
// a time, so concurrent sign-ins never drop each other's sessions from it.
//
// Without one, both are serialised inside each process only, and an
// instance that loses a refresh race re-reads the session before it treats
// invalid_grant as final.
type Leaser interface {
	// AcquireLease takes key for owner until ttl passes, unless another
	// owner holds it. It reports whether owner holds it now.
	AcquireLease(key, owner string, ttl time.Duration) (bool, error)
	// ReleaseLease gives key up if owner holds it.
	ReleaseLease(key, owner string) error
}

const leaseKeyPrefix = "fiberlogto:r:"

// refreshLease makes this instance the only one refreshing the session of
// id. While another instance holds the lease it waits, re-reading the
// session: when the other's refresh lands and done(rec) reports the wanted
// token fresh, it returns that record and no lease. Otherwise it returns
// the record as read under the lease and the lease's release.
func (l *Logto) refreshLease(ctx context.Context, id string, done func(*sessionRecord) bool) (*sessionRecord, func(), error) {
	leaser, ok := l.cfg.Storage.(Leaser)
	if !ok {
		rec, err := l.store.load(id)
		return rec, func() {}, err
	}
	key := storageKey(leaseKeyPrefix, id)
	owner := newID()
	ttl := l.cfg.HTTPTimeout + 5*time.Second // outlives one refresh call
	deadline := time.Now().Add(l.cfg.HTTPTimeout)
	wait := 20 * time.Millisecond
	for {
		got, err := leaser.AcquireLease(key, owner, ttl)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: lease: %v", ErrStorage, err)
		}
		rec, err := l.store.load(id)
		if err != nil || rec == nil {
			if got {
				_ = leaser.ReleaseLease(key, owner)
			}
			return rec, func() {}, err
		}
		if got {
			return rec, func() { _ = leaser.ReleaseLease(key, owner) }, nil
		}
		if done(rec) {
			return rec, func() {}, nil
		}
		if time.Now().After(deadline) {
			return nil, nil, fmt.Errorf("%w: another instance is refreshing this session", ErrProviderUnavailable)
		}
		t := time.NewTimer(wait + rand.N(wait))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, nil, fmt.Errorf("%w: %v", ErrProviderTimeout, ctx.Err())
		}
		if wait < 200*time.Millisecond {
			wait *= 2
		}
	}
}
