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
	"weak"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/fiberlogto/sdk/logto"
)

// keySet is Logto's JWKS, cached for the life of the process.
//
// A token signed with a kid the cache does not hold makes the set be
// fetched again: that is how a key rotation at Logto is picked up. How soon
// depends on where the token came from (keySource):
//
//   - an ID token in a token response (the callback, a refresh) came from
//     Logto itself, over the app's own authenticated channel: only Logto
//     can make one name a new kid, and that means Logto has rotated its
//     keys. It is checked against a set fetched after it arrived, at once,
//     one fetch shared by every such token, at most one per
//     trustedRefetchInterval (a caller waits for its turn rather than
//     failing).
//   - a bearer access token or a back-channel logout token comes from
//     anyone on the internet, who chooses its kid: refetches for these are
//     limited globally, not per kid: after one, no other for
//     refetchCooldown whatever the kids, and a token naming an unknown kid
//     meanwhile fails at once.
//
// The two budgets are separate: no request from outside can delay picking
// up a rotation. The first load of the set is no refetch and spends
// neither. The set is also fetched again in the background every
// keySetMaxAge (as jose's cacheMaxAge), so a rotation is seen even without
// a token naming the new kid. When the JWKS endpoint is down the cached
// keys keep verifying.
type keySet struct {
	url     string
	client  *http.Client
	timeout time.Duration
	now     func() time.Time

	mu            sync.Mutex
	keys          []cachedKey
	loaded        bool      // a fetch succeeded once
	lastUntrusted time.Time // start of the last refetch for a token from outside
	lastTrusted   time.Time // start of the last refetch for a token from Logto, in real time
	lastFailure   time.Time // of a fetch
	lastErr       error     // of that fetch
	inflight      *keyFetch
	started       uint64 // fetches started so far; keyFetch.seq numbers them
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
	seq  uint64 // ks.started when it began
	done chan struct{}
	err  error
}

// keySource says who can have made a token, for the refetch budget it may
// spend on an unknown kid (see keySet).
type keySource int

const (
	// fromOutside: a bearer access token or a back-channel logout token.
	fromOutside keySource = iota
	// fromLogto: an ID token in a response of Logto's token endpoint.
	fromLogto
)

const (
	// refetchCooldown follows jose's createRemoteJWKSet (cooldownDuration,
	// 30 s), which @logto/node uses: the budget of tokens from outside.
	refetchCooldown = 30 * time.Second
	// trustedRefetchInterval paces refetches for ID tokens from Logto's
	// token endpoint: a rotation is picked up at once, and a Logto that
	// signs with kids its JWKS lacks costs at most one fetch a second.
	trustedRefetchInterval = time.Second
	failedFetchInterval    = time.Second
	maxJWKSBytes           = 1 << 20
	maxWarmedTables        = 4 // more keys build their ES384 tables on first use
)

// errKeySetBusy: a token names a kid the key set does not hold, and the set
// was refetched less than refetchCooldown ago.
var errKeySetBusy = errors.New("JWKS refetched recently")

func newKeySet(url string, client *http.Client, timeout time.Duration, now func() time.Time) *keySet {
	ks := &keySet{url: url, client: client, timeout: timeout, now: now}
	ks.refreshEvery(keySetMaxAge)
	return ks
}

// keySetMaxAge is how often the set is fetched again in the background,
// whatever the traffic: jose's cacheMaxAge (10 minutes), which @logto/node
// uses. A variable for the tests.
var keySetMaxAge = 10 * time.Minute

// refreshEvery fetches the set again every interval in the background. The
// timer holds the set weakly: a set nothing else uses any more (an engine
// dropped by a test) stops its timer at the next tick rather than living on.
func (ks *keySet) refreshEvery(interval time.Duration) {
	wp := weak.Make(ks)
	var tick func()
	tick = func() {
		ks := wp.Value()
		if ks == nil {
			return
		}
		ks.mu.Lock()
		if ks.inflight == nil {
			ks.startFetch()
		}
		ks.mu.Unlock()
		time.AfterFunc(interval, tick)
	}
	time.AfterFunc(interval, tick)
}

// logtoKeys is the key set as the ID token verifiers see it: every token
// they check came from Logto's token endpoint (fromLogto).
type logtoKeys struct{ *keySet }

