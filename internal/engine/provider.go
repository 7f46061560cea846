package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/client"
	"github.com/zitadel/oidc/v3/pkg/client/rp"
	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"

	"github.com/fiberlogto/sdk/logto"
)

// provider is the only part of the package that talks to Logto. It runs
// discovery lazily and once: Logto being down when the app starts must not
// stop the app, and a discovered configuration (endpoints, key set, HTTP
// client) is shared by every request, never rebuilt per request.
type provider struct {
	cfg *settings

	current atomic.Pointer[discovered]

	mu          sync.Mutex // guards the fields below
	inflight    *discovery
	lastAttempt time.Time
	lastErr     error

	failing lastingFailure // for the log
}

// discovery is one discovery attempt under way.
type discovery struct {
	done chan struct{}
	d    *discovered
	err  error
}

// discovered is what one successful discovery yields.
type discovered struct {
	rp            rp.RelyingParty
	authURL       string
	tokenURL      string
	endSessionURL string
	revokeURL     string
	// verifier checks callback ID tokens against the transaction's nonce.
	verifier *rp.IDTokenVerifier
	// refreshVerifier checks refreshed ID tokens; their nonce is checked
	// against the stored one by verifyRefreshedIDToken.
	refreshVerifier *rp.IDTokenVerifier
	// keys and signingAlgs verify other JWTs from Logto (logout tokens).
	keys        *keySet
	signingAlgs []jose.SignatureAlgorithm
}

type nonceKey struct{}

func newProvider(cfg *settings) *provider {
	return &provider{cfg: cfg}
}

func (p *provider) issuer() string { return p.cfg.Endpoint + "/oidc" }

// get returns the discovered configuration, running discovery when there is
// none and the last failure is older than DiscoveryRetryInterval.
//
// Discovery runs on a context of its own, bounded by HTTPTimeout, and every
// request that needs it waits for the same attempt until its own ctx ends: a
// request cancelled by its client must not fail discovery for everyone.
func (p *provider) get(ctx context.Context) (*discovered, error) {
	if d := p.current.Load(); d != nil {
		return d, nil
	}
	p.mu.Lock()
	if d := p.current.Load(); d != nil {
		p.mu.Unlock()
		return d, nil
	}
	run := p.inflight
	if run == nil {
		now := p.cfg.Now()
		if p.lastErr != nil && now.Sub(p.lastAttempt) < p.cfg.DiscoveryRetryInterval {
			err := p.lastErr
			p.mu.Unlock()
			return nil, because("discovery", err)
		}
		p.lastAttempt = now
		run = &discovery{done: make(chan struct{})}
		p.inflight = run
		go p.runDiscovery(run)
	}
	p.mu.Unlock()
	select {
	case <-run.done:
		if run.err != nil {
			return nil, because("discovery", run.err)
		}
		return run.d, nil
	case <-ctx.Done():
		return nil, because("discovery", fmt.Errorf("%w: waiting for discovery: %w", logto.ErrProviderTimeout, ctx.Err()))
	}
}

func (p *provider) runDiscovery(run *discovery) {
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.HTTPTimeout)
	defer cancel()
	run.d, run.err = p.discover(ctx)
	if run.err != nil {
		msg := msgDiscoveryFailed
		if errors.Is(run.err, logto.ErrConfig) {
			msg = msgConfigError // a server that is not Logto: the operator's to fix
		}
		p.failing.fail(p.cfg.Logger, p.cfg.Now(), msg, "issuer", p.issuer(),
			"error", run.err.Error(), "retry_after", p.cfg.DiscoveryRetryInterval.String())
	} else {
		p.failing.recover(p.cfg.Logger, msgDiscoveryOK)
	}
	p.mu.Lock()
	if run.err == nil {
		p.current.Store(run.d)
	}
	p.lastErr = run.err
	p.inflight = nil
	p.mu.Unlock()
	close(run.done)
}

