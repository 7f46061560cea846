package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"

	"github.com/fiberlogto/sdk/logto"
)

// User fills sess for a request whose session cookie holds id: anonymous
// when there is no live session. clear reports that the cookie names no
// live session (unknown, expired, corrupt, or signed out by Logto
// meanwhile) and should be removed. A signed-in request whose tokens are
// fresh makes no network call and no storage write: it reads one record and
// decodes it into sess without copying, allocating nothing. The adapter
// keeps sess for the request (Fetch needs it) and gives the app &sess.User.
func (e *Engine) User(ctx context.Context, id string, sess *Session) (clear bool, err error) {
	if id == "" {
		return false, nil
	}
	now := e.cfg.Now()
	ok, err := e.store.loadInto(ctx, id, &sess.rec, now, false)
	if err != nil {
		e.logFailure(ctx, slog.LevelError, msgRequestFailed, err)
		return false, err
	}
	if !ok {
		return true, nil
	}
	rec := &sess.rec
	if e.store.needsTouch(rec, now) { // a write for the idle timeout: save sets LastSeen
		if rec, err = e.store.update(ctx, id, func(*sessionRecord) {}); err != nil || rec == nil {
			return false, err
		}
	}
	sess.signIn(id, rec)
	if err := e.fillTokens(ctx, sess, e.fetch, true); err != nil {
		if errors.Is(err, errSignedOut) {
			sess.signOut()
			return true, nil
		}
		e.logFailure(ctx, slog.LevelError, msgRequestFailed, err)
		return false, err
	}
	return false, nil
}

// Fetch adds what opts asks for to a signed-in session's user context, for
// one route (see logto.FetchOptions). signedOut reports that Logto refused
// the grant meanwhile: the session is gone and sess is anonymous now.
func (e *Engine) Fetch(ctx context.Context, sess *Session, opts logto.FetchOptions) (signedOut bool, err error) {
	if !sess.User.IsAuthenticated || sess.record == nil {
		return false, nil
	}
	if opts.Resource != "" && !containsString(e.cfg.resources(), opts.Resource) {
		// Signing in again cannot help: Logto only gives tokens for
		// resources requested at sign-in.
		err := fmt.Errorf("%w: FetchOptions.Resource %q was not requested at sign-in: add it to Config.Resources", logto.ErrConfig, opts.Resource)
		e.logFailure(ctx, slog.LevelError, msgRequestFailed, err, "during", "Fetch")
		return false, err
	}
	if err := e.fillTokens(ctx, sess, opts, false); err != nil {
		if errors.Is(err, errSignedOut) {
			sess.signOut()
			return true, nil
		}
		e.logFailure(ctx, slog.LevelWarn, msgRequestFailed, err, "during", "Fetch")
		return false, err
	}
	return false, nil
}

// DenyAnonymous answers a request that needs a signed-in user: a page is
// redirected to sign-in, coming back to it afterwards; an API gets 401.
func (e *Engine) DenyAnonymous(r Request) *Answer {
	a := &Answer{}
	if IsPageRequest(r) && r.Method() == "GET" {
		a.header("Cache-Control", "no-store")
		return a.redirect(e.cfg.BaseURL + e.cfg.RoutesPrefix + "/sign-in?returnTo=" + url.QueryEscape(r.OriginalURL()))
	}
	// No WWW-Authenticate: the route takes a session, not a bearer token,
	// and there is no challenge scheme for a cookie to name.
	return a.fail(logto.ErrNotAuthenticated)
}
