package fiberlogto

import (
	"github.com/gofiber/fiber/v2"
)

// signOut ends the session here and at Logto. GET works for the tutorial's
// plain link; a request from another site is refused, so a third-party page
// cannot sign the user out. The refresh token is revoked first because
// Logto's end-session does not revoke it.
func (l *Logto) signOut(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	if !l.sameSiteRequest(c) {
		return l.cfg.ErrorHandler(c, ErrCrossSiteRequest)
	}
	id := c.Cookies(l.cfg.CookieName)
	rec, err := l.endSession(id)
	if err != nil {
		return l.cfg.ErrorHandler(c, err)
	}
	// Logto is called once the session is gone, outside the session's lock
	// and lease: a slow Logto cannot outlast the lease.
	d, _ := l.provider.get(c.UserContext()) // Logto down: sign out locally all the same
	var idToken string
	if rec != nil {
		idToken = string(rec.IDToken)
		if d != nil && len(rec.RefreshToken) > 0 {
			_ = l.provider.revoke(c.UserContext(), string(rec.RefreshToken), "refresh_token")
		}
	}
	l.store.clearCookie(c, l.cfg.CookieName, "/")

	target := l.provider.endSessionURL(d, idToken)
	if target == "" {
		target = l.cfg.PostLogoutRedirectURI
	}
	return c.Redirect(target, fiber.StatusFound)
}

// endSession deletes the session of id and returns it as it was last
// stored. It runs under the session's lock and lease, as a refresh does: a
// refresh running on another instance lands first, and its new refresh
// token is the one returned (and revoked), rather than saved after the
// delete.
func (l *Logto) endSession(id string) (*sessionRecord, error) {
	unlock := l.locks.lock("s:" + id)
	defer unlock()
	if validID(id) {
		release, _, _ := l.store.lease(leaseKeyOfSession(id), shortLeaseTTL, l.cfg.HTTPTimeout)
		defer release()
	}
	rec, _ := l.store.load(id)
	if err := l.store.delete(id); err != nil {
		return nil, err
	}
	return rec, nil
}