func (p *provider) discover(ctx context.Context) (*discovered, error) {
	dc, err := p.fetchDiscovery(ctx)
	if err != nil {
		return nil, err
	}
	if dc.AuthorizationEndpoint == "" || dc.TokenEndpoint == "" || dc.JwksURI == "" {
		return nil, fmt.Errorf("%w: discovery lacks the authorization, token or JWKS endpoint", logto.ErrProviderUnavailable)
	}
	// Our own key set rather than zitadel's: it rate-limits refetches for
	// unknown kids and skips keys it cannot use instead of failing.
	ks := newKeySet(dc.JwksURI, p.cfg.HTTPClient, p.cfg.HTTPTimeout, p.cfg.Now)
	ks.log = p.cfg.Logger
	// Loaded in the background: the sign-in redirect, which verifies
	// nothing, never waits for the JWKS; the first verification waits for
	// this fetch if it is still under way.
	ks.warm()
	d := &discovered{
		authURL:       dc.AuthorizationEndpoint,
		tokenURL:      dc.TokenEndpoint,
		endSessionURL: dc.EndSessionEndpoint,
		revokeURL:     dc.RevocationEndpoint,
		keys:          ks,
	}
	// Logto signs with ES384; the algorithms come from discovery, never
	// from the token. Logto's keys are public keys: an algorithm that is
	// not a public-key signature (none, HS256 keyed with the public key)
	// has no place here, whatever discovery says.
	var algs []string
	for _, alg := range dc.IDTokenSigningAlgValuesSupported {
		if asymmetricAlg(alg) {
			algs = append(algs, alg)
			d.signingAlgs = append(d.signingAlgs, jose.SignatureAlgorithm(alg))
		}
	}
	if len(algs) == 0 {
		algs = []string{"RS256"} // the OpenID Connect default
		d.signingAlgs = []jose.SignatureAlgorithm{jose.RS256}
	}
	if p.cfg.AppID == "" {
		return d, nil // API protection only: no sign-in, no client of our own
	}
	relying, err := rp.NewRelyingPartyOAuth(&oauth2.Config{
		ClientID:     p.cfg.AppID,
		ClientSecret: p.cfg.AppSecret,
		RedirectURL:  p.cfg.redirectURI(),
		Scopes:       p.cfg.scopes(),
		Endpoint:     oauth2.Endpoint{AuthURL: dc.AuthorizationEndpoint, TokenURL: dc.TokenEndpoint},
	}, rp.WithHTTPClient(p.cfg.HTTPClient), rp.WithAuthStyle(oauth2.AuthStyleInHeader))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", logto.ErrConfig, err)
	}
	d.rp = userInfoRP{RelyingParty: relying, endpoint: dc.UserinfoEndpoint}
	// Every ID token verified here came from Logto's token endpoint: an
	// unknown kid in one is a rotation, picked up at once (see keySet).
	v := rp.NewIDTokenVerifier(p.issuer(), p.cfg.AppID, logtoKeys{ks},
		rp.WithSupportedSigningAlgorithms(algs...),
		rp.WithIssuedAtOffset(p.cfg.ClockSkew),
		rp.WithIssuedAtMaxAge(10*time.Minute),
		rp.WithNonce(func(ctx context.Context) string {
			n, _ := ctx.Value(nonceKey{}).(string)
			return n
		}),
	)
	d.verifier = v
	rv := *v
	rv.Nonce = nil
	d.refreshVerifier = &rv
	return d, nil
}

// maxDiscoveryBytes bounds the discovery document (Logto's is about 3 KiB).
const maxDiscoveryBytes = 1 << 20

