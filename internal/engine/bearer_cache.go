package engine

import (
	"sync"
	"sync/atomic"

	"github.com/fiberlogto/sdk/logto"
)

// tokenCache keeps verified access tokens by the SHA-256 of the token, so
// a client that sends the same token again is not verified again (an ES384
// check costs about 0.22 ms). It is bounded in entries and in bytes; an
// entry is never used at or past its token's exp, nor once the key that
// verified it has left Logto's key set.
type tokenCache struct {
	mu         sync.RWMutex
	m          map[[32]byte]*cachedToken
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
	return &tokenCache{m: make(map[[32]byte]*cachedToken), maxEntries: tokenCacheEntries, maxBytes: tokenCacheBytes}
}

// get returns the claims of a cached token still valid at now.
func (c *tokenCache) get(key [32]byte, now int64, ks *keySet) (*logto.AccessTokenClaims, bool) {
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

func (c *tokenCache) drop(key [32]byte) {
	c.mu.Lock()
	if ct := c.m[key]; ct != nil {
		c.bytes -= ct.size
		delete(c.m, key)
	}
	c.mu.Unlock()
}

// put caches claims verified by the key of thumbprint thumb while the key
// set was at version.
func (c *tokenCache) put(key [32]byte, claims *logto.AccessTokenClaims, thumb string, version uint64, now int64) {
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
