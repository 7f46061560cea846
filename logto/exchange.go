package logto

import "time"

// Token types of token exchange (RFC 8693 section 3, and Logto's own), for
// TokenExchangeRequest.SubjectTokenType and ActorTokenType.
const (
	// TokenTypeAccessToken: an access token. As a subject token, Logto
	// takes the impersonation subject tokens its Management API makes
	// (POST /api/subject-tokens {"userId": ...}: "sub_...", single use,
	// 10 minutes); as an actor token, the acting user's opaque access
	// token (a sign-in without resource gets one).
	TokenTypeAccessToken = "urn:ietf:params:oauth:token-type:access_token"
	// TokenTypePersonalAccessToken: a user's personal access token
	// ("pat_...", made by the Management API).
	TokenTypePersonalAccessToken = "urn:logto:token-type:personal_access_token"
	// TokenTypeImpersonation: Logto's impersonation token.
	TokenTypeImpersonation = "urn:logto:token-type:impersonation_token"
)

// TokenExchangeRequest asks Logto for an access token in exchange for
// another token (RFC 8693, Logto's /oidc/token with grant_type
// urn:ietf:params:oauth:grant-type:token-exchange), with the app's
// credentials (Config.AppID, AppSecret; Logto must allow token exchange for
// the app). An adapter's ExchangeToken sends it.
type TokenExchangeRequest struct {
	// SubjectToken is the token exchanged: whose the issued token is.
	//
	// Required.
	SubjectToken string
	// SubjectTokenType is SubjectToken's type.
	//
	// Optional. Default: TokenTypeAccessToken
	SubjectTokenType string
	// Resource is the API resource the issued token is for; or set
	// OrganizationID for an organization token (or both, for an
	// organization-level API resource).
	Resource string
	// OrganizationID is the organization the issued token is for.
	OrganizationID string
	// Scopes asked for: the token grants those of them the subject has.
	Scopes []string
	// ActorToken is who acts for the subject: the issued token then
	// carries act.sub (AccessTokenClaims.Actor).
	//
	// Optional. Default: none, or the signed-in user's with
	// SignedInUserActs
	ActorToken string
	// ActorTokenType is ActorToken's type.
	//
	// Optional. Default: TokenTypeAccessToken
	ActorTokenType string
	// SignedInUserActs makes the signed-in user of the request the actor:
	// their session's opaque access token is the actor token (refreshed
	// when it expires). The request must be signed in.
	SignedInUserActs bool
}

// ExchangedToken is what a token exchange issued: the access token, and
// its claims as verified (signature, issuer, times), the actor included.
type ExchangedToken struct {
	AccessToken string             `json:"accessToken"`
	ExpiresAt   time.Time          `json:"expiresAt"`
	Claims      *AccessTokenClaims `json:"claims"`
}
