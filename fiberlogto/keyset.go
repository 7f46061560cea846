package fiberlogto

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// keySet is Logto's JWKS, cached for the life of the process.
//
// An ID token signed with a kid the cache does not hold makes one shared
// refetch: that is how a key rotation at Logto is picked up. The same
// unknown kid does not refetch again before kidRetryInterval, so a stream of
// tokens with a bogus kid cannot turn into a stream of JWKS requests. When
// the JWKS endpoint is down the cached keys keep verifying.
type keySet struct {
	url     string
	client  *http.Client
	timeout time.Duration
	now     func() time.Time

	mu          sync.Mutex
	keys        []cachedKey
	missed      map[string]time.Time // kids a fresh key set did not hold, and when
	lastFailure time.Time            // of a fetch
	inflight    *keyFetch
}

// cachedKey is a JWKS key and what verifies with it: the key itself, or,
// for a P-384 key, its precomputed es384Key.
type cachedKey struct {
	jose.JSONWebKey
	verifier any
}

type keyFetch struct {
	done chan struct{}
	err  error
}

const (
	kidRetryInterval    = 30 * time.Second
	failedFetchInterval = time.Second
	maxMissedKids       = 64
	maxJWKSBytes        = 1 << 20
	maxWarmedTables     = 4 // more keys build their ES384 tables on first use
)

func newKeySet(url string, client *http.Client, timeout time.Duration, now func() time.Time) *keySet {
	return &keySet{url: url, client: client, timeout: timeout, now: now, missed: make(map[string]time.Time)}
}

// VerifySignature implements zitadel's oidc.KeySet. The algorithm has been
// checked against discovery's list by the caller.
func (ks *keySet) VerifySignature(ctx context.Context, jws *jose.JSONWebSignature) ([]byte, error) {
	if len(jws.Signatures) != 1 {
		return nil, errors.New("exactly one signature expected")
	}
	hdr := jws.Signatures[0].Header
	if payload, ok := ks.verifyCached(jws, hdr.KeyID, hdr.Algorithm); ok {
		return payload, nil
	}
	if !ks.mayRefetch(hdr.KeyID) {
		return nil, fmt.Errorf("no key for kid %q", hdr.KeyID)
	}
	if err := ks.refetch(ctx); err != nil {
		return nil, fmt.Errorf("no cached key for kid %q and the JWKS refetch failed: %w", hdr.KeyID, err)
	}
	if payload, ok := ks.verifyCached(jws, hdr.KeyID, hdr.Algorithm); ok {
		return payload, nil
	}
	ks.recordMiss(hdr.KeyID)
	return nil, fmt.Errorf("no key verifies the signature (kid %q)", hdr.KeyID)
}

// verifyCached tries the cached keys that can have signed the token: the
// one with its kid, or, for a token without kid, every key of its algorithm.
func (ks *keySet) verifyCached(jws *jose.JSONWebSignature, kid, alg string) ([]byte, bool) {
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
			return payload, true
		}
	}
	return nil, false
}

// mayRefetch rate-limits refetches: not for a kid a fresh key set did not
// hold within kidRetryInterval, and not within failedFetchInterval of a
// failed fetch.
func (ks *keySet) mayRefetch(kid string) bool {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	now := ks.now()
	if now.Sub(ks.lastFailure) < failedFetchInterval {
		return false
	}
	last, ok := ks.missed[kid]
	return !ok || now.Sub(last) >= kidRetryInterval
}

// recordMiss notes a kid that a freshly fetched key set does not hold.
func (ks *keySet) recordMiss(kid string) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	now := ks.now()
	if len(ks.missed) >= maxMissedKids {
		for k, t := range ks.missed {
			if now.Sub(t) >= kidRetryInterval {
				delete(ks.missed, k)
			}
		}
		if len(ks.missed) >= maxMissedKids {
			return // full of recent misses: the kid-less path still rate-limits nothing worse than one fetch per token
		}
	}
	ks.missed[kid] = now
}

// refetch loads the JWKS; concurrent callers share one request.
func (ks *keySet) refetch(ctx context.Context) error {
	ks.mu.Lock()
	if f := ks.inflight; f != nil {
		ks.mu.Unlock()
		select {
		case <-f.done:
			return f.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f := &keyFetch{done: make(chan struct{})}
	ks.inflight = f
	ks.mu.Unlock()

	keys, err := ks.fetch()
	ks.mu.Lock()
	if err == nil {
		keepTables(keys, ks.keys)
		ks.keys = keys
		go warmTables(keys)
	} else {
		ks.lastFailure = ks.now()
	}
	ks.inflight = nil
	ks.mu.Unlock()
	f.err = err
	close(f.done)
	return err
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
		ck := cachedKey{JSONWebKey: k, verifier: k.Key}
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
