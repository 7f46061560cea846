package engine

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strings"
)

// signIn starts a sign-in: a new transaction (state, nonce, PKCE verifier,
// return path) goes to the browser in the sign-in cookie, and the browser
// is sent to Logto's authorization endpoint.
func (e *Engine) signIn(ctx context.Context, r Request) *Answer {
	return e.startSignIn(ctx, r, e.cfg.SignInOptions.FirstScreen)
}

// signUp is signIn opening Logto's registration screen.
func (e *Engine) signUp(ctx context.Context, r Request) *Answer {
	return e.startSignIn(ctx, r, "register")
}

func (e *Engine) startSignIn(ctx context.Context, r Request, firstScreen string) *Answer {
	a := &Answer{}
	a.header("Cache-Control", "no-store")
	d, err := e.provider.get(ctx)
	if err != nil {
		return a.fail(err)
	}

	now := e.cfg.Now()
	state, nonce, verifier := newID(), newID(), newID()
	tx := transaction{
		State:     stateHash(state),
		For:       e.sealer.startedFor,
		CreatedAt: now.Unix(),
		Nonce:     nonce,
		Verifier:  verifier,
		ReturnTo:  safeReturnPath(r.Query("returnTo")),
	}
	// The pending sign-in goes to the browser, with the others it has
	// under way (other tabs): nothing is written to the storage.
	txs := addTransaction(e.sealer.pending(r.Cookie(e.signInCookie), now), tx)
	e.cfg.setCookie(a, e.signInCookie, e.sealer.seal(txs), e.cfg.RoutesPrefix, transactionTTL)
	return a.redirect(e.authorizationURL(d.authURL, state, nonce, verifier, firstScreen))
}

// authorizationURL builds the authorization request by hand: oauth2's
// AuthCodeURL cannot repeat the resource parameter.
func (e *Engine) authorizationURL(endpoint, state, nonce, verifier, firstScreen string) string {
	cfg := e.cfg
	q := url.Values{}
	q.Set("client_id", cfg.AppID)
	q.Set("redirect_uri", cfg.redirectURI())
	q.Set("response_type", "code")
	q.Set("scope", strings.Join(cfg.scopes(), " "))
	q.Set("state", state)
	q.Set("nonce", nonce)
	q.Set("code_challenge", pkceChallenge(verifier))
	q.Set("code_challenge_method", "S256")
	if len(cfg.Prompt) > 0 {
		q.Set("prompt", strings.Join(cfg.Prompt, " "))
	}
	for _, r := range cfg.resources() {
		q.Add("resource", r)
	}
	opts := cfg.SignInOptions
	if firstScreen != "" {
		q.Set("first_screen", firstScreen)
	}
	if len(opts.Identifiers) > 0 {
		q.Set("identifier", strings.Join(opts.Identifiers, " "))
	}
	if opts.LoginHint != "" {
		q.Set("login_hint", opts.LoginHint)
	}
	if ds := opts.DirectSignIn; ds != nil {
		q.Set("direct_sign_in", ds.Method+":"+ds.Target)
	}
	for k, v := range opts.ExtraParams {
		if q.Has(k) {
			continue // never let an extra parameter replace state, nonce or PKCE
		}
		q.Set(k, v)
	}
	return appendQuery(endpoint, q)
}

// pkceChallenge is the S256 code challenge of verifier (RFC 7636 4.2).
func pkceChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
