package logtotest

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// Minting access tokens: the JWTs an API protected by Logto receives as
// bearer tokens, signed with the provider's active key exactly as its token
// endpoint signs them, without a sign-in or a token request. Logto v1.37
// issued these kinds, all with header {"alg","typ":"at+jwt","kid"} and
// claims jti, sub, iat, exp, scope, client_id, iss, aud (as observed):
//
//   - a user's token for an API resource: sub the user, client_id the
//     application the user signed in to, aud the resource indicator;
//   - an organization token: aud "urn:logto:organization:<id>", the
//     organization only there (no organization_id claim);
//   - an organization-scoped resource token: aud the resource, plus
//     organization_id;
//   - a machine-to-machine token: sub = client_id = the app, no
//     organization_id.
//
// The helpers mint what they are asked for: they do not check that the
// user is a member or that a role grants the scopes, so a test can also
// hand an API a token with scopes nobody granted.

// AccessToken describes a JWT access token for MintAccessToken. A field
// left zero gets what the token endpoint would put there; Edit and Signing
// forge what it never would.
type AccessToken struct {
	// Subject is sub. "" means ClientID, which makes a machine-to-machine
	// token (Logto's sub falls back to the client when there is no user).
	Subject string
	// ClientID is client_id; "" means the web application
	// (Provider.ClientID).
	ClientID string
	// Audience is aud, required: an API resource indicator, or
	// "urn:logto:organization:<id>" for an organization token.
	Audience string
	// Scopes are joined into scope. With none, a user's token has scope ""
	// and a machine-to-machine token (sub == client_id) no scope claim, as
	// Logto issues them.
	Scopes []string
	// OrganizationID, when set, adds organization_id, as on an
	// organization-scoped resource token.
	OrganizationID string
	// IssuedAt is iat; zero means now by Options.Clock. Put it in the past
	// for an expired token.
	IssuedAt time.Time
	// TTL sets exp = iat + TTL; zero means the lifetime the token endpoint
	// gives Audience (Options.ResourceAccessTokenTTL or AccessTokenTTL).
	TTL time.Duration
	// NotBefore, when set, adds nbf, which Logto never sends: a token that
	// is not valid yet.
	NotBefore time.Time
	// Edit, when set, changes the header (which starts as
	// {"alg","typ":"at+jwt","kid"} of the active key) and the claims just
	// before signing: another iss, typ "JWT", an unknown kid, a claim
	// deleted ...
	Edit func(header, claims map[string]any)
	// Signing is "" for a signature by the active key, or a Signing mode:
	// SigningForeignKey (a key not in the JWKS, same kid), SigningNone
	// (alg "none", no signature) or SigningHS256PublicKey (alg "HS256",
	// HMAC keyed with the public JWK). Edit runs after the mode has set
	// alg, so it can still change it.
	Signing string
}

// MintAccessToken signs the access token t describes with the provider's
// active key (or as t.Signing says). The provider must have its URL: iss
// is Provider.Issuer.
func (p *Provider) MintAccessToken(t AccessToken) (string, error) {
	if t.Audience == "" {
		return "", errors.New("logtotest: MintAccessToken needs an Audience")
	}
	alg := ""
	switch t.Signing {
	case "", SigningForeignKey:
	case SigningNone:
		alg = "none"
	case SigningHS256PublicKey:
		alg = "HS256"
	default:
		return "", fmt.Errorf("logtotest: unknown Signing %q", t.Signing)
	}
	base := p.baseURL()
	if base == "" {
		return "", errors.New("logtotest: the provider has no URL yet (Start or SetURL first)")
	}
	if t.ClientID == "" {
		t.ClientID = p.ClientID
	}
	if t.Subject == "" {
		t.Subject = t.ClientID
	}
	if t.IssuedAt.IsZero() {
		t.IssuedAt = p.now()
	}
	if t.TTL == 0 {
		t.TTL = p.accessTTL(t.Audience)
	}
	c := jwtAccessClaims(base+"/oidc", t.Subject, t.ClientID, t.Audience, t.Scopes, t.OrganizationID, t.IssuedAt, t.TTL)
	if !t.NotBefore.IsZero() {
		c["nbf"] = t.NotBefore.Unix()
	}
	edit := t.Edit
	if alg != "" {
		edit = func(header, claims map[string]any) {
			header["alg"] = alg
			if t.Edit != nil {
				t.Edit(header, claims)
			}
		}
	}
	return p.signEdited("at+jwt", c, edit, t.Signing)
}

