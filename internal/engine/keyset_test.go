package engine

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// TestKeySetES384Tables: P-384 keys verify through their precomputed
// tables, and a refetched JWKS keeps the tables of the keys it still holds
// (same kid, same point) instead of building them again.
func TestKeySetES384Tables(t *testing.T) {
	var mu sync.Mutex
	var served []jose.JSONWebKey
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: served})
	}))
	defer srv.Close()
	newKey := func(kid string) *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		served = append(served, jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "ES384", Use: "sig"})
		mu.Unlock()
		return k
	}
	sign := func(k *ecdsa.PrivateKey, kid string) *jose.JSONWebSignature {
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES384, Key: k}, (&jose.SignerOptions{}).WithHeader("kid", kid))
		if err != nil {
			t.Fatal(err)
		}
		obj, err := signer.Sign([]byte(`{"sub":"u"}`))
		if err != nil {
			t.Fatal(err)
		}
		compact, _ := obj.CompactSerialize()
		jws, err := jose.ParseSignedCompact(compact, []jose.SignatureAlgorithm{jose.ES384})
		if err != nil {
			t.Fatal(err)
		}
		return jws
	}
	clock := time.Unix(1_800_000_000, 0)
	ks := newKeySet(srv.URL, srv.Client(), 5*time.Second, func() time.Time { return clock })
	verifierOf := func(kid string) any {
		ks.mu.Lock()
		defer ks.mu.Unlock()
		for _, k := range ks.keys {
			if k.KeyID == kid {
				return k.verifier
			}
		}
		return nil
	}
	ctx := context.Background()

	a := newKey("a")
	// Fetched ahead of any token (as discovery does on the sign-in
	// redirect), the key's tables are built in the background.
	if _, err := ks.refetch(ctx, fromLogto); err != nil {
		t.Fatal(err)
	}
	warm, _ := verifierOf("a").(*es384Key)
	for deadline := time.Now().Add(10 * time.Second); warm == nil || !warm.built.Load(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the fetched key's ES384 tables were not built in the background")
		}
	}
	if _, err := (logtoKeys{ks}).VerifySignature(ctx, sign(a, "a")); err != nil {
		t.Fatalf("key a: %v", err)
	}
	tableA, ok := verifierOf("a").(*es384Key)
	if !ok {
		t.Fatalf("key a verifies with %T, want the ES384 tables", verifierOf("a"))
	}

	b := newKey("b") // a rotation: an unknown kid refetches
	if _, err := (logtoKeys{ks}).VerifySignature(ctx, sign(b, "b")); err != nil {
		t.Fatalf("key b: %v", err)
	}
	if verifierOf("a") != tableA {
		t.Error("the refetch dropped key a's tables although the key is unchanged")
	}
	if _, ok := verifierOf("b").(*es384Key); !ok || verifierOf("b") == tableA {
		t.Error("key b has no tables of its own")
	}

	// Key a replaced by another point under the same kid: new tables, and
	// what the old key signed no longer verifies.
	oldToken := sign(a, "a")
	mu.Lock()
	served = served[1:]
	mu.Unlock()
	a2 := newKey("a")
	clock = clock.Add(time.Minute) // past the retry interval for the kid c below
	if _, err := (logtoKeys{ks}).VerifySignature(ctx, sign(newKey("c"), "c")); err != nil {
		t.Fatalf("key c: %v", err)
	}
	if verifierOf("a") == tableA {
		t.Error("a different point under kid a kept the old key's tables")
	}
	if _, err := (logtoKeys{ks}).VerifySignature(ctx, oldToken); err == nil {
		t.Error("a token of the replaced key still verifies")
	}
	if _, err := (logtoKeys{ks}).VerifySignature(ctx, sign(a2, "a")); err != nil {
		t.Errorf("the new key a: %v", err)
	}
}

// TestKeySetRefreshedInTheBackground: the set is fetched again every
// keySetMaxAge whatever the traffic, so a rotation is seen before any token
// names the new kid.
func TestKeySetRefreshedInTheBackground(t *testing.T) {
	var fetches atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetches.Add(1)
		k, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.PublicKey, KeyID: "k", Algorithm: "ES384", Use: "sig"}}})
	}))
	defer srv.Close()
	saved := keySetMaxAge
	keySetMaxAge = 50 * time.Millisecond
	defer func() { keySetMaxAge = saved }()
	ks := newKeySet(srv.URL, srv.Client(), 5*time.Second, time.Now)
	for deadline := time.Now().Add(5 * time.Second); fetches.Load() < 3; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d background fetches in 5 s, want 3 at 50 ms", fetches.Load())
		}
	}
	ks.mu.Lock()
	loaded := ks.loaded
	ks.mu.Unlock()
	if !loaded {
		t.Fatal("the background fetches loaded nothing")
	}
}

// TestKeySetBudgets: tokens from outside spend a budget of their own (one
// refetch, then refetchCooldown); an ID token from Logto naming a new kid
// is checked against a set fetched after it arrived, whatever that budget
// says, and such refetches run at most once per trustedRefetchInterval.
func TestKeySetBudgets(t *testing.T) {
	var mu sync.Mutex
	var served []jose.JSONWebKey
	var fetches atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetches.Add(1)
		mu.Lock()
		defer mu.Unlock()
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: served})
	}))
	defer srv.Close()
	newKey := func(kid string) *ecdsa.PrivateKey {
		k, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		mu.Lock()
		served = append(served, jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "ES384", Use: "sig"})
		mu.Unlock()
		return k
	}
	sign := func(k *ecdsa.PrivateKey, kid string) *jose.JSONWebSignature {
		signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES384, Key: k}, (&jose.SignerOptions{}).WithHeader("kid", kid))
		obj, _ := signer.Sign([]byte(`{}`))
		compact, _ := obj.CompactSerialize()
		jws, _ := jose.ParseSignedCompact(compact, []jose.SignatureAlgorithm{jose.ES384})
		return jws
	}
	frozen := time.Unix(1_800_000_000, 0) // the outside budget's clock never moves
	ks := newKeySet(srv.URL, srv.Client(), 5*time.Second, func() time.Time { return frozen })
	ctx := context.Background()
	a := newKey("a")
	if _, _, err := ks.verify(ctx, sign(a, "a"), fromOutside); err != nil {
		t.Fatal(err) // the first load spends no budget
	}
	forged := sign(a, "forged")
	for i := 0; i < 20; i++ {
		_, _, _ = ks.verify(ctx, forged, fromOutside)
	}
	if got := fetches.Load(); got != 2 {
		t.Fatalf("the first load and 20 forged kids made %d fetches, want 2", got)
	}
	b := newKey("b") // Logto rotates
	if _, _, err := ks.verify(ctx, sign(b, "b"), fromOutside); err == nil {
		t.Fatal("a token from outside got a refetch during the cooldown")
	}
	start := time.Now()
	if _, _, err := ks.verify(ctx, sign(b, "b"), fromLogto); err != nil {
		t.Fatalf("an ID token of the new key from Logto: %v", err)
	}
	c := newKey("c")
	if _, _, err := ks.verify(ctx, sign(c, "c"), fromLogto); err != nil {
		t.Fatalf("a second rotation: %v", err)
	}
	if d := time.Since(start); d < trustedRefetchInterval-50*time.Millisecond {
		t.Fatalf("two refetches for tokens from Logto %v apart, want at least %v", d, trustedRefetchInterval)
	}
}
