package fiberlogto

import (
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// signIn starts a sign-in: a new transaction (state, nonce, PKCE verifier,
// return path) is stored and the browser is sent to Logto's authorization
// endpoint.
func (l *Logto) signIn(c *fiber.Ctx) error {
	return l.startSignIn(c, l.cfg.SignInOptions.FirstScreen)
}

// signUp is signIn opening Logto's registration screen.
func (l *Logto) signUp(c *fiber.Ctx) error {
	return l.startSignIn(c, "register")
}

func (l *Logto) startSignIn(c *fiber.Ctx, firstScreen string) error {
	d, err := l.provider.get(c.UserContext())
	if err != nil {
		return l.cfg.ErrorHandler(c, err)
	}

	now := l.cfg.Now()
	state, nonce, verifier := newID(), newID(), newID()
	tx := transaction{
		State:     stateHash(state),
		For:       l.sealer.startedFor,
		CreatedAt: now.Unix(),
		Nonce:     nonce,
		Verifier:  verifier,
		ReturnTo:  safeReturnPath(c.Query("returnTo")),
	}
	// The pending sign-in goes to the browser, with the others it has
	// under way (other tabs): nothing is written to the storage.
	txs := addTransaction(l.sealer.pending(c.Cookies(l.signInCookie), now), tx)
	l.store.setCookie(c, l.signInCookie, l.sealer.seal(txs), l.cfg.RoutesPrefix, transactionTTL)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Redirect(l.authorizationURL(d.authURL, state, nonce, verifier, firstScreen), fiber.StatusFound)
}

// authorizationURL builds the authorization request by hand: oauth2's
// AuthCodeURL cannot repeat the resource parameter.
func (l *Logto) authorizationURL(endpoint, state, nonce, verifier, firstScreen string) string {
	cfg := &l.cfg
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
