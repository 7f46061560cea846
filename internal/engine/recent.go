package engine

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/fiberlogto/sdk/logto"
)

// RequireRecentSignIn answers a request to a sensitive route whose
// session's last sign-in with credentials (the ID token's auth_time) is
// older than maxAge, nil when it is recent enough. A session without
// auth_time counts as old. A page request is sent through sign-in with
// max_age (Logto then asks for the credentials again) and comes back to the
// same page; an API request gets 401 logto.ErrRecentSignInRequired; an
// anonymous request is answered as RequireAuth does, with max_age too.
func (e *Engine) RequireRecentSignIn(r Request, sess *Session, maxAge time.Duration) *Answer {
	if sess.User.IsAuthenticated && e.signedInWithin(sess, maxAge) {
		return nil
	}
	a := &Answer{}
	a.header("Cache-Control", "no-store")
	if IsPageRequest(r) && r.Method() == "GET" {
		return a.redirect(e.cfg.BaseURL + e.cfg.RoutesPrefix + "/sign-in?returnTo=" + url.QueryEscape(r.OriginalURL()) +
			"&max_age=" + strconv.FormatInt(int64(maxAge/time.Second), 10))
	}
	if !sess.User.IsAuthenticated {
		return a.fail(logto.ErrNotAuthenticated)
	}
	return a.fail(logto.ErrRecentSignInRequired)
}

// signedInWithin reports whether the session's auth_time is within maxAge
// (and ClockSkew) of now.
func (e *Engine) signedInWithin(sess *Session, maxAge time.Duration) bool {
	var c struct {
		AuthTime int64 `json:"auth_time"`
	}
	if json.Unmarshal(sess.User.Claims, &c) != nil || c.AuthTime == 0 {
		return false
	}
	return e.cfg.Now().Sub(time.Unix(c.AuthTime, 0)) <= maxAge+e.cfg.ClockSkew
}

// CheckRecentSignIn checks a RequireRecentSignIn's maxAge, at setup: whole
// seconds, at least one (max_age=0 would send none, and the guard would
// send the user round and round).
func CheckRecentSignIn(maxAge time.Duration) error {
	if maxAge < time.Second {
		return fmt.Errorf("%w: RequireRecentSignIn: maxAge must be at least a second, got %v", logto.ErrConfig, maxAge)
	}
	if err := CheckSignInOptions(logto.SignInOptions{MaxAge: maxAge}); err != nil {
		return fmt.Errorf("%w: RequireRecentSignIn: maxAge must be whole seconds, up to %v", logto.ErrConfig, maxMaxAge)
	}
	return nil
}
