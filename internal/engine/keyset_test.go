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
	if err := ks.refetch(ctx); err != nil {
		t.Fatal(err)
	}
	warm, _ := verifierOf("a").(*es384Key)
	for deadline := time.Now().Add(10 * time.Second); warm == nil || !warm.built.Load(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the fetched key's ES384 tables were not built in the background")
		}
	}
	if _, err := ks.VerifySignature(ctx, sign(a, "a")); err != nil {
		t.Fatalf("key a: %v", err)
	}
	tableA, ok := verifierOf("a").(*es384Key)
	if !ok {
		t.Fatalf("key a verifies with %T, want the ES384 tables", verifierOf("a"))
	}

	b := newKey("b") // a rotation: an unknown kid refetches
	if _, err := ks.VerifySignature(ctx, sign(b, "b")); err != nil {
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
	if _, err := ks.VerifySignature(ctx, sign(newKey("c"), "c")); err != nil {
		t.Fatalf("key c: %v", err)
	}
	if verifierOf("a") == tableA {
		t.Error("a different point under kid a kept the old key's tables")
	}
	if _, err := ks.VerifySignature(ctx, oldToken); err == nil {
		t.Error("a token of the replaced key still verifies")
	}
	if _, err := ks.VerifySignature(ctx, sign(a2, "a")); err != nil {
		t.Errorf("the new key a: %v", err)
	}
}