// fetchDiscovery reads Logto's discovery document. A server that answers
// but has no such document (404, or a page that is not JSON) is a
// configuration error: Endpoint does not point at Logto. Unreachable, slow
// or failing (5xx) is Logto being unavailable, retried later. A document
// naming another issuer is never used (fail closed, 503).
func (p *provider) fetchDiscovery(ctx context.Context) (*oidc.DiscoveryConfiguration, error) {
	wellKnown := p.issuer() + oidc.DiscoveryEndpoint
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, wellKnown, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: discovery: %w", logto.ErrConfig, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: discovery: %w", classifyTransport(err), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDiscoveryBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: discovery: %w", classifyTransport(err), err)
	}
	switch {
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return nil, fmt.Errorf("%w: discovery answered %s", logto.ErrProviderUnavailable, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%w: Endpoint %q answers %s for %s: it is not a Logto endpoint (Logto Cloud's looks like https://<tenant>.logto.app, a self-hosted one like http://localhost:3001)",
			logto.ErrConfig, p.cfg.Endpoint, resp.Status, wellKnown)
	case len(body) > maxDiscoveryBytes:
		return nil, fmt.Errorf("%w: discovery document too large", logto.ErrProviderResponse)
	}
	dc := new(oidc.DiscoveryConfiguration)
	if err := json.Unmarshal(body, dc); err != nil {
		return nil, fmt.Errorf("%w: Endpoint %q answers %s with something that is not a discovery document: it is not a Logto endpoint",
			logto.ErrConfig, p.cfg.Endpoint, wellKnown)
	}
	if dc.Issuer != p.issuer() {
		return nil, fmt.Errorf("%w: discovery names issuer %q, not %q", logto.ErrProviderUnavailable, dc.Issuer, p.issuer())
	}
	return dc, nil
}

// asymmetricAlg reports whether alg is a public-key JWS algorithm (RFC 7518
// section 3.1: RS*, PS*, ES*; RFC 8037: EdDSA).
func asymmetricAlg(alg string) bool {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA":
		return true
	}
	return false
}

// userInfoRP gives rp.Userinfo the endpoint from our discovery.
type userInfoRP struct {
	rp.RelyingParty
	endpoint string
}

func (u userInfoRP) UserinfoEndpoint() string { return u.endpoint }

// tokenSet is what a token response yields after verification.
type tokenSet struct {
	AccessToken  string
	RefreshToken string
	IDToken      string
	Scope        string
	ExpiresAt    time.Time
	Claims       *oidc.IDTokenClaims
	RawClaims    []byte
}

// exchangeCode swaps the authorization code for tokens and verifies the ID
// token, nonce included.
func (p *provider) exchangeCode(ctx context.Context, code, verifier, nonce string) (*tokenSet, error) {
	d, err := p.get(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.HTTPTimeout)
	defer cancel()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, p.cfg.HTTPClient)
	var opts []oauth2.AuthCodeOption
	if verifier != "" {
		opts = append(opts, oauth2.VerifierOption(verifier))
	}
	tok, err := d.rp.OAuthConfig().Exchange(ctx, code, opts...)
	if err != nil {
		return nil, classifyTokenError(err)
	}
	ts, err := p.verifyTokenResponse(context.WithValue(ctx, nonceKey{}, nonce), d, d.verifier, tok, true)
	if err != nil {
		return nil, err
	}
	return ts, nil
}

// refreshRequest is a refresh_token grant with Logto's resource and
// organization_id parameters, which rp.RefreshTokens cannot send.
type refreshRequest struct {
	GrantType      string `schema:"grant_type"`
	RefreshToken   string `schema:"refresh_token"`
	Resource       string `schema:"resource,omitempty"`
	OrganizationID string `schema:"organization_id,omitempty"`
}

type tokenCaller struct {
	url    string
	client *http.Client
}

func (t tokenCaller) TokenEndpoint() string    { return t.url }
func (t tokenCaller) HttpClient() *http.Client { return t.client } //nolint:revive // zitadel's interface

