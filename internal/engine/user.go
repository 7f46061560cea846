package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"

	"github.com/fiberlogto/sdk/logto"
)

// User returns the session of a request whose session cookie holds id:
// anonymous when there is no live session. clear reports that the cookie
// names no live session (unknown, expired, corrupt, or signed out by Logto
// meanwhile) and should be removed.
//
// A signed-in request whose tokens are fresh makes no network call and no
// storage write: it reads its stored record, and when the storage answers
// the bytes a snapshot of the session cache was decoded from, it is served
// that snapshot (see sessionCache): no hash but a map's, no decoding, no
// allocation. The Session returned may be shared with other requests of the
// same session (Shared): it is read-only, and Fetch works on a copy. The
// adapter keeps it for the request and gives the app &sess.User.
func (e *Engine) User(ctx context.Context, id string) (sess *Session, clear bool, err error) {
	if id == "" {
		return anonymousSession, false, nil
	}
	if !validID(id) {
		return anonymousSession, true, nil
	}
	ck := e.sessions.keyOf(id)
	snap := e.sessions.get(ck)
	var key string
	if snap != nil {
		key = snap.sess.key
	} else {
		key = storageKey(sessionKeyPrefix, id)
	}
	raw, err := e.store.storage.GetWithContext(ctx, key)
	if err != nil {
		err = fmt.Errorf("%w: %w", logto.ErrStorage, err)
		e.logFailure(ctx, slog.LevelError, msgRequestFailed, err)
		return nil, false, err
	}
	if snap == nil || !snap.sameBytes(raw) {
		// Another version of the session, or the first request of this
		// one in the process: decode it once for the requests to come.
		sess = &Session{}
		if !e.store.decodeStoredInto(key, raw, &sess.rec) {
			if snap != nil {
				e.sessions.drop(ck)
			}
			return anonymousSession, true, nil
		}
		sess.signIn(key, &sess.rec)
		sess.json = sess.User.AppendJSON(make([]byte, 0, len(sess.rec.Claims)+64))
		sess.shared = true
		snap = &snapshot{raw: raw, sess: sess}
		e.sessions.put(ck, snap)
	}
	sess = snap.sess
	now := e.cfg.Now()
	if !e.store.aliveAt(sess.record, now) {
		e.sessions.drop(ck)
		return anonymousSession, true, nil
	}
	if e.store.needsTouch(sess.record, now) { // a write for the idle timeout: save sets LastSeen
		rec, err := e.store.update(ctx, key, func(*sessionRecord) {})
		if err != nil || rec == nil {
			return anonymousSession, false, err
		}
		e.sessions.drop(ck) // the stored bytes changed: the next request decodes them
		sess = sess.own()
		sess.setRecord(rec)
	}
	if wantsTokens(e.fetch) {
		sess = sess.own()
		if err := e.fillTokens(ctx, sess, e.fetch, true); err != nil {
			if errors.Is(err, errSignedOut) {
				return anonymousSession, true, nil
			}
			e.logFailure(ctx, slog.LevelError, msgRequestFailed, err)
			return nil, false, err
		}
	}
	return sess, false, nil
}

// Fetch adds what opts asks for to a signed-in session's user context, for
// one route (see logto.FetchOptions), and returns the session to go on
// with: a copy of sess when sess is shared. signedOut reports that Logto
// refused the grant meanwhile: the session is gone and the returned one is
// anonymous.
func (e *Engine) Fetch(ctx context.Context, sess *Session, opts logto.FetchOptions) (_ *Session, signedOut bool, err error) {
	if !sess.User.IsAuthenticated || sess.record == nil || !wantsTokens(opts) {
		return sess, false, nil
	}
	if opts.Resource != "" && !containsString(e.cfg.resources(), opts.Resource) {
		// Signing in again cannot help: Logto only gives tokens for
		// resources requested at sign-in.
		err := fmt.Errorf("%w: FetchOptions.Resource %q was not requested at sign-in: add it to Config.Resources", logto.ErrConfig, opts.Resource)
		e.logFailure(ctx, slog.LevelError, msgRequestFailed, err, "during", "Fetch")
		return sess, false, err
	}
	sess = sess.own()
	if err := e.fillTokens(ctx, sess, opts, false); err != nil {
		if errors.Is(err, errSignedOut) {
			return anonymousSession, true, nil
		}
		e.logFailure(ctx, slog.LevelWarn, msgRequestFailed, err, "during", "Fetch")
		return sess, false, err
	}
	return sess, false, nil
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
