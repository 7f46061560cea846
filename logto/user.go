package logto

import (
	"bytes"
	"encoding/json"
	"errors"
)

// UserContext is what an adapter's middleware gives every request (read it
// with the adapter's User): the Go counterpart of @logto/express's
// LogtoContext, with the same JSON field names, so a front end written
// against an Express backend reads it unchanged.
//
// The UserContext an adapter gives is read-only: a signed-in request's may
// be shared with the other requests of the same session (decoded once,
// while the stored session stays the same), an anonymous request's with
// every anonymous request. An adapter's Fetch works on a copy of its own;
// code that changes fields copies it first (u := *User(c)).
type UserContext struct {
	// IsAuthenticated reports a signed-in user with a live session.
	IsAuthenticated bool `json:"isAuthenticated"`
	// Claims are the verified ID token's claims as Logto sent them
	// (Logto's created_at and updated_at are in milliseconds). Decode them
	// with IDTokenClaims, or Claims.Decode into a struct of your own.
	Claims RawClaims `json:"claims,omitempty"`
	// UserInfo is Logto's userinfo answer, with Config.FetchUserInfo or
	// FetchOptions.UserInfo.
	UserInfo RawClaims `json:"userInfo,omitempty"`
	// AccessToken is set with Config.GetAccessToken or
	// FetchOptions.AccessToken.
	AccessToken string `json:"accessToken,omitempty"`
	// Scopes are the access token's scopes (the granted scopes for Logto's
	// opaque token, the resource's scopes for a resource token).
	Scopes []string `json:"scopes,omitempty"`
	// OrganizationTokens maps organization ID to token, with
	// Config.GetOrganizationToken or FetchOptions.OrganizationTokens.
	OrganizationTokens map[string]string `json:"organizationTokens,omitempty"`
	// Subject is the user's ID, the ID token's sub ("" when anonymous).
	// It is in Claims too; it is not written as JSON.
	Subject string `json:"-"`
	// IDToken is the session's raw ID token ("" when anonymous), for an
	// id_token_hint of your own. It is never written as JSON.
	IDToken string `json:"-"`
}

// IDTokenClaims decodes the ID token's claims. It returns nil for an
// anonymous user.
func (u *UserContext) IDTokenClaims() *IDTokenClaims {
	if u == nil || len(u.Claims) == 0 {
		return nil
	}
	var c IDTokenClaims
	if err := json.Unmarshal(u.Claims, &c); err != nil {
		return nil
	}
	return &c
}

// DisplayName is what to call the user: the name claim, else the
// username, else the email address, else the subject ("" when anonymous).
func (u *UserContext) DisplayName() string {
	c := u.IDTokenClaims()
	if c == nil {
		return u.subject()
	}
	for _, v := range []*string{c.Name, c.Username, c.Email} {
		if v != nil && *v != "" {
			return *v
		}
	}
	if c.Subject != "" {
		return c.Subject
	}
	return u.subject()
}

func (u *UserContext) subject() string {
	if u == nil {
		return ""
	}
	return u.Subject
}

// RawClaims is a JSON object kept as Logto sent it. It marshals as itself,
// so encoding a UserContext costs no re-encoding of the claims.
type RawClaims []byte

// MarshalJSON returns the raw claims (or null).
func (r RawClaims) MarshalJSON() ([]byte, error) {
	if len(r) == 0 {
		return []byte("null"), nil
	}
	return r, nil
}

// UnmarshalJSON keeps a copy of the raw object.
func (r *RawClaims) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*r = nil
		return nil
	}
	*r = append((*r)[:0], b...)
	return nil
}

// Decode unmarshals the claims into v.
func (r RawClaims) Decode(v any) error {
	if len(r) == 0 {
		return errors.New("logto: no claims")
	}
	return json.Unmarshal(r, v)
}

// IDTokenClaims are the claims Logto puts in an ID token, by scope. Pointer
// fields are nil when Logto sends null or nothing.
type IDTokenClaims struct {
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	Audience string `json:"aud"`
	Expiry   int64  `json:"exp"`
	IssuedAt int64  `json:"iat"`
	// AuthTime is when the user last signed in with credentials (unix
	// seconds), sent when the sign-in asked for it (max_age).
	AuthTime int64  `json:"auth_time,omitempty"`
	SID      string `json:"sid,omitempty"`
	// profile
	Name     *string `json:"name"`
	Picture  *string `json:"picture"`
	Username *string `json:"username"`
	// CreatedAt and UpdatedAt are epoch milliseconds, as Logto sends them.
	CreatedAt int64 `json:"created_at,omitempty"`
	UpdatedAt int64 `json:"updated_at,omitempty"`
	// email, phone
	Email               *string `json:"email,omitempty"`
	EmailVerified       bool    `json:"email_verified,omitempty"`
	PhoneNumber         *string `json:"phone_number,omitempty"`
	PhoneNumberVerified bool    `json:"phone_number_verified,omitempty"`
	// roles, organizations
	Roles             []string       `json:"roles,omitempty"`
	Organizations     []string       `json:"organizations,omitempty"`
	OrganizationRoles []string       `json:"organization_roles,omitempty"`
	CustomData        map[string]any `json:"custom_data,omitempty"`
}

// FetchOptions ask for more than the claims: an access token, organization
// tokens, Logto's userinfo. Config sets them for every request; an
// adapter's Fetch sets them for one route, as @logto/express's per-route
// withLogto config does.
type FetchOptions struct {
	// UserInfo fills UserContext.UserInfo (cached for Config.UserInfoTTL).
	UserInfo bool
	// AccessToken fills UserContext.AccessToken and Scopes: the JWT for
	// Resource when set, Logto's opaque token otherwise.
	AccessToken bool
	// Resource is the API resource the access token is for. It must be in
	// Config.Resources (or be Config.Resource): Logto only gives tokens for
	// resources requested at sign-in.
	Resource string
	// OrganizationTokens fills UserContext.OrganizationTokens for
	// OrganizationID, or for every organization in the claims. It needs
	// ScopeOrganizations in Config.Scopes.
	OrganizationTokens bool
	// OrganizationID restricts OrganizationTokens to one organization.
	OrganizationID string
}
