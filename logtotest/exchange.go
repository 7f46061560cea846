package logtotest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// Token exchange (RFC 8693) as Logto v1.37 does it (§18, and Logto's
// oidc/grants/token-exchange): an app allowed to exchange tokens
// (Options.AllowTokenExchange, MachineApp.AllowTokenExchange) trades a
// user's subject token for an access token of that user, issued to the
// app. zitadel's op refuses the token types Logto defines before any
// op.Server method runs, so this grant never reaches op: POST /oidc/token
// with grant_type=urn:ietf:params:oauth:grant-type:token-exchange is
// answered here, with op's client authentication rules (Basic credentials
// form-urldecoded, or client_id and client_secret in the body).

// The token exchange grant type and the subject token types Logto accepts.
const (
	// GrantTypeTokenExchange is RFC 8693's grant_type.
	GrantTypeTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	// TokenTypeAccessToken is the subject_token_type of an impersonation
	// subject token (SubjectToken, "sub_..."), and the actor_token_type of
	// an actor token (ActorToken). Logto v1.37 exchanges no other access
	// token by default (its ACCESS_TOKEN_EXCHANGE_ENABLED is off): any
	// other is invalid_grant.
	TokenTypeAccessToken = "urn:ietf:params:oauth:token-type:access_token"
	// TokenTypePersonalAccessToken is the subject_token_type of a personal
	// access token (PersonalAccessToken, "pat_...").
	TokenTypePersonalAccessToken = "urn:logto:token-type:personal_access_token"
	// TokenTypeImpersonationToken is Logto's older, deprecated
	// subject_token_type of an impersonation subject token, still
	// accepted: the token is looked up as a subject token whatever its
	// prefix.
	TokenTypeImpersonationToken = "urn:logto:token-type:impersonation_token"
)

// opTokenEndpoint is op's token endpoint, for every grant but token
// exchange.
var opTokenEndpoint = http.StripPrefix("/oidc", opHandler)

// handleToken is POST /oidc/token: the token exchange grant here, every
// other grant op's.
func (p *Provider) handleToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Form.Get("grant_type") != GrantTypeTokenExchange {
		opTokenEndpoint.ServeHTTP(w, r)
		return
	}
	resp, err := p.tokenExchange(r)
	if err != nil {
		return // the answer is the error p.fail set
	}
	body, err := p.tokenBody(resp)
	if err != nil {
		p.writeError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, body)
}

// exchangeClient authenticates the client of a token exchange request the
// way op authenticates the other grants' (VerifyClient), and reports
// whether it may exchange tokens.
func (p *Provider) exchangeClient(ctx context.Context, r *http.Request) (op.Client, bool, error) {
	if r.Form.Get("client_assertion") != "" {
		return nil, false, p.fail(ctx, http.StatusBadRequest, "invalid_request", "client assertions are not supported by logtotest", nil)
	}
	id, secret, basic := r.BasicAuth()
	if basic {
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			return nil, false, p.fail(ctx, http.StatusBadRequest, "invalid_request", "invalid basic authorization header", nil)
		}
	} else {
		id, secret = r.Form.Get("client_id"), r.Form.Get("client_secret")
	}
	if id == "" {
		return nil, false, p.fail(ctx, http.StatusBadRequest, "invalid_request", "no client authentication mechanism provided", nil)
	}
	c := p.authenticate(id, secret)
	if c == nil {
		return nil, false, p.clientAuthFailed(ctx, id)
	}
	allowed := p.opts.AllowTokenExchange
	if mc, ok := c.(*machineClient); ok {
		allowed = mc.app.AllowTokenExchange
	}
	return c, allowed, nil
}

// exchangeParams are the parameters of Logto's token exchange grant that
// may appear once (resource may appear more, to be refused).
var exchangeParams = []string{"subject_token", "subject_token_type", "actor_token", "actor_token_type", "organization_id", "scope"}