// refresh runs a refresh_token grant. A returned ID token is verified and must
// keep the session's subject (OIDC Core 12.2); its nonce, when present, must
// be the one of the sign-in. When the ID token cannot be verified for a
// reason that may pass (the key set cannot be fetched), the error wraps
// logto.ErrProviderUnavailable or logto.ErrProviderTimeout and the token set holds the
// refresh token of the answer only.
func (p *provider) refresh(ctx context.Context, refreshToken, resource, organizationID, subject, nonce string) (*tokenSet, error) {
	d, err := p.get(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.HTTPTimeout)
	defer cancel()
	req := refreshRequest{
		GrantType:      string(oidc.GrantTypeRefreshToken),
		RefreshToken:   refreshToken,
		Resource:       resource,
		OrganizationID: organizationID,
	}
	tok, err := client.CallTokenEndpointWithAuthFn(ctx, req,
		httphelper.AuthorizeBasic(p.cfg.AppID, p.cfg.AppSecret),
		tokenCaller{url: d.tokenURL, client: p.cfg.HTTPClient})
	if err != nil {
		return nil, classifyTokenError(err)
	}
	ts, err := p.verifyTokenResponse(ctx, d, d.refreshVerifier, tok, false)
	if err != nil {
		if ts != nil && providerFailure(err) {
			// Logto answered, but its ID token could not be checked for a
			// reason that may pass (the JWKS is unreachable). Logto may
			// have rotated the refresh token already: its successor comes
			// back with the error, alone, so the session can keep it.
			return &tokenSet{RefreshToken: ts.RefreshToken}, err
		}
		return nil, err
	}
	if ts.Claims != nil {
		if ts.Claims.Subject != subject {
			return nil, because("id_token.sub", fmt.Errorf("%w: refreshed ID token has another subject", logto.ErrInvalidIDToken))
		}
		if ts.Claims.Nonce != "" && ts.Claims.Nonce != nonce {
			return nil, because("id_token.nonce", fmt.Errorf("%w: refreshed ID token has another nonce", logto.ErrInvalidIDToken))
		}
	}
	return ts, nil
}

// verifyTokenResponse checks the shape of a token response and, when it holds
// an ID token (required if needIDToken), verifies it.
func (p *provider) verifyTokenResponse(ctx context.Context, d *discovered, v *rp.IDTokenVerifier, tok *oauth2.Token, needIDToken bool) (*tokenSet, error) {
	if tok.AccessToken == "" {
		return nil, fmt.Errorf("%w: token response has no access_token", logto.ErrProviderResponse)
	}
	if tt := tok.TokenType; tt != "" && !strings.EqualFold(tt, "bearer") {
		return nil, fmt.Errorf("%w: token_type %q", logto.ErrProviderResponse, tt)
	}
	ts := &tokenSet{
		AccessToken:  tok.AccessToken,
		RefreshToken: tok.RefreshToken,
		ExpiresAt:    p.cfg.Now().Add(expiresIn(tok)),
	}
	if s, ok := tok.Extra("scope").(string); ok {
		ts.Scope = s
	}
	idToken, _ := tok.Extra("id_token").(string)
	if idToken == "" {
		if needIDToken {
			return nil, fmt.Errorf("%w: token response has no id_token", logto.ErrProviderResponse)
		}
		return ts, nil
	}
	claims, err := rp.VerifyTokens[*oidc.IDTokenClaims](ctx, tok.AccessToken, idToken, v)
	if err != nil {
		if providerFailure(err) {
			// The JWKS could not be fetched: not the token's fault. The
			// refresh token comes back with the error (see refresh).
			return &tokenSet{RefreshToken: tok.RefreshToken}, because("jwks", err)
		}
		return nil, because(idTokenCheck(err), fmt.Errorf("%w: %w", logto.ErrInvalidIDToken, err))
	}
	if err := p.checkIDTokenExtras(claims); err != nil {
		return nil, err
	}
	raw, err := claimsJSON(idToken)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", logto.ErrInvalidIDToken, err)
	}
	ts.IDToken = idToken
	ts.Claims = claims
	ts.RawClaims = raw
	return ts, nil
}

