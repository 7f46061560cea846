package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/client"
	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"

	"github.com/fiberlogto/sdk/logto"
)

// Token exchange (RFC 8693) at Logto's token endpoint, with the app's
// credentials: an adapter's ExchangeToken (impersonation by a support
// tool, personal access tokens), and personal access tokens on API routes
// (AccessTokenOptions.PersonalAccessTokens).

const grantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"

// exchangeRequest is the token request of a token exchange.
type exchangeRequest struct {
	GrantType        string `schema:"grant_type"`
	SubjectToken     string `schema:"subject_token"`
	SubjectTokenType string `schema:"subject_token_type"`
	Resource         string `schema:"resource,omitempty"`
	OrganizationID   string `schema:"organization_id,omitempty"`
	Scope            string `schema:"scope,omitempty"`
	ActorToken       string `schema:"actor_token,omitempty"`
	ActorTokenType   string `schema:"actor_token_type,omitempty"`
}

// CheckExchange reports, wrapping logto.ErrConfig, a config that cannot
// exchange tokens: no app credentials.
func (e *Engine) CheckExchange(what string) error {
	if e.cfg.AppID == "" || e.cfg.AppSecret == "" {
		return fmt.Errorf("%w: %s exchanges tokens at Logto with the app's credentials: set Config.AppID and AppSecret (a machine-to-machine app's will do), and allow token exchange for that app in Logto", logto.ErrConfig, what)
	}
	return nil
}

// ExchangeToken exchanges req.SubjectToken at Logto for an access token,
// and verifies what Logto issued (signature, issuer, times). sess is the
// request's session, for req.SignedInUserActs. Logto's refusals are
// logto.ErrSubjectTokenInvalid (invalid_grant),
// logto.ErrTokenExchangeNotAllowed (the app may not exchange tokens) and
// logto.ErrConfig (invalid_target: a resource Logto does not know); each
// failure is logged once, without any token.
func (e *Engine) ExchangeToken(ctx context.Context, sess *Session, req logto.TokenExchangeRequest) (*logto.ExchangedToken, error) {
	x, err := e.exchangeToken(ctx, sess, req)
	if err != nil {
		e.logFailure(ctx, slog.LevelWarn, msgExchangeFailed, err)
	}
	return x, err
}

func (e *Engine) exchangeToken(ctx context.Context, sess *Session, req logto.TokenExchangeRequest) (*logto.ExchangedToken, error) {
	if err := e.CheckExchange("ExchangeToken"); err != nil {
		return nil, err
	}
	if req.SubjectToken == "" {
		return nil, because("subject_token", fmt.Errorf("%w: TokenExchangeRequest.SubjectToken is empty", logto.ErrInvalidRequest))
	}
	if req.SignedInUserActs {
		if req.ActorToken != "" {
			return nil, fmt.Errorf("%w: TokenExchangeRequest: set ActorToken or SignedInUserActs, not both", logto.ErrConfig)
		}
		if sess == nil || !sess.User.IsAuthenticated || sess.record == nil {
			return nil, because("actor", fmt.Errorf("%w: TokenExchangeRequest.SignedInUserActs on a request that is not signed in", logto.ErrNotAuthenticated))
		}
		// The actor is the signed-in user: their session's opaque access
		// token (Logto's, for no resource), refreshed when it expires.
		t, err := e.accessToken(ctx, sess.own(), "", "", "", nil)
		if err != nil {
			return nil, err
		}
		req.ActorToken, req.ActorTokenType = string(t.Token), logto.TokenTypeAccessToken
	}
	d, err := e.provider.get(ctx)
	if err != nil {
		return nil, err
	}
	tok, err := e.provider.exchange(ctx, d, req)
	if err != nil {
		return nil, err
	}
	claims, _, err := e.verifyAccessToken(ctx, d, tok.AccessToken, fromLogto)
	if err != nil {
		if providerFailure(err) {
			return nil, err
		}
		// Logto's token endpoint answered a token that does not verify.
		return nil, fmt.Errorf("%w: the exchanged token: %v", logto.ErrProviderResponse, err)
	}
	return &logto.ExchangedToken{AccessToken: tok.AccessToken, ExpiresAt: time.Unix(claims.Expiry, 0), Claims: claims}, nil
}