// VerifySignature implements zitadel's oidc.KeySet. The algorithm has been
// checked against discovery's list by the caller. A JWKS endpoint that
// cannot be reached or does not answer in time is the provider's failure,
// not the token's: the error then wraps logto.ErrProviderUnavailable or
// logto.ErrProviderTimeout, so the request answers 503 or 504, not 400.
func (k logtoKeys) VerifySignature(ctx context.Context, jws *jose.JSONWebSignature) ([]byte, error) {
	payload, _, err := k.verify(ctx, jws, fromLogto)
	return payload, err
}

// verify checks the signature of jws, a token from src, and returns its
// payload and the thumbprint of the key that verified it. See
// VerifySignature for the errors.
func (ks *keySet) verify(ctx context.Context, jws *jose.JSONWebSignature, src keySource) ([]byte, string, error) {
	if len(jws.Signatures) != 1 {
		return nil, "", errors.New("exactly one signature expected")
	}
	hdr := jws.Signatures[0].Header
	ks.mu.Lock()
	seen := ks.started // a fetch numbered above this began after the token arrived
	ks.mu.Unlock()
	if payload, thumb, ok := ks.verifyCached(jws, hdr.KeyID, hdr.Algorithm); ok {
		return payload, thumb, nil
	}
	for {
		seq, err := ks.refetch(ctx, src)
		if err != nil {
			if errors.Is(err, errKeySetBusy) {
				return nil, "", fmt.Errorf("no key for kid %q: %w", hdr.KeyID, err)
			}
			return nil, "", fmt.Errorf("no cached key for kid %q: %w", hdr.KeyID, jwksFailure(err))
		}
		if payload, thumb, ok := ks.verifyCached(jws, hdr.KeyID, hdr.Algorithm); ok {
			return payload, thumb, nil
		}
		// A token from Logto is only refused by a set fetched after it
		// arrived: a fetch that was under way already may predate the
		// rotation that made it.
		if src != fromLogto || seq > seen {
			return nil, "", fmt.Errorf("no key verifies the signature (kid %q)", hdr.KeyID)
		}
	}
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
	if errors.Is(err, context.Canceled) || classifyTransport(err) == logto.ErrProviderTimeout {
		return fmt.Errorf("%w: JWKS: %w", logto.ErrProviderTimeout, err)
	}
	return fmt.Errorf("%w: JWKS: %w", logto.ErrProviderUnavailable, err)
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

// refetch loads the JWKS for a token from src that the cached keys do not
// verify, and returns the number of the fetch it waited for. logto.Callers share
// one fetch in flight, and wait for it at most until their ctx ends. Once
// the set is loaded, a new fetch for a token from outside starts at most
// every refetchCooldown (errKeySetBusy otherwise); one for a token from
// Logto at most every trustedRefetchInterval, waiting for its turn. After a
// failed fetch, none for failedFetchInterval.
func (ks *keySet) refetch(ctx context.Context, src keySource) (uint64, error) {
	for {
		ks.mu.Lock()
		f := ks.inflight
		if f == nil {
			now := ks.now()
			var wait time.Duration
			switch {
			case now.Sub(ks.lastFailure) < failedFetchInterval:
				err := ks.lastErr
				ks.mu.Unlock()
				return 0, fmt.Errorf("the last JWKS fetch failed moments ago: %w", err)
			case !ks.loaded:
			case src == fromOutside:
				if now.Sub(ks.lastUntrusted) < refetchCooldown {
					ks.mu.Unlock()
					return 0, errKeySetBusy
				}
				ks.lastUntrusted = now
			default:
				// Real time, not the configured clock: this paces calls to
				// the JWKS endpoint, and a test's frozen clock would make
				// the wait endless.
				if wait = trustedRefetchInterval - time.Since(ks.lastTrusted); wait <= 0 {
					ks.lastTrusted = time.Now()
				}
			}
			if wait > 0 {
				ks.mu.Unlock()
				t := time.NewTimer(wait)
				select {
				case <-t.C:
					continue
				case <-ctx.Done():
					t.Stop()
					return 0, ctx.Err()
				}
			}
			f = ks.startFetch()
		}
		ks.mu.Unlock()
		select {
		case <-f.done:
			return f.seq, f.err
		case <-ctx.Done():
			return 0, ctx.Err()
		}
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
	ks.started++
	f := &keyFetch{seq: ks.started, done: make(chan struct{})}
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