// tokenExchange is grant_type=urn:ietf:params:oauth:grant-type:token-exchange,
// in the order Logto checks:
//
//   - client authentication (401 invalid_client), then the app must be
//     allowed to exchange tokens (400 invalid_request "requested grant type
//     is not allowed for this client", as observed);
//   - subject_token and subject_token_type are required (400
//     invalid_request), a parameter sent twice is 400 invalid_request;
//   - the subject token: a subject token (sub_..., single use, 600 s) with
//     TokenTypeAccessToken or TokenTypeImpersonationToken, or a personal
//     access token with TokenTypePersonalAccessToken. Unknown, expired,
//     used, or of another type: 400 invalid_grant "grant request is
//     invalid", the one answer Logto gives (the reason goes to
//     Options.Logger);
//   - organization_id: the user must be a member (403 access_denied);
//   - resource: one, registered (400 invalid_target);
//   - actor_token: with actor_token_type TokenTypeAccessToken, a live
//     opaque access token with the openid scope (the acting user's, from a
//     sign-in without resource; ActorToken), else 400 invalid_grant.
//
// What is issued, to the exchanging app (client_id), for the subject
// token's user (sub):
//
//   - resource R: a JWT for R, scope the requested scopes the user's roles
//     grant on R (in the order requested, "" when none), organization_id
//     when organization_id was sent too; it lives as R's tokens do;
//   - organization_id O alone: a JWT for urn:logto:organization:O, scope the
//     user's organization scopes that were requested;
//   - neither: an opaque access token (usable at /oidc/me), scope the
//     requested OpenID Connect scopes.
//
// An actor adds "act":{"sub":"<actor>"} to the JWT. The response is
// {"access_token","expires_in","scope","token_type":"Bearer"}, no refresh
// or ID token. A subject token is used up only by a successful exchange.
func (p *Provider) tokenExchange(r *http.Request) (*tokenResponse, error) {
	ctx := r.Context()
	c, allowed, err := p.exchangeClient(ctx, r)
	if err != nil {
		return nil, err
	}
	if !allowed {
		if c.GetID() == p.ClientID {
			setReason(ctx, "the web application may not exchange tokens: set Options.AllowTokenExchange")
		} else {
			setReason(ctx, "machine-to-machine app %q may not exchange tokens: set its MachineApp.AllowTokenExchange", c.GetID())
		}
		return nil, p.fail(ctx, http.StatusBadRequest, "invalid_request", "requested grant type is not allowed for this client", nil)
	}
	form := r.Form
	for _, k := range exchangeParams {
		if len(form[k]) > 1 {
			return nil, p.fail(ctx, http.StatusBadRequest, "invalid_request", "'"+k+"' parameter must only be provided once", nil)
		}
	}
	var missing []string
	for _, k := range []string{"subject_token", "subject_token_type"} {
		if form.Get(k) == "" {
			missing = append(missing, "'"+k+"'")
		}
	}
	switch len(missing) {
	case 1:
		return nil, p.fail(ctx, http.StatusBadRequest, "invalid_request", "missing required parameter "+missing[0], nil)
	case 2:
		return nil, p.fail(ctx, http.StatusBadRequest, "invalid_request", "missing required parameters "+missing[0]+" and "+missing[1], nil)
	}
	resources := form["resource"]
	if len(resources) > 1 {
		return nil, p.fail(ctx, http.StatusBadRequest, "invalid_target", "only a single resource indicator value is supported", nil)
	}
	res := ""
	if len(resources) == 1 {
		res = resources[0]
	}
	orgID := form.Get("organization_id")
	requested := strings.Fields(form.Get("scope"))
	actor, actorType := form.Get("actor_token"), form.Get("actor_token_type")
	now := p.now()

	p.mu.Lock()
	userID, st, reason := p.subjectLocked(form.Get("subject_token"), form.Get("subject_token_type"), now)
	if reason != "" {
		p.mu.Unlock()
		setReason(ctx, "%s", reason)
		return nil, p.invalidGrant(ctx)
	}
	u := p.users[userID]
	if u == nil {
		p.mu.Unlock()
		setReason(ctx, "subject token invalid (referenced account %q not found)", userID)
		return nil, p.invalidGrant(ctx)
	}
	if orgID != "" && !contains(u.Organizations, orgID) {
		p.mu.Unlock()
		setReason(ctx, "user %q is not a member of organization %q", u.ID, orgID)
		return nil, p.notMember(ctx)
	}
	if res != "" && !p.resources[res] {
		p.mu.Unlock()
		return nil, p.invalidTarget(ctx, "resource %q is not among Options.Resources", res)
	}
	actorID, reason := p.actorLocked(actor, actorType, now)
	if reason != "" {
		p.mu.Unlock()
		setReason(ctx, "%s", reason)
		return nil, p.invalidGrant(ctx)
	}

	var claims map[string]any
	var scopes []string
	resp := &tokenResponse{TokenType: "Bearer"}
	iss := p.base + "/oidc"
	switch {
	case res != "":
		scopes = intersect(requested, p.scopesForResource(u, res))
		claims = jwtAccessClaims(iss, u.ID, c.GetID(), res, scopes, orgID, now, p.accessTTL(res))
	case orgID != "":
		aud := "urn:logto:organization:" + orgID
		scopes = intersect(u.OrganizationScopes, requested)
		claims = jwtAccessClaims(iss, u.ID, c.GetID(), aud, scopes, "", now, p.accessTTL(aud))
	default:
		scopes = intersect(requested, logtoScopes)
		g := &grant{id: randomID(21, nanoidABC), clientID: c.GetID(), userID: u.ID, scopes: scopes}
		p.grants[g.id] = g
		resp.AccessToken = p.newOpaqueAccessTokenLocked(g, now)
		resp.ExpiresIn = int64(p.opts.AccessTokenTTL / time.Second)
	}
	if claims != nil && actorID != "" {
		claims["act"] = map[string]any{"sub": actorID}
	}
	if st != nil {
		st.consumed = true
	}
	p.mu.Unlock()

	resp.Scope = strings.Join(scopes, " ")
	if claims != nil {
		ttl := p.accessTTL(claims["aud"].(string)) // before a Misbehavior hook can change aud
		if resp.AccessToken, err = p.signAccessToken(claims); err != nil {
			return nil, err
		}
		resp.ExpiresIn = int64(ttl / time.Second)
	}
	return resp, nil
}

