package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/fiberlogto/sdk/logto"
)

// errGrantWithoutOrganizations: organization tokens were asked of a
// session whose sign-in did not ask for the organizations scope.
var errGrantWithoutOrganizations = fmt.Errorf("%w: Logto gives no organization token to this session: its sign-in did not ask for %q (added to Config.Scopes since?): sign in again", logto.ErrNoToken, logto.ScopeOrganizations)

// errSignedOut: Logto refused the refresh token for good (invalid_grant);
// the session has been deleted and the request goes on anonymous.
var errSignedOut = errors.New("session signed out after invalid_grant")

func (cfg *settings) fetchOptions() logto.FetchOptions {
	return logto.FetchOptions{
		UserInfo:           cfg.FetchUserInfo,
		AccessToken:        cfg.GetAccessToken,
		Resource:           cfg.Resource,
		OrganizationTokens: cfg.GetOrganizationToken,
		OrganizationID:     cfg.OrganizationID,
	}
}

// wantsTokens reports whether o asks for anything beyond the claims.
func wantsTokens(o logto.FetchOptions) bool {
	return o.UserInfo || o.AccessToken || o.OrganizationTokens
}

// CheckFetchOptions checks what a route's Fetch asks for, at setup.
func CheckFetchOptions(opts logto.FetchOptions) error {
	if opts.Resource != "" {
		return checkResource("logto.FetchOptions.Resource", opts.Resource)
	}
	return nil
}

// fillTokens adds what opts asks for beyond the claims. Each comes from the
// session when fresh, and is refreshed otherwise. With lenient (Config's
// options, on every request) what the session cannot give (logto.ErrNoToken: no
// refresh token, a resource Logto refuses) is left empty rather than
// failing every page of the site; a route that needs it asks with Fetch.
func (e *Engine) fillTokens(ctx context.Context, sess *Session, opts logto.FetchOptions, lenient bool) error {
	if !wantsTokens(opts) {
		return nil
	}
	if opts.AccessToken {
		t, err := e.accessToken(ctx, sess, resourceKey(opts.Resource), opts.Resource, "", nil)
		switch {
		case err == nil:
			sess.User.AccessToken = string(t.Token)
			sess.User.Scopes = strings.Fields(string(t.Scope))
		case !lenient || !errors.Is(err, logto.ErrNoToken):
			return err
		}
	}
	if opts.OrganizationTokens {
		if !containsString(e.cfg.scopes(), logto.ScopeOrganizations) {
			// Logto gives organization tokens only to a grant with this
			// scope; signing in again cannot help.
			return fmt.Errorf("%w: FetchOptions.OrganizationTokens needs %q in Config.Scopes (logto.ScopeOrganizations): add it, then sign in again", logto.ErrConfig, logto.ScopeOrganizations)
		}
		if granted := strings.Fields(string(sess.record.Scope)); len(granted) > 0 && !containsString(granted, logto.ScopeOrganizations) {
			// Config.Scopes has the scope, the session's grant does not:
			// it began before the scope was added, and its claims name no
			// organization either. Logto would refuse (insufficient_scope).
			if lenient {
				return nil
			}
			return errGrantWithoutOrganizations
		}
		orgs := []string{opts.OrganizationID}
		if opts.OrganizationID == "" {
			orgs = sess.organizations()
		}
		for _, org := range orgs {
			t, err := e.accessToken(ctx, sess, "o:"+org, "", org, nil)
			if err != nil {
				if errors.Is(err, errGrantLacksScope) {
					// Config.Scopes has the scope, the session's grant
					// does not: it began before the scope was added.
					if lenient {
						continue
					}
					return errGrantWithoutOrganizations
				}
				if errors.Is(err, logto.ErrNoToken) {
					continue // not a member (any more)
				}
				return err
			}
			if sess.User.OrganizationTokens == nil {
				sess.User.OrganizationTokens = make(map[string]string, len(orgs))
			}
			sess.User.OrganizationTokens[org] = string(t.Token)
		}
	}
	if opts.UserInfo {
		info, err := e.userInfo(ctx, sess)
		switch {
		case err == nil:
			sess.User.UserInfo = info
		case !lenient || !errors.Is(err, logto.ErrNoToken):
			return err
		}
	}
	return nil
}

func resourceKey(resource string) string {
	if resource == "" {
		return ""
	}
	return "r:" + resource
}

