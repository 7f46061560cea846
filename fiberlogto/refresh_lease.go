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

const (
	leaseKeyPrefix = "fiberlogto:r:" // a session's: refreshes and other writes of the record

	// Leases for a quick read-modify-write (an index list, a touch, a
	// userinfo answer, a pending sign-in) outlive it by far; a holder that
	// died frees them by expiry.
	shortLeaseTTL  = 10 * time.Second
	shortLeaseWait = 2 * time.Second
)

// sessionLeaseKey is the lease of the session stored under stored (its
// storage key, not its ID): the back-channel logout, which knows sessions
// only by their storage keys, takes it too.
func sessionLeaseKey(stored string) string { return storageKey(leaseKeyPrefix, stored) }

// leaseKeyOfSession is the lease of the session of id.
func leaseKeyOfSession(id string) string { return sessionLeaseKey(storageKey(sessionKeyPrefix, id)) }

// lease takes key for a new owner, waiting up to wait while another owner
// holds it. It returns the release and whether the lease is held. A storage
// that is no Leaser has nothing to take across instances: a no-op release,
// held.
func (s *sessionStore) lease(key string, ttl, wait time.Duration) (func(), bool, error) {
	leaser, ok := s.storage.(Leaser)
	if !ok {
		return func() {}, true, nil
	}
	owner := newID()
	deadline := time.Now().Add(wait)
	pause := 2 * time.Millisecond
	for {
		got, err := leaser.AcquireLease(key, owner, ttl)
		if err != nil {
			return func() {}, false, fmt.Errorf("%w: lease: %v", ErrStorage, err)
		}
		if got {
			return func() { _ = leaser.ReleaseLease(key, owner) }, true, nil
		}
		if !time.Now().Before(deadline) {
			return func() {}, false, nil
		}
		time.Sleep(pause + rand.N(pause))
		pause = min(2*pause, 50*time.Millisecond)
	}
}

// updateSession re-reads the session of id and saves what change makes of
// it, under the session's in-process lock and its lease: the same lease a
// refresh holds, so a touch or a userinfo answer written on one instance
// never puts back the refresh token another instance has just rotated
// (Logto would revoke the grant at its next use). It returns the record as
// saved, or nil when the session is gone. When the lease is not had in
// time the write is skipped and the record returned as read: what is
// written here can wait for a later request.
func (l *Logto) updateSession(id string, change func(*sessionRecord)) (*sessionRecord, error) {
	unlock := l.locks.lock("s:" + id)
	defer unlock()
	release, held, err := l.store.lease(leaseKeyOfSession(id), shortLeaseTTL, shortLeaseWait)
	if err != nil {
		return nil, err
	}
	defer release()
	rec, err := l.store.load(id)
	if err != nil || rec == nil || !held {
		return rec, err
	}
	change(rec)
	return rec, l.store.save(id, rec)
}

// heldLease is a session's lease as refreshLease took it (a zero one when
// the storage grants none, or none was needed).
type heldLease struct {
	leaser     Leaser
	key, owner string
	ttl        time.Duration
}

func (h heldLease) release() {
	if h.leaser != nil {
		_ = h.leaser.ReleaseLease(h.key, h.owner)
	}
}

// renew takes the lease again for its owner before a write. The owner
// keeps it, extended; and on SQLite taking a lease empties the process's
// read cache, so what is read next is what the database holds.
func (h heldLease) renew() {
	if h.leaser != nil {
		_, _ = h.leaser.AcquireLease(h.key, h.owner, h.ttl)
	}
}

// refreshLease makes this instance the only one refreshing the session of
// id. While another instance holds the lease it waits, re-reading the
// session: when the other's refresh lands and done(rec) reports the wanted
// token fresh, it returns that record and no lease. Otherwise it returns
// the record as read under the lease and the lease's release.
func (l *Logto) refreshLease(ctx context.Context, id string, done func(*sessionRecord) bool) (*sessionRecord, heldLease, error) {
	leaser, ok := l.cfg.Storage.(Leaser)
	if !ok {
		rec, err := l.store.load(id)
		return rec, heldLease{}, err
	}
	key := leaseKeyOfSession(id)
	owner := newID()
	ttl := l.cfg.HTTPTimeout + 5*time.Second // outlives one refresh call
	deadline := time.Now().Add(l.cfg.HTTPTimeout)
	wait := 20 * time.Millisecond
	for {
		got, err := leaser.AcquireLease(key, owner, ttl)
		if err != nil {
			return nil, heldLease{}, fmt.Errorf("%w: lease: %v", ErrStorage, err)
		}
		rec, err := l.store.load(id)
		if err != nil || rec == nil {
			if got {
				_ = leaser.ReleaseLease(key, owner)
			}
			return rec, heldLease{}, err
		}
		if got {
			return rec, heldLease{leaser: leaser, key: key, owner: owner, ttl: ttl}, nil
		}
		if done(rec) {
			return rec, heldLease{}, nil
		}
		if time.Now().After(deadline) {
			return nil, heldLease{}, fmt.Errorf("%w: another instance is refreshing this session", ErrProviderUnavailable)
		}
		t := time.NewTimer(wait + rand.N(wait))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, heldLease{}, fmt.Errorf("%w: %v", ErrProviderTimeout, ctx.Err())
		}
		if wait < 200*time.Millisecond {
			wait *= 2
		}
	}
}
