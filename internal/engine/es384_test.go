package engine

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"math/big"
	"testing"

	"filippo.io/nistec"
	jose "github.com/go-jose/go-jose/v4"
)

// The fast ES384 path must say exactly what crypto/ecdsa says, for valid
// signatures, altered ones and out-of-range values.

func es384Sig(r, s *big.Int) []byte {
	sig := make([]byte, 96)
	r.FillBytes(sig[:48])
	s.FillBytes(sig[48:])
	return sig
}

// agree checks the fast path and crypto/ecdsa give the same answer, want.
func agree(t *testing.T, name string, pub *ecdsa.PublicKey, digest []byte, r, s *big.Int, want bool) {
	t.Helper()
	k := newES384Key(pub)
	if k == nil {
		t.Fatalf("%s: no fast verifier for a P-384 key", name)
	}
	std := ecdsa.Verify(pub, digest, r, s)
	fast := verifyP384(k.table(), digest, r.Bytes(), s.Bytes())
	if std != want || fast != want {
		t.Errorf("%s: crypto/ecdsa %v, fast path %v, want %v", name, std, fast, want)
	}
}

func TestES384AgreesWithCryptoECDSA(t *testing.T) {
	n := p384Order
	one := big.NewInt(1)
	for i := range 12 {
		key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pub := &key.PublicKey
		msg := []byte{byte(i), 'm', 's', 'g'}
		digest := sha512.Sum384(msg)
		r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		agree(t, "valid", pub, digest[:], r, s, true)
		agree(t, "valid, s negated (crypto/ecdsa accepts both)", pub, digest[:], r, new(big.Int).Sub(n, s), true)

		other := sha512.Sum384(append(msg, '!'))
		agree(t, "another message", pub, other[:], r, s, false)
		agree(t, "r+1", pub, digest[:], new(big.Int).Add(r, one), s, false)
		agree(t, "s+1", pub, digest[:], r, new(big.Int).Add(s, one), false)
		agree(t, "r and s swapped", pub, digest[:], s, r, false)
		agree(t, "r = 0", pub, digest[:], new(big.Int), s, false)
		agree(t, "s = 0", pub, digest[:], r, new(big.Int), false)
		agree(t, "r = n", pub, digest[:], n, s, false)
		agree(t, "s = n", pub, digest[:], r, n, false)
		agree(t, "r + n", pub, digest[:], new(big.Int).Add(r, n), s, false)
		agree(t, "s + n", pub, digest[:], r, new(big.Int).Add(s, n), false)

		otherKey, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		agree(t, "another key", &otherKey.PublicKey, digest[:], r, s, false)
	}
}

