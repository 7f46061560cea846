package engine

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unsafe"

	jose "github.com/go-jose/go-jose/v4"
)

// API protection: a route that takes Logto access tokens (RFC 9068 JWTs)
// from Authorization: Bearer (RFC 6750), for single-page, mobile and
// machine-to-machine clients. The token is verified with the key set and
// discovery the sign-in routes use, once: a verified token is cached by its
// hash until it expires or its key leaves Logto's key set, so a client that
// sends the same token again costs a hash and a map lookup.

// Callers says whose access tokens a route accepts.
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

// AccessTokenOptions say what a protected route accepts. The three
// permission models of Logto:
//
//   - an API resource: Resource set, no organization. aud must contain
//     Resource; the token must not be an organization's.
//   - organization permissions: Resource empty, OrganizationParam or
//     OrganizationID set. aud must be urn:logto:organization:<id>.
//   - an organization-level API resource: Resource and an organization set.
//     aud must contain Resource and organization_id must be the
//     organization.
//
// Every scope in Scopes must be granted (the token's scope claim).
type AccessTokenOptions struct {
	// Resource is the API resource indicator the token must be for, e.g.
	// "https://api.example.com".
	Resource string
	// Scopes the token must all grant, e.g. "read:data".
	Scopes []string
	// OrganizationParam is the route parameter holding the organization
	// ID, e.g. "id" for /api/organizations/:id/data.
	OrganizationParam string
	// OrganizationID is a fixed organization, instead of a parameter.
	OrganizationID string
	// Callers says whose tokens are accepted: Users (the default),
	// UsersAndMachines or Machines.
	Callers Callers
}

