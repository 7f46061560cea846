// Package readcache is the process-local read cache of the network session
// storages (redis, postgres), kept coherent with the other instances by
// their server: each storage keeps one invalidation channel to its server
// (Redis client tracking, PostgreSQL LISTEN) and tells the cache what
// another instance changed (Invalidate), that everything may have changed
// (Flush), and whether the channel is up (SetLive). A storage whose
// server can say what changed picks it; it imports no database client.
//
// A read is cached only while the channel is up, and only if nothing
// touched its key (and the channel never went down) while the read was on
// its way: otherwise a read that began before another instance's write
// could put the old value back after its invalidation went by. Losing the
// channel drops everything, and nothing is cached until it is back: an
// instance then reads through, and never serves what another instance
// changed while it could not hear of it.
//
// The cache holds at most its size in keys; a new key in a full cache
// evicts one, an expired one when a few samples find one. Values are
// shared, read-only slices.
package readcache

import (
	"sync"
	"time"
)

// Cache is a bounded read cache. A nil *Cache is a cache that is off:
// every method is a no-op, Get and Begin always miss.
type Cache struct {
	size int

	mu      sync.RWMutex
	m       map[string]entry
	flights map[string]*flight // reads under way, by key
	epoch   uint64             // moves when everything is dropped
	live    bool               // the invalidation channel is up
}

type entry struct {
	val []byte // nil: known to be missing
	exp int64  // unix nanoseconds from which it is gone; 0 never
}

// flight counts the reads of one key under way; gen moves when the key is
// invalidated meanwhile.
type flight struct {
	n   int
	gen uint64
}

// Ticket is what Begin hands a read that may be cached, for its End.
type Ticket struct {
	f     *flight
	gen   uint64
	epoch uint64
}

// New returns a Cache of at most size keys, not live until SetLive(true);
// nil, a cache that is off, when size is not positive.
func New(size int) *Cache {
	if size <= 0 {
		return nil
	}
	return &Cache{size: size, m: make(map[string]entry), flights: make(map[string]*flight)}
}

// Get returns the cached value of key (nil when it is known to be
// missing) and whether there was one, not expired.
func (c *Cache) Get(key string) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.RLock()
	e, ok := c.m[key]
	c.mu.RUnlock()
	if !ok || e.exp != 0 && time.Now().UnixNano() >= e.exp {
		return nil, false
	}
	return e.val, true
}

// Begin is called before a read of key from the server. It reports whether
// the read may be cached (the channel is up); if so, End must follow
// exactly once, whatever the read's fate.
func (c *Cache) Begin(key string) (Ticket, bool) {
	if c == nil {
		return Ticket{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live {
		return Ticket{}, false
	}
	f := c.flights[key]
	if f == nil {
		f = new(flight)
		c.flights[key] = f
	}
	f.n++
	return Ticket{f: f, gen: f.gen, epoch: c.epoch}, true
}

// End closes the read of key that Begin gave t: when ok (the read
// succeeded), it caches val until exp (unix nanoseconds, 0 for never)
// unless the key was invalidated, or the channel went down, since Begin.
func (c *Cache) End(key string, t Ticket, val []byte, exp int64, ok bool) {
	if c == nil || t.f == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t.f.n--
	if t.f.n == 0 && c.flights[key] == t.f {
		delete(c.flights, key)
	}
	if !ok || !c.live || c.epoch != t.epoch || t.f.gen != t.gen {
		return
	}
	if exp != 0 && time.Now().UnixNano() >= exp {
		return
	}
	if _, had := c.m[key]; !had && len(c.m) >= c.size {
		c.evictLocked()
	}
	c.m[key] = entry{val: val, exp: exp}
}

// evictLocked drops one entry: the first expired one among a few samples,
// else the first sampled (map iteration starts at a random place).
func (c *Cache) evictLocked() {
	now := time.Now().UnixNano()
	first, n := "", 0
	for k, e := range c.m {
		if e.exp != 0 && now >= e.exp {
			delete(c.m, k)
			return
		}
		if n == 0 {
			first = k
		}
		if n++; n == 4 {
			break
		}
	}
	delete(c.m, first)
}

// Invalidate drops key, and keeps every read of it under way from being
// cached.
func (c *Cache) Invalidate(key string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	delete(c.m, key)
	if f := c.flights[key]; f != nil {
		f.gen++
	}
	c.mu.Unlock()
}

// Flush drops everything, and keeps every read under way from being
// cached.
func (c *Cache) Flush() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.flushLocked()
	c.mu.Unlock()
}

func (c *Cache) flushLocked() {
	c.epoch++
	if len(c.m) > 0 {
		c.m = make(map[string]entry)
	}
}

// SetLive says whether the invalidation channel is up. Either way
// everything cached is dropped, and no read begun before is cached: what
// was read before the channel went down may have changed unheard of, and
// what was read before it came up may have changed before it listened.
func (c *Cache) SetLive(live bool) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.live = live
	c.flushLocked()
	c.mu.Unlock()
}

// Live reports whether the invalidation channel is up (and reads are
// cached).
func (c *Cache) Live() bool {
	if c == nil {
		return false
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.live
}

// Len returns the number of cached keys.
func (c *Cache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
