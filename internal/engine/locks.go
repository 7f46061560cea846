package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/fiberlogto/sdk/logto"
)

// Every lock key is built here, from storage keys (hashes), never from a
// session ID: the back-channel logout knows sessions by storage key only,
// and takes the same lock as a refresh of the same session.
const (
	sessionLockPrefix = "fiberlogto:r:" // a session's writes (refresh, touch, userinfo, end)
	indexLockPrefix   = "fiberlogto:l:" // a back-channel logout index list
	claimKeyPrefix    = "fiberlogto:c:" // a callback's claim on its state (taken, never released)

	// Leases for a quick read-modify-write (an index list, a touch, a
	// userinfo answer, a delete) outlive it by far; a holder that died
	// frees them by expiry.
	shortLeaseTTL  = 10 * time.Second
	shortLeaseWait = 2 * time.Second
)

// sessionLock is the lock of the session stored under stored (its storage
// key).
func sessionLock(stored string) string { return storageKey(sessionLockPrefix, stored) }

// indexLock is the lock of the index list stored under key.
func indexLock(key string) string { return storageKey(indexLockPrefix, key) }

// claimKey is where a callback's claim on state is kept.
func claimKey(state string) string { return storageKey(claimKeyPrefix, state) }

// locker serialises work on a key: inside the process with a mutex per key,
// across instances with the storage's lease when it is a logto.Leaser.
type locker struct {
	storage logto.Storage
	mu      sync.Mutex
	local   map[string]*localLock
}

type localLock struct {
	mu   sync.Mutex
	refs int
}

// lockLocal locks key inside the process and returns its unlock.
func (lk *locker) lockLocal(key string) func() {
	lk.mu.Lock()
	if lk.local == nil {
		lk.local = make(map[string]*localLock)
	}
	l := lk.local[key]
	if l == nil {
		l = &localLock{}
		lk.local[key] = l
	}
	l.refs++
	lk.mu.Unlock()

	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		lk.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(lk.local, key)
		}
		lk.mu.Unlock()
	}
}

// lease is a key held by hold: always inside the process, and across
// instances when held is true.
type lease struct {
	ctx        context.Context // of the request that holds it
	unlock     func()
	leaser     logto.Leaser
	key, owner string
	ttl        time.Duration
	held       bool
}

// release gives the key up, across instances and in the process. It runs
// when the work is done, the request's context possibly cancelled by
// then: the release runs on a context of its own (shortLeaseWait at most),
// rather than leave the key taken until its lease expires.
func (l *lease) release() {
	if l.held && l.leaser != nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(l.ctx), shortLeaseWait)
		_ = l.leaser.ReleaseLease(ctx, l.key, l.owner)
		cancel()
	}
	l.unlock()
}

// renew takes the lease again for its owner before a write: the owner
// keeps it, extended; and on SQLite taking a lease empties the process's
// read cache, so what is read next is what the database holds.
func (l *lease) renew() {
	if l.held && l.leaser != nil {
		_, _ = l.leaser.AcquireLease(l.ctx, l.key, l.owner, l.ttl)
	}
}

// hold takes key in the process, then its lease for ttl across instances,
// trying until wait has passed or ctx ends. While another instance holds
// it, gaveUp (when not nil) is asked after each try whether waiting is
// still worth it (another instance has done the work meanwhile); a true
// stops the wait. The lease comes back not held after a give-up or a wait
// that ran out: the caller decides whether to go on unserialised. A storage
// that is no logto.Leaser has nothing to take across instances: held at once.
// The returned lease must be released.
func (lk *locker) hold(ctx context.Context, key string, ttl, wait time.Duration, gaveUp func() bool) (*lease, error) {
	l := &lease{ctx: ctx, unlock: lk.lockLocal(key), key: key, ttl: ttl}
	leaser, ok := lk.storage.(logto.Leaser)
	if !ok {
		l.held = true
		return l, nil
	}
	l.leaser, l.owner = leaser, newID()
	deadline := time.Now().Add(wait)
	pause := 5 * time.Millisecond
	for {
		got, err := leaser.AcquireLease(ctx, key, l.owner, ttl)
		if err != nil {
			l.unlock()
			return nil, fmt.Errorf("%w: lease: %w", logto.ErrStorage, err)
		}
		if got {
			l.held = true
			return l, nil
		}
		if (gaveUp != nil && gaveUp()) || !time.Now().Before(deadline) {
			return l, nil
		}
		t := time.NewTimer(pause + rand.N(pause))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			l.unlock()
			return nil, fmt.Errorf("%w: waiting for a lease: %w", logto.ErrProviderTimeout, ctx.Err())
		}
		pause = min(2*pause, 100*time.Millisecond)
	}
}

// claim takes key once: with a logto.Leaser, a lease no other owner can take
// before it expires; otherwise a marker written under the process's lock
// (exact within one instance only). It reports false when key was claimed
// already.
func (lk *locker) claim(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if leaser, ok := lk.storage.(logto.Leaser); ok {
		got, err := leaser.AcquireLease(ctx, key, newID(), ttl)
		if err != nil {
			return false, fmt.Errorf("%w: claim: %w", logto.ErrStorage, err)
		}
		return got, nil
	}
	unlock := lk.lockLocal(key)
	defer unlock()
	seen, err := lk.getFresh(ctx, key)
	if err != nil {
		return false, fmt.Errorf("%w: claim: %w", logto.ErrStorage, err)
	}
	if len(seen) > 0 {
		return false, nil
	}
	if err := lk.storage.SetWithContext(ctx, key, []byte{1}, ttl); err != nil {
		return false, fmt.Errorf("%w: claim: %w", logto.ErrStorage, err)
	}
	return true, nil
}

// getFresh reads key from the storage itself, past any read cache of the
// process (logto.FreshReader).
func (lk *locker) getFresh(ctx context.Context, key string) ([]byte, error) {
	if fr, ok := lk.storage.(logto.FreshReader); ok {
		return fr.GetFreshWithContext(ctx, key)
	}
	return lk.storage.GetWithContext(ctx, key)
}
