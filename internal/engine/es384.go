package engine

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha512"
	"errors"
	"math/big"
	"sync"
	"sync/atomic"

	"filippo.io/nistec"
	jose "github.com/go-jose/go-jose/v4"
)

// Logto signs its ID tokens with ES384, and crypto/ecdsa spends about
// 0.8 ms on one P-384 verification (P-256 has assembly, P-384 does not):
// most of what a sign-in callback or a refresh costs beyond the token
// endpoint's round trip. An ES384 key from the JWKS is therefore verified
// here, with the same formally verified field arithmetic (filippo.io/nistec
// is crypto/ecdsa's own P-384 code, exported) but precomputed multiples of
// the key: u1·G + u2·Q becomes 192 point additions and no doublings, about
// a third of the time.
//
// Nothing here is secret (the key, the signature and the message are
// public), so table lookups need not be constant time. The check is the one
// of FIPS 186-5 6.4.2, the same crypto/ecdsa.Verify makes; the tests compare
// the two on valid, altered and out-of-range signatures.

var errES384Signature = errors.New("ES384 signature does not verify")

// p384Table holds d·16^i·P for every 4-bit window i of a 384-bit scalar and
// every digit d from 1 to 15: about 250 KB, built once per key (~2 ms).
type p384Table [96][15]nistec.P384Point

func newP384Table(p *nistec.P384Point) *p384Table {
	t := new(p384Table)
	base := nistec.NewP384Point().Set(p)
	for i := range t {
		t[i][0] = *nistec.NewP384Point().Set(base)
		for d := 1; d < 15; d++ {
			t[i][d] = *nistec.NewP384Point().Add(&t[i][d-1], base)
		}
		base.Double(&t[i][7]) // 16·16^i·P = 2·(8·16^i·P)
	}
	return t
}

// addMul adds k·P to acc, k a 48-byte big-endian scalar.
func (t *p384Table) addMul(acc *nistec.P384Point, k *[48]byte) {
	for j := range 48 {
		b := k[47-j]
		if lo := b & 0x0f; lo != 0 {
			acc.Add(acc, &t[2*j][lo-1])
		}
		if hi := b >> 4; hi != 0 {
			acc.Add(acc, &t[2*j+1][hi-1])
		}
	}
}

var (
	p384Order          = elliptic.P384().Params().N
	p384GeneratorTable = sync.OnceValue(func() *p384Table {
		return newP384Table(nistec.NewP384Point().SetGenerator())
	})
)

// es384Key is a JWKS key for ES384 signatures, handed to go-jose as its
// verification key (jose.OpaqueVerifier).
type es384Key struct {
	raw   []byte // uncompressed point: a refetched JWKS keeps the tables of keys it still holds
	table func() *p384Table
	built atomic.Bool // the table is ready (for tests of the warm-up)
}

// newES384Key returns the fast verifier for a P-384 public key, or nil for
// any other key (which go-jose then verifies as usual).
func newES384Key(key any) *es384Key {
	pub, ok := key.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P384() {
		return nil
	}
	raw, err := pub.Bytes()
	if err != nil {
		return nil
	}
	q, err := nistec.NewP384Point().SetBytes(raw) // checks that Q is on the curve
	if err != nil {
		return nil
	}
	k := &es384Key{raw: raw}
	k.table = sync.OnceValue(func() *p384Table {
		t := newP384Table(q)
		k.built.Store(true)
		return t
	})
	return k
}

// VerifyPayload implements jose.OpaqueVerifier: signature is r || s, 48
// bytes each (RFC 7518 3.4).
func (k *es384Key) VerifyPayload(payload, signature []byte, alg jose.SignatureAlgorithm) error {
	if alg != jose.ES384 {
		return jose.ErrUnsupportedAlgorithm
	}
	if len(signature) != 96 {
		return errES384Signature
	}
	digest := sha512.Sum384(payload)
	if !verifyP384(k.table(), digest[:], signature[:48], signature[48:]) {
		return errES384Signature
	}
	return nil
}

// verifyP384 is ECDSA verification (FIPS 186-5 6.4.2) of a SHA-384 digest:
// the digest has the order's 384 bits, so it needs no truncation.
func verifyP384(q *p384Table, digest, rBytes, sBytes []byte) bool {
	r := new(big.Int).SetBytes(rBytes)
	s := new(big.Int).SetBytes(sBytes)
	if r.Sign() <= 0 || s.Sign() <= 0 || r.Cmp(p384Order) >= 0 || s.Cmp(p384Order) >= 0 {
		return false
	}
	w := new(big.Int).ModInverse(s, p384Order)
	u1 := new(big.Int).SetBytes(digest)
	u1.Mul(u1, w).Mod(u1, p384Order)
	u2 := w.Mul(r, w).Mod(w, p384Order)
	var k1, k2 [48]byte
	u1.FillBytes(k1[:])
	u2.FillBytes(k2[:])

	sum := nistec.NewP384Point() // the point at infinity
	p384GeneratorTable().addMul(sum, &k1)
	q.addMul(sum, &k2)
	x, err := sum.BytesX()
	if err != nil { // u1·G + u2·Q is the point at infinity
		return false
	}
	v := new(big.Int).SetBytes(x)
	return v.Mod(v, p384Order).Cmp(r) == 0
}
