package logtotest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// Misbehavior breaks the provider's answers on purpose, to test what a
// relying party does with a broken or hostile identity provider. The zero
// value behaves. Set it with Misbehave; it applies until replaced.
type Misbehavior struct {
	// IDToken edits the ID token's JOSE header and claims just before it is
	// signed (delete "kid", set "alg", move "exp" ...).
	IDToken func(header, claims map[string]any)
	// IDTokenSigning chooses how the ID token is signed: "" with the active
	// key; SigningForeignKey with a key that is not in the JWKS (same kid);
	// SigningNone with alg "none" and no signature; SigningHS256PublicKey
	// with HMAC-SHA256 keyed by the public key's JSON, the classic
	// algorithm-confusion attack.
	IDTokenSigning string
	// AccessToken edits the JOSE header and claims of every JWT access
	// token the token endpoint issues (resource, organization and
	// client-credentials tokens) just before it is signed with the active
	// key. Opaque access tokens are not JWTs and stay as they are; tokens
	// from MintAccessToken have their own AccessToken.Edit.
	AccessToken func(header, claims map[string]any)
	// TokenResponse edits a successful token response's JSON object before
	// it is sent (drop id_token, lower-case token_type ...).
	TokenResponse func(body map[string]any)
	// UserInfo edits the userinfo answer.
	UserInfo func(claims map[string]any)
	// Discovery edits the discovery document.
	Discovery func(doc map[string]any)
	// JWKSDown makes the JWKS endpoint answer 503.
	JWKSDown bool
	// ExtraJWKS are appended to the key set as they are (an unknown key
	// type, a second key without kid ...).
	ExtraJWKS []json.RawMessage
	// Delay holds the answer of an endpoint ("token", "jwks", "discovery",
	// "userinfo", "revocation") back, until the client gives up.
	Delay map[string]time.Duration
}

// Signing modes for Misbehavior.IDTokenSigning and AccessToken.Signing.
const (
	SigningForeignKey     = "foreign-key"
	SigningNone           = "none"
	SigningHS256PublicKey = "hs256-public-key"
)

// Misbehave sets how the provider misbehaves from now on.
func (p *Provider) Misbehave(m Misbehavior) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.misbehavior = m
}

func (p *Provider) currentMisbehavior() Misbehavior {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.misbehavior
}

// delay waits as Misbehavior.Delay says for endpoint, or until the client
// hangs up.
func (p *Provider) delay(r *http.Request, endpoint string) {
	d := p.currentMisbehavior().Delay[endpoint]
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

// signIDToken signs ID token claims, honouring Misbehavior.
func (p *Provider) signIDToken(claims map[string]any) (string, error) {
	m := p.currentMisbehavior()
	if m.IDToken == nil && m.IDTokenSigning == "" {
		return p.sign("JWT", claims)
	}
	return p.signEdited("JWT", claims, m.IDToken, m.IDTokenSigning)
}

// signAccessToken signs the claims of a JWT access token the token
// endpoint issues, honouring Misbehavior.AccessToken.
func (p *Provider) signAccessToken(claims map[string]any) (string, error) {
	if m := p.currentMisbehavior(); m.AccessToken != nil {
		return p.signEdited("at+jwt", claims, m.AccessToken, "")
	}
	return p.sign("at+jwt", claims)
}

// signEdited builds a compact JWS by hand: the header starts as the active
// key's {"alg","typ","kid"}, edit (if not nil) may change header and
// claims, and signing chooses the signature ("" for the active key, or one
// of the Signing modes).
func (p *Provider) signEdited(typ string, claims map[string]any, edit func(header, claims map[string]any), signing string) (string, error) {
	k := p.activeKey()
	header := map[string]any{"alg": string(k.alg), "typ": typ, "kid": k.pub.KeyID}
	if edit != nil {
		edit(header, claims)
	}
	hb, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	cb, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb)
	var sig []byte
	switch signing {
	case SigningNone:
		return input + ".", nil
	case SigningHS256PublicKey:
		pub, err := json.Marshal(k.pub)
		if err != nil {
			return "", err
		}
		mac := hmac.New(sha256.New, pub)
		mac.Write([]byte(input))
		sig = mac.Sum(nil)
	case SigningForeignKey:
		foreign, err := newSigningKey(string(k.alg))
		if err != nil {
			return "", err
		}
		sig, err = rawSign(foreign.priv, input)
		if err != nil {
			return "", err
		}
	default:
		sig, err = rawSign(k.priv, input)
		if err != nil {
			return "", err
		}
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// rawSign makes a JWS signature over input: ES384 (r||s, 48 bytes each) or
// RS256.
func rawSign(priv crypto.Signer, input string) ([]byte, error) {
	switch key := priv.(type) {
	case *ecdsa.PrivateKey:
		if key.Curve != elliptic.P384() {
			return nil, fmt.Errorf("logtotest: unexpected curve")
		}
		sum := sha512.Sum384([]byte(input))
		r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
		if err != nil {
			return nil, err
		}
		out := make([]byte, 96)
		r.FillBytes(out[:48])
		s.FillBytes(out[48:])
		return out, nil
	case *rsa.PrivateKey:
		sum := sha256.Sum256([]byte(input))
		return rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	default:
		return nil, fmt.Errorf("logtotest: unsupported key %T", priv)
	}
}

// keysResponse is the JWKS answer, with Misbehavior's extra keys.
func (p *Provider) keysResponse(ctx context.Context) (any, error) {
	m := p.currentMisbehavior()
	if m.JWKSDown {
		return nil, p.fail(ctx, http.StatusServiceUnavailable, "server_error", "jwks unavailable (logtotest Misbehave)", nil)
	}
	set := p.jwks()
	if len(m.ExtraJWKS) == 0 {
		return set, nil
	}
	keys := make([]json.RawMessage, 0, len(set.Keys)+len(m.ExtraJWKS))
	for _, k := range set.Keys {
		b, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		keys = append(keys, b)
	}
	keys = append(keys, m.ExtraJWKS...)
	return map[string]any{"keys": keys}, nil
}

// SignJWT signs claims with the provider's active key, as it signs its own
// tokens, with the given typ header ("JWT", "at+jwt", "logout+jwt"). Tests
// use it to forge the tokens a Logto would send, valid or subtly not (a
// logout token replayed, without events, with a nonce ...).
func (p *Provider) SignJWT(typ string, claims any) (string, error) {
	return p.sign(typ, claims)
}