// exchange calls the token endpoint with a token exchange grant.
func (p *provider) exchange(ctx context.Context, d *discovered, req logto.TokenExchangeRequest) (*oauth2.Token, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.HTTPTimeout)
	defer cancel()
	form := exchangeRequest{
		GrantType:        grantTokenExchange,
		SubjectToken:     req.SubjectToken,
		SubjectTokenType: req.SubjectTokenType,
		Resource:         req.Resource,
		OrganizationID:   req.OrganizationID,
		Scope:            strings.Join(req.Scopes, " "),
		ActorToken:       req.ActorToken,
		ActorTokenType:   req.ActorTokenType,
	}
	if form.SubjectTokenType == "" {
		form.SubjectTokenType = logto.TokenTypeAccessToken
	}
	if form.ActorToken != "" && form.ActorTokenType == "" {
		form.ActorTokenType = logto.TokenTypeAccessToken
	}
	tok, err := client.CallTokenEndpointWithAuthFn(ctx, form,
		httphelper.AuthorizeBasic(p.cfg.AppID, p.cfg.AppSecret),
		tokenCaller{url: d.tokenURL, client: p.cfg.HTTPClient})
	if err != nil {
		return nil, classifyExchangeError(err, req)
	}
	if tok.AccessToken == "" {
		return nil, fmt.Errorf("%w: token exchange answered no access_token", logto.ErrProviderResponse)
	}
	return tok, nil
}

// classifyExchangeError maps Logto's refusals of a token exchange onto the
// sentinels that name their cause (logto-observed §18).
func classifyExchangeError(err error, req logto.TokenExchangeRequest) error {
	var oe *oidc.Error
	if errors.As(err, &oe) {
		code := string(oe.ErrorType)
		switch {
		case code == "invalid_grant":
			return because("token endpoint", fmt.Errorf("%w: %s", logto.ErrSubjectTokenInvalid, code), "oauth_error", code)
		case code == "unauthorized_client", code == "invalid_request" && strings.Contains(oe.Description, "not allowed"):
			return because("token endpoint", fmt.Errorf("%w: Logto answered %s %q: allow token exchange for the app of Config.AppID in Logto (customClientMetadata.allowTokenExchange)", logto.ErrTokenExchangeNotAllowed, code, oe.Description), "oauth_error", code)
		case code == "invalid_target":
			return because("token endpoint", fmt.Errorf("%w: Logto refused the resource or organization of a token exchange (invalid_target): %q is not an API resource of Logto, or the organization %q is unknown", logto.ErrConfig, req.Resource, req.OrganizationID), "oauth_error", code)
		}
	}
	return classifyTokenError(err)
}

// Personal access tokens on API routes.

const (
	// exchangesPerSecond and exchangeBurst bound the exchanges of personal
	// access tokens across the process: whoever sends them chooses them,
	// so a flood of made-up ones must not become a flood of calls to
	// Logto. Past the bound a request answers 503 at once.
	exchangesPerSecond = 10
	exchangeBurst      = 20
	// refusedPATMemory is how long a refused personal access token is
	// refused without asking Logto again.
	refusedPATMemory = 30 * time.Second
	maxRefusedPATs   = 10000
	maxPATLen        = 256
)

// patExchanges is the state of personal access token exchanges: calls in
// flight (one per token, route resource and organization), tokens Logto
// refused lately, and the rate of exchanges.
type patExchanges struct {
	mu       sync.Mutex
	inflight map[cacheKey]*patCall
	refused  map[cacheKey]int64 // until, unix seconds
	tokens   float64            // the rate's bucket
	last     time.Time
}

type patCall struct {
	done   chan struct{}
	claims *logto.AccessTokenClaims
	thumb  string
	err    error
}

