package logtotest

import (
	"context"
	"net/http"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// UserInfo is /oidc/me (GET and POST, §8). Only opaque access tokens work:
// a resource JWT, a revoked token or a token of a revoked grant is 401
// invalid_token. (A missing token is answered by op, rewritten to Logto's
// 400 in respond.go.)
func (s *opServer) UserInfo(ctx context.Context, r *op.Request[oidc.UserInfoRequest]) (*op.Response, error) {
	p := s.p
	now := p.now()
	p.mu.Lock()
	at := p.accessTokens[r.Data.AccessToken]
	var claims map[string]any
	if at != nil && !at.revoked && now.Before(at.expires) {
		if g := p.grants[at.grantID]; g != nil && !g.revoked {
			if u := p.users[g.userID]; u != nil {
				claims = p.userClaims(u, at.scopes, false)
			}
		}
	}
	p.mu.Unlock()
	if claims == nil {
		return nil, p.fail(ctx, http.StatusUnauthorized, "invalid_token", "invalid token provided", nil)
	}
	if m := p.currentMisbehavior(); m.UserInfo != nil {
		m.UserInfo(claims)
	}
	p.setContentType(ctx, "application/json; charset=utf-8")
	return op.NewResponse(claims), nil
}

// Introspect is /oidc/token/introspection (§13). It needs client
// authentication; refresh tokens and opaque access tokens are described,
// anything else (resource JWTs included) is {"active":false}.
func (s *opServer) Introspect(ctx context.Context, r *op.Request[op.IntrospectionRequest]) (*op.Response, error) {
	p := s.p
	cc := r.Data.ClientCredentials
	if cc == nil || p.authenticate(cc.ClientID, cc.ClientSecret) == nil {
		return nil, p.fail(ctx, http.StatusUnauthorized, "invalid_client", "client authentication failed", nil)
	}
	token := r.Data.IntrospectionRequest.Token
	now := p.now()
	p.mu.Lock()
	resp := map[string]any{"active": false}
	if rt := p.refreshTokens[token]; rt != nil && p.refreshUsable(rt, now) {
		g := p.grants[rt.grantID]
		resp = map[string]any{"active": true, "sub": g.userID, "client_id": g.clientID,
			"exp": rt.expires.Unix(), "iat": rt.issuedAt.Unix(), "iss": p.base + "/oidc",
			"scope": strings.Join(g.scopes, " ")}
	} else if at := p.accessTokens[token]; at != nil && !at.revoked && now.Before(at.expires) {
		if g := p.grants[at.grantID]; g != nil && !g.revoked {
			resp = map[string]any{"active": true, "sub": g.userID, "client_id": g.clientID,
				"exp": at.expires.Unix(), "iat": at.issuedAt.Unix(), "iss": p.base + "/oidc",
				"scope": strings.Join(at.scopes, " "), "token_type": "Bearer"}
		}
	}
	p.mu.Unlock()
	p.setContentType(ctx, "application/json; charset=utf-8")
	return op.NewResponse(resp), nil
}

// Revocation is /oidc/token/revocation (§13): always 200 with an empty
// text/plain body. Revoking a refresh token kills its whole grant; revoking
// an opaque access token kills only that token. token_type_hint is ignored,
// as a wrong hint still revokes in Logto.
func (s *opServer) Revocation(ctx context.Context, cr *op.ClientRequest[oidc.RevocationRequest]) (*op.Response, error) {
	p := s.p
	token := cr.Data.Token
	p.mu.Lock()
	if rt := p.refreshTokens[token]; rt != nil {
		if g := p.grants[rt.grantID]; g != nil && g.clientID == cr.Client.GetID() {
			g.revoked = true
		}
	} else if at := p.accessTokens[token]; at != nil {
		if g := p.grants[at.grantID]; g != nil && g.clientID == cr.Client.GetID() {
			at.revoked = true
		}
	}
	p.mu.Unlock()
	h := http.Header{}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	p.setPage(ctx, http.StatusOK, h, nil)
	return op.NewResponse(nil), nil
}
