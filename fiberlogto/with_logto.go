package fiberlogto

import (
	"errors"

	"github.com/gofiber/fiber/v2"
)

// userContext builds the request's *UserContext. A signed-in request whose
// tokens are fresh makes no network call and no storage write: it reads one
// record and decodes it without copying.
func (l *Logto) userContext(c *fiber.Ctx) (*UserContext, error) {
	id := c.Cookies(l.cfg.CookieName)
	if id == "" {
		return &UserContext{}, nil
	}
	si := &signedIn{}
	user := &si.UserContext
	now := l.cfg.Now()
	ok, err := l.store.loadInto(id, &si.rec, now)
	if err != nil {
		return nil, err
	}
	if !ok {
		// Unknown, expired or corrupt: anonymous, and the cookie goes.
		l.store.clearCookie(c, l.cfg.CookieName, "/")
		return &UserContext{}, nil
	}
	rec := &si.rec
	if l.store.needsTouch(rec, now) {
		if rec, err = l.touch(id); err != nil || rec == nil {
			return &UserContext{}, err
		}
	}
	user.IsAuthenticated, user.Claims, user.sessionID, user.record = true, rec.Claims, id, rec
	if err := l.fillTokens(c, user, l.fetch, true); err != nil {
		if errors.Is(err, errSignedOut) {
			l.store.clearCookie(c, l.cfg.CookieName, "/")
			return &UserContext{}, nil
		}
		return nil, err
	}
	return user, nil
}

// touch records a use of the session, for the idle timeout (save sets
// LastSeen).
func (l *Logto) touch(id string) (*sessionRecord, error) {
	return l.updateSession(id, func(*sessionRecord) {})
}
