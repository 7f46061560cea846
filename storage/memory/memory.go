// Package memory is a fiberlogto session storage in the process. Pick it
// for tests, development and a single throwaway instance: sessions are lost
// on restart and not shared between instances. To keep them across
// restarts pick the sqlite package; to share them between instances, redis
// or postgres. It is the storage fiberlogto uses when Config.Storage is
// nil. Importing it links no database client at all.
//
// New returns a *Storage. It implements Fiber v2's and Fiber v3's
// fiber.Storage, so it goes straight into fiberlogto.Config.Storage. It
// also implements logto.Leaser (logto.Leaser is an alias of it), with
// a lease exact within the process, which gofiber's memory storage lacks.
// fiberlogto takes the lease for a session's refresh and every other write
// of a session, for a user's back-channel logout index, and for a
// callback's one-time claim on its state, so that a code is exchanged once.
//
// No call waits on anything but a lock: the context methods only fail with
// the context's error when it is already done.
package memory

import (
	"context"
	"sync"
	"time"
)

// Storage keeps sessions, and the leases taken on them, in the process. It
// implements Fiber v2's and Fiber v3's fiber.Storage and logto.Leaser.
// Unlike gofiber's memory storage, Get returns the stored slice itself
// rather than a copy: a signed-in request then reads its session without
// allocating. Callers must treat returned values as read-only (fiberlogto
// does); Set stores a copy of what it is given.
type Storage struct {
	mu   sync.RWMutex
	data map[string]memoryEntry
	done chan struct{}
	once sync.Once
}

type memoryEntry struct {
	val []byte
	exp int64 // unix nanoseconds; 0 = never
}

// New returns a new, empty *Storage in the process. Sessions are lost on
// restart and not shared between instances. It deletes expired keys every
// minute until Close.
func New() *Storage {
	s := &Storage{data: make(map[string]memoryEntry), done: make(chan struct{})}
	go s.gc(time.Minute)
	return s
}

// Get returns the value of key, or nil when it is missing or expired.
func (s *Storage) Get(key string) ([]byte, error) {
	return s.GetWithContext(context.Background(), key)
}

// GetWithContext is Get; it fails with ctx.Err() when ctx is done.
func (s *Storage) GetWithContext(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	e, ok := s.data[key]
	s.mu.RUnlock()
	if !ok || (e.exp != 0 && time.Now().UnixNano() >= e.exp) {
		return nil, nil
	}
	return e.val, nil
}

// Set stores a copy of val under key for exp (0: no expiry). A negative exp
// deletes the key, as the SQL storages do.
func (s *Storage) Set(key string, val []byte, exp time.Duration) error {
	return s.SetWithContext(context.Background(), key, val, exp)
}

// SetWithContext is Set; it fails with ctx.Err() when ctx is done.
func (s *Storage) SetWithContext(ctx context.Context, key string, val []byte, exp time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if key == "" || len(val) == 0 {
		return nil
	}
	if exp < 0 {
		return s.DeleteWithContext(ctx, key)
	}
	e := memoryEntry{val: append([]byte(nil), val...)}
	if exp > 0 {
		e.exp = time.Now().Add(exp).UnixNano()
	}
	s.mu.Lock()
	s.data[key] = e
	s.mu.Unlock()
	return nil
}

// Delete removes key.
func (s *Storage) Delete(key string) error {
	return s.DeleteWithContext(context.Background(), key)
}

// DeleteWithContext is Delete; it fails with ctx.Err() when ctx is done.
func (s *Storage) DeleteWithContext(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.data, key)
	s.mu.Unlock()
	return nil
}

// Reset removes every key.
func (s *Storage) Reset() error {
	return s.ResetWithContext(context.Background())
}

// ResetWithContext is Reset; it fails with ctx.Err() when ctx is done.
func (s *Storage) ResetWithContext(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	s.data = make(map[string]memoryEntry)
	s.mu.Unlock()
	return nil
}

// Close stops the garbage collector. The data stays readable and
// writable: Close frees nothing else.
func (s *Storage) Close() error {
	s.once.Do(func() { close(s.done) })
	return nil
}

// AcquireLease takes key for owner until ttl passes, unless another owner
// holds it (logto.Leaser): within one process the lease is exact. The lease
// is a key like any other, expiring after ttl.
func (s *Storage) AcquireLease(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	now := time.Now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.data[key]; ok && (e.exp == 0 || now < e.exp) && string(e.val) != owner {
		return false, nil
	}
	s.data[key] = memoryEntry{val: []byte(owner), exp: now + int64(ttl)}
	return true, nil
}

// ReleaseLease gives key up if owner holds it (logto.Leaser).
func (s *Storage) ReleaseLease(ctx context.Context, key, owner string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.data[key]; ok && string(e.val) == owner {
		delete(s.data, key)
	}
	return nil
}

// gc deletes expired keys every interval, so expired sessions, leases and
// claims do not accumulate.
func (s *Storage) gc(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			now := time.Now().UnixNano()
			s.mu.Lock()
			for k, e := range s.data {
				if e.exp != 0 && now >= e.exp {
					delete(s.data, k)
				}
			}
			s.mu.Unlock()
		}
	}
}
