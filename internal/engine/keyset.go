package engine

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// keySet is Logto's JWKS, cached for the life of the process.
//
// A token signed with a kid the cache does not hold makes one shared
// refetch: that is how a key rotation at Logto is picked up. Whoever puts a
// token in front of us chooses its kid (a logout token comes from anyone on
// the internet, and so will a bearer token), so the limit is global, not per
// kid: at most one fetch in flight, and after a refetch no other one for
// refetchCooldown whatever the kids; a token naming an unknown kid meanwhile
// fails at once. The first load of the set is not a refetch and does not
// start the cooldown, so a rotation just after start-up is still picked up.
// When the JWKS endpoint is down the cached keys keep verifying.
type keySet struct {
	url     string
	client  *http.Client
	timeout time.Duration
	now     func() time.Time

	mu          sync.Mutex
	keys        []cachedKey
	loaded      bool      // a fetch succeeded once
	lastRefetch time.Time // start of the last refetch for an unknown kid
	lastFailure time.Time // of a fetch
	lastErr     error     // of that fetch
	inflight    *keyFetch
	// version counts the changes of the set: a fetch that brings other
	// keys than the cached ones moves it. Verified-token caches check it.
	version atomic.Uint64

	log     *slog.Logger   // nil: no records
	failing lastingFailure // for the log
}

// cachedKey is a JWKS key and what verifies with it: the key itself, or,
// for a P-384 key, its precomputed es384Key.
type cachedKey struct {
	jose.JSONWebKey
	verifier any
	thumb    string // RFC 7638 thumbprint: the key's identity, whatever its kid
}

type keyFetch struct {
	done chan struct{}
	err  error
}

const (
	// refetchCooldown follows jose's createRemoteJWKSet (cooldownDuration,
	// 30 s), which @logto/node uses.
	refetchCooldown     = 30 * time.Second
	failedFetchInterval = time.Second
	maxJWKSBytes        = 1 << 20
	maxWarmedTables     = 4 // more keys build their ES384 tables on first use
)

// errKeySetBusy: a token names a kid the key set does not hold, and the set
// was refetched less than refetchCooldown ago.
var errKeySetBusy = errors.New("JWKS refetched recently")

func newKeySet(url string, client *http.Client, timeout time.Duration, now func() time.Time) *keySet {
	return &keySet{url: url, client: client, timeout: timeout, now: now}
}

// VerifySignature implements zitadel's oidc.KeySet. The algorithm has been
// checked against discovery's list by the caller. A JWKS endpoint that
// cannot be reached or does not answer in time is the provider's failure,
// not the token's: the error then wraps ErrProviderUnavailable or
// ErrProviderTimeout, so the request answers 503 or 504, not 400.
func (ks *keySet) VerifySignature(ctx context.Context, jws *jose.JSONWebSignature) ([]byte, error) {
	payload, _, err := ks.verify(ctx, jws)
	return payload, err
}

// verify is VerifySignature, also returning the thumbprint of the key that
// verified.
func (ks *keySet) verify(ctx context.Context, jws *jose.JSONWebSignature) ([]byte, string, error) {
	if len(jws.Signatures) != 1 {
		return nil, "", errors.New("exactly one signature expected")
	}
	hdr := jws.Signatures[0].Header
	if payload, thumb, ok := ks.verifyCached(jws, hdr.KeyID, hdr.Algorithm); ok {
		return payload, thumb, nil
	}
	if err := ks.refetch(ctx); err != nil {
		if errors.Is(err, errKeySetBusy) {
			return nil, "", fmt.Errorf("no key for kid %q: %w", hdr.KeyID, err)
		}
		return nil, "", fmt.Errorf("no cached key for kid %q: %w", hdr.KeyID, jwksFailure(err))
	}
	if payload, thumb, ok := ks.verifyCached(jws, hdr.KeyID, hdr.Algorithm); ok {
		return payload, thumb, nil
	}
	return nil, "", fmt.Errorf("no key verifies the signature (kid %q)", hdr.KeyID)
}

// has reports whether the key of thumbprint thumb is still in the set.
func (ks *keySet) has(thumb string) bool {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	for _, k := range ks.keys {
		if k.thumb == thumb {
			return true
		}
	}
	return false
}

// jwksFailure classifies a failed JWKS fetch for the answer to the request:
// too slow is a 504, anything else (unreachable, an error status, a body
// that is no key set) a 503.
func jwksFailure(err error) error {
	if errors.Is(err, context.Canceled) || classifyTransport(err) == ErrProviderTimeout {
		return fmt.Errorf("%w: JWKS: %w", ErrProviderTimeout, err)
	}
	return fmt.Errorf("%w: JWKS: %w", ErrProviderUnavailable, err)
}

// verifyCached tries the cached keys that can have signed the token: the
// one with its kid, or, for a token without kid, every key of its algorithm.
func (ks *keySet) verifyCached(jws *jose.JSONWebSignature, kid, alg string) ([]byte, string, bool) {
	ks.mu.Lock()
	keys := ks.keys
	ks.mu.Unlock()
	for _, k := range keys {
		if kid != "" && k.KeyID != kid {
			continue
		}
		if k.Algorithm != "" && k.Algorithm != alg {
			continue
		}
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		if payload, err := jws.Verify(k.verifier); err == nil {
			return payload, k.thumb, true
		}
	}
	return nil, "", false
}