// expiresIn reads the token's lifetime. Without expires_in, Logto's default
// lifetime is assumed rather than "never".
func expiresIn(tok *oauth2.Token) time.Duration {
	if tok.ExpiresIn > 0 {
		return time.Duration(tok.ExpiresIn) * time.Second
	}
	switch v := tok.Extra("expires_in").(type) {
	case float64:
		if v > 0 {
			return time.Duration(v) * time.Second
		}
	case json.Number:
		if n, err := v.Int64(); err == nil && n > 0 {
			return time.Duration(n) * time.Second
		}
	case string:
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
			return time.Duration(n) * time.Second
		}
	}
	return time.Hour
}

// checkIDTokenExtras adds what zitadel's verifier leaves out: the audience
// must be this app alone (OIDC Core 3.1.3.7 item 3: no untrusted audience),
// nbf must have passed and sub must not be empty.
func (p *provider) checkIDTokenExtras(claims *oidc.IDTokenClaims) error {
	if len(claims.Audience) != 1 || claims.Audience[0] != p.cfg.AppID {
		return because("id_token.aud", fmt.Errorf("%w: aud must be exactly the app ID", logto.ErrInvalidIDToken))
	}
	if !validIdentifier(claims.Subject) {
		return because("id_token.sub", fmt.Errorf("%w: sub is empty, longer than %d characters or not printable ASCII", logto.ErrInvalidIDToken, maxIdentifierLen))
	}
	if sid, ok := claims.Claims["sid"]; ok {
		if s, isString := sid.(string); !isString || !validIdentifier(s) {
			return because("id_token.sid", fmt.Errorf("%w: sid is not a string of 1 to %d printable ASCII characters", logto.ErrInvalidIDToken, maxIdentifierLen))
		}
	}
	if nbf := claims.NotBefore.AsTime(); !nbf.IsZero() && nbf.After(p.cfg.Now().Add(p.cfg.ClockSkew)) {
		return because("id_token.nbf", fmt.Errorf("%w: nbf is in the future", logto.ErrInvalidIDToken))
	}
	return nil
}

// maxIdentifierLen bounds sub (OpenID Connect Core 1.0 section 2: "It MUST
// NOT exceed 255 ASCII characters in length") and sid, which names a Logto
// session and is given the same bound.
const maxIdentifierLen = 255