// TestES384EdgeCases builds (key, digest, signature) triples for the cases
// random signatures never reach: u1·G + u2·Q with an x-coordinate at or
// above the group order (so r = x - n), a zero digest (u1 = 0), and a sum
// that is the point at infinity. The key is solved for: given R, r, s and
// e, Q = u2⁻¹·(R - u1·G).
func TestES384EdgeCases(t *testing.T) {
	n := p384Order
	p := elliptic.P384().Params().P
	scalar := func(x *big.Int) []byte { return new(big.Int).Mod(x, n).FillBytes(make([]byte, 48)) }
	randScalar := func() *big.Int {
		k, err := rand.Int(rand.Reader, new(big.Int).Sub(n, big.NewInt(1)))
		if err != nil {
			t.Fatal(err)
		}
		return k.Add(k, big.NewInt(1))
	}
	// solve returns Q with u1·G + u2·Q = R for the given r, s, e.
	solve := func(R *nistec.P384Point, r, s, e *big.Int) *ecdsa.PublicKey {
		t.Helper()
		w := new(big.Int).ModInverse(s, n)
		u1 := new(big.Int).Mul(e, w)
		u2 := new(big.Int).Mul(r, w)
		negU1G, err := nistec.NewP384Point().ScalarBaseMult(scalar(new(big.Int).Neg(u1)))
		if err != nil {
			t.Fatal(err)
		}
		diff := nistec.NewP384Point().Add(R, negU1G)
		q, err := nistec.NewP384Point().ScalarMult(diff, scalar(new(big.Int).ModInverse(u2.Mod(u2, n), n)))
		if err != nil {
			t.Fatal(err)
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P384(), q.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		return pub
	}

	// A point whose x lies in [n, p): r = x - n.
	var R *nistec.P384Point
	x := new(big.Int)
	for i := int64(0); R == nil; i++ {
		x.Sub(p, big.NewInt(1+i))
		if x.Cmp(n) < 0 {
			t.Fatal("no x in [n, p) found")
		}
		R, _ = nistec.NewP384Point().SetBytes(append([]byte{2}, x.FillBytes(make([]byte, 48))...))
	}
	r := new(big.Int).Sub(x, n)
	s, e := randScalar(), randScalar()
	pub := solve(R, r, s, e)
	agree(t, "x >= n, r = x - n", pub, e.FillBytes(make([]byte, 48)), r, s, true)
	agree(t, "x >= n, r = x", pub, e.FillBytes(make([]byte, 48)), new(big.Int).Set(x), s, false)

	// A zero digest: u1 = 0, so the sum is u2·Q alone.
	k := randScalar()
	R, _ = nistec.NewP384Point().ScalarBaseMult(scalar(k))
	rx, _ := R.BytesX()
	r = new(big.Int).SetBytes(rx)
	r.Mod(r, n)
	s = randScalar()
	zero := make([]byte, 48)
	pub = solve(R, r, s, new(big.Int))
	agree(t, "zero digest", pub, zero, r, s, true)

	// u1·G + u2·Q at infinity: Q = -(u1/u2)·G.
	r, s, e = randScalar(), randScalar(), randScalar()
	w := new(big.Int).ModInverse(s, n)
	u1 := new(big.Int).Mul(e, w)
	u2 := new(big.Int).Mul(r, w)
	ratio := new(big.Int).Mul(u1, new(big.Int).ModInverse(u2.Mod(u2, n), n))
	q, _ := nistec.NewP384Point().ScalarBaseMult(scalar(ratio.Neg(ratio)))
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P384(), q.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	agree(t, "sum at infinity", pub, e.FillBytes(make([]byte, 48)), r, s, false)
}

// TestES384KeyThroughGoJose: the fast key is what the key set hands to
// go-jose, so a signed JWS verifies through jws.Verify and nothing else does.
func TestES384KeyThroughGoJose(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES384, Key: key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign([]byte(`{"sub":"u1"}`))
	if err != nil {
		t.Fatal(err)
	}
	token, _ := obj.CompactSerialize()
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.ES384, jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	fast := newES384Key(&key.PublicKey)
	if payload, err := jws.Verify(fast); err != nil || string(payload) != `{"sub":"u1"}` {
		t.Fatalf("valid token: %q, %v", payload, err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := jws.Verify(newES384Key(&other.PublicKey)); err == nil {
		t.Error("verified with another key")
	}
	// Altering the payload: the signature no longer covers it.
	parts := []byte(token)
	for i := range parts {
		if parts[i] == '.' {
			parts[i+2] ^= 1
			break
		}
	}
	if altered, err := jose.ParseSignedCompact(string(parts), []jose.SignatureAlgorithm{jose.ES384}); err == nil {
		if _, err := altered.Verify(fast); err == nil {
			t.Error("an altered payload verified")
		}
	}
	if err := fast.VerifyPayload([]byte("x"), make([]byte, 96), jose.ES256); err == nil {
		t.Error("ES256 accepted by a P-384 key")
	}
	if err := fast.VerifyPayload([]byte("x"), make([]byte, 95), jose.ES384); err == nil {
		t.Error("a short signature accepted")
	}
}

func TestES384OnlyForP384Keys(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	for name, key := range map[string]any{"P-256": &p256.PublicKey, "RSA": &rsaKey.PublicKey, "nil": nil, "private": p256} {
		if newES384Key(key) != nil {
			t.Errorf("%s: got a P-384 verifier", name)
		}
	}
}

// FuzzES384Verify: for any signature bytes and message, the fast path and
// crypto/ecdsa agree (the seeds include valid signatures to mutate).
func FuzzES384Verify(f *testing.F) {
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	fast := newES384Key(&key.PublicKey)
	for _, msg := range []string{"", "a", "header.payload"} {
		digest := sha512.Sum384([]byte(msg))
		r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
		if err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(msg), es384Sig(r, s))
	}
	f.Add([]byte("x"), make([]byte, 96))
	f.Add([]byte("x"), es384Sig(p384Order, big.NewInt(1)))
	f.Fuzz(func(t *testing.T, msg, sig []byte) {
		fastErr := fast.VerifyPayload(msg, sig, jose.ES384)
		std := len(sig) == 96
		if std {
			digest := sha512.Sum384(msg)
			std = ecdsa.Verify(&key.PublicKey, digest[:], new(big.Int).SetBytes(sig[:48]), new(big.Int).SetBytes(sig[48:]))
		}
		if (fastErr == nil) != std {
			t.Fatalf("fast path error %v, crypto/ecdsa valid %v", fastErr, std)
		}
	})
}

// BenchmarkES384Verify: one ID token signature check, crypto/ecdsa against
// the precomputed tables (built before the timer).
func BenchmarkES384Verify(b *testing.B) {
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	msg := []byte("header.payload")
	digest := sha512.Sum384(msg)
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		b.Fatal(err)
	}
	b.Run("crypto-ecdsa", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			d := sha512.Sum384(msg)
			if !ecdsa.Verify(&key.PublicKey, d[:], r, s) {
				b.Fatal("rejected")
			}
		}
	})
	b.Run("precomputed", func(b *testing.B) {
		fast := newES384Key(&key.PublicKey)
		sig := es384Sig(r, s)
		fast.table()
		p384GeneratorTable()
		b.ReportAllocs()
		for b.Loop() {
			if err := fast.VerifyPayload(msg, sig, jose.ES384); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("table-build", func(b *testing.B) {
		q, _ := nistec.NewP384Point().SetBytes(must(key.PublicKey.Bytes()))
		b.ReportAllocs()
		for b.Loop() {
			newP384Table(q)
		}
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
