package logtotest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// TestMintMatchesTokenEndpoint: each one-line helper mints the token the
// token endpoint issues for the same request: same header, same claims
// (but jti, iat and exp), signed with the key in the JWKS.
func TestMintMatchesTokenEndpoint(t *testing.T) {
	p := NewServer(t, Options{})
	tk := fullSignIn(t, p, "openid offline_access read:data read:org urn:logto:scope:organizations",
		DefaultResource, OrganizationsResource)
	_, body := clientCredentials(t, p, DemoMachineApp.ID, DemoMachineApp.Secret,
		url.Values{"resource": {DefaultResource}, "scope": {"read:data"}}, true)
	m2m := decode(t, body)["access_token"].(string)

	mint := func(tok string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	for _, c := range []struct {
		name           string
		issued, minted string
		want           map[string]any
	}{
		{
			"user resource token",
			refreshOK(t, p, tk.RefreshToken, url.Values{"resource": {DefaultResource}}).AccessToken,
			mint(p.UserAccessToken(DefaultResource, "read:data")),
			map[string]any{"sub": DemoUser.ID, "client_id": p.ClientID, "iss": p.Issuer, "aud": DefaultResource, "scope": "read:data"},
		},
		{
			"organization token",
			refreshOK(t, p, tk.RefreshToken, url.Values{"organization_id": {"demo-org"}}).AccessToken,
			mint(p.OrganizationToken("demo-org", "read:org")),
			map[string]any{"sub": DemoUser.ID, "client_id": p.ClientID, "iss": p.Issuer, "aud": "urn:logto:organization:demo-org", "scope": "read:org"},
		},
		{
			"organization resource token",
			refreshOK(t, p, tk.RefreshToken, url.Values{"resource": {DefaultResource}, "organization_id": {"demo-org"}}).AccessToken,
			mint(p.OrganizationResourceToken("demo-org", DefaultResource, "read:data")),
			map[string]any{"sub": DemoUser.ID, "client_id": p.ClientID, "iss": p.Issuer, "aud": DefaultResource, "scope": "read:data",
				"organization_id": "demo-org"},
		},
		{
			"machine-to-machine token",
			m2m,
			mint(p.MachineAccessToken(DefaultResource, "read:data")),
			map[string]any{"sub": DemoMachineApp.ID, "client_id": DemoMachineApp.ID, "iss": p.Issuer, "aud": DefaultResource, "scope": "read:data"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantAccessToken(t, p, c.issued, c.want, time.Hour)
			wantAccessToken(t, p, c.minted, c.want, time.Hour)
			ih, ic := jwtParts(t, c.issued)
			mh, mc := jwtParts(t, c.minted)
			if !reflect.DeepEqual(ih, mh) {
				t.Errorf("header: issued %v, minted %v", ih, mh)
			}
			for _, k := range []string{"jti", "iat", "exp"} {
				delete(ic, k)
				delete(mc, k)
			}
			if !reflect.DeepEqual(ic, mc) {
				t.Errorf("claims: issued %v, minted %v", ic, mc)
			}
		})
	}

	// With no scopes: "" on a user's token, no claim on a machine's.
	_, c := jwtParts(t, mint(p.UserAccessToken(DefaultResource)))
	if v, ok := c["scope"]; !ok || v != "" {
		t.Errorf("user token without scopes: scope %#v", c["scope"])
	}
	_, c = jwtParts(t, mint(p.MachineAccessToken(DefaultResource)))
	if _, ok := c["scope"]; ok {
		t.Errorf("machine token without scopes: scope %#v", c["scope"])
	}
	// Several scopes are space-separated, in order.
	_, c = jwtParts(t, mint(p.OrganizationToken("demo-org", "read:org", "write:org")))
	if c["scope"] != "read:org write:org" {
		t.Errorf("scope %v", c["scope"])
	}
}

// TestMintFirstUserAndApp: the helpers mint for the first configured user
// and machine-to-machine app, and follow the resource's TTL.
func TestMintFirstUserAndApp(t *testing.T) {
	p := NewServer(t, Options{
		Users:                  []User{{ID: "alice-id", Username: "alice"}, DemoUser},
		MachineApps:            []MachineApp{{ID: "worker", Secret: "s"}, DemoMachineApp},
		ResourceAccessTokenTTL: map[string]time.Duration{DefaultResource: 65 * time.Second},
	})
	tok, err := p.UserAccessToken(DefaultResource, "read:data")
	if err != nil {
		t.Fatal(err)
	}
	wantAccessToken(t, p, tok, map[string]any{"sub": "alice-id", "client_id": p.ClientID, "iss": p.Issuer,
		"aud": DefaultResource, "scope": "read:data"}, 65*time.Second)
	tok, err = p.MachineAccessToken(DefaultResource, "read:data")
	if err != nil {
		t.Fatal(err)
	}
	wantAccessToken(t, p, tok, map[string]any{"sub": "worker", "client_id": "worker", "iss": p.Issuer,
		"aud": DefaultResource, "scope": "read:data"}, 65*time.Second)
	// Organization tokens are not a resource's: AccessTokenTTL.
	tok, err = p.OrganizationToken("demo-org")
	if err != nil {
		t.Fatal(err)
	}
	wantAccessToken(t, p, tok, map[string]any{"sub": "alice-id", "client_id": p.ClientID, "iss": p.Issuer,
		"aud": "urn:logto:organization:demo-org", "scope": ""}, time.Hour)
}

// TestMintAccessTokenForgeries: MintAccessToken's fields and modes produce
// the near-valid tokens a protected API must refuse.
func TestMintAccessTokenForgeries(t *testing.T) {
	clock := newFakeClock()
	p := NewServer(t, Options{Clock: clock.Now})
	now := clock.Now()
	mint := func(at AccessToken) (header, claims map[string]any, token string) {
		t.Helper()
		tok, err := p.MintAccessToken(at)
		if err != nil {
			t.Fatal(err)
		}
		h, c := jwtParts(t, tok)
		return h, c, tok
	}

	// Defaults: the web app's client_id; no Subject makes sub = client_id.
	_, c, tok := mint(AccessToken{Audience: DefaultResource})
	wantAccessToken(t, p, tok, map[string]any{"sub": p.ClientID, "client_id": p.ClientID, "iss": p.Issuer, "aud": DefaultResource}, time.Hour)
	if c["iat"] != float64(now.Unix()) {
		t.Errorf("iat %v, want the Options.Clock's %d", c["iat"], now.Unix())
	}
	_, c, _ = mint(AccessToken{Subject: "u1", ClientID: "other-app", Audience: "https://x.test", OrganizationID: "o1"})
	if c["sub"] != "u1" || c["client_id"] != "other-app" || c["aud"] != "https://x.test" || c["scope"] != "" || c["organization_id"] != "o1" {
		t.Errorf("explicit fields: %v", c)
	}

	// Expired, short-lived, not yet valid.
	_, c, _ = mint(AccessToken{Subject: "u1", Audience: DefaultResource, IssuedAt: now.Add(-2 * time.Hour)})
	if c["iat"] != float64(now.Add(-2*time.Hour).Unix()) || c["exp"] != float64(now.Add(-time.Hour).Unix()) {
		t.Errorf("expired: iat %v exp %v", c["iat"], c["exp"])
	}
	_, c, _ = mint(AccessToken{Subject: "u1", Audience: DefaultResource, TTL: 5 * time.Minute})
	if c["exp"] != float64(now.Add(5*time.Minute).Unix()) {
		t.Errorf("TTL: exp %v", c["exp"])
	}
	_, c, _ = mint(AccessToken{Subject: "u1", Audience: DefaultResource, NotBefore: now.Add(10 * time.Minute)})
	if c["nbf"] != float64(now.Add(10*time.Minute).Unix()) {
		t.Errorf("nbf %v", c["nbf"])
	}

	// Edit: another iss and typ, still signed by the active key.
	h, c, tok := mint(AccessToken{Subject: "u1", Audience: DefaultResource, Edit: func(h, c map[string]any) {
		h["typ"] = "JWT"
		c["iss"] = "https://evil.test/oidc"
	}})
	if h["typ"] != "JWT" || h["alg"] != "ES384" || h["kid"] != p.KeyID() || c["iss"] != "https://evil.test/oidc" {
		t.Errorf("edited: %v %v", h, c)
	}
	verifyJWT(t, p, tok)
	// Edit: missing sub and client_id, an unknown kid.
	h, c, _ = mint(AccessToken{Subject: "u1", Audience: DefaultResource, Edit: func(h, c map[string]any) {
		delete(c, "sub")
		delete(c, "client_id")
		h["kid"] = "not-in-the-jwks"
	}})
	if _, ok := c["sub"]; ok || c["client_id"] != nil || h["kid"] != "not-in-the-jwks" {
		t.Errorf("edited: %v %v", h, c)
	}

	// alg none: no signature, which go-jose refuses to parse as ES384.
	h, _, tok = mint(AccessToken{Subject: "u1", Audience: DefaultResource, Signing: SigningNone})
	if h["alg"] != "none" || !strings.HasSuffix(tok, ".") {
		t.Errorf("none: %v %q", h, tok)
	}
	if _, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.ES384}); err == nil {
		t.Error("alg none parsed")
	}
	// HS256 keyed with the public JWK: the algorithm-confusion token.
	h, _, tok = mint(AccessToken{Subject: "u1", Audience: DefaultResource, Signing: SigningHS256PublicKey})
	parts := strings.Split(tok, ".")
	pub, err := json.Marshal(p.activeKey().pub)
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, pub)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if h["alg"] != "HS256" || parts[2] != base64.RawURLEncoding.EncodeToString(mac.Sum(nil)) {
		t.Errorf("HS256: header %v, signature is not the HMAC of the public JWK", h)
	}
	// Edit runs after the mode: alg can be put back.
	h, _, _ = mint(AccessToken{Subject: "u1", Audience: DefaultResource, Signing: SigningNone, Edit: func(h, _ map[string]any) { h["alg"] = "ES384" }})
	if h["alg"] != "ES384" {
		t.Errorf("Edit after mode: %v", h)
	}
	// A foreign key with the active kid: the signature does not verify.
	h, _, tok = mint(AccessToken{Subject: "u1", Audience: DefaultResource, Signing: SigningForeignKey})
	if h["kid"] != p.KeyID() || h["alg"] != "ES384" {
		t.Errorf("foreign key header %v", h)
	}
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.ES384})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jws.Verify(p.activeKey().pub); err == nil {
		t.Error("a foreign key's signature verified against the JWKS key")
	}

	// Misbehavior.AccessToken is for the token endpoint only.
	p.Misbehave(Misbehavior{AccessToken: func(h, _ map[string]any) { h["typ"] = "JWT" }})
	if h, _, _ := mint(AccessToken{Audience: DefaultResource}); h["typ"] != "at+jwt" {
		t.Errorf("Misbehavior.AccessToken applied to a minted token: %v", h)
	}
	p.Misbehave(Misbehavior{})
	// After RotateKeys, the new key signs.
	p.RotateKeys()
	h, _, tok = mint(AccessToken{Audience: DefaultResource})
	if h["kid"] != p.KeyID() {
		t.Errorf("kid %v after rotation, want %s", h["kid"], p.KeyID())
	}
	verifyJWT(t, p, tok)
}

func TestMintErrors(t *testing.T) {
	p := NewServer(t, Options{})
	for name, f := range map[string]func() (string, error){
		"no audience":     func() (string, error) { return p.MintAccessToken(AccessToken{Subject: "u"}) },
		"unknown signing": func() (string, error) { return p.MintAccessToken(AccessToken{Audience: "a", Signing: "rot13"}) },
		"user":            func() (string, error) { return p.UserAccessToken("", "read:data") },
		"organization":    func() (string, error) { return p.OrganizationToken("") },
		"org resource 1":  func() (string, error) { return p.OrganizationResourceToken("", DefaultResource) },
		"org resource 2":  func() (string, error) { return p.OrganizationResourceToken("demo-org", "") },
		"machine":         func() (string, error) { return p.MachineAccessToken("") },
	} {
		if tok, err := f(); err == nil {
			t.Errorf("%s: minted %q", name, tok)
		}
	}
	u, err := NewUnstarted(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.UserAccessToken(DefaultResource); err == nil {
		t.Error("minted without a URL")
	}
}
