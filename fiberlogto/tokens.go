package fiberlogto

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// errSignedOut: Logto refused the refresh token for good (invalid_grant);
// the session has been deleted and the request goes on anonymous.
var errSignedOut = errors.New("session signed out after invalid_grant")

// fillTokens adds what Config asks for beyond the claims: access token,
// organization tokens, userinfo. Each comes from the session when fresh, and
// is refreshed otherwise.
func (l *Logto) fillTokens(c *fiber.Ctx, user *UserContext) error {
	cfg := &l.cfg
	if !cfg.GetAccessToken && !cfg.GetOrganizationToken && !cfg.FetchUserInfo {
		return nil
	}
	ctx := c.UserContext()
	if cfg.GetAccessToken {
		e, err := l.accessToken(ctx, user, resourceKey(cfg.Resource), cfg.Resource, "")
		if err != nil {
			return err
		}
		user.AccessToken = string(e.Token)
		user.Scopes = strings.Fields(string(e.Scope))
	}
	if cfg.GetOrganizationToken {
		orgs := []string{cfg.OrganizationID}
		if cfg.OrganizationID == "" {
			orgs = user.organizations()
		}
		for _, org := range orgs {
			e, err := l.accessToken(ctx, user, "o:"+org, "", org)
			if err != nil {
				if errors.Is(err, ErrNoToken) {
					continue // not a member (any more), or no organization scope
				}
				return err
			}
			if user.OrganizationTokens == nil {
				user.OrganizationTokens = make(map[string]string, len(orgs))
			}
			user.OrganizationTokens[org] = string(e.Token)
		}
	}
	if cfg.FetchUserInfo {
		info, err := l.userInfo(ctx, user)
		if err != nil {
			return err
		}
		user.UserInfo = info
	}
	return nil
}

func resourceKey(resource string) string {
	if resource == "" {
		return ""
	}
	return "r:" + resource
}

func (u *UserContext) organizations() []string {
	var c struct {
		Organizations []string `json:"organizations"`
	}
	_ = json.Unmarshal(u.Claims, &c)
	return c.Organizations
}

// fresh reports whether a token is good for at least ClockSkew more.
func (l *Logto) fresh(e *accessTokenEntry) bool {
	return e != nil && len(e.Token) > 0 && l.cfg.Now().Unix()+int64(l.cfg.ClockSkew.Seconds()) < e.ExpiresAt
}

// accessToken returns the token stored under key, refreshing it when it is
// missing or about to expire. Refreshes of one session never overlap: the
// second request waits, re-reads the session and finds the first one's
// token, so a rotating refresh token is never sent twice.
func (l *Logto) accessToken(ctx context.Context, user *UserContext, key, resource, org string) (*accessTokenEntry, error) {
	if e := user.record.accessToken(key); l.fresh(e) {
		return e, nil
	}
	unlock := l.locks.lock("s:" + user.sessionID)
	defer unlock()

	rec, err := l.store.load(user.sessionID)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, errSignedOut
	}
	user.record = rec
	user.Claims = rec.Claims
	if e := rec.accessToken(key); l.fresh(e) {
		return e, nil
	}
	if len(rec.RefreshToken) == 0 {
		return nil, fmt.Errorf("%w: the session has no refresh token (was prompt=consent sent?)", ErrNoToken)
	}
	ts, err := l.provider.refresh(ctx, string(rec.RefreshToken), resource, org, string(rec.Subject), string(rec.Nonce))
	if err != nil {
		if errors.Is(err, ErrInvalidGrant) {
			// The grant is gone (revoked, expired, replayed): sign out cleanly.
			_ = l.store.delete(user.sessionID)
			return nil, errSignedOut
		}
		return nil, err
	}
	l.applyRefresh(rec, ts, key)
	if err := l.store.save(user.sessionID, rec); err != nil {
		return nil, err
	}
	user.Claims = rec.Claims
	return rec.accessToken(key), nil
}

// applyRefresh merges a refresh response into the record. A new refresh
// token replaces the old one; none keeps it (Logto returns the same one
// until 70 % of its lifetime).
func (l *Logto) applyRefresh(rec *sessionRecord, ts *tokenSet, key string) {
	if ts.RefreshToken != "" {
		rec.RefreshToken = []byte(ts.RefreshToken)
	}
	if ts.IDToken != "" {
		rec.IDToken = []byte(ts.IDToken)
		rec.Claims = ts.RawClaims
	}
	rec.setAccessToken(accessTokenEntry{Key: key, Token: []byte(ts.AccessToken), Scope: []byte(ts.Scope), ExpiresAt: ts.ExpiresAt.Unix()})
}

// userInfo returns the cached userinfo answer or fetches a new one with the
// opaque access token.
func (l *Logto) userInfo(ctx context.Context, user *UserContext) ([]byte, error) {
	now := l.cfg.Now().Unix()
	if rec := user.record; len(rec.UserInfo) > 0 && now < rec.UserInfoAt+int64(l.cfg.UserInfoTTL.Seconds()) {
		return rec.UserInfo, nil
	}
	e, err := l.accessToken(ctx, user, "", "", "")
	if err != nil {
		return nil, err
	}
	info, err := l.provider.userInfo(ctx, string(e.Token), string(user.record.Subject))
	if err != nil {
		return nil, err
	}
	unlock := l.locks.lock("s:" + user.sessionID)
	defer unlock()
	rec, err := l.store.load(user.sessionID)
	if err != nil || rec == nil {
		return info, err
	}
	rec.UserInfo, rec.UserInfoAt = info, now
	if err := l.store.save(user.sessionID, rec); err != nil {
		return nil, err
	}
	user.record = rec
	return info, nil
}