// AccessTokenClaims are a verified access token's claims.
type AccessTokenClaims struct {
	Issuer   string
	Subject  string // the user's ID, or a machine-to-machine app's
	ClientID string // the app the token was issued to
	Audience []string
	Scopes   []string
	// OrganizationID is the organization the token is for: from aud for
	// an organization token, from organization_id for an
	// organization-level API resource's; "" otherwise.
	OrganizationID string
	JTI            string
	IssuedAt       int64 // unix seconds
	NotBefore      int64 // unix seconds, 0 when absent
	Expiry         int64 // unix seconds
	// Machine reports a machine-to-machine token (client credentials):
	// sub is the client's own ID.
	Machine bool
	// Raw is the token's payload as Logto sent it.
	Raw RawClaims

	organizationClaim string // organization_id
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

// Errors of API protection (RFC 6750 section 3.1).
var (
	// ErrInvalidToken: the access token is malformed, expired, not Logto's,
	// or not for this route (401, error="invalid_token").
	ErrInvalidToken = errors.New("the access token is invalid")
	// ErrInsufficientScope: the access token lacks a scope the route needs
	// (403, error="insufficient_scope").
	ErrInsufficientScope = errors.New("the access token lacks a required permission")
	// ErrInvalidRequest: the request's credentials are malformed, e.g. two
	// Authorization headers (400, error="invalid_request").
	ErrInvalidRequest = errors.New("the request is malformed")
)

const (
	organizationAudiencePrefix = "urn:logto:organization:"
	// maxBearerToken bounds what is parsed: Logto's access tokens are about
	// 700 bytes.
	maxBearerToken = 8 << 10
)

// AccessTokenPolicy is a route's AccessTokenOptions, checked at setup.
type AccessTokenPolicy struct {
	opts AccessTokenOptions
	// scopeChallenge is the WWW-Authenticate of a 403: the scopes needed.
	scopeChallenge string
}

// NewAccessTokenPolicy checks opts, naming the field that is wrong.
func NewAccessTokenPolicy(opts AccessTokenOptions) (*AccessTokenPolicy, error) {
	if opts.Resource != "" {
		if err := checkResource("AccessTokenOptions.Resource", opts.Resource); err != nil {
			return nil, err
		}
	}
	switch {
	case opts.OrganizationParam != "" && opts.OrganizationID != "":
		return nil, fmt.Errorf("%w: AccessTokenOptions: set OrganizationParam or OrganizationID, not both", ErrConfig)
	case opts.Resource == "" && opts.OrganizationParam == "" && opts.OrganizationID == "":
		return nil, fmt.Errorf("%w: AccessTokenOptions: set Resource (an API resource), or OrganizationParam or OrganizationID (organization permissions)", ErrConfig)
	case opts.Callers < Users || opts.Callers > Machines:
		return nil, fmt.Errorf("%w: AccessTokenOptions.Callers: Users, UsersAndMachines or Machines", ErrConfig)
	}
	for _, s := range opts.Scopes {
		if s == "" || strings.ContainsAny(s, " \"\\") {
			return nil, fmt.Errorf("%w: AccessTokenOptions.Scopes: %q is not a scope", ErrConfig, s)
		}
	}
	p := &AccessTokenPolicy{opts: opts}
	p.opts.Scopes = append([]string(nil), opts.Scopes...)
	p.scopeChallenge = `Bearer error="insufficient_scope", scope="` + strings.Join(opts.Scopes, " ") + `"`
	return p, nil
}

// OrganizationParam is the route parameter the adapter reads, if any.
func (p *AccessTokenPolicy) OrganizationParam() string { return p.opts.OrganizationParam }

// Challenges of RFC 6750 section 3.
const (
	challengeNone         = "Bearer"
	challengeInvalidToken = `Bearer error="invalid_token"`
	challengeBadRequest   = `Bearer error="invalid_request"`
)

// CheckAccessToken verifies the request's Authorization headers against
// the route's policy; org is the organization the route names (its
// OrganizationParam's value). It returns the token's claims, or what to
// answer: 401 without a token or with an invalid one, 403 when a scope is
// missing, 400 for malformed credentials; with WWW-Authenticate (RFC 6750
// section 3) and an error for the error handler. Nothing of the token is
// echoed.
func (e *Engine) CheckAccessToken(ctx context.Context, authorization []string, org string, p *AccessTokenPolicy) (*AccessTokenClaims, *Answer) {
	if len(authorization) == 0 {
		return nil, refuse(challengeNone, ErrNotAuthenticated)
	}
	if len(authorization) > 1 {
		return nil, refuse(challengeBadRequest, fmt.Errorf("%w: %d Authorization headers", ErrInvalidRequest, len(authorization)))
	}
	scheme, token, _ := strings.Cut(authorization[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		// Another scheme (Basic ...) is no bearer credential at all: no
		// error code (RFC 6750 section 3.1).
		return nil, refuse(challengeNone, ErrNotAuthenticated)
	}
	token = strings.TrimLeft(token, " ")
	if !wellFormedJWT(token) {
		return nil, refuse(challengeInvalidToken, fmt.Errorf("%w: not a compact JWS", ErrInvalidToken))
	}
	claims, err := e.verifiedAccessToken(ctx, token)
	if err != nil {
		if providerFailure(err) {
			a := &Answer{}
			return nil, a.fail(err) // Logto's failure, not the token's: 503 or 504
		}
		return nil, refuse(challengeInvalidToken, err)
	}
	if err := p.admit(claims, org); err != nil {
		if errors.Is(err, ErrInsufficientScope) {
			return nil, refuse(p.scopeChallenge, err)
		}
		return nil, refuse(challengeInvalidToken, err)
	}
	return claims, nil
}

func refuse(challenge string, err error) *Answer {
	a := &Answer{Headers: []Header{{"WWW-Authenticate", challenge}, {"Cache-Control", "no-store"}}}
	return a.fail(&apiRefusal{err})
}

// apiRefusal marks an error of an API route: the default error handler
// answers it in JSON whatever the Accept header says (curl's */* would
// otherwise get the HTML page).
type apiRefusal struct{ err error }

func (r *apiRefusal) Error() string { return r.err.Error() }
func (r *apiRefusal) Unwrap() error { return r.err }

// ForAPI reports whether err is an API route's refusal, to be answered in
// JSON.
func ForAPI(err error) bool {
	var r *apiRefusal
	return errors.As(err, &r)
}

// wellFormedJWT checks, before anything is decoded, that token can be a
// compact JWS: three base64url parts, within maxBearerToken.
func wellFormedJWT(token string) bool {
	if len(token) == 0 || len(token) > maxBearerToken {
		return false
	}
	dots := 0
	for i := 0; i < len(token); i++ {
		switch c := token[i]; {
		case c == '.':
			dots++
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return dots == 2
}

// admit checks a verified token against the route: audience, organization,
// caller kind, scopes.
func (p *AccessTokenPolicy) admit(t *AccessTokenClaims, org string) error {
	o := &p.opts
	if o.OrganizationID != "" {
		org = o.OrganizationID
	}
	orgRoute := o.OrganizationParam != "" || o.OrganizationID != ""
	if orgRoute && org == "" {
		return fmt.Errorf("%w: the route names no organization", ErrInvalidToken)
	}
	switch {
	case o.Resource == "": // organization permissions
		if !containsString(t.Audience, organizationAudiencePrefix+org) {
			return fmt.Errorf("%w: not a token of this organization", ErrInvalidToken)
		}
	case orgRoute: // an organization-level API resource
		if !containsString(t.Audience, o.Resource) || t.organizationClaim != org {
			return fmt.Errorf("%w: not a token of this API resource for this organization", ErrInvalidToken)
		}
	default: // an API resource
		if !containsString(t.Audience, o.Resource) {
			return fmt.Errorf("%w: not a token of this API resource", ErrInvalidToken)
		}
		if t.OrganizationID != "" {
			return fmt.Errorf("%w: an organization's token on a route of no organization", ErrInvalidToken)
		}
	}
	switch {
	case o.Callers == Users && t.Machine:
		return fmt.Errorf("%w: a machine-to-machine token where only users' are accepted", ErrInvalidToken)
	case o.Callers == Machines && !t.Machine:
		return fmt.Errorf("%w: a user's token where only machine-to-machine tokens are accepted", ErrInvalidToken)
	}
	for _, s := range o.Scopes {
		if !t.HasScope(s) {
			return fmt.Errorf("%w: %s", ErrInsufficientScope, s)
		}
	}
	return nil
}

// verifiedAccessToken returns the claims of a token whose signature, type,
// issuer and times check out, from the cache or by verifying it. What a
// route asks of it (audience, scopes...) is checked by the caller, on every
// request: one token may serve several routes.
func (e *Engine) verifiedAccessToken(ctx context.Context, token string) (*AccessTokenClaims, error) {
	d, err := e.provider.get(ctx)
	if err != nil {
		return nil, err
	}
	// SHA-256, not a faster hash: the cache holds no token a memory dump
	// could replay, as the session store holds no session ID. A view of
	// the string, not a copy: the hash only reads it.
	key := sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
	now := e.cfg.Now().Unix()
	if t, ok := e.tokens.get(key, now, d.keys); ok {
		return t, nil
	}
	ctx, cancel := context.WithTimeout(ctx, e.cfg.HTTPTimeout)
	defer cancel()
	t, thumb, err := e.verifyAccessToken(ctx, d, token)
	if err != nil {
		return nil, err
	}
	e.tokens.put(key, t, thumb, d.keys.version.Load(), now)
	return t, nil
}

// accessTokenPayload is the payload of a Logto access token (RFC 9068
// section 2.2, Logto's additions).
type accessTokenPayload struct {
	Issuer         string   `json:"iss"`
	Subject        string   `json:"sub"`
	ClientID       string   `json:"client_id"`
	Audience       audience `json:"aud"`
	Scope          *string  `json:"scope"`
	OrganizationID string   `json:"organization_id"`
	JTI            string   `json:"jti"`
	IssuedAt       *int64   `json:"iat"`
	NotBefore      *int64   `json:"nbf"`
	Expiry         *int64   `json:"exp"`
}

// verifyAccessToken verifies a token: a JWS signed with a key of Logto's
// key set and an algorithm of discovery's (never none, never HS*), typ
// at+jwt (so an ID token is never taken for an access token), iss exact,
// exp, nbf and iat within ClockSkew, sub and client_id present.
func (e *Engine) verifyAccessToken(ctx context.Context, d *discovered, token string) (*AccessTokenClaims, string, error) {
	jws, err := jose.ParseSignedCompact(token, d.signingAlgs)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if len(jws.Signatures) != 1 {
		return nil, "", fmt.Errorf("%w: not one signature", ErrInvalidToken)
	}
	// RFC 9068 section 2.1: typ is at+jwt (application/at+jwt in full;
	// media types compare case-insensitively).
	typ, _ := jws.Signatures[0].Header.ExtraHeaders[jose.HeaderType].(string)
	if !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
		return nil, "", fmt.Errorf("%w: typ is not at+jwt", ErrInvalidToken)
	}
	payload, thumb, err := d.keys.verify(ctx, jws, fromOutside)
	if err != nil {
		if providerFailure(err) {
			return nil, "", err
		}
		return nil, "", fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	var c accessTokenPayload
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, "", fmt.Errorf("%w: payload: %w", ErrInvalidToken, err)
	}
	now := e.cfg.Now()
	skew := e.cfg.ClockSkew
	switch {
	case c.Issuer != e.provider.issuer():
		return nil, "", fmt.Errorf("%w: iss", ErrInvalidToken)
	case c.Expiry == nil || !time.Unix(*c.Expiry, 0).Add(skew).After(now):
		return nil, "", fmt.Errorf("%w: expired or no exp", ErrInvalidToken)
	case c.NotBefore != nil && time.Unix(*c.NotBefore, 0).After(now.Add(skew)):
		return nil, "", fmt.Errorf("%w: not valid yet (nbf)", ErrInvalidToken)
	case c.IssuedAt == nil || time.Unix(*c.IssuedAt, 0).After(now.Add(skew)):
		return nil, "", fmt.Errorf("%w: iat missing or in the future", ErrInvalidToken)
	case !validIdentifier(c.Subject) || !validIdentifier(c.ClientID):
		return nil, "", fmt.Errorf("%w: sub or client_id missing or invalid", ErrInvalidToken)
	case len(c.Audience) == 0:
		return nil, "", fmt.Errorf("%w: no aud", ErrInvalidToken)
	}
	t := &AccessTokenClaims{
		Issuer: c.Issuer, Subject: c.Subject, ClientID: c.ClientID, Audience: c.Audience,
		OrganizationID: c.OrganizationID, organizationClaim: c.OrganizationID, JTI: c.JTI,
		IssuedAt: *c.IssuedAt, Expiry: *c.Expiry, Machine: c.Subject == c.ClientID, Raw: payload,
	}
	if c.NotBefore != nil {
		t.NotBefore = *c.NotBefore
	}
	if c.Scope != nil {
		t.Scopes = strings.Fields(*c.Scope)
	}
	for _, aud := range c.Audience {
		if org, ok := strings.CutPrefix(aud, organizationAudiencePrefix); ok {
			t.OrganizationID = org
		}
	}
	return t, thumb, nil
}
