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
	unlock := l.locks.lock("s:" + id)
	defer unlock()
	if validID(id) {
		// The session's lease, as a refresh holds it: a refresh running on
		// another instance lands first, and its new refresh token is the one
		// revoked and deleted here, rather than saved after the delete.
		release, _, _ := l.store.lease(sessionLeaseKey(storageKey(sessionKeyPrefix, id)), shortLeaseTTL, l.cfg.HTTPTimeout)
		defer release()
	}

	rec, _ := l.store.load(id)
	d, _ := l.provider.get(c.UserContext()) // Logto down: sign out locally all the same
	var idToken string
	if rec != nil {
		idToken = string(rec.IDToken)
		if d != nil && len(rec.RefreshToken) > 0 {
			_ = l.provider.revoke(c.UserContext(), string(rec.RefreshToken), "refresh_token")
		}
	}
	if err := l.store.delete(id); err != nil {
		return l.cfg.ErrorHandler(c, err)
	}
	l.store.clearCookie(c, l.cfg.CookieName, "/")

	target := l.provider.endSessionURL(d, idToken)
	if target == "" {
		target = l.cfg.PostLogoutRedirectURI
	}
	return c.Redirect(target, fiber.StatusFound)
}