// fresh reports whether a token is good for at least ClockSkew more.
func (e *Engine) fresh(t *accessTokenEntry) bool {
	return t != nil && len(t.Token) > 0 && e.cfg.Now().Unix()+int64(e.cfg.ClockSkew.Seconds()) < t.ExpiresAt
}

// accessToken returns the token stored under key, refreshing it when it is
// missing or about to expire, or when it is the token Logto just rejected.
// Refreshes of one session never overlap: the second request waits,
// re-reads the session and finds the first one's token, so a rotating
// refresh token is never sent twice.
func (e *Engine) accessToken(ctx context.Context, sess *Session, key, resource, org string, rejected []byte) (*accessTokenEntry, error) {
	usable := func(t *accessTokenEntry) bool {
		return e.fresh(t) && (rejected == nil || !bytes.Equal(t.Token, rejected))
	}
	if t := sess.record.accessToken(key); usable(t) {
		return t, nil
	}
	// One refresh per session at a time, across instances: while another
	// instance holds the session's lease, wait, re-reading the session,
	// until its refresh lands the wanted token.
	var rec *sessionRecord
	var readErr error
	landed := func() bool {
		rec, readErr = e.store.load(ctx, sess.key)
		return readErr != nil || rec == nil || usable(rec.accessToken(key))
	}
	lease, err := e.store.hold(ctx, sessionLock(sess.key), e.cfg.HTTPTimeout+5*time.Second, e.cfg.HTTPTimeout, landed)
	if err != nil {
		return nil, err
	}
	defer lease.release()
	if lease.held {
		landed() // read under the lease
	} else if readErr == nil && rec != nil && !usable(rec.accessToken(key)) {
		return nil, fmt.Errorf("%w: another instance is refreshing this session", logto.ErrProviderUnavailable)
	}
	if readErr != nil {
		return nil, readErr
	}
	if rec == nil {
		return nil, errSignedOut
	}
	sess.setRecord(rec)
	if t := rec.accessToken(key); usable(t) {
		return t, nil
	}
	for attempt := 0; ; attempt++ {
		if len(rec.RefreshToken) == 0 {
			return nil, fmt.Errorf("%w: the session has no refresh token (was prompt=consent sent?)", logto.ErrNoToken)
		}
		sent := rec.RefreshToken
		ts, err := e.provider.refresh(ctx, string(sent), resource, org, string(rec.Subject), string(rec.Nonce))
		if err == nil {
			// A sign-out or back-channel logout that did not wait out the
			// lease may have ended the session while Logto answered: saving
			// it now would bring it back, with a refresh token nobody revoked.
			lease.renew()
			if cur, err := e.store.load(ctx, sess.key); err != nil {
				return nil, err
			} else if cur == nil {
				if ts.RefreshToken != "" {
					_ = e.provider.revoke(ctx, ts.RefreshToken, "refresh_token")
				}
				return nil, errSignedOut
			}
			e.applyRefresh(rec, ts, key)
			if err := e.store.save(ctx, sess.key, rec); err != nil {
				e.logFailure(ctx, slog.LevelWarn, msgRefreshFailed, err, "session", fingerprint(sess.key))
				return nil, err
			}
			e.log.DebugContext(ctx, msgRefreshSucceeded, "session", fingerprint(sess.key), "resource", resource, "organization", org, "rotated", ts.RefreshToken != "" && ts.RefreshToken != string(sent))
			sess.setRecord(rec)
			return rec.accessToken(key), nil
		}
		if !errors.Is(err, logto.ErrInvalidGrant) {
			if ts != nil && ts.RefreshToken != "" && ts.RefreshToken != string(sent) {
				// Logto rotated the refresh token, but its answer could not
				// be verified (the JWKS is unreachable): the old token is
				// consumed, and sending it again would end the grant. The
				// successor came over the app's own authenticated call to
				// the token endpoint, and is kept alone; the unverified ID
				// and access tokens are dropped, the next request refreshes.
				e.keepRotatedRefreshToken(ctx, sess.key, lease, ts.RefreshToken)
			}
			err = refreshFailure(err)
			if !errors.Is(err, logto.ErrNoToken) { // a resource or organization Logto refuses is not a failure of the session
				e.logFailure(ctx, slog.LevelWarn, msgRefreshFailed, err, "session", fingerprint(sess.key), "transient", true)
			}
			return nil, err
		}
		// Another instance sharing the storage may have rotated the refresh
		// token meanwhile: a rotation race is not a revoked grant. Re-read
		// before giving up, and use the winner's tokens.
		cur, lerr := e.store.load(ctx, sess.key)
		if lerr != nil {
			return nil, lerr
		}
		if attempt == 0 && cur != nil && !bytes.Equal(cur.RefreshToken, sent) {
			rec = cur
			sess.setRecord(rec)
			if t := rec.accessToken(key); usable(t) {
				return t, nil
			}
			continue
		}
		// The grant is gone (revoked, expired, replayed): sign out cleanly.
		e.log.WarnContext(ctx, msgRefreshFailed, "session", fingerprint(sess.key), "transient", false,
			"check", "token endpoint", "oauth_error", "invalid_grant", "outcome", "signed out")
		_ = e.store.delete(ctx, sess.key)
		return nil, errSignedOut
	}
}