// wellFormedPAT checks what Logto's personal access tokens look like:
// "pat_" and URL-safe characters.
func wellFormedPAT(token string) bool {
	if !strings.HasPrefix(token, "pat_") || len(token) <= 4 || len(token) > maxPATLen {
		return false
	}
	for i := 4; i < len(token); i++ {
		c := token[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// personalAccessToken returns the claims of the access token Logto gives
// for pat on a route of resource and org: from the verified-token cache,
// or by exchanging it (once for concurrent requests).
func (e *Engine) personalAccessToken(ctx context.Context, pat string, p *AccessTokenPolicy, org string) (*logto.AccessTokenClaims, error) {
	d, err := e.provider.get(ctx)
	if err != nil {
		return nil, err
	}
	// The cache holds no token: a hash of the personal access token with
	// what it was exchanged for.
	key := e.tokens.keyOf("pat\x00" + p.opts.Resource + "\x00" + org + "\x00" + pat)
	now := e.cfg.Now()
	if t, ok := e.tokens.get(key, now.Unix(), d.keys); ok {
		return t, nil
	}
	x := &e.pats
	x.mu.Lock()
	if until, ok := x.refused[key]; ok && now.Unix() < until {
		x.mu.Unlock()
		return nil, because("pat", fmt.Errorf("%w: a personal access token Logto refused moments ago", logto.ErrInvalidToken))
	}
	call := x.inflight[key]
	if call == nil {
		if !x.allow(time.Now()) {
			x.mu.Unlock()
			return nil, because("pat rate", fmt.Errorf("%w: personal access token exchanges are over %d a second", logto.ErrProviderUnavailable, exchangesPerSecond))
		}
		call = &patCall{done: make(chan struct{})}
		x.inflight[key] = call
		x.mu.Unlock()
		go e.exchangePAT(key, call, d, pat, p, org)
	} else {
		x.mu.Unlock()
	}
	select {
	case <-call.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: waiting for a personal access token's exchange: %w", logto.ErrProviderTimeout, ctx.Err())
	}
	return call.claims, call.err
}

// exchangePAT runs one exchange for every request waiting on call, on a
// context of its own (HTTPTimeout): one request's cancellation must not
// fail the others'.
func (e *Engine) exchangePAT(key cacheKey, call *patCall, d *discovered, pat string, p *AccessTokenPolicy, org string) {
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.HTTPTimeout)
	defer cancel()
	defer close(call.done)
	x := &e.pats
	defer func() {
		x.mu.Lock()
		delete(x.inflight, key)
		x.mu.Unlock()
	}()
	tok, err := e.provider.exchange(ctx, d, logto.TokenExchangeRequest{
		SubjectToken: pat, SubjectTokenType: logto.TokenTypePersonalAccessToken,
		Resource: p.opts.Resource, OrganizationID: org, Scopes: p.opts.Scopes,
	})
	if err == nil {
		call.claims, call.thumb, err = e.verifyAccessToken(ctx, d, tok.AccessToken, fromLogto)
		if err != nil && !providerFailure(err) {
			err = fmt.Errorf("%w: the exchanged token: %v", logto.ErrProviderResponse, err)
		}
	}
	switch {
	case err == nil:
		e.tokens.put(key, call.claims, call.thumb, d.keys.version.Load(), e.cfg.Now().Unix())
	case errors.Is(err, logto.ErrSubjectTokenInvalid):
		x.mu.Lock()
		if len(x.refused) >= maxRefusedPATs {
			clear(x.refused)
		}
		x.refused[key] = e.cfg.Now().Add(refusedPATMemory).Unix()
		x.mu.Unlock()
		err = because("pat", fmt.Errorf("%w: Logto refused the personal access token", logto.ErrInvalidToken))
	default:
		e.logFailure(ctx, slog.LevelWarn, msgExchangeFailed, err, "during", "personal access token")
	}
	call.err = err
}

// allow takes one exchange from the bucket, refilled at
// exchangesPerSecond up to exchangeBurst. x.mu is held.
func (x *patExchanges) allow(now time.Time) bool {
	if x.last.IsZero() {
		x.tokens = exchangeBurst
	} else {
		x.tokens = min(exchangeBurst, x.tokens+now.Sub(x.last).Seconds()*exchangesPerSecond)
	}
	x.last = now
	if x.tokens < 1 {
		return false
	}
	x.tokens--
	return true
}
