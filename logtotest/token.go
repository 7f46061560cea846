package logtotest

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// tokenResponse is Logto's token response, fields in its order (§6).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	ExpiresIn    int64  `json:"expires_in"`
	IDToken      string `json:"id_token,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
	TokenType    string `json:"token_type"`
}

// invalidGrant is the one answer Logto gives for every bad code or refresh
// token (§0.3).
func (p *Provider) invalidGrant(ctx context.Context) error {
	return p.fail(ctx, http.StatusBadRequest, "invalid_grant", "grant request is invalid", nil)
}

// invalidTarget is Logto's answer for a resource it does not know or did
// not grant; reason, for Options.Logger and SignInTo, says which.
func (p *Provider) invalidTarget(ctx context.Context, reason string, args ...any) error {
	setReason(ctx, reason, args...)
	return p.fail(ctx, http.StatusBadRequest, "invalid_target", "resource indicator is missing, or unknown", nil)
}

// pendingTokens is what a grant handler decided under the lock; the JWTs
// are signed after the lock is released.
type pendingTokens struct {
	accessToken  string         // opaque, or "" when atClaims is set
	atClaims     map[string]any // resource / organization JWT access token
	idClaims     map[string]any // nil: no ID token
	refreshToken string
	scope        string
}

// finish signs the JWTs, fills in at_hash and builds the response.
func (p *Provider) finishTokens(ctx context.Context, t *pendingTokens) (*op.Response, error) {
	at, ttl := t.accessToken, p.opts.AccessTokenTTL
	if t.atClaims != nil {
		ttl = p.accessTTL(t.atClaims["aud"].(string)) // before a Misbehavior hook can change aud
		var err error
		if at, err = p.signAccessToken(t.atClaims); err != nil {
			return nil, err
		}
	}
	resp := tokenResponse{
		AccessToken:  at,
		ExpiresIn:    int64(ttl / time.Second),
		RefreshToken: t.refreshToken,
		Scope:        t.scope,
		TokenType:    "Bearer",
	}
	if t.idClaims != nil {
		t.idClaims["at_hash"] = tokenHash(p.activeKey().alg, at)
		idt, err := p.signIDToken(t.idClaims)
		if err != nil {
			return nil, err
		}
		resp.IDToken = idt
	}
	return p.tokenJSON(ctx, resp)
}

// tokenJSON answers a successful token request with resp as Logto does
// (no-store, JSON with charset), after Misbehavior.TokenResponse.
func (p *Provider) tokenJSON(ctx context.Context, resp any) (*op.Response, error) {
	body, err := p.tokenBody(resp)
	if err != nil {
		return nil, err
	}
	r := op.NewResponse(body)
	r.Header.Set("Cache-Control", "no-store")
	p.setContentType(ctx, "application/json; charset=utf-8")
	return r, nil
}

// tokenBody is resp, or the JSON object Misbehavior.TokenResponse made of
// it.
func (p *Provider) tokenBody(resp any) (any, error) {
	m := p.currentMisbehavior()
	if m.TokenResponse == nil {
		return resp, nil
	}
	b, err := json.Marshal(resp)
	if err != nil {
		return nil, err
	}
	var mb map[string]any
	if err := json.Unmarshal(b, &mb); err != nil {
		return nil, err
	}
	m.TokenResponse(mb)
	return mb, nil
}

// CodeExchange is grant_type=authorization_code (§6). A wrong client secret
// never reaches it, so it does not use up the code, as in Logto. A code used
// twice revokes the grant of its first exchange (§12).
func (s *opServer) CodeExchange(ctx context.Context, cr *op.ClientRequest[oidc.AccessTokenRequest]) (*op.Response, error) {
	p := s.p
	d := cr.Data
	now := p.now()
	resources := cr.Form["resource"]
	if len(resources) > 1 {
		return nil, p.fail(ctx, http.StatusBadRequest, "invalid_target", "only a single resource indicator value is supported", nil)
	}

	p.mu.Lock()
	code := p.codes[d.Code]
	switch {
	case code == nil || now.After(code.expires) || code.req.clientID != cr.Client.GetID():
		p.mu.Unlock()
		setReason(ctx, "the code is unknown, expired or issued to another client")
		return nil, p.invalidGrant(ctx)
	case code.used:
		if g := p.grants[code.grantID]; g != nil {
			g.revoked = true
		}
		p.mu.Unlock()
		setReason(ctx, "the code was used already: the grant of its first exchange is revoked")
		return nil, p.invalidGrant(ctx)
	case d.RedirectURI != code.req.redirectURI:
		p.mu.Unlock()
		setReason(ctx, "redirect_uri %q is not the authorization request's %q", d.RedirectURI, code.req.redirectURI)
		return nil, p.invalidGrant(ctx)
	case !pkceOK(code.req.codeChallenge, d.CodeVerifier):
		p.mu.Unlock()
		setReason(ctx, "code_verifier does not match the authorization request's code_challenge")
		return nil, p.invalidGrant(ctx)
	}
	if len(resources) == 1 && !contains(code.req.resources, resources[0]) {
		p.mu.Unlock()
		return nil, p.invalidTarget(ctx, "resource %q was not requested at /oidc/auth", resources[0])
	}
	u := p.users[code.userID]
	if u == nil {
		p.mu.Unlock()
		return nil, p.invalidGrant(ctx)
	}
	code.used = true
	scopes := code.req.scopes
	if !code.issueRefresh {
		scopes = removeScope(scopes, oidc.ScopeOfflineAccess)
	}
	g := &grant{
		id:              randomID(21, nanoidABC),
		clientID:        code.req.clientID,
		userID:          code.userID,
		scopes:          scopes,
		resources:       code.req.resources,
		nonce:           code.req.nonce,
		sid:             code.sid,
		authTime:        code.authTime,
		includeAuthTime: code.req.includeAuthTime(),
	}
	p.grants[g.id] = g
	code.grantID = g.id

	t := &pendingTokens{scope: strings.Join(responseScopes(scopes), " ")}
	if len(resources) == 1 {
		res := resources[0]
		rs := intersect(p.scopesForResource(u, res), scopes)
		t.atClaims = p.accessTokenClaims(g, res, rs, "", now)
		t.scope = strings.Join(rs, " ")
	} else {
		t.accessToken = p.newOpaqueAccessTokenLocked(g, now)
	}
	if code.issueRefresh {
		t.refreshToken = p.newRefreshTokenLocked(g, now)
	}
	if contains(scopes, oidc.ScopeOpenID) {
		t.idClaims = p.idTokenClaims(u, g, scopes, "", now)
	}
	p.mu.Unlock()
	return p.finishTokens(ctx, t)
}

// pkceOK checks the verifier against an S256 challenge. Without a challenge
// PKCE is optional for this client_secret_basic client (§0.10), but a
// verifier sent for a code that had no challenge is refused.
func pkceOK(challenge, verifier string) bool {
	if challenge == "" {
		return verifier == ""
	}
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return verifier != "" && subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

func removeScope(scopes []string, drop string) []string {
	out := make([]string, 0, len(scopes))
	for _, s := range scopes {
		if s != drop {
			out = append(out, s)
		}
	}
	return out
}

// scopesForResource are the scopes the user's roles give on a resource.
func (p *Provider) scopesForResource(u *userRecord, resource string) []string {
	if resource == OrganizationsResource {
		return u.OrganizationScopes
	}
	return u.ResourceScopes[resource]
}

func (p *Provider) newOpaqueAccessTokenLocked(g *grant, now time.Time) string {
	tok := randomToken()
	p.accessTokens[tok] = &accessToken{
		grantID:  g.id,
		scopes:   g.scopes,
		issuedAt: now,
		expires:  now.Add(p.opts.AccessTokenTTL),
	}
	return tok
}

func (p *Provider) newRefreshTokenLocked(g *grant, now time.Time) string {
	tok := randomToken()
	p.refreshTokens[tok] = &refreshToken{grantID: g.id, issuedAt: now, expires: now.Add(p.opts.RefreshTokenTTL)}
	return tok
}

// refreshUsable reports whether rt may still be used: not expired, grant
// alive, and either current or rotated out less than ReplayGrace ago.
func (p *Provider) refreshUsable(rt *refreshToken, now time.Time) bool {
	g := p.grants[rt.grantID]
	if g == nil || g.revoked || !now.Before(rt.expires) {
		return false
	}
	return rt.rotatedAt.IsZero() || now.Sub(rt.rotatedAt) <= p.opts.ReplayGrace
}

// RefreshToken is grant_type=refresh_token, with Logto's resource and
// organization extensions (§9, §10, §11):
//
//   - plain: new opaque access token and ID token;
//   - resource=R (R requested on /oidc/auth): JWT for R with the user's
//     scopes for R that were also requested;
//   - organization_id=O: JWT for urn:logto:organization:O, needs the
//     organizations scope and membership;
//   - scope narrows, and may not widen (invalid_scope).
//
// Rotation: the same token comes back until 70 % of its TTL (or always a
// new one with RotateRefreshTokens). A rotated-out token still works for
// ReplayGrace; after that, using it revokes the whole grant.
func (s *opServer) RefreshToken(ctx context.Context, cr *op.ClientRequest[oidc.RefreshTokenRequest]) (*op.Response, error) {
	p := s.p
	d := cr.Data
	now := p.now()
	resources := cr.Form["resource"]
	orgID := cr.Form.Get("organization_id")
	if len(resources) > 1 {
		return nil, p.fail(ctx, http.StatusBadRequest, "invalid_target", "only a single resource indicator value is supported", nil)
	}
	if len(resources) == 1 && !p.resources[resources[0]] {
		return nil, p.invalidTarget(ctx, "resource %q is not among Options.Resources", resources[0])
	}

	p.mu.Lock()
	rt := p.refreshTokens[d.RefreshToken]
	var g *grant
	if rt != nil {
		g = p.grants[rt.grantID]
	}
	if rt == nil || g == nil || g.clientID != cr.Client.GetID() {
		p.mu.Unlock()
		setReason(ctx, "the refresh token is unknown or issued to another client")
		return nil, p.invalidGrant(ctx)
	}
	if !p.refreshUsable(rt, now) {
		setReason(ctx, "the refresh token is expired, rotated out or revoked")
		if !rt.rotatedAt.IsZero() && !g.revoked && now.Before(rt.expires) {
			// Replay of a rotated-out token after the grace: treat as
			// theft and revoke everything of the grant (§11).
			g.revoked = true
			setReason(ctx, "the refresh token was rotated out %s ago, longer than Options.ReplayGrace: the grant is revoked", now.Sub(rt.rotatedAt))
		}
		p.mu.Unlock()
		return nil, p.invalidGrant(ctx)
	}
	u := p.users[g.userID]
	if u == nil {
		p.mu.Unlock()
		return nil, p.invalidGrant(ctx)
	}
	requested := []string(d.Scopes)
	var missing []string
	for _, sc := range requested {
		if !contains(g.scopes, sc) {
			missing = append(missing, sc)
		}
	}
	if len(missing) > 0 {
		p.mu.Unlock()
		return nil, p.fail(ctx, http.StatusBadRequest, "invalid_scope", "refresh token missing requested scope",
			&errExtra{scope: strings.Join(missing, " ")})
	}
	scopes := g.scopes
	if len(requested) > 0 {
		scopes = intersect(g.scopes, requested)
	}

	t := &pendingTokens{scope: strings.Join(responseScopes(scopes), " ")}
	switch {
	case len(resources) == 1:
		res := resources[0]
		if !contains(g.resources, res) {
			p.mu.Unlock()
			return nil, p.invalidTarget(ctx, "resource %q was not requested at /oidc/auth", res)
		}
		if orgID != "" && !contains(u.Organizations, orgID) {
			p.mu.Unlock()
			return nil, p.notMember(ctx)
		}
		rs := intersect(p.scopesForResource(u, res), scopes)
		t.atClaims = p.accessTokenClaims(g, res, rs, orgID, now)
		t.scope = strings.Join(rs, " ")
	case orgID != "":
		if !contains(g.scopes, scopeOrganizations) {
			p.mu.Unlock()
			return nil, p.fail(ctx, http.StatusForbidden, "insufficient_scope", "refresh token missing required scope",
				&errExtra{scope: scopeOrganizations})
		}
		if !contains(u.Organizations, orgID) {
			p.mu.Unlock()
			return nil, p.notMember(ctx)
		}
		rs := []string{}
		if contains(g.resources, OrganizationsResource) {
			rs = intersect(u.OrganizationScopes, scopes)
		}
		t.atClaims = p.accessTokenClaims(g, "urn:logto:organization:"+orgID, rs, "", now)
		t.scope = strings.Join(rs, " ")
	default:
		t.accessToken = p.newOpaqueAccessTokenLocked(&grant{id: g.id, scopes: scopes}, now)
	}

	t.refreshToken = d.RefreshToken
	rotateAt := rt.issuedAt.Add(p.opts.RefreshTokenTTL * 7 / 10)
	if p.opts.RotateRefreshTokens || !rt.rotatedAt.IsZero() || !now.Before(rotateAt) {
		if rt.rotatedAt.IsZero() {
			rt.rotatedAt = now
		}
		t.refreshToken = p.newRefreshTokenLocked(g, now)
	}
	if contains(g.scopes, oidc.ScopeOpenID) {
		t.idClaims = p.idTokenClaims(u, g, scopes, "", now)
	}
	p.mu.Unlock()
	return p.finishTokens(ctx, t)
}

func (p *Provider) notMember(ctx context.Context) error {
	return p.fail(ctx, http.StatusForbidden, "access_denied", "user is not a member of the organization", nil)
}

// GrantRevoked reports whether the grant behind refreshToken has been
// revoked (code reuse, replay after rotation, revocation of a refresh
// token). It is false for an unknown token.
func (p *Provider) GrantRevoked(refreshToken string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	rt := p.refreshTokens[refreshToken]
	if rt == nil {
		return false
	}
	g := p.grants[rt.grantID]
	return g == nil || g.revoked
}

// RefreshTokenActive reports whether refreshToken would be accepted now.
func (p *Provider) RefreshTokenActive(refreshToken string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	rt := p.refreshTokens[refreshToken]
	return rt != nil && p.refreshUsable(rt, p.now())
}
