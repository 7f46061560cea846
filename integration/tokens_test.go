//go:build integration

package integration

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestOrganizationTokenAndRotation checks the token endpoint behaviour the
// example relies on, with the suite as the relying party (the app's
// credentials and its registered redirect URI; the code never reaches the
// app): an organization token for an organization the user belongs to,
// Logto's 403s around it, and, against the suite's provider, refresh token
// rotation at 70 % of the lifetime, the 3 s reuse window, and the grant
// revoked when a rotated token is replayed after it.
//
// The example's own /organization-token is called by TestAPIProtection;
// the refusals and the rotation of organization token grants are checked
// here.
func TestOrganizationTokenAndRotation(t *testing.T) {
	t.Parallel()
	tg := suite.target
	d := fetchDiscovery(t)
	v := newJWTVerifier(t, d)
	b := newBrowser(t)
	redirectURI := baseURL(suite.ports["sqlite"]) + "/logto/sign-in-callback"

	// Sign in with the organizations scope and the organizations resource.
	orgScopes := "openid offline_access profile urn:logto:scope:organizations read:org"
	authURL, verifier, state := authorizeURL(d, redirectURI, orgScopes, "urn:logto:resource:organizations")
	callback := signInAtLogto(t, b, authURL)
	code := checkCallback(t, d, callback, redirectURI, state)
	signedInAt := time.Now()
	tokens := exchangeCode(t, d, code, verifier, redirectURI)
	rt := tokens.RefreshToken

	t.Run("organization-token", func(t *testing.T) {
		status, body := tokenRequest(t, d, url.Values{
			"grant_type": {"refresh_token"}, "refresh_token": {rt}, "organization_id": {tg.OrganizationID},
		})
		if status != http.StatusOK {
			t.Fatalf("organization token: %d %s", status, body)
		}
		var out tokenResponse
		_ = json.Unmarshal(body, &out)
		c := v.verify(t, out.AccessToken)
		if c.Typ != "at+jwt" {
			t.Errorf("organization token typ %q, want at+jwt", c.Typ)
		}
		if aud := c.str("aud"); aud != "urn:logto:organization:"+tg.OrganizationID {
			t.Errorf("organization token aud %v, want urn:logto:organization:%s", c.Claims["aud"], tg.OrganizationID)
		}
		if !slices.Contains(strings.Fields(c.str("scope")), "read:org") {
			t.Errorf("organization token scope %q, want read:org (the user's organization role)", c.str("scope"))
		}
		if _, has := c.Claims["organization_id"]; has {
			t.Errorf("organization token carries organization_id; Logto puts the organization in aud only")
		}
		if c.str("client_id") != tg.AppID || c.str("sub") == "" {
			t.Errorf("organization token client_id %q sub %q", c.str("client_id"), c.str("sub"))
		}
		if out.RefreshToken != "" && out.RefreshToken != rt {
			rt = out.RefreshToken
		}
	})

	t.Run("not-a-member", func(t *testing.T) {
		status, body := tokenRequest(t, d, url.Values{
			"grant_type": {"refresh_token"}, "refresh_token": {rt}, "organization_id": {"not-a-member-of-this"},
		})
		e := oidcError(body)
		if status != http.StatusForbidden || e.Error != "access_denied" {
			t.Errorf("organization token for a foreign organization: %d %s, want 403 access_denied", status, body)
		}
	})

	t.Run("no-organizations-scope", func(t *testing.T) {
		// Logto's session is there: with prompt=consent, no sign-in page.
		authURL, verifier, state := authorizeURL(d, redirectURI, "openid offline_access profile", "")
		callback := authorizeWithSession(t, b, authURL)
		code := checkCallback(t, d, callback, redirectURI, state)
		other := exchangeCode(t, d, code, verifier, redirectURI)
		status, body := tokenRequest(t, d, url.Values{
			"grant_type": {"refresh_token"}, "refresh_token": {other.RefreshToken}, "organization_id": {tg.OrganizationID},
		})
		e := oidcError(body)
		if status != http.StatusForbidden || e.Error != "insufficient_scope" {
			t.Errorf("organization token from a grant without urn:logto:scope:organizations: %d %s, want 403 insufficient_scope", status, body)
		}
	})

	t.Run("rotation-and-replay", func(t *testing.T) {
		if suite.fixture == nil {
			t.Skip("rotation happens after 70 % of a refresh token's lifetime (days on a real Logto); checked against the suite's provider only")
		}
		refresh := func(token string) (int, tokenResponse, []byte) {
			status, body := tokenRequest(t, d, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}})
			var out tokenResponse
			_ = json.Unmarshal(body, &out)
			return status, out, body
		}
		// Early on, a confidential client's refresh token is not rotated.
		status, out, body := refresh(rt)
		if status != http.StatusOK || out.RefreshToken != rt {
			t.Fatalf("refresh before 70 %% of the lifetime: %d, rotated %v: %s", status, out.RefreshToken != rt, body)
		}
		ttl := time.Duration(suite.fixture.RefreshTokenTTL) * time.Second
		waitUntil(t, signedInAt.Add(ttl*72/100), "past 70 % of the refresh token's lifetime")
		status, out, body = refresh(rt)
		if status != http.StatusOK || out.RefreshToken == "" || out.RefreshToken == rt {
			t.Fatalf("refresh after 70 %% of the lifetime: %d, want a new refresh token: %s", status, body)
		}
		rotated, rotatedAt := out.RefreshToken, time.Now()
		if time.Since(signedInAt) > ttl*80/100 {
			t.Fatalf("rotation came too late (%s after sign-in) to replay the old token before it expires", time.Since(signedInAt))
		}
		// Within 3 s the old token still works (Logto's reuse window).
		if status, _, body := refresh(rt); status != http.StatusOK {
			t.Errorf("old refresh token within 3 s of rotation: %d %s, Logto accepts it", status, body)
		}
		waitUntil(t, rotatedAt.Add(3500*time.Millisecond), "past Logto's 3 s reuse window")
		status, _, body = refresh(rt)
		if e := oidcError(body); status != http.StatusBadRequest || e.Error != "invalid_grant" || e.Code != "oidc.invalid_grant" {
			t.Errorf("replayed refresh token after 3 s: %d %s, want 400 invalid_grant", status, body)
		}
		// The replay revoked the whole grant, the rotated token with it.
		status, _, body = refresh(rotated)
		if e := oidcError(body); status != http.StatusBadRequest || e.Error != "invalid_grant" {
			t.Errorf("rotated refresh token after a replay: %d %s, want invalid_grant (grant revoked)", status, body)
		}
	})
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	Scope        string `json:"scope"`
}

