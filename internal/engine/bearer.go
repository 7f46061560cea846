package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/fiberlogto/sdk/logto"
)

// API protection: a route that takes Logto access tokens (RFC 9068 JWTs)
// from Authorization: Bearer (RFC 6750), for single-page, mobile and
// machine-to-machine clients. The token is verified with the key set and
// discovery the sign-in routes use, once: a verified token is cached by its
// hash until it expires or its key leaves Logto's key set, so a client that
// sends the same token again costs a hash and a map lookup.

const (
	organizationAudiencePrefix = "urn:logto:organization:"
	// maxBearerToken bounds what is parsed: Logto's access tokens are about
	// 700 bytes.
	maxBearerToken = 8 << 10
)

// AccessTokenPolicy is a route's logto.AccessTokenOptions, checked at setup.
type AccessTokenPolicy struct {
	opts logto.AccessTokenOptions
	// scopeChallenge is the WWW-Authenticate of a 403: the scopes needed.
	scopeChallenge string
}

// NewAccessTokenPolicy checks opts, naming the field that is wrong.
func NewAccessTokenPolicy(opts logto.AccessTokenOptions) (*AccessTokenPolicy, error) {
	if opts.Resource != "" {
		if err := checkResource("logto.AccessTokenOptions.Resource", opts.Resource); err != nil {
			return nil, err
		}
	}
	switch {
	case opts.OrganizationParam != "" && opts.OrganizationID != "":
		return nil, fmt.Errorf("%w: AccessTokenOptions: set OrganizationParam or OrganizationID, not both", logto.ErrConfig)
	case opts.Resource == "" && opts.OrganizationParam == "" && opts.OrganizationID == "":
		return nil, fmt.Errorf("%w: AccessTokenOptions: set Resource (an API resource), or OrganizationParam or OrganizationID (organization permissions)", logto.ErrConfig)
	case opts.Callers < logto.Users || opts.Callers > logto.Machines:
		return nil, fmt.Errorf("%w: AccessTokenOptions.Callers: logto.Users, logto.UsersAndMachines or logto.Machines", logto.ErrConfig)
	}
	for _, s := range opts.Scopes {
		if s == "" || strings.ContainsAny(s, " \"\\") {
			return nil, fmt.Errorf("%w: AccessTokenOptions.Scopes: %q is not a scope", logto.ErrConfig, s)
		}
	}
	p := &AccessTokenPolicy{opts: opts}
	p.opts.Scopes = append([]string(nil), opts.Scopes...)
	p.scopeChallenge = `Bearer error="insufficient_scope", scope="` + strings.Join(opts.Scopes, " ") + `"`
	return p, nil
}

