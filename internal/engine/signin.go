package engine

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fiberlogto/sdk/logto"
)

// signIn starts a sign-in: a new transaction (state, nonce, PKCE verifier,
// return path) goes to the browser in the sign-in cookie, and the browser
// is sent to Logto's authorization endpoint. The link may choose Logto's
// sign-in options (see requestOptions) over Config.SignInOptions.
func (e *Engine) signIn(ctx context.Context, r Request, _ SignInHook) *Answer {
	if a := e.refuseRepeatedSignIn(ctx, r, signInParams); a != nil {
		return a
	}
	return e.startSignIn(ctx, r, requestOptions(r, e.cfg.SignInOptions))
}

// signUp is signIn opening Logto's registration screen.
func (e *Engine) signUp(ctx context.Context, r Request, _ SignInHook) *Answer {
	if a := e.refuseRepeatedSignIn(ctx, r, signInParams); a != nil {
		return a
	}
	opts := requestOptions(r, e.cfg.SignInOptions)
	opts.FirstScreen = "register"
	return e.startSignIn(ctx, r, opts)
}

// SignInWith starts a sign-in with fixed options, for a route of the app's
// own (the adapters' SignIn); only returnTo is read from the request.
func (e *Engine) SignInWith(ctx context.Context, r Request, opts logto.SignInOptions) *Answer {
	if a := e.refuseRepeatedSignIn(ctx, r, returnToParams); a != nil {
		return a
	}
	return e.startSignIn(ctx, r, opts)
}

// refuseRepeatedSignIn answers a sign-in link that repeats one of params
// (see repeatedParam), nil for one that does not.
func (e *Engine) refuseRepeatedSignIn(ctx context.Context, r Request, params []string) *Answer {
	p := repeatedParam(r.QueryCount, params)
	if p == "" {
		return nil
	}
	err := refuseRepeated(p)
	e.logFailure(ctx, slog.LevelWarn, msgSignInFailed, err)
	a := &Answer{}
	a.header("Cache-Control", "no-store")
	return a.fail(err)
}

// hostRedirectMark marks a sign-in already sent to BaseURL's host, so that a
// proxy that rewrites Host cannot make a loop of it.
const hostRedirectMark = "fiberlogto_host"

// otherHostRedirect returns where to send a sign-in started on another host
// name than a loopback BaseURL's (see Config.StayOnRequestHost), "" to go
// on: the same path and query on BaseURL's host.
func (e *Engine) otherHostRedirect(r Request) string {
	if e.cfg.StayOnRequestHost || !e.cfg.loopbackBaseURL() {
		return ""
	}
	host := r.Host()
	base, err := url.Parse(e.cfg.BaseURL)
	if err != nil || host == "" || strings.EqualFold(host, base.Host) || r.Query(hostRedirectMark) != "" {
		return ""
	}
	target := e.cfg.BaseURL + r.OriginalURL()
	if strings.Contains(r.OriginalURL(), "?") {
		return target + "&" + hostRedirectMark + "=1"
	}
	return target + "?" + hostRedirectMark + "=1"
}

// CheckSignInOptions checks fixed sign-in options, naming the field.
func CheckSignInOptions(opts logto.SignInOptions) error {
	if opts.FirstScreen != "" && !firstScreens[opts.FirstScreen] {
		return fmt.Errorf("%w: logto.SignInOptions.FirstScreen %q is not one of Logto's first screens", logto.ErrConfig, opts.FirstScreen)
	}
	for _, id := range opts.Identifiers {
		if !identifiers[id] {
			return fmt.Errorf("%w: logto.SignInOptions.Identifiers: %q is not email, phone or username", logto.ErrConfig, id)
		}
	}
	if opts.OneTimeToken != "" && !validOneTimeToken(opts.OneTimeToken) {
		return fmt.Errorf("%w: SignInOptions.OneTimeToken is not a one-time token (letters, digits, -._~, at most %d)", logto.ErrConfig, maxOneTimeToken)
	}
	if opts.MaxAge < 0 || opts.MaxAge%time.Second != 0 || opts.MaxAge > maxMaxAge {
		return fmt.Errorf("%w: SignInOptions.MaxAge must be whole seconds, from 0 to %v", logto.ErrConfig, maxMaxAge)
	}
	if ds := opts.DirectSignIn; ds != nil {
		if ds.Method != "social" && ds.Method != "sso" {
			return fmt.Errorf("%w: logto.SignInOptions.DirectSignIn.Method must be \"social\" or \"sso\"", logto.ErrConfig)
		}
		if !validConnectorID(ds.Target) {
			return fmt.Errorf("%w: logto.SignInOptions.DirectSignIn.Target must be a connector ID (letters, digits, -._)", logto.ErrConfig)
		}
	}
	return nil
}