// firstUser is the user the one-line helpers mint for: the first of
// Options.Users, DemoUser by default.
func (p *Provider) firstUser() string { return p.userOrder[0] }

// UserAccessToken mints the access token a user gets for an API resource:
// sub is the provider's first user (DemoUser unless Options.Users says
// otherwise), client_id the web application, aud resource, scope the
// scopes given. Use MintAccessToken for another user.
func (p *Provider) UserAccessToken(resource string, scopes ...string) (string, error) {
	if resource == "" {
		return "", errors.New("logtotest: UserAccessToken needs a resource")
	}
	return p.MintAccessToken(AccessToken{Subject: p.firstUser(), Audience: resource, Scopes: scopes})
}

// OrganizationToken mints the provider's first user's organization token
// for orgID: aud "urn:logto:organization:<orgID>", scope the organization
// scopes given, and no organization_id claim, as Logto issues it.
func (p *Provider) OrganizationToken(orgID string, scopes ...string) (string, error) {
	if orgID == "" {
		return "", errors.New("logtotest: OrganizationToken needs an organization ID")
	}
	return p.MintAccessToken(AccessToken{Subject: p.firstUser(), Audience: "urn:logto:organization:" + orgID, Scopes: scopes})
}

// OrganizationResourceToken mints the provider's first user's token for an
// API resource within organization orgID: aud resource, plus
// organization_id, as Logto issues it when a refresh sends both resource
// and organization_id.
func (p *Provider) OrganizationResourceToken(orgID, resource string, scopes ...string) (string, error) {
	if orgID == "" || resource == "" {
		return "", errors.New("logtotest: OrganizationResourceToken needs an organization ID and a resource")
	}
	return p.MintAccessToken(AccessToken{Subject: p.firstUser(), Audience: resource, Scopes: scopes, OrganizationID: orgID})
}

// MachineAccessToken mints the token the provider's first
// machine-to-machine app (DemoMachineApp unless Options.MachineApps says
// otherwise) gets with the client_credentials grant: sub = client_id = the
// app, aud resource, scope the scopes given (no scope claim with none).
func (p *Provider) MachineAccessToken(resource string, scopes ...string) (string, error) {
	if resource == "" {
		return "", errors.New("logtotest: MachineAccessToken needs a resource")
	}
	return p.MintAccessToken(AccessToken{ClientID: p.machineOrder[0], Audience: resource, Scopes: scopes})
}

// The Must variants are for tests: they fail t (t.Fatal) where the
// helpers return an error, and return the token.

// MustMintAccessToken is MintAccessToken that fails t on error.
func (p *Provider) MustMintAccessToken(t testing.TB, token AccessToken) string {
	t.Helper()
	return mustToken(t)(p.MintAccessToken(token))
}

// MustUserAccessToken is UserAccessToken that fails t on error.
func (p *Provider) MustUserAccessToken(t testing.TB, resource string, scopes ...string) string {
	t.Helper()
	return mustToken(t)(p.UserAccessToken(resource, scopes...))
}

// MustOrganizationToken is OrganizationToken that fails t on error.
func (p *Provider) MustOrganizationToken(t testing.TB, orgID string, scopes ...string) string {
	t.Helper()
	return mustToken(t)(p.OrganizationToken(orgID, scopes...))
}

// MustOrganizationResourceToken is OrganizationResourceToken that fails t
// on error.
func (p *Provider) MustOrganizationResourceToken(t testing.TB, orgID, resource string, scopes ...string) string {
	t.Helper()
	return mustToken(t)(p.OrganizationResourceToken(orgID, resource, scopes...))
}

// MustMachineAccessToken is MachineAccessToken that fails t on error.
func (p *Provider) MustMachineAccessToken(t testing.TB, resource string, scopes ...string) string {
	t.Helper()
	return mustToken(t)(p.MachineAccessToken(resource, scopes...))
}

func mustToken(t testing.TB) func(string, error) string {
	return func(token string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return token
	}
}
