package fiberlogto

import (
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"
)

// callback finishes a sign-in. Every check that can fail without the
// provider runs before the code is exchanged, and the existing session is
// only replaced once the new one is stored: a bad or hostile callback leaves
// the browser's session as it was.
func (l *Logto) callback(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("Referrer-Policy", "no-referrer")

	state := c.Query("state")
	if state == "" {
		return l.cfg.ErrorHandler(c, fmt.Errorf("%w: no state", ErrInvalidCallback))
	}
	now := l.cfg.Now()
	tx, rest := takeTransaction(l.sealer.pending(c.Cookies(l.signInCookie), now), state)
	if tx == nil {
		// Unknown, expired, or started in another browser (which holds
		// the sign-in cookie). A replayed or stale callback of a
		// signed-in browser goes home.
		if rec, _ := l.store.load(c.Cookies(l.cfg.CookieName)); rec != nil {
			return c.Redirect(l.cfg.BaseURL, fiber.StatusFound)
		}
		return l.cfg.ErrorHandler(c, fmt.Errorf("%w: no pending sign-in for this state in this browser", ErrInvalidCallback))
	}
	// Whatever happens next, this transaction is used up in the browser.
	if v := l.sealer.seal(rest); v != "" {
		l.store.setCookie(c, l.signInCookie, v, l.cfg.RoutesPrefix, transactionTTL)
	} else {
		l.store.clearCookie(c, l.signInCookie, l.cfg.RoutesPrefix)
	}
	if tx.For != l.sealer.startedFor {
		// Started under another app ID, redirect URI or Logto (a restart
		// with another config): the code was issued to someone else.
		return l.cfg.ErrorHandler(c, fmt.Errorf("%w: the sign-in was started for another app ID, redirect URI or endpoint", ErrInvalidCallback))
	}
	// One callback per state, across instances: a code used twice makes
	// Logto revoke the grant of the first exchange. The loser answers as
	// for a replay.
	claimed, err := l.claimState(state, transactionTTL-now.Sub(time.Unix(tx.CreatedAt, 0))+time.Minute)
	if err != nil {
		return l.cfg.ErrorHandler(c, err)
	}
	if !claimed {
		if rec, _ := l.store.load(c.Cookies(l.cfg.CookieName)); rec != nil {
			return c.Redirect(l.cfg.BaseURL, fiber.StatusFound)
		}
		return l.cfg.ErrorHandler(c, fmt.Errorf("%w: the state was used already", ErrInvalidCallback))
	}
	// RFC 9207: Logto names itself in every authorization response, errors
	// included; a response without it, or naming another issuer, is a mix-up.
	if c.Query("iss") != l.provider.issuer() {
		return l.cfg.ErrorHandler(c, fmt.Errorf("%w: iss %q", ErrIssuerMismatch, c.Query("iss")))
	}
	if e := c.Query("error"); e != "" {
		return l.cfg.ErrorHandler(c, fmt.Errorf("%w: %s", ErrAuthorizationDenied, e))
	}
	code := c.Query("code")
	if code == "" {
		return l.cfg.ErrorHandler(c, fmt.Errorf("%w: no code", ErrInvalidCallback))
	}

	ts, err := l.provider.exchangeCode(c.UserContext(), code, tx.Verifier, tx.Nonce)
	if err != nil {
		return l.cfg.ErrorHandler(c, err)
	}

	rec := &sessionRecord{
		CreatedAt:    l.cfg.Now().Unix(),
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
	if err := l.store.save(id, rec); err != nil {
		return l.cfg.ErrorHandler(c, err)
	}
	// For back-channel logout. A failure here leaves a session that only
	// its own expiry or sign-out ends, so the sign-in fails instead.
	if err := l.store.index(id, rec); err != nil {
		_ = l.store.delete(id)
		return l.cfg.ErrorHandler(c, err)
	}
	if old := c.Cookies(l.cfg.CookieName); old != "" {
		// The old session is unreachable once the cookie is replaced. Ended
		// under its lease, like a sign-out: a refresh of it in flight
		// elsewhere does not save it back.
		_, _ = l.endSession(old)
	}
	l.store.setCookie(c, l.cfg.CookieName, id, "/", l.cfg.AbsoluteTimeout)

	target := l.cfg.BaseURL
	if tx.ReturnTo != "" {
		target = originOf(l.cfg.BaseURL) + tx.ReturnTo
	}
	return c.Redirect(target, fiber.StatusFound)
}