// AccessTokenPolicy is NewAccessTokenPolicy for this engine: personal
// access tokens need the app's credentials too (CheckExchange).
func (e *Engine) AccessTokenPolicy(opts logto.AccessTokenOptions) (*AccessTokenPolicy, error) {
	p, err := NewAccessTokenPolicy(opts)
	if err != nil {
		return nil, err
	}
	if opts.PersonalAccessTokens {
		if err := e.CheckExchange("AccessTokenOptions.PersonalAccessTokens"); err != nil {
			return nil, err
		}
	}
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
//
// A refusal is logged at Debug, one record naming the check that failed
// (check=aud, scope, organization, caller, exp, signature...), nothing of
// the token: refusals are the client's business, frequent and noisy, but an
// operator who turns Debug on sees why each one happened. A route whose
// OrganizationParam names no parameter it has is the app's mistake: 500
// and a record naming the setting.
func (e *Engine) CheckAccessToken(ctx context.Context, authorization []string, org string, p *AccessTokenPolicy) (*logto.AccessTokenClaims, *Answer) {
	if p.opts.OrganizationParam != "" && org == "" {
		err := fmt.Errorf("%w: AccessTokenOptions.OrganizationParam is %q, but the route has no such parameter (or it is empty): name the route's parameter, e.g. \"id\" for /orgs/:id (Fiber) or /orgs/{id} (net/http); with chi, set logtohttp.Config.PathValue to chi.URLParam", logto.ErrConfig, p.opts.OrganizationParam)
		e.logFailure(ctx, slog.LevelError, msgBearerRefused, err)
		return nil, (&Answer{Headers: []Header{{"Cache-Control", "no-store"}}}).fail(&apiRefusal{err})
	}
	claims, a := e.checkAccessToken(ctx, authorization, org, p)
	if a != nil {
		if status, _ := StatusOf(a.Err); status < 500 {
			check, _ := checkOf(a.Err)
			e.log.DebugContext(ctx, msgBearerRefused, "status", status, "check", check)
		} else {
			e.logFailure(ctx, slog.LevelWarn, msgBearerRefused, a.Err)
		}
	}
	return claims, a
}

func (e *Engine) checkAccessToken(ctx context.Context, authorization []string, org string, p *AccessTokenPolicy) (*logto.AccessTokenClaims, *Answer) {
	if len(authorization) == 0 {
		return nil, refuse(challengeNone, "missing", logto.ErrNotAuthenticated)
	}
	if len(authorization) > 1 {
		return nil, refuse(challengeBadRequest, "repeated parameter", fmt.Errorf("%w: %d Authorization headers", logto.ErrInvalidRequest, len(authorization)))
	}
	scheme, token, _ := strings.Cut(authorization[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		// Another scheme (Basic ...) is no bearer credential at all: no
		// error code (RFC 6750 section 3.1).
		return nil, refuse(challengeNone, "scheme", logto.ErrNotAuthenticated)
	}
	token = strings.TrimLeft(token, " ")
	if p.opts.PersonalAccessTokens && strings.HasPrefix(token, "pat_") {
		if !wellFormedPAT(token) {
			return nil, refuse(challengeInvalidToken, "format", fmt.Errorf("%w: not a personal access token", logto.ErrInvalidToken))
		}
		claims, err := e.personalAccessToken(ctx, token, p, org)
		return e.admitted(claims, err, org, p)
	}
	if len(token) == 0 || len(token) > maxBearerToken {
		return nil, refuse(challengeInvalidToken, "format", fmt.Errorf("%w: not a compact JWS", logto.ErrInvalidToken))
	}
	claims, err := e.verifiedAccessToken(ctx, token)
	return e.admitted(claims, err, org, p)
}

// admitted answers a verified token (or the error that verifying it ended
// on) on the route of p.
func (e *Engine) admitted(claims *logto.AccessTokenClaims, err error, org string, p *AccessTokenPolicy) (*logto.AccessTokenClaims, *Answer) {
	if err != nil {
		if providerFailure(err) || errors.Is(err, logto.ErrConfig) || errors.Is(err, logto.ErrTokenExchangeNotAllowed) || errors.Is(err, logto.ErrProviderResponse) {
			a := &Answer{Headers: []Header{{"Cache-Control", "no-store"}}}
			return nil, a.fail(&apiRefusal{err}) // Logto's failure or the app's mistake, not the token's: 5xx
		}
		check, _ := checkOf(err)
		return nil, refuse(challengeInvalidToken, check, err)
	}
	if err := p.admit(claims, org); err != nil {
		check, _ := checkOf(err)
		if errors.Is(err, logto.ErrInsufficientScope) {
			return nil, refuse(p.scopeChallenge, check, err)
		}
		return nil, refuse(challengeInvalidToken, check, err)
	}
	return claims, nil
}

// refuse answers a refused access token (RFC 6750 section 3): the
// challenge, and err tagged with the check that failed, for the log.
func refuse(challenge, check string, err error) *Answer {
	a := &Answer{Headers: []Header{{"WWW-Authenticate", challenge}, {"Cache-Control", "no-store"}}}
	return a.fail(&apiRefusal{because(check, err)})
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
func (p *AccessTokenPolicy) admit(t *logto.AccessTokenClaims, org string) error {
	o := &p.opts
	if o.OrganizationID != "" {
		org = o.OrganizationID
	}
	orgRoute := o.OrganizationParam != "" || o.OrganizationID != ""
	switch {
	case o.Resource == "": // organization permissions
		if !containsString(t.Audience, organizationAudiencePrefix+org) {
			return because("organization", fmt.Errorf("%w: not a token of this organization", logto.ErrInvalidToken))
		}
	case orgRoute: // an organization-level API resource
		if !containsString(t.Audience, o.Resource) {
			return because("aud", fmt.Errorf("%w: not a token of this API resource", logto.ErrInvalidToken))
		}
		if organizationClaim(t) != org {
			return because("organization", fmt.Errorf("%w: not a token of this API resource for this organization", logto.ErrInvalidToken))
		}
	default: // an API resource
		if !containsString(t.Audience, o.Resource) {
			return because("aud", fmt.Errorf("%w: not a token of this API resource", logto.ErrInvalidToken))
		}
		if t.OrganizationID != "" {
			return because("organization", fmt.Errorf("%w: an organization's token on a route of no organization", logto.ErrInvalidToken))
		}
	}
	if o.RefuseImpersonation && t.Actor != "" {
		return because("actor", fmt.Errorf("%w: a token of someone acting for its subject (act), on a route that refuses impersonation", logto.ErrInvalidToken))
	}
	switch {
	case o.Callers == logto.Users && t.Machine:
		return because("caller", fmt.Errorf("%w: a machine-to-machine token where only users' are accepted", logto.ErrInvalidToken))
	case o.Callers == logto.Machines && !t.Machine:
		return because("caller", fmt.Errorf("%w: a user's token where only machine-to-machine tokens are accepted", logto.ErrInvalidToken))
	}
	for _, s := range o.Scopes {
		if !t.HasScope(s) {
			return because("scope", fmt.Errorf("%w: %s", logto.ErrInsufficientScope, s))
		}
	}
	return nil
}

// organizationClaim is the token's organization_id claim: the
// organization of an organization-level API resource's token. (For an
// organization token, OrganizationID comes from aud, and aud names no API
// resource.)
func organizationClaim(t *logto.AccessTokenClaims) string {
	for _, aud := range t.Audience {
		if strings.HasPrefix(aud, organizationAudiencePrefix) {
			return ""
		}
	}
	return t.OrganizationID
}

// verifiedAccessToken returns the claims of a token whose signature, type,
// issuer and times check out, from the cache or by verifying it. What a
// route asks of it (audience, scopes...) is checked by the caller, on every
// request: one token may serve several routes.
func (e *Engine) verifiedAccessToken(ctx context.Context, token string) (*logto.AccessTokenClaims, error) {
	d, err := e.provider.get(ctx)
	if err != nil {
		return nil, err
	}
	key := e.tokens.keyOf(token)
	now := e.cfg.Now().Unix()
	if t, ok := e.tokens.get(key, now, d.keys); ok {
		return t, nil
	}
	// A cached token was well-formed when it was verified: the check of
	// its shape, a scan of every byte, runs on a miss only.
	if !wellFormedJWT(token) {
		return nil, because("format", fmt.Errorf("%w: not a compact JWS", logto.ErrInvalidToken))
	}
	ctx, cancel := context.WithTimeout(ctx, e.cfg.HTTPTimeout)
	defer cancel()
	t, thumb, err := e.verifyAccessToken(ctx, d, token, fromOutside)
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
	Act            *struct {
		Sub string `json:"sub"`
	} `json:"act"`
}

// verifyAccessToken verifies a token: a JWS signed with a key of Logto's
// key set and an algorithm of discovery's (never none, never HS*), typ
// at+jwt (so an ID token is never taken for an access token), iss exact,
// exp, nbf and iat within ClockSkew, sub and client_id present.
// src says where the token came from, for the key set's refetch budget:
// fromOutside for a bearer token, fromLogto for one Logto's token endpoint
// just issued (a token exchange).
func (e *Engine) verifyAccessToken(ctx context.Context, d *discovered, token string, src keySource) (*logto.AccessTokenClaims, string, error) {
	jws, err := jose.ParseSignedCompact(token, d.signingAlgs)
	if err != nil {
		return nil, "", because("format", fmt.Errorf("%w: %w", logto.ErrInvalidToken, err))
	}
	if len(jws.Signatures) != 1 {
		return nil, "", because("signature", fmt.Errorf("%w: not one signature", logto.ErrInvalidToken))
	}
	// RFC 9068 section 2.1: typ is at+jwt (application/at+jwt in full;
	// media types compare case-insensitively).
	typ, _ := jws.Signatures[0].Header.ExtraHeaders[jose.HeaderType].(string)
	if !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
		return nil, "", because("typ", fmt.Errorf("%w: typ is not at+jwt", logto.ErrInvalidToken))
	}
	payload, thumb, err := d.keys.verify(ctx, jws, src)
	if err != nil {
		if providerFailure(err) {
			return nil, "", err
		}
		return nil, "", because("signature", fmt.Errorf("%w: %w", logto.ErrInvalidToken, err))
	}
	var c accessTokenPayload
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, "", because("format", fmt.Errorf("%w: payload: %w", logto.ErrInvalidToken, err))
	}
	now := e.cfg.Now()
	skew := e.cfg.ClockSkew
	switch {
	case c.Issuer != e.provider.issuer():
		return nil, "", because("iss", fmt.Errorf("%w: iss", logto.ErrInvalidToken))
	case c.Expiry == nil || !time.Unix(*c.Expiry, 0).Add(skew).After(now):
		return nil, "", because("exp", fmt.Errorf("%w: expired or no exp", logto.ErrInvalidToken))
	case c.NotBefore != nil && time.Unix(*c.NotBefore, 0).After(now.Add(skew)):
		return nil, "", because("nbf", fmt.Errorf("%w: not valid yet (nbf)", logto.ErrInvalidToken))
	case c.IssuedAt == nil || time.Unix(*c.IssuedAt, 0).After(now.Add(skew)):
		return nil, "", because("iat", fmt.Errorf("%w: iat missing or in the future", logto.ErrInvalidToken))
	case !validIdentifier(c.Subject) || !validIdentifier(c.ClientID):
		return nil, "", because("sub", fmt.Errorf("%w: sub or client_id missing or invalid", logto.ErrInvalidToken))
	case len(c.Audience) == 0:
		return nil, "", because("aud", fmt.Errorf("%w: no aud", logto.ErrInvalidToken))
	}
	t := &logto.AccessTokenClaims{
		Issuer: c.Issuer, Subject: c.Subject, ClientID: c.ClientID, Audience: c.Audience,
		OrganizationID: c.OrganizationID, JTI: c.JTI,
		IssuedAt: *c.IssuedAt, Expiry: *c.Expiry, Machine: c.Subject == c.ClientID, Raw: payload,
	}
	if c.NotBefore != nil {
		t.NotBefore = *c.NotBefore
	}
	if c.Act != nil {
		if !validIdentifier(c.Act.Sub) {
			return nil, "", because("act", fmt.Errorf("%w: act without a valid sub", logto.ErrInvalidToken))
		}
		t.Actor = c.Act.Sub
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