// refetch loads the JWKS for a token the cached keys do not verify. Callers
// share one fetch in flight, and wait for it at most until their ctx ends.
// Once the set is loaded, a new fetch starts at most every refetchCooldown
// (errKeySetBusy otherwise); after a failed fetch, at most every
// failedFetchInterval.
func (ks *keySet) refetch(ctx context.Context) error {
	ks.mu.Lock()
	f := ks.inflight
	if f == nil {
		now := ks.now()
		switch {
		case now.Sub(ks.lastFailure) < failedFetchInterval:
			err := ks.lastErr
			ks.mu.Unlock()
			return fmt.Errorf("the last JWKS fetch failed moments ago: %w", err)
		case ks.loaded && now.Sub(ks.lastRefetch) < refetchCooldown:
			ks.mu.Unlock()
			return errKeySetBusy
		}
		if ks.loaded {
			ks.lastRefetch = now
		}
		f = ks.startFetch()
	}
	ks.mu.Unlock()
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// warm starts loading the key set in the background when it has none and no
// fetch is under way: discovery calls it, so the keys (and their ES384
// tables) are usually there when the first callback verifies, without the
// sign-in redirect waiting for them.
func (ks *keySet) warm() {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if !ks.loaded && ks.inflight == nil && ks.now().Sub(ks.lastFailure) >= failedFetchInterval {
		ks.startFetch()
	}
}

// startFetch runs one fetch in the background, on a context of its own
// (fetch): the result serves every request, so no request's cancellation
// may cut it short. ks.mu is held.
func (ks *keySet) startFetch() *keyFetch {
	f := &keyFetch{done: make(chan struct{})}
	ks.inflight = f
	go func() {
		keys, err := ks.fetch()
		ks.mu.Lock()
		if err == nil {
			keepTables(keys, ks.keys)
			if !sameKeys(keys, ks.keys) {
				ks.version.Add(1)
			}
			ks.keys = keys
			ks.loaded = true
			go warmTables(keys)
		} else {
			ks.lastFailure, ks.lastErr = ks.now(), err
		}
		ks.inflight = nil
		ks.mu.Unlock()
		if ks.log != nil && err != nil {
			ks.failing.fail(ks.log, ks.now(), msgJWKSFailed, "url", ks.url, "error", err.Error())
		} else if ks.log != nil {
			ks.failing.recover(ks.log, msgJWKSOK)
		}
		f.err = err
		close(f.done)
	}()
	return f
}

// sameKeys reports whether two key sets hold the same keys.
func sameKeys(a, b []cachedKey) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].thumb != b[i].thumb || a[i].KeyID != b[i].KeyID {
			return false
		}
	}
	return true
}

// keepTables reuses the ES384 tables of keys a refetched JWKS still holds,
// rather than building them again on their next use.
func keepTables(fetched, cached []cachedKey) {
	for i, k := range fetched {
		fast, ok := k.verifier.(*es384Key)
		if !ok {
			continue
		}
		for _, c := range cached {
			if old, ok := c.verifier.(*es384Key); ok && c.KeyID == k.KeyID && bytes.Equal(old.raw, fast.raw) {
				fetched[i].verifier = old
				break
			}
		}
	}
}

// warmTables builds the ES384 tables of the first few keys in the
// background. The key set is first fetched at discovery, on the sign-in
// redirect, so the tables are ready when the user comes back to the
// callback; a verification that gets there first waits for the same build.
func warmTables(keys []cachedKey) {
	warmed := 0
	for _, k := range keys {
		if fast, ok := k.verifier.(*es384Key); ok && warmed < maxWarmedTables {
			fast.table()
			warmed++
		}
	}
	if warmed > 0 {
		p384GeneratorTable()
	}
}

// fetch reads the JWKS, skipping keys it cannot use (an unknown kty must not
// make the whole set unusable). It runs on its own timeout, not the
// request's: the result serves every request.
func (ks *keySet) fetch() ([]cachedKey, error) {
	ctx, cancel := context.WithTimeout(context.Background(), ks.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ks.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := ks.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("JWKS answered %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxJWKSBytes {
		return nil, errors.New("JWKS too large")
	}
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	keys := make([]cachedKey, 0, len(raw.Keys))
	for _, r := range raw.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(r); err != nil || !k.Valid() || !k.IsPublic() {
			continue
		}
		sum, err := k.Thumbprint(crypto.SHA256)
		if err != nil {
			continue
		}
		ck := cachedKey{JSONWebKey: k, verifier: k.Key, thumb: string(sum)}
		if fast := newES384Key(k.Key); fast != nil {
			ck.verifier = fast
		}
		keys = append(keys, ck)
	}
	if len(keys) == 0 {
		return nil, errors.New("JWKS holds no usable key")
	}
	return keys, nil
}
