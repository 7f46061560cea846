package tutorial

import (
	"html"
	"strings"
	"time"

	"github.com/fiberlogto/sdk/logto"
)

// What the tutorial's routes answer, the same bytes on every framework.
// Each route also sets Cache-Control: no-store; the JSON ones have
// Content-Type application/json (without charset, as fiberlogto's own
// answers).

// HomePage is the page GET / shows user (Content-Type text/html;
// charset=utf-8): a sign-in link, or a greeting and a sign-out link.
func HomePage(user *logto.UserContext) string {
	var b strings.Builder
	b.WriteString("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>fiberlogto example</title></head><body>\n")
	if !user.IsAuthenticated {
		b.WriteString(`<p><a href="/logto/sign-in">Sign In</a></p>`)
	} else {
		b.WriteString("<p>Hello, " + html.EscapeString(user.DisplayName()) + "</p>\n")
		b.WriteString(`<ul><li><a href="/user">/user</a></li><li><a href="/user/info">/user/info</a></li>` +
			`<li><a href="/protected">/protected</a></li><li><a href="/access-token">/access-token</a></li>` +
			`<li><a href="/account/security">/account/security</a></li></ul>` + "\n")
		b.WriteString(`<p><a href="/logto/sign-out">Sign Out</a></p>`)
	}
	b.WriteString("\n</body></html>\n")
	return b.String()
}

// Protected is what GET /protected shows a signed-in user (text/plain).
const Protected = "protected resource"

// RecentSignIn is how recent a sign-in GET /account/security wants
// (RequireRecentSignIn): older, or without auth_time, a browser goes
// through sign-in again with max_age=300 and comes back, an API client
// gets 401.
const RecentSignIn = 5 * time.Minute

// SecurityPage is the page GET /account/security shows a user who signed
// in within RecentSignIn (Content-Type text/html; charset=utf-8): a stand-in
// for the settings an app guards that way (password, MFA, deleting the
// account).
func SecurityPage(user *logto.UserContext) string {
	return "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Security settings</title></head><body>\n" +
		"<p>Security settings for " + html.EscapeString(user.DisplayName()) + "</p>\n" +
		`<p><a href="/">Home</a></p>` + "\n</body></html>\n"
}

// ErrorJSON is the JSON of the routes' 400 answers.
type ErrorJSON struct {
	Error string `json:"error"`
}

var (
	// NoOrganizationsScope is GET /organization-token's 400 answer when
	// LOGTO_SCOPES lacks the organizations scope.
	NoOrganizationsScope = ErrorJSON{"add " + logto.ScopeOrganizations + " to LOGTO_SCOPES for organization tokens"}
	// NoResource is GET /access-token's 400 answer without LOGTO_RESOURCE.
	NoResource = ErrorJSON{"no API resource configured: set LOGTO_RESOURCE to an API identifier registered in Logto"}
)

// AccessTokenJSON is GET /access-token's answer.
type AccessTokenJSON struct {
	AccessToken string   `json:"accessToken"`
	Scopes      []string `json:"scopes"`
}

// AccessToken is GET /access-token's answer for user, after the route's
// Fetch of an access token: the token and its scopes ([] rather than null).
func AccessToken(user *logto.UserContext) AccessTokenJSON {
	scopes := user.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	return AccessTokenJSON{AccessToken: user.AccessToken, Scopes: scopes}
}

// OrganizationTokensJSON is GET /organization-token's answer.
type OrganizationTokensJSON struct {
	OrganizationTokens map[string]string `json:"organizationTokens"`
}

// OrganizationTokens is GET /organization-token's answer for user, after
// the route's Fetch of organization tokens: a token by organization ID ({}
// rather than null).
func OrganizationTokens(user *logto.UserContext) OrganizationTokensJSON {
	tokens := user.OrganizationTokens
	if tokens == nil {
		tokens = map[string]string{}
	}
	return OrganizationTokensJSON{OrganizationTokens: tokens}
}

// APIDataJSON is GET /api/data's answer: who called, with which scopes,
// and whether it is a machine-to-machine app.
type APIDataJSON struct {
	Sub      string   `json:"sub"`
	ClientID string   `json:"clientId"`
	Scopes   []string `json:"scopes"`
	M2M      bool     `json:"m2m"`
}

// APIData is GET /api/data's answer for a verified access token.
func APIData(t *logto.AccessTokenClaims) APIDataJSON {
	return APIDataJSON{Sub: t.Subject, ClientID: t.ClientID, Scopes: nonNil(t.Scopes), M2M: t.Machine}
}

// OrganizationDataJSON is GET /api/organizations/:id/data's answer.
type OrganizationDataJSON struct {
	Sub            string   `json:"sub"`
	OrganizationID string   `json:"organizationId"`
	Scopes         []string `json:"scopes"`
}

// OrganizationData is GET /api/organizations/:id/data's answer for a
// verified organization token.
func OrganizationData(t *logto.AccessTokenClaims) OrganizationDataJSON {
	return OrganizationDataJSON{Sub: t.Subject, OrganizationID: t.OrganizationID, Scopes: nonNil(t.Scopes)}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// The example's API: what each route accepts. /api/data takes a user's or a
// machine-to-machine app's token for LOGTO_RESOURCE with read:data, or a
// user's personal access token (pat_..., exchanged at Logto with the app's
// credentials for such a token); /api/organizations/:id/data an
// organization token for :id with read:org.
const (
	ScopeReadData = "read:data"
	ScopeReadOrg  = "read:org"
)

// APIDataPolicy is /api/data's: resource is LOGTO_RESOURCE.
func APIDataPolicy(resource string) logto.AccessTokenOptions {
	return logto.AccessTokenOptions{Resource: resource, Scopes: []string{ScopeReadData}, Callers: logto.UsersAndMachines,
		PersonalAccessTokens: true}
}

// OrganizationDataPolicy is /api/organizations/:id/data's.
var OrganizationDataPolicy = logto.AccessTokenOptions{OrganizationParam: "id", Scopes: []string{ScopeReadOrg}}
