package engine

import (
	"context"
	"log/slog"

	"github.com/fiberlogto/sdk/logto"
)

// signOut ends the session here and at Logto. GET works for the tutorial's
// plain link; a request from another site is refused, so a third-party page
// cannot sign the user out. The refresh token is revoked first because
// Logto's end-session does not revoke it.
func (e *Engine) signOut(ctx context.Context, r Request, _ SignInHook) *Answer {
	a := &Answer{}
	a.header("Cache-Control", "no-store")
	if !e.sameSiteRequest(r) {
		return a.fail(logto.ErrCrossSiteRequest)
	}
	key := sessionKeyOf(r.Cookie(e.cfg.CookieName))
	rec, err := e.endSession(ctx, key)
	if err != nil {
		e.logFailure(ctx, slog.LevelWarn, msgSignedOut, err)
		return a.fail(err)
	}
	if rec != nil {
		e.log.InfoContext(ctx, msgSignedOut, "sub", string(rec.Subject), "session", fingerprint(key))
	}
	// Logto is called once the session is gone, outside the session's lock
	// and lease: a slow Logto cannot outlast the lease.
	d, _ := e.provider.get(ctx) // Logto down: sign out locally all the same
	var idToken string
	if rec != nil {
		idToken = string(rec.IDToken)
		if d != nil && len(rec.RefreshToken) > 0 {
			_ = e.provider.revoke(ctx, string(rec.RefreshToken), "refresh_token")
		}
	}
	e.cfg.clearCookie(a, e.cfg.CookieName, "/")

	target := e.provider.endSessionURL(d, idToken)
	if target == "" {
		target = e.cfg.PostLogoutRedirectURI
	}
	return a.redirect(target)
}

// endSession deletes the session of id and returns it as it was last
// stored. It runs under the session's lock and lease, as a refresh does: a
// refresh running on another instance lands first, and its new refresh
// token is the one returned (and revoked), rather than saved after the
// delete. Without the lease within HTTPTimeout it deletes all the same; the
// refresh re-reads the session before it saves.
func (e *Engine) endSession(ctx context.Context, key string) (*sessionRecord, error) {
	if key == "" {
		return nil, nil
	}
	l, err := e.store.hold(ctx, sessionLock(key), shortLeaseTTL, e.cfg.HTTPTimeout, nil)
	if err != nil {
		return nil, err
	}
	defer l.release()
	rec, _ := e.store.load(ctx, key)
	if err := e.store.delete(ctx, key); err != nil {
		return nil, err
	}
	return rec, nil
}
