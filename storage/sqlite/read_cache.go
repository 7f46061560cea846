package sqlite

import (
	"sync"
	"sync/atomic"
	"time"
)

// readCache keeps recent reads of a storage in the process. Values are
// shared, read-only slices.
//
// A read is cached only if no write went through the storage while it ran
// (gen did not move): otherwise a read that began before a sign-out could
// put the deleted session back into the cache.
type readCache struct {
	ttl  time.Duration
	size int
	gen  atomic.Uint64

	mu sync.RWMutex
	m  map[string]cachedValue
}

type cachedValue struct {
	val []byte // nil: known to be missing
	at  int64  // unix nanoseconds of the read
}

// newReadCache returns a *readCache keeping reads for ttl, at most size
// keys; nil, the cache off (every method is a no-op on nil), when ttl is not
// positive.
func newReadCache(ttl time.Duration, size int) *readCache {
	if ttl <= 0 {
		return nil
	}
	return &readCache{ttl: ttl, size: size, m: make(map[string]cachedValue)}
}

func (c *readCache) get(key string) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.RLock()
	v, ok := c.m[key]
	c.mu.RUnlock()
	if !ok || time.Now().UnixNano()-v.at >= int64(c.ttl) {
		return nil, false
	}
	return v.val, true
}

// generation is taken before a read from the storage.
func (c *readCache) generation() uint64 {
	if c == nil {
		return 0
	}
	return c.gen.Load()
}

// putRead caches what a read that started at generation gen returned,
// unless a write happened since.
func (c *readCache) putRead(key string, val []byte, gen uint64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() != gen {
		return
	}
	c.store(key, val)
}

// putWritten caches what a write stored.
func (c *readCache) putWritten(key string, val []byte) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.gen.Add(1)
	c.store(key, val)
	c.mu.Unlock()
}

func (c *readCache) store(key string, val []byte) {
	if len(c.m) >= c.size {
		// Full: start over rather than track recency; entries live a
		// second anyway.
		c.m = make(map[string]cachedValue, c.size)
	}
	c.m[key] = cachedValue{val: val, at: time.Now().UnixNano()}
}

func (c *readCache) forget(key string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.gen.Add(1)
	delete(c.m, key)
	c.mu.Unlock()
}

func (c *readCache) clear() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.gen.Add(1)
	c.m = make(map[string]cachedValue)
	c.mu.Unlock()
}
