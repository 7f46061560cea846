package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/fiberlogto/sdk/logto"
)

// callback finishes a sign-in, and logs how it went: one record, naming
// the check that failed.
func (e *Engine) callback(ctx context.Context, r Request, hook SignInHook) *Answer {
	a, sess := e.finishSignIn(ctx, r, hook)
	switch {
	case a.Err != nil:
		e.logFailure(ctx, slog.LevelWarn, msgSignInFailed, a.Err)
	case sess != nil:
		e.log.InfoContext(ctx, msgSignInSucceeded, "sub", sess.User.Subject, "session", fingerprint(sess.key))
	}
	return a
}

// finishSignIn is the callback. Every check that can fail without the
// provider runs before the code is exchanged, and the existing session is
// only replaced once the new one is stored: a bad or hostile callback leaves
// the browser's session as it was. It returns the new session when one
// was started.
func (e *Engine) finishSignIn(ctx context.Context, r Request, hook SignInHook) (*Answer, *Session) {
	a := &Answer{}
	a.header("Cache-Control", "no-store")
	a.header("Referrer-Policy", "no-referrer")

	if p := repeatedParam(r.QueryCount, callbackParams); p != "" {
		return a.fail(refuseRepeated(p)), nil // before the pending sign-in is touched
	}
	state := r.Query("state")
	if state == "" {
		return a.fail(because("state", fmt.Errorf("%w: no state", logto.ErrInvalidCallback))), nil
	}
	now := e.cfg.Now()
	tx, rest := takeTransaction(e.sealer.pending(r.Cookie(e.signInCookie), now), state)
	if tx == nil {
		// Unknown, expired, or started in another browser (which holds
		// the sign-in cookie). A replayed or stale callback of a
		// signed-in browser goes home.
		if rec, _ := e.store.load(ctx, sessionKeyOf(r.Cookie(e.cfg.CookieName))); rec != nil {
			return a.redirect(e.cfg.BaseURL), nil
		}
		if r.Cookie(e.signInCookie) == "" {
			// No sign-in under way in this browser at all: started in another
			// browser, or on another host name (127.0.0.1 for a BaseURL on
			// localhost), whose cookies this one is not sent.
			return a.fail(because("sign-in cookie", fmt.Errorf("%w: the callback came without the sign-in cookie (the sign-in was started in another browser, or on another host name than BaseURL's %q)", logto.ErrNoSignInUnderWay, e.cfg.BaseURL))), nil
		}
		return a.fail(because("state", fmt.Errorf("%w: no pending sign-in for this state in this browser", logto.ErrInvalidCallback))), nil
	}
	// Whatever happens next, this transaction is used up in the browser.
	if v := e.sealer.seal(rest); v != "" {
		e.cfg.setCookie(a, e.signInCookie, v, e.cfg.RoutesPrefix, transactionTTL)
	} else {
		e.cfg.clearCookie(a, e.signInCookie, e.cfg.RoutesPrefix)
	}
	if tx.For != e.sealer.startedFor {
		// Started under another app ID, redirect URI or Logto (a restart
		// with another config): the code was issued to someone else.
		return a.fail(because("started for", fmt.Errorf("%w: the sign-in was started for another app ID, redirect URI or endpoint", logto.ErrInvalidCallback))), nil
	}
	// One callback per state, across instances: a code used twice makes
	// Logto revoke the grant of the first exchange. The loser answers as
	// for a replay.
	claimed, err := e.store.claim(ctx, claimKey(state), transactionTTL-now.Sub(time.Unix(tx.CreatedAt, 0))+time.Minute)
	if err != nil {
		return a.fail(because("state claim", err)), nil
	}
	if !claimed {
		if rec, _ := e.store.load(ctx, sessionKeyOf(r.Cookie(e.cfg.CookieName))); rec != nil {
			return a.redirect(e.cfg.BaseURL), nil
		}
		return a.fail(because("state", fmt.Errorf("%w: the state was used already", logto.ErrInvalidCallback))), nil
	}
	// RFC 9207: Logto names itself in every authorization response, errors
	// included; a response without it, or naming another issuer, is a mix-up.
	if r.Query("iss") != e.provider.issuer() {
		return a.fail(because("iss", fmt.Errorf("%w: the callback's iss is not Logto's issuer", logto.ErrIssuerMismatch))), nil
	}
	if denied := r.Query("error"); denied != "" {
		if denied == "invalid_target" {
			// Not the user's doing: the sign-in asked for a resource
			// Logto does not know (RFC 8707 section 2).
			return a.fail(because("error", fmt.Errorf("%w: Logto refused the sign-in's resources (invalid_target): every entry of Config.Resources and Config.Resource must be an API resource registered in Logto (with logtotest, in Options.Resources); asked for %q", logto.ErrConfig, e.cfg.resources()), "error", "invalid_target")), nil
		}
		return a.fail(because("error", fmt.Errorf("%w: Logto answered an error", logto.ErrAuthorizationDenied), "error", oauthErrorCode(denied))), nil
	}
	code := r.Query("code")
	if code == "" {
		return a.fail(because("code", fmt.Errorf("%w: no code", logto.ErrInvalidCallback))), nil
	}

	ts, err := e.provider.exchangeCode(ctx, code, tx.Verifier, tx.Nonce)
	if err != nil {
		return a.fail(err), nil
	}
	if tx.MaxAge > 0 {
		// OpenID Connect Core 3.1.2.1 and 3.1.3.7: with max_age sent, the
		// ID token must carry auth_time, no older than max_age.
		at := ts.Claims.AuthTime.AsTime()
		if at.IsZero() {
			return a.fail(because("id_token.auth_time", fmt.Errorf("%w: max_age was sent but the ID token has no auth_time", logto.ErrInvalidIDToken))), nil
		}
		if e.cfg.Now().Sub(at) > time.Duration(tx.MaxAge)*time.Second+e.cfg.ClockSkew {
			return a.fail(because("id_token.auth_time", fmt.Errorf("%w: auth_time is older than the max_age sent", logto.ErrInvalidIDToken))), nil
		}
	}

	rec := &sessionRecord{
		CreatedAt:    e.cfg.Now().Unix(),
		Subject:      []byte(ts.Claims.Subject),
		Nonce:        []byte(tx.Nonce),
		Claims:       ts.RawClaims,
		IDToken:      []byte(ts.IDToken),
		RefreshToken: []byte(ts.RefreshToken),
		Scope:        []byte(ts.Scope),
	}
	if sid, ok := ts.Claims.Claims["sid"].(string); ok {
		rec.SID = []byte(sid)
	}
	rec.setAccessToken(accessTokenEntry{Token: []byte(ts.AccessToken), Scope: []byte(ts.Scope), ExpiresAt: ts.ExpiresAt.Unix()})

	// A new session ID at every sign-in: an ID planted before sign-in
	// (session fixation) never becomes a signed-in session.
	id := newID()
	key := storageKey(sessionKeyPrefix, id)
	sess := &Session{}
	sess.signIn(key, rec)
	if err := runHook(hook, &sess.User); err != nil {
		// The app turned the sign-in away: nothing is stored, and the
		// grant Logto just made goes too.
		if ts.RefreshToken != "" {
			_ = e.provider.revoke(ctx, ts.RefreshToken, "refresh_token")
		}
		level := slog.LevelWarn
		if errors.Is(err, ErrHookPanicked) {
			level = slog.LevelError
		}
		e.log.Log(ctx, level, msgSignInRefused, "sub", ts.Claims.Subject, "reason", err.Error())
		return a.fail(because("OnSignIn", fmt.Errorf("%w: %w", logto.ErrSignInRefused, err))), nil
	}
	if err := e.store.save(ctx, key, rec); err != nil {
		return a.fail(err), nil
	}
	// For back-channel logout. A failure here leaves a session that only
	// its own expiry or sign-out ends, so the sign-in fails instead.
	if err := e.store.index(ctx, key, rec); err != nil {
		_ = e.store.delete(ctx, key)
		return a.fail(err), nil
	}
	if old := r.Cookie(e.cfg.CookieName); old != "" {
		// The old session is unreachable once the cookie is replaced. Ended
		// under its lease, like a sign-out: a refresh of it in flight
		// elsewhere does not save it back.
		_, _ = e.endSession(ctx, sessionKeyOf(old))
	}
	e.cfg.setCookie(a, e.cfg.CookieName, id, "/", e.cfg.AbsoluteTimeout)

	target := e.cfg.BaseURL
	if tx.ReturnTo != "" {
		target = originOf(e.cfg.BaseURL) + tx.ReturnTo
	}
	return a.redirect(target), sess
}

// runHook runs the app's sign-in hook, nil for none. A panic in it is the
// app's error (ErrHookPanicked), never the process's end: the sign-in is
// refused.
func runHook(hook SignInHook, user *logto.UserContext) (err error) {
	if hook == nil {
		return nil
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", ErrHookPanicked, p)
		}
	}()
	return hook(user)
}

// oauthErrorCode is the callback's error parameter as it may be logged: one
// of the codes RFC 6749 and OpenID Connect define, or "other" (the
// parameter is whatever the URL says).
func oauthErrorCode(code string) string {
	switch code {
	case "access_denied", "login_required", "consent_required", "interaction_required", "account_selection_required",
		"invalid_request", "invalid_scope", "invalid_target", "unauthorized_client", "unsupported_response_type",
		"server_error", "temporarily_unavailable":
		return code
	}
	return "other"
}
