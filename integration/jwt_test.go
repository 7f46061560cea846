//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// discovery is the part of Logto's OpenID configuration the suite uses.
type discovery struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	UserinfoEndpoint                  string   `json:"userinfo_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	EndSessionEndpoint                string   `json:"end_session_endpoint"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
	AuthorizationResponseISSSupported bool     `json:"authorization_response_iss_parameter_supported"`
}

func getJSON(t *testing.T, rawURL string, out any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", rawURL, resp.Status, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("GET %s: %v: %s", rawURL, err, body)
	}
}

// fetchDiscovery reads the target's discovery document and checks what the
// suite relies on.
func fetchDiscovery(t *testing.T) discovery {
	t.Helper()
	return fetchDiscoveryOf(t, suite.target)
}

// fetchDiscoveryOf is fetchDiscovery for the Logto tg.
func fetchDiscoveryOf(t *testing.T, tg target) discovery {
	t.Helper()
	var d discovery
	getJSON(t, tg.issuer()+"/.well-known/openid-configuration", &d)
	if d.Issuer != tg.issuer() {
		t.Fatalf("discovery issuer %q, want %q (Logto's issuer is <endpoint>/oidc)", d.Issuer, tg.issuer())
	}
	if !d.AuthorizationResponseISSSupported {
		t.Errorf("discovery: authorization_response_iss_parameter_supported is not true")
	}
	if !slices.Contains(d.CodeChallengeMethodsSupported, "S256") {
		t.Errorf("discovery: code_challenge_methods_supported %v lacks S256", d.CodeChallengeMethodsSupported)
	}
	return d
}

// jwtVerifier checks JWTs with the provider's key set, for the algorithms its
// discovery document lists.
type jwtVerifier struct {
	keys jose.JSONWebKeySet
	algs []jose.SignatureAlgorithm
	iss  string
}

func newJWTVerifier(t *testing.T, d discovery) *jwtVerifier {
	t.Helper()
	v := &jwtVerifier{iss: d.Issuer}
	getJSON(t, d.JWKSURI, &v.keys)
	if len(v.keys.Keys) == 0 {
		t.Fatalf("JWKS %s has no keys", d.JWKSURI)
	}
	for _, a := range d.IDTokenSigningAlgValuesSupported {
		if a != "none" && !strings.HasPrefix(a, "HS") {
			v.algs = append(v.algs, jose.SignatureAlgorithm(a))
		}
	}
	if len(v.algs) == 0 {
		t.Fatalf("discovery lists no usable signing algorithm: %v", d.IDTokenSigningAlgValuesSupported)
	}
	return v
}

// jwtClaims is a verified token's header and claims.
type jwtClaims struct {
	Alg, Typ, Kid string
	Claims        map[string]any
}

func (c jwtClaims) str(name string) string {
	s, _ := c.Claims[name].(string)
	return s
}

func (c jwtClaims) num(name string) int64 {
	f, _ := c.Claims[name].(float64)
	return int64(f)
}

// verify checks the token's signature against the key its kid names, then
// iss, exp and iat, and returns header and claims.
func (v *jwtVerifier) verify(t *testing.T, token string) jwtClaims {
	t.Helper()
	jws, err := jose.ParseSignedCompact(token, v.algs)
	if err != nil {
		t.Fatalf("not a JWS signed with %v: %v", v.algs, err)
	}
	if len(jws.Signatures) != 1 {
		t.Fatalf("want one signature, got %d", len(jws.Signatures))
	}
	h := jws.Signatures[0].Header
	keys := v.keys.Key(h.KeyID)
	if h.KeyID == "" || len(keys) == 0 {
		t.Fatalf("JWT kid %q is not in the JWKS", h.KeyID)
	}
	payload, err := jws.Verify(keys[0].Key)
	if err != nil {
		t.Fatalf("JWT signature does not verify with JWKS key %q: %v", h.KeyID, err)
	}
	out := jwtClaims{Alg: h.Algorithm, Kid: h.KeyID, Claims: map[string]any{}}
	if typ, ok := h.ExtraHeaders[jose.HeaderType].(string); ok {
		out.Typ = typ
	}
	if err := json.Unmarshal(payload, &out.Claims); err != nil {
		t.Fatalf("JWT payload is not a JSON object: %v", err)
	}
	now := time.Now().Unix()
	if iss := out.str("iss"); iss != v.iss {
		t.Errorf("JWT iss %q, want %q", iss, v.iss)
	}
	if exp := out.num("exp"); exp <= now {
		t.Errorf("JWT expired: exp %d, now %d", exp, now)
	}
	if iat := out.num("iat"); iat == 0 || iat > now+5 {
		t.Errorf("JWT iat %d is missing or in the future (now %d)", iat, now)
	}
	return out
}
