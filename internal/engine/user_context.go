package engine

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
)

// UserContext is what WithLogto puts in c.Locals: the Go counterpart of
// @logto/express's LogtoContext, with the same JSON field names, so a front
// end written against an Express backend reads it unchanged.
type UserContext struct {
	IsAuthenticated bool `json:"isAuthenticated"`
	// Claims are the verified ID token's claims as Logto sent them (Logto's
	// created_at and updated_at are in milliseconds). Decode them with
	// IDTokenClaims, or Claims.Decode into a struct of your own.
	Claims RawClaims `json:"claims,omitempty"`
	// UserInfo is Logto's userinfo answer when Config.FetchUserInfo is set.
	UserInfo RawClaims `json:"userInfo,omitempty"`
	// AccessToken is set when Config.GetAccessToken is.
	AccessToken string `json:"accessToken,omitempty"`
	// Scopes are the access token's scopes (the granted scopes for Logto's
	// opaque token, the resource's scopes for a resource token).
	Scopes []string `json:"scopes,omitempty"`
	// OrganizationTokens maps organization ID to token when
	// Config.GetOrganizationToken is set.
	OrganizationTokens map[string]string `json:"organizationTokens,omitempty"`

	sessionID string
	record    *sessionRecord
}

// signedIn is a UserContext allocated together with the record it was
// decoded from: one allocation for a signed-in request. It is never copied
// (the record's slices may point into itself).
type signedIn struct {
	UserContext
	rec sessionRecord
}

// RawClaims is a JSON object kept as the provider sent it. It marshals as
// itself, so answering c.JSON(user) costs no re-encoding of the claims.
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
		return errors.New("fiberlogto: no claims")
	}
	return json.Unmarshal(r, v)
}

// IDTokenClaims are the claims Logto puts in an ID token, by scope. Pointer
// fields are null or absent when Logto sends null or nothing.
type IDTokenClaims struct {
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	Audience string `json:"aud"`
	Expiry   int64  `json:"exp"`
	IssuedAt int64  `json:"iat"`
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

// Subject returns the user's ID ("" when anonymous).
func (u *UserContext) Subject() string {
	if u == nil || u.record == nil {
		return ""
	}
	return string(u.record.Subject)
}

// IDToken returns the raw ID token of the session ("" when anonymous).
func (u *UserContext) IDToken() string {
	if u == nil || u.record == nil {
		return ""
	}
	return string(u.record.IDToken)
}

// claimsJSON returns the JSON payload of a compact JWS. The signature has
// been checked by the caller.
func claimsJSON(jwt string) ([]byte, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil, errors.New("malformed JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, err
	}
	if !json.Valid(payload) {
		return nil, errors.New("JWT payload is not JSON")
	}
	return payload, nil
}
