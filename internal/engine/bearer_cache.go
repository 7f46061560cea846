package engine

import (
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/fiberlogto/sdk/logto"
)

// tokenCache keeps verified access tokens (and the tokens personal access
// tokens were exchanged for) by a keyed hash of the token, never the token
// itself, so a client that sends the same token again is not verified again
// (an ES384 check costs about 0.22 ms). It is bounded in entries and in bytes; an
// entry is never used at or past its token's exp, nor once the key that
// verified it has left Logto's key set.
//
// Keys are a 128-bit hash of the token under two random seeds of the
// process (hash/maphash, as the session cache's): a fraction of SHA-256's
// cost on a 700-byte token, and, like a SHA-256, nothing a memory dump
// could replay. The seeds never leave the process: no one outside can aim
// a token at another's entry.
type tokenCache struct {
	seeds      [2]maphash.Seed
	mu         sync.RWMutex
	m          map[cacheKey]*cachedToken
	bytes      int
	maxEntries int
	maxBytes   int
}

type cachedToken struct {
	claims  *logto.AccessTokenClaims
	thumb   string        // the verifying key's thumbprint
	version atomic.Uint64 // the key set's version when last checked
	size    int
}

const (
	tokenCacheEntries = 10000
	tokenCacheBytes   = 8 << 20
)

func newTokenCache() *tokenCache {
	return &tokenCache{
		seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
		m:     make(map[cacheKey]*cachedToken), maxEntries: tokenCacheEntries, maxBytes: tokenCacheBytes,
	}
}

// keyOf is the cache key of a token.
func (c *tokenCache) keyOf(token string) cacheKey {
	return cacheKey{maphash.String(c.seeds[0], token), maphash.String(c.seeds[1], token)}
}

// get returns the claims of a cached token still valid at now.
func (c *tokenCache) get(key cacheKey, now int64, ks *keySet) (*logto.AccessTokenClaims, bool) {
	c.mu.RLock()
	ct := c.m[key]
	c.mu.RUnlock()
	if ct == nil {
		return nil, false
	}
	if now >= ct.claims.Expiry {
		c.drop(key)
		return nil, false
	}
	if v := ks.version.Load(); ct.version.Load() != v {
		// The key set changed since: the entry holds only while its key
		// is still in it.
		if !ks.has(ct.thumb) {
			c.drop(key)
			return nil, false
		}
		ct.version.Store(v)
	}
	return ct.claims, true
}

func (c *tokenCache) drop(key cacheKey) {
	c.mu.Lock()
	if ct := c.m[key]; ct != nil {
		c.bytes -= ct.size
		delete(c.m, key)
	}
	c.mu.Unlock()
}

// put caches claims verified by the key of thumbprint thumb while the key
// set was at version.
func (c *tokenCache) put(key cacheKey, claims *logto.AccessTokenClaims, thumb string, version uint64, now int64) {
	ct := &cachedToken{claims: claims, thumb: thumb, size: claimsSize(claims)}
	ct.version.Store(version)
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.m[key]; old != nil {
		c.bytes -= old.size
	} else if len(c.m) >= c.maxEntries || c.bytes+ct.size > c.maxBytes {
		c.evict(now)
	}
	c.m[key] = ct
	c.bytes += ct.size
}

// evict makes room: the expired entries go, then others (in the map's
// order, which is as good as random) until a quarter is free. c.mu is held.
func (c *tokenCache) evict(now int64) {
	for k, ct := range c.m {
		if now >= ct.claims.Expiry {
			c.bytes -= ct.size
			delete(c.m, k)
		}
	}
	for k, ct := range c.m {
		if len(c.m) <= c.maxEntries*3/4 && c.bytes <= c.maxBytes*3/4 {
			return
		}
		c.bytes -= ct.size
		delete(c.m, k)
	}
}

// claimsSize is about what an entry holds in memory.
func claimsSize(t *logto.AccessTokenClaims) int {
	n := 256 + len(t.Raw) + len(t.Issuer) + len(t.Subject) + len(t.ClientID) + len(t.OrganizationID) + len(t.JTI)
	for _, s := range t.Audience {
		n += 16 + len(s)
	}
	for _, s := range t.Scopes {
		n += 16 + len(s)
	}
	return n
}
