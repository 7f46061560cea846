package logtotest

import (
	"strings"
	"time"
)

// Scopes with Logto-specific claims.
const (
	scopeCustomData        = "custom_data"
	scopeIdentities        = "identities"
	scopeRoles             = "roles"
	scopeOrganizations     = "urn:logto:scope:organizations"
	scopeOrganizationRoles = "urn:logto:scope:organization_roles"
)

// nullable is s, or JSON null when s is empty: Logto sends null for missing
// profile values (picture, name, username, §7).
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// The functions below read provider state and must be called with p.mu held.

// userClaims are the claims the granted scopes release about u. forIDToken
// leaves out the extended claims Logto keeps out of ID tokens unless its
// "ID token" toggle is on (Options.IDTokenExtendedClaims); userinfo gets all.
func (p *Provider) userClaims(u *userRecord, scopes []string, forIDToken bool) map[string]any {
	c := map[string]any{"sub": u.ID}
	extended := func(claim string) bool { return !forIDToken || p.idExtra[claim] }
	if contains(scopes, "profile") {
		// Logto's profile: no preferred_username, timestamps in milliseconds.
		c["name"] = nullable(u.Name)
		c["picture"] = nullable(u.Picture)
		c["updated_at"] = u.updatedAt
		c["username"] = nullable(u.Username)
		c["created_at"] = u.createdAt
	}
	if contains(scopes, "email") {
		c["email"] = nullable(u.Email)
		c["email_verified"] = u.EmailVerified
	}
	if contains(scopes, "phone") {
		c["phone_number"] = nullable(u.PhoneNumber)
		c["phone_number_verified"] = u.PhoneNumberVerified
	}
	if contains(scopes, scopeCustomData) && extended("custom_data") {
		cd := map[string]any{}
		for k, v := range u.CustomData {
			cd[k] = v
		}
		c["custom_data"] = cd
	}
	if contains(scopes, scopeIdentities) {
		if extended("identities") {
			c["identities"] = map[string]any{}
		}
		if extended("sso_identities") {
			c["sso_identities"] = []any{}
		}
	}
	if contains(scopes, scopeRoles) && extended("roles") {
		c["roles"] = nonNil(u.Roles)
	}
	if contains(scopes, scopeOrganizations) {
		if extended("organizations") {
			c["organizations"] = nonNil(u.Organizations)
		}
		if extended("organization_data") {
			data := []map[string]any{}
			for _, id := range u.Organizations {
				org, ok := p.orgs[id]
				if !ok {
					org = Organization{ID: id}
				}
				data = append(data, map[string]any{"id": org.ID, "name": org.Name, "description": nullable(org.Description)})
			}
			c["organization_data"] = data
		}
	}
	if contains(scopes, scopeOrganizationRoles) && extended("organization_roles") {
		c["organization_roles"] = nonNil(u.OrganizationRoles)
	}
	return c
}

// idTokenClaims builds an ID token for grant g: Logto's set (§7) — no azp,
// acr, amr or jti; aud a string; auth_time only when max_age was sent; sid
// only with BackchannelLogoutSessionRequired; at_hash of the access token
// issued with it.
func (p *Provider) idTokenClaims(u *userRecord, g *grant, scopes []string, accessToken string, now time.Time) map[string]any {
	c := p.userClaims(u, scopes, true)
	c["iss"] = p.base + "/oidc"
	c["aud"] = g.clientID
	c["iat"] = now.Unix()
	c["exp"] = now.Add(p.opts.IDTokenTTL).Unix()
	if g.nonce != "" {
		c["nonce"] = g.nonce
	}
	if accessToken != "" {
		c["at_hash"] = tokenHash(p.activeKey().alg, accessToken)
	}
	if g.includeAuthTime {
		c["auth_time"] = g.authTime.Unix()
	}
	if p.opts.BackchannelLogoutSessionRequired && g.sid != "" {
		c["sid"] = g.sid
	}
	return c
}

// accessTokenClaims builds a user's resource or organization access token
// (typ at+jwt, §9, §10).
func (p *Provider) accessTokenClaims(g *grant, aud string, scopes []string, orgID string, now time.Time) map[string]any {
	return jwtAccessClaims(p.base+"/oidc", g.userID, g.clientID, aud, scopes, orgID, now, p.accessTTL(aud))
}

// jwtAccessClaims is the claim set of every JWT access token Logto v1.37
// issued as observed (a user's resource and organization tokens, a
// machine-to-machine token): jti, sub, iat, exp, scope, client_id, iss,
// aud, and organization_id for an organization-scoped resource token.
// scope is "" on a user's token with no scope granted, and absent on a
// machine-to-machine token (sub == client_id) with none: Logto's
// client-credentials handler leaves it undefined there.
func jwtAccessClaims(iss, sub, clientID, aud string, scopes []string, orgID string, iat time.Time, ttl time.Duration) map[string]any {
	c := map[string]any{
		"jti":       randomID(21, nanoidABC),
		"sub":       sub,
		"iat":       iat.Unix(),
		"exp":       iat.Add(ttl).Unix(),
		"client_id": clientID,
		"iss":       iss,
		"aud":       aud,
	}
	if len(scopes) > 0 || sub != clientID {
		c["scope"] = strings.Join(scopes, " ")
	}
	if orgID != "" {
		c["organization_id"] = orgID
	}
	return c
}

// responseScopes are the scopes a token response lists when no resource is
// involved: the OIDC (Logto) scopes of the grant, never resource scopes
// (§6).
func responseScopes(scopes []string) []string {
	out := []string{}
	for _, s := range scopes {
		if contains(logtoScopes, s) {
			out = append(out, s)
		}
	}
	return out
}