type oidcErrorBody struct {
	Code             string `json:"code"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

func oidcError(body []byte) oidcErrorBody {
	var e oidcErrorBody
	_ = json.Unmarshal(body, &e)
	return e
}

// authorizeURL builds an authorization request as an RP does: PKCE S256,
// state, nonce, prompt=consent (for a refresh token).
func authorizeURL(d discovery, redirectURI, scope, resource string) (authURL, verifier, state string) {
	verifier = randomString(32)
	sum := sha256.Sum256([]byte(verifier))
	state = randomString(32)
	q := url.Values{
		"client_id":             {suite.target.AppID},
		"redirect_uri":          {redirectURI},
		"response_type":         {"code"},
		"scope":                 {scope},
		"state":                 {state},
		"nonce":                 {randomString(32)},
		"prompt":                {"consent"},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}
	if resource != "" {
		q.Set("resource", resource)
	}
	return d.AuthorizationEndpoint + "?" + q.Encode(), verifier, state
}

func checkCallback(t *testing.T, d discovery, callback *url.URL, redirectURI, state string) string {
	t.Helper()
	q := callback.Query()
	if got := callback.Scheme + "://" + callback.Host + callback.Path; got != redirectURI {
		t.Fatalf("Logto redirected to %s, want %s", got, redirectURI)
	}
	if q.Get("state") != state || q.Get("iss") != d.Issuer || q.Get("code") == "" {
		t.Fatalf("callback %s: want code, state %q and iss %q", callback.Redacted(), state, d.Issuer)
	}
	return q.Get("code")
}

func exchangeCode(t *testing.T, d discovery, code, verifier, redirectURI string) tokenResponse {
	t.Helper()
	status, body := tokenRequest(t, d, url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {redirectURI},
	})
	var out tokenResponse
	if status != http.StatusOK || json.Unmarshal(body, &out) != nil || out.RefreshToken == "" || out.IDToken == "" {
		t.Fatalf("code exchange: %d %s", status, body)
	}
	if out.TokenType != "Bearer" {
		t.Errorf("token_type %q, Logto sends Bearer", out.TokenType)
	}
	return out
}

// tokenRequest posts to the token endpoint as the app, with
// client_secret_basic.
func tokenRequest(t *testing.T, d discovery, form url.Values) (int, []byte) {
	t.Helper()
	return tokenRequestAs(t, d, suite.target.AppID, suite.target.AppSecret, form)
}

// tokenRequestAs posts to the token endpoint as the client id, with
// client_secret_basic (the credentials form-urlencoded first, RFC 6749
// §2.3.1).
func tokenRequestAs(t *testing.T, d discovery, id, secret string, form url.Values) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", d.TokenEndpoint, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, body
}