// subjectLocked validates a subject token as Logto's validateSubjectToken
// does, and returns its user and, for a subject token (sub_...), the
// record to use up. reason, in Logto's words, says why it is refused.
func (p *Provider) subjectLocked(token, typ string, now time.Time) (string, *subjectToken, string) {
	switch typ {
	case TokenTypeImpersonationToken:
	case TokenTypeAccessToken:
		if !strings.HasPrefix(token, "sub_") {
			return "", nil, "unsupported subject token type: Logto v1.37 exchanges no access token but an impersonation subject token (sub_...) unless ACCESS_TOKEN_EXCHANGE_ENABLED is set"
		}
	case TokenTypePersonalAccessToken:
		pat := p.pats[token]
		switch {
		case pat == nil:
			return "", nil, "subject token not found (no such personal access token)"
		case !pat.expires.IsZero() && !now.Before(pat.expires):
			return "", nil, "subject token is expired (personal access token " + pat.name + ")"
		}
		return pat.userID, nil, ""
	default:
		return "", nil, fmt.Sprintf("unsupported subject token type %q", typ)
	}
	st := p.subjectTokens[token]
	switch {
	case st == nil:
		return "", nil, "subject token not found"
	case !now.Before(st.expires):
		return "", nil, "subject token is expired"
	case st.consumed:
		return "", nil, "subject token is already consumed"
	}
	return st.userID, st, ""
}