// keepRotatedRefreshToken saves token as the session's refresh token, under
// the lease the refresh holds, when the session still exists.
func (e *Engine) keepRotatedRefreshToken(ctx context.Context, key string, lease *lease, token string) {
	lease.renew()
	cur, err := e.store.load(ctx, key)
	if err != nil || cur == nil {
		return
	}
	cur.RefreshToken = []byte(token)
	if err := e.store.save(ctx, key, cur); err != nil {
		e.logFailure(ctx, slog.LevelWarn, msgRefreshFailed, err, "session", fingerprint(key))
	}
}

// refreshFailure maps a failed refresh onto what the request answers: Logto
// failing or slow is a 503 (the refresh token is kept for the next try); a
// refreshed ID token that fails verification is Logto's fault, a 502.
//
// The cause's sentinel is replaced, not added to: it is formatted with %v,
// so the error wraps exactly one sentinel and StatusOf cannot pick the
// cause's status instead.
func refreshFailure(err error) error {
	switch {
	case errors.Is(err, logto.ErrProviderTimeout), errors.Is(err, logto.ErrProviderUnavailable), errors.Is(err, logto.ErrProviderResponse):
		return fmt.Errorf("%w: refresh: %v", logto.ErrProviderUnavailable, err)
	case errors.Is(err, logto.ErrInvalidIDToken):
		return fmt.Errorf("%w: refreshed ID token rejected: %v", logto.ErrProviderResponse, err)
	}
	return err
}

// applyRefresh merges a refresh response into the record. A new refresh
// token replaces the old one; none keeps it (Logto returns the same one
// until 70 % of its lifetime).
func (e *Engine) applyRefresh(rec *sessionRecord, ts *tokenSet, key string) {
	if ts.RefreshToken != "" {
		rec.RefreshToken = []byte(ts.RefreshToken)
	}
	if ts.IDToken != "" {
		rec.IDToken = []byte(ts.IDToken)
		rec.Claims = ts.RawClaims
	}
	rec.setAccessToken(accessTokenEntry{Key: []byte(key), Token: []byte(ts.AccessToken), Scope: []byte(ts.Scope), ExpiresAt: ts.ExpiresAt.Unix()})
}

// userInfo returns the cached userinfo answer or fetches a new one with the
// opaque access token. A token Logto rejects (revoked, or issued before a
// restart of a test provider) is refreshed once; if the grant is gone the
// session ends.
func (e *Engine) userInfo(ctx context.Context, sess *Session) ([]byte, error) {
	now := e.cfg.Now().Unix()
	if rec := sess.record; len(rec.UserInfo) > 0 && now < rec.UserInfoAt+int64(e.cfg.UserInfoTTL.Seconds()) {
		return rec.UserInfo, nil
	}
	var rejected []byte
	var info []byte
	for attempt := 0; ; attempt++ {
		t, err := e.accessToken(ctx, sess, "", "", "", rejected)
		if err != nil {
			return nil, err
		}
		info, err = e.provider.userInfo(ctx, string(t.Token), sess.User.Subject)
		if err == nil {
			break
		}
		if !errors.Is(err, errTokenRejected) || attempt > 0 {
			return nil, err
		}
		rejected = t.Token
	}
	rec, err := e.store.update(ctx, sess.key, func(rec *sessionRecord) {
		rec.UserInfo, rec.UserInfoAt = info, now
	})
	if err != nil {
		return nil, err
	}
	if rec != nil {
		sess.setRecord(rec)
	}
	return info, nil
}