// The values a sign-in link may choose (Logto's sign-in parameters).
var (
	firstScreens = map[string]bool{"sign_in": true, "register": true, "identifier:sign_in": true,
		"identifier:register": true, "reset_password": true, "single_sign_on": true}
	identifiers = map[string]bool{"email": true, "phone": true, "username": true}
)

const (
	maxLoginHint    = 256
	maxOneTimeToken = 256
	// maxMaxAge bounds max_age: a year.
	maxMaxAge = 366 * 24 * time.Hour
)

// validOneTimeToken accepts what Logto's one-time tokens are made of
// (URL-safe characters), within maxOneTimeToken.
func validOneTimeToken(s string) bool {
	if s == "" || len(s) > maxOneTimeToken {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0) {
			return false
		}
	}
	return true
}

// requestOptions returns base with what the sign-in link chooses among
// Logto's parameters, each checked against what Logto accepts: first_screen,
// login_hint, direct_sign_in (social:<connector> or sso:<connector>) and
// identifier (email, phone, username). A value that does not pass is
// ignored, and any other parameter is never forwarded: a link cannot add
// prompt, scope, resource or anything else to the authorization request.
func requestOptions(r Request, base logto.SignInOptions) logto.SignInOptions {
	opts := base
	if v := r.Query("first_screen"); firstScreens[v] {
		opts.FirstScreen = v
	}
	if v := r.Query("login_hint"); v != "" && len(v) <= maxLoginHint && printable(v) {
		opts.LoginHint = v
	}
	if v := r.Query("direct_sign_in"); v != "" {
		method, target, _ := strings.Cut(v, ":")
		if (method == "social" || method == "sso") && validConnectorID(target) {
			opts.DirectSignIn = &logto.DirectSignIn{Method: method, Target: target}
		}
	}
	if v := r.Query("one_time_token"); validOneTimeToken(v) {
		opts.OneTimeToken = v
	}
	if v := r.Query("max_age"); v != "" && len(v) <= 8 {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 && time.Duration(n)*time.Second <= maxMaxAge {
			opts.MaxAge = time.Duration(n) * time.Second
		}
	}
	if v := r.Query("identifier"); v != "" {
		var ids []string
		for _, id := range strings.FieldsFunc(v, func(c rune) bool { return c == ' ' || c == ',' }) {
			if !identifiers[id] {
				ids = nil
				break
			}
			ids = append(ids, id)
		}
		if len(ids) > 0 {
			opts.Identifiers = ids
		}
	}
	return opts
}

// printable reports whether s has no control character and is valid UTF-8.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) {
			return false
		}
	}
	return true
}

// validConnectorID accepts Logto's connector and SSO connector IDs.
func validConnectorID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func (e *Engine) startSignIn(ctx context.Context, r Request, opts logto.SignInOptions) *Answer {
	a := &Answer{}
	a.header("Cache-Control", "no-store")
	if to := e.otherHostRedirect(r); to != "" {
		return a.redirect(to)
	}
	d, err := e.provider.get(ctx)
	if err != nil {
		return a.fail(err) // logged by discovery, once a minute while it fails
	}

	now := e.cfg.Now()
	state, nonce, verifier := newID(), newID(), newID()
	tx := transaction{
		State:     stateHash(state),
		For:       e.sealer.startedFor,
		CreatedAt: now.Unix(),
		Nonce:     nonce,
		Verifier:  verifier,
		ReturnTo:  safeReturnPath(r.Query(returnToParam)),
		MaxAge:    int64(opts.MaxAge / time.Second),
	}
	// The pending sign-in goes to the browser, with the others it has
	// under way (other tabs): nothing is written to the storage.
	txs := addTransaction(e.sealer.pending(r.Cookie(e.signInCookie), now), tx)
	e.cfg.setCookie(a, e.signInCookie, e.sealer.seal(txs), e.cfg.RoutesPrefix, transactionTTL)
	e.log.DebugContext(ctx, msgSignInStarted, "first_screen", opts.FirstScreen, "direct", opts.DirectSignIn != nil, "pending", len(txs))
	return a.redirect(e.authorizationURL(d.authURL, state, nonce, verifier, opts))
}

// authorizationURL builds the authorization request by hand: oauth2's
// AuthCodeURL cannot repeat the resource parameter.
func (e *Engine) authorizationURL(endpoint, state, nonce, verifier string, opts logto.SignInOptions) string {
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
	if opts.FirstScreen != "" {
		q.Set("first_screen", opts.FirstScreen)
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
	if opts.OneTimeToken != "" {
		q.Set("one_time_token", opts.OneTimeToken)
	}
	if opts.MaxAge > 0 {
		q.Set("max_age", strconv.FormatInt(int64(opts.MaxAge/time.Second), 10))
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
