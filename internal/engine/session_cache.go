package engine

import (
	"hash/maphash"
	"sync"
	"unsafe"
)

// sessionCache keeps, per process, the decoded form of the sessions being
// used: the Session a signed-in request reads (its user context and record)
// and the user context's JSON, built once per stored version of the
// session, and shared by every request of that session while its stored
// bytes stay the same. A signed-in request whose tokens are fresh then
// costs a map lookup and the storage's read, with no SHA-256, no decoding
// and no allocation.
//
// It is never the source of truth: every request still reads the storage,
// and a snapshot serves it only when the storage answers the very bytes the
// snapshot was decoded from (the same slice, as the in-process storages and
// the caching ones hand back, or equal bytes). A session written or deleted
// by any instance is therefore never served stale from here; coherence is
// the storage's.
//
// It is keyed by a 128-bit hash of the session ID under two random seeds of
// the process (hash/maphash): a map lookup, not SHA-256, and no session ID
// in memory. The seeds never leave the process, so no one outside can aim
// a cookie at another session's entry; it verifies the storage key it
// holds against nothing else. Snapshots are shared and must never be
// written: an operation that changes a session (Fetch filling tokens, a
// refresh) works on a copy (Session.own).
type sessionCache struct {
	seeds  [2]maphash.Seed
	shards [cacheShards]cacheShard
}

const (
	cacheShards = 16
	// maxCachedSessions bounds the cache: about 1.5 KiB a session (its
	// record's views, the JSON), so 16 MiB at most.
	maxCachedSessions = 10000
)

type cacheShard struct {
	mu sync.RWMutex
	m  map[cacheKey]*snapshot
}

type cacheKey [2]uint64

// snapshot is a session as decoded from raw, its stored bytes.
type snapshot struct {
	raw  []byte
	sess *Session
}

func newSessionCache() *sessionCache {
	c := &sessionCache{seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}}
	for i := range c.shards {
		c.shards[i].m = make(map[cacheKey]*snapshot)
	}
	return c
}

func (c *sessionCache) keyOf(id string) cacheKey {
	return cacheKey{maphash.String(c.seeds[0], id), maphash.String(c.seeds[1], id)}
}

func (c *sessionCache) shard(k cacheKey) *cacheShard { return &c.shards[k[0]%cacheShards] }

// get returns the snapshot of k, nil when there is none.
func (c *sessionCache) get(k cacheKey) *snapshot {
	sh := c.shard(k)
	sh.mu.RLock()
	s := sh.m[k]
	sh.mu.RUnlock()
	return s
}

// put keeps s under k. A full shard drops an entry first (any: Go's map
// iteration order is random).
func (c *sessionCache) put(k cacheKey, s *snapshot) {
	sh := c.shard(k)
	sh.mu.Lock()
	if _, ok := sh.m[k]; !ok && len(sh.m) >= maxCachedSessions/cacheShards {
		for old := range sh.m {
			delete(sh.m, old)
			break
		}
	}
	sh.m[k] = s
	sh.mu.Unlock()
}

// drop forgets k.
func (c *sessionCache) drop(k cacheKey) {
	sh := c.shard(k)
	sh.mu.Lock()
	delete(sh.m, k)
	sh.mu.Unlock()
}

// sameBytes reports whether raw is the stored version s was decoded from:
// the same slice (a storage in the process hands back what it holds), or
// equal bytes.
func (s *snapshot) sameBytes(raw []byte) bool {
	if len(raw) != len(s.raw) {
		return false
	}
	if len(raw) == 0 || unsafe.SliceData(raw) == unsafe.SliceData(s.raw) {
		return true
	}
	return string(raw) == string(s.raw)
}