// actorLocked validates an actor token as Logto's handleActorToken does:
// none is fine; one must come with actor_token_type TokenTypeAccessToken
// and be a live opaque access token of a user, with the openid scope.
func (p *Provider) actorLocked(token, typ string, now time.Time) (string, string) {
	if token == "" {
		return "", ""
	}
	if typ != TokenTypeAccessToken {
		return "", fmt.Sprintf("unsupported actor token type %q", typ)
	}
	at := p.accessTokens[token]
	var g *grant
	if at != nil && !at.revoked && now.Before(at.expires) {
		g = p.grants[at.grantID]
	}
	switch {
	case g == nil || g.revoked || p.users[g.userID] == nil:
		return "", "invalid actor token: not a live opaque access token (a JWT, expired, revoked or unknown)"
	case !contains(at.scopes, "openid"):
		return "", "actor token must have openid scope"
	}
	return g.userID, ""
}

// TokenExchange is a token exchange request, for ExchangeToken: what an app
// sends to Logto's token endpoint to trade a user's token for an access
// token.
type TokenExchange struct {
	// SubjectToken is the token exchanged: a subject token (SubjectToken)
	// or a personal access token (PersonalAccessToken).
	SubjectToken string
	// SubjectTokenType is subject_token_type; "" means
	// TokenTypePersonalAccessToken for a token starting with "pat_", else
	// TokenTypeAccessToken.
	SubjectTokenType string
	// ActorToken, when set, is sent as actor_token with actor_token_type
	// TokenTypeAccessToken: the acting user's opaque access token
	// (ActorToken), named in the issued token's act claim.
	ActorToken string
	// Resource is the API resource indicator the token is for, and
	// OrganizationID the organization; with neither the token is opaque.
	Resource, OrganizationID string
	// Scopes are the scopes asked for.
	Scopes []string
	// ClientID and ClientSecret authenticate the exchanging app
	// (client_secret_basic). An empty ClientID means the web application;
	// an empty ClientSecret the registered secret of ClientID. The app
	// must be allowed to exchange tokens (Options.AllowTokenExchange,
	// MachineApp.AllowTokenExchange).
	ClientID, ClientSecret string
}

// ExchangeToken exchanges a token at the provider's token endpoint, as an
// app does, and returns the access token issued. The request goes to
// Handler in process (it counts in Calls("token"), and Misbehavior
// applies); a refusal is an error that quotes the provider's answer.
func (p *Provider) ExchangeToken(ctx context.Context, x TokenExchange) (string, error) {
	if x.SubjectToken == "" {
		return "", errors.New("logtotest: ExchangeToken needs a SubjectToken")
	}
	base := p.baseURL()
	if base == "" {
		return "", errors.New("logtotest: the provider has no URL yet (Start or SetURL first)")
	}
	if x.SubjectTokenType == "" {
		x.SubjectTokenType = TokenTypeAccessToken
		if strings.HasPrefix(x.SubjectToken, "pat_") {
			x.SubjectTokenType = TokenTypePersonalAccessToken
		}
	}
	if x.ClientID == "" {
		x.ClientID = p.ClientID
	}
	if x.ClientSecret == "" {
		x.ClientSecret = p.ClientSecret
		if app := p.machines[x.ClientID]; app != nil {
			x.ClientSecret = app.Secret
		}
	}
	form := url.Values{
		"grant_type":         {GrantTypeTokenExchange},
		"subject_token":      {x.SubjectToken},
		"subject_token_type": {x.SubjectTokenType},
	}
	for k, v := range map[string]string{"resource": x.Resource, "organization_id": x.OrganizationID,
		"scope": strings.Join(x.Scopes, " "), "actor_token": x.ActorToken} {
		if v != "" {
			form.Set(k, v)
		}
	}
	if x.ActorToken != "" {
		form.Set("actor_token_type", TokenTypeAccessToken)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/oidc/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(x.ClientID), url.QueryEscape(x.ClientSecret))
	rec := httptest.NewRecorder()
	p.Handler().ServeHTTP(rec, req)
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.AccessToken == "" {
		return "", fmt.Errorf("logtotest: token exchange: %d %s", rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	return body.AccessToken, nil
}

// MustExchangeToken is ExchangeToken that fails t on error.
func (p *Provider) MustExchangeToken(t testing.TB, x TokenExchange) string {
	t.Helper()
	return mustToken(t)(p.ExchangeToken(t.Context(), x))
}
