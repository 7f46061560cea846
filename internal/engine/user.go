package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
)

// User returns the user context of a request whose session cookie holds id:
// never nil, anonymous when there is no live session. clear reports that
// the cookie names no live session (unknown, expired, corrupt, or signed out
// by Logto meanwhile) and should be removed. A signed-in request whose
// tokens are fresh makes no network call and no storage write: it reads
// one record and decodes it without copying, in one allocation.
func (e *Engine) User(ctx context.Context, id string) (user *UserContext, clear bool, err error) {
	if id == "" {
		return &UserContext{}, false, nil
	}
	si := &signedIn{}
	now := e.cfg.Now()
	ok, err := e.store.loadInto(id, &si.rec, now)
	if err != nil {
		e.logFailure(ctx, slog.LevelError, msgRequestFailed, err)
		return nil, false, err
	}
	if !ok {
		return &UserContext{}, true, nil
	}
	rec := &si.rec
	if e.store.needsTouch(rec, now) { // a write for the idle timeout: save sets LastSeen
		if rec, err = e.store.update(ctx, id, func(*sessionRecord) {}); err != nil || rec == nil {
			return &UserContext{}, false, err
		}
	}
	user = &si.UserContext
	user.IsAuthenticated, user.Claims, user.sessionID, user.record = true, rec.Claims, id, rec
	if err := e.fillTokens(ctx, user, e.fetch, true); err != nil {
		if errors.Is(err, errSignedOut) {
			return &UserContext{}, true, nil
		}
		e.logFailure(ctx, slog.LevelError, msgRequestFailed, err)
		return nil, false, err
	}
	return user, false, nil
}

// Fetch adds what opts asks for to a signed-in user's context, for one
// route (see FetchOptions). signedOut reports that Logto refused the grant
// meanwhile: the session is gone and the request is anonymous now.
func (e *Engine) Fetch(ctx context.Context, user *UserContext, opts FetchOptions) (signedOut bool, err error) {
	if !user.IsAuthenticated {
		return false, nil
	}
	if opts.Resource != "" && !containsString(e.cfg.resources(), opts.Resource) {
		// Signing in again cannot help: Logto only gives tokens for
		// resources requested at sign-in.
		err := fmt.Errorf("%w: FetchOptions.Resource %q was not requested at sign-in: add it to Config.Resources", ErrConfig, opts.Resource)
		e.logFailure(ctx, slog.LevelError, msgRequestFailed, err, "during", "Fetch")
		return false, err
	}
	if err := e.fillTokens(ctx, user, opts, false); err != nil {
		if errors.Is(err, errSignedOut) {
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
		return a.redirect(e.cfg.RoutesPrefix + "/sign-in?returnTo=" + url.QueryEscape(r.OriginalURL()))
	}
	a.header("WWW-Authenticate", `Bearer realm="`+e.cfg.BaseURL+`"`)
	return a.fail(ErrNotAuthenticated)
}