// validIdentifier reports whether s can be a sub or sid: 1 to 255
// characters of printable ASCII (0x21 to 0x7E). Core section 2 asks for
// ASCII; control characters, spaces and anything else are refused, as no
// Logto ever issues them and they could reach logs and storage keys.
func validIdentifier(s string) bool {
	if s == "" || len(s) > maxIdentifierLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// userInfoAnswer keeps the userinfo response as Logto sent it: claims such as
// organization_data have no place in a fixed struct.
type userInfoAnswer struct {
	raw json.RawMessage
	sub string
}

func (u *userInfoAnswer) GetSubject() string { return u.sub }

func (u *userInfoAnswer) UnmarshalJSON(b []byte) error {
	var s struct {
		Sub string `json:"sub"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	u.raw = append(json.RawMessage(nil), b...)
	u.sub = s.Sub
	return nil
}

// userInfo fetches the userinfo answer; its sub must be the ID token's (OIDC
// Core 5.3.2), or the claims are not exposed.
func (p *provider) userInfo(ctx context.Context, accessToken, subject string) ([]byte, error) {
	d, err := p.get(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.HTTPTimeout)
	defer cancel()
	info, err := rp.Userinfo[*userInfoAnswer](ctx, accessToken, "Bearer", subject, d.rp)
	if err != nil {
		if errors.Is(err, rp.ErrUserInfoSubNotMatching) {
			return nil, fmt.Errorf("%w: userinfo sub differs from the ID token's", logto.ErrProviderResponse)
		}
		return nil, classifyTokenError(err)
	}
	return info.raw, nil
}

// revoke revokes a token, best effort: sign-out goes on whatever happens.
func (p *provider) revoke(ctx context.Context, token, hint string) error {
	d, err := p.get(ctx)
	if err != nil {
		return err
	}
	if d.revokeURL == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.HTTPTimeout)
	defer cancel()
	return client.CallRevokeEndpoint(ctx, client.RevokeRequest{Token: token, TokenTypeHint: hint},
		httphelper.AuthorizeBasic(p.cfg.AppID, p.cfg.AppSecret),
		revokeCaller{url: d.revokeURL, client: p.cfg.HTTPClient})
}

type revokeCaller struct {
	url    string
	client *http.Client
}

func (r revokeCaller) GetRevokeEndpoint() string { return r.url }
func (r revokeCaller) HttpClient() *http.Client  { return r.client } //nolint:revive // zitadel's interface

// endSessionURL builds Logto's end-session URL. It carries only id_token_hint,
// client_id and the configured post-logout URI: Logto honours the redirect
// with either of the first two.
func (p *provider) endSessionURL(d *discovered, idToken string) string {
	if d == nil || d.endSessionURL == "" {
		return ""
	}
	q := url.Values{}
	q.Set("client_id", p.cfg.AppID)
	if idToken != "" {
		q.Set("id_token_hint", idToken)
	}
	q.Set("post_logout_redirect_uri", p.cfg.PostLogoutRedirectURI)
	return appendQuery(d.endSessionURL, q)
}

func appendQuery(base string, q url.Values) string {
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + q.Encode()
}

// errTokenRejected: Logto refused an access token at userinfo
// (invalid_token); the caller refreshes it once.
var errTokenRejected = fmt.Errorf("%w: access token rejected", logto.ErrNoToken)

// errGrantLacksScope: Logto refused a token because the grant lacks a
// scope (insufficient_scope): for an organization token, the sign-in did
// not ask for urn:logto:scope:organizations.
var errGrantLacksScope = errors.New("insufficient_scope: the grant lacks a scope this token needs")

// classifyTokenError maps an error of a call to Logto onto a sentinel.
// The log says which endpoint failed, its status and its OAuth error
// code (never its body).
func classifyTokenError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := statusOf(re.Response)
		return because("token endpoint", classifyOAuthError(re.ErrorCode, status, err), "endpoint_status", status, "oauth_error", re.ErrorCode)
	}
	var oe *oidc.Error
	if errors.As(err, &oe) {
		return because("token endpoint", classifyOAuthError(string(oe.ErrorType), 0, err), "oauth_error", string(oe.ErrorType))
	}
	return because("token endpoint", fmt.Errorf("%w: %w", classifyTransport(err), err))
}

func statusOf(resp *http.Response) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}

func classifyOAuthError(code string, status int, err error) error {
	switch code {
	case "invalid_grant":
		return fmt.Errorf("%w: %w", logto.ErrInvalidGrant, err)
	case "invalid_client", "unauthorized_client":
		return fmt.Errorf("%w: %s", logto.ErrInvalidClient, code) // never the body: it may echo credentials
	case "invalid_token":
		return fmt.Errorf("%w: %w", errTokenRejected, err)
	case "insufficient_scope":
		return fmt.Errorf("%w: %w", logto.ErrNoToken, errGrantLacksScope)
	case "access_denied", "invalid_target", "invalid_scope":
		return fmt.Errorf("%w: %s", logto.ErrNoToken, code)
	case "":
	default:
		return fmt.Errorf("%w: %s", logto.ErrProviderResponse, code)
	}
	if status == http.StatusServiceUnavailable {
		return fmt.Errorf("%w: %w", logto.ErrProviderUnavailable, err)
	}
	return fmt.Errorf("%w: %w", classifyTransport(err), err)
}

// providerFailure reports whether err is Logto failing or slow (the key
// set's fetch included) rather than a bad answer.
func providerFailure(err error) bool {
	return errors.Is(err, logto.ErrProviderTimeout) || errors.Is(err, logto.ErrProviderUnavailable)
}

// classifyTransport tells a timeout and an unreachable Logto from a bad answer.
func classifyTransport(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return logto.ErrProviderTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return logto.ErrProviderTimeout
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return logto.ErrProviderUnavailable
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return logto.ErrProviderUnavailable
	}
	return logto.ErrProviderResponse
}
