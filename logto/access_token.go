package logto

// Callers says whose access tokens a route accepts
// (AccessTokenOptions.Callers).
type Callers int

const (
	// Users accepts tokens Logto issued to a user (sub is the user's ID):
	// the default.
	Users Callers = iota
	// UsersAndMachines accepts users' and machine-to-machine apps' tokens.
	UsersAndMachines
	// Machines accepts only machine-to-machine apps' tokens (client
	// credentials: sub is the app's ID, the same as client_id).
	Machines
)

// AccessTokenOptions say what a route protected by an adapter's
// RequireAccessToken accepts, in Logto's three permission models:
//
//   - an API resource: Resource set, no organization. aud must contain
//     Resource; the token must not be an organization's.
//   - organization permissions: Resource empty, OrganizationParam or
//     OrganizationID set. aud must be urn:logto:organization:<id>.
//   - an organization-level API resource: Resource and an organization
//     set. aud must contain Resource and organization_id must be the
//     organization.
//
// Every scope in Scopes must be granted (the token's scope claim). The
// options are checked when the route is built: a mistake panics there,
// naming the field.
type AccessTokenOptions struct {
	// Resource is the API resource indicator the token must be for, e.g.
	// "https://api.example.com".
	Resource string
	// Scopes the token must all grant, e.g. "read:data".
	Scopes []string
	// OrganizationParam is the route parameter holding the organization
	// ID, e.g. "id" for /api/organizations/:id/data (Fiber) or
	// /api/organizations/{id}/data (net/http).
	OrganizationParam string
	// OrganizationID is a fixed organization, instead of a parameter.
	OrganizationID string
	// Callers says whose tokens are accepted: Users (the default),
	// UsersAndMachines or Machines.
	Callers Callers
	// PersonalAccessTokens also accepts a user's personal access token
	// (Authorization: Bearer pat_...): it is exchanged at Logto for an
	// access token for the route's resource (and organization), which
	// then passes the same checks as any. The exchange needs the app's
	// credentials (Config.AppID, AppSecret) with token exchange allowed for
	// it in Logto. Exchanged tokens are cached (by a hash of the personal
	// access token) until they expire; concurrent requests with one token
	// make one exchange; a refused one is remembered for a while, and
	// exchanges are limited to exchangesPerSecond across the process, so a
	// flood of made-up tokens cannot turn into a flood of calls to Logto.
	PersonalAccessTokens bool
	// RefuseImpersonation refuses a token issued to someone acting for its
	// subject (an act claim: token exchange with an actor, impersonation).
	RefuseImpersonation bool
}

// AccessTokenClaims are a verified access token's claims, as an adapter's
// AccessToken returns them to a route behind RequireAccessToken. Its JSON
// uses the same style as UserContext's.
type AccessTokenClaims struct {
	// Issuer is Logto's issuer (Config.Endpoint + "/oidc").
	Issuer string `json:"issuer"`
	// Subject is the user's ID, or a machine-to-machine app's.
	Subject string `json:"subject"`
	// ClientID is the app the token was issued to.
	ClientID string `json:"clientId"`
	// Audience holds the resource indicator(s) the token is for.
	Audience []string `json:"audience"`
	// Scopes are the granted scopes.
	Scopes []string `json:"scopes,omitempty"`
	// OrganizationID is the organization the token is for: from aud for
	// an organization token, from organization_id for an
	// organization-level API resource's; "" otherwise.
	OrganizationID string `json:"organizationId,omitempty"`
	// JTI is the token's ID.
	JTI string `json:"jti,omitempty"`
	// IssuedAt, NotBefore (0 when absent) and Expiry are unix seconds.
	IssuedAt  int64 `json:"issuedAt"`
	NotBefore int64 `json:"notBefore,omitempty"`
	Expiry    int64 `json:"expiresAt"`
	// Machine reports a machine-to-machine token (client credentials):
	// sub is the client's own ID.
	Machine bool `json:"machine"`
	// Actor is who acts for Subject (the act claim's sub, RFC 8693
	// section 4.1): a support agent impersonating the user through token
	// exchange. "" when the subject acts for itself.
	Actor string `json:"actor,omitempty"`
	// Raw is the token's payload as Logto sent it.
	Raw RawClaims `json:"claims"`
}

// HasScope reports whether the token grants scope.
func (t *AccessTokenClaims) HasScope(scope string) bool {
	for _, s := range t.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}
