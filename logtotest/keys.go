package logtotest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"

	jose "github.com/go-jose/go-jose/v4"
)

// signingKey is one key of the provider's JWKS.
type signingKey struct {
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
	pub  jose.JSONWebKey
}

// newSigningKey makes a key the way Logto's seeded default looks: EC P-384
// for ES384 (or RSA 2048 for RS256), with kid = RFC 7638 thumbprint, use
// "sig" and alg set (logto-observed §2).
func newSigningKey(alg string) (*signingKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case "ES384":
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "RS256":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		return nil, fmt.Errorf("logtotest: unsupported signing alg %q", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("logtotest: generate key: %w", err)
	}
	pub := jose.JSONWebKey{Key: priv.Public(), Use: "sig", Algorithm: alg}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("logtotest: thumbprint: %w", err)
	}
	pub.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	return &signingKey{alg: jose.SignatureAlgorithm(alg), priv: priv, pub: pub}, nil
}

// RotateKeys makes a new signing key the active one. The old keys stay in the
// JWKS, like Logto's rotation grace period, so tokens signed before still
// verify; a relying party that caches the JWKS meets an unknown kid.
func (p *Provider) RotateKeys() {
	key, err := newSigningKey(p.opts.SigningAlg)
	if err != nil {
		panic(err) // only a broken crypto/rand gets here
	}
	p.keyMu.Lock()
	defer p.keyMu.Unlock()
	p.keys = append([]*signingKey{key}, p.keys...)
}

// KeyID returns the kid of the active signing key.
func (p *Provider) KeyID() string {
	p.keyMu.RLock()
	defer p.keyMu.RUnlock()
	return p.keys[0].pub.KeyID
}

// jwks is the public key set, active key first.
func (p *Provider) jwks() jose.JSONWebKeySet {
	p.keyMu.RLock()
	defer p.keyMu.RUnlock()
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(p.keys))}
	for _, k := range p.keys {
		set.Keys = append(set.Keys, k.pub)
	}
	return set
}

// activeKey is the key that signs new tokens.
func (p *Provider) activeKey() *signingKey {
	p.keyMu.RLock()
	defer p.keyMu.RUnlock()
	return p.keys[0]
}

// sign serializes claims as a compact JWS with the given typ header
// ("JWT", "at+jwt", "logout+jwt") and the active key's kid.
func (p *Provider) sign(typ string, claims any) (string, error) {
	k := p.activeKey()
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: k.alg, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.pub.KeyID}},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)),
	)
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// verify checks a JWS signed by one of the provider's keys (active or
// rotated out) and decodes its claims. Expiry is not checked: the only user
// is id_token_hint, which may be expired.
func (p *Provider) verify(token string, claims any) error {
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.ES384, jose.RS256})
	if err != nil {
		return err
	}
	if len(jws.Signatures) != 1 {
		return errors.New("one signature expected")
	}
	kid := jws.Signatures[0].Header.KeyID
	p.keyMu.RLock()
	var key *signingKey
	for _, k := range p.keys {
		if k.pub.KeyID == kid {
			key = k
		}
	}
	p.keyMu.RUnlock()
	if key == nil {
		return errors.New("unknown kid")
	}
	payload, err := jws.Verify(key.pub)
	if err != nil {
		return err
	}
	return json.Unmarshal(payload, claims)
}

// tokenHash is at_hash: base64url of the left half of the hash of token,
// with the hash that goes with alg (SHA-384 for ES384, SHA-256 for RS256).
func tokenHash(alg jose.SignatureAlgorithm, token string) string {
	var h hash.Hash
	switch alg {
	case jose.ES384, jose.RS384, jose.PS384:
		h = sha512.New384()
	case jose.ES512, jose.RS512, jose.PS512:
		h = sha512.New()
	default:
		h = sha256.New()
	}
	h.Write([]byte(token))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}
