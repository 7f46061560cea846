package logtotest

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"time"
)

// The provider keeps all state in memory, in maps guarded by Provider.mu.
// These are the records; the comments say which Logto object each stands for.

// authRequest is a validated /oidc/auth request, carried through sign-in
// and consent until a code is issued.
type authRequest struct {
	clientID      string
	redirectURI   string
	state         string
	nonce         string
	scopes        []string
	resources     []string
	prompt        []string
	maxAge        int  // seconds, meaningful when hasMaxAge
	hasMaxAge     bool // max_age was sent: the session must be recent enough
	codeChallenge string
	responseMode  string
	// oneTimeToken and loginHint are a magic link's one_time_token and
	// login_hint (the token's email), for Logto's /one-time-token page and
	// its consent guard.
	oneTimeToken, loginHint string
	// signInQuery is the query of Logto's sign-in page URL: app_id, then
	// the extra parameters Logto passes on to its sign-in app, in its
	// order.
	signInQuery string
}

func (a *authRequest) hasPrompt(v string) bool { return contains(a.prompt, v) }

// includeAuthTime reports whether ID tokens of the sign-in carry auth_time:
// as node-oidc-provider, when max_age or prompt=login was sent (§7, §18).
func (a *authRequest) includeAuthTime() bool { return a.hasMaxAge || a.hasPrompt("login") }

// Stages of an interaction, in the order Logto walks them (§3).
const (
	stageLogin     = iota // waiting for the Experience API
	stageSubmitted        // Experience submit done; /oidc/auth/<uid> creates the session
	stageConsent          // waiting for /consent
	stageConsented        // /oidc/auth/<uid2> issues the code
)

// interaction is node-oidc-provider's Interaction: one pass of a browser
// through sign-in and consent, named by the _interaction cookie.
type interaction struct {
	uid           string
	req           *authRequest
	stage         int
	expires       time.Time
	event         string            // set by PUT /api/experience
	verifications map[string]string // verificationId -> user ID ("" for a verified email no user has)
	identified    string            // user ID after /identification
	userID        string            // after submit
	sessionID     string            // the SSO session, once there is one
}

// ssoSession is the browser's Logto session (the _session cookie).
type ssoSession struct {
	id        string // cookie value
	sid       string // the sid claim
	userID    string
	authTime  time.Time
	expires   time.Time
	consented map[string]bool // client IDs that went through /consent
}

// authCode is an issued authorization code.
type authCode struct {
	req          *authRequest
	userID       string
	sessionID    string
	sid          string
	authTime     time.Time
	issueRefresh bool
	expires      time.Time
	used         bool
	grantID      string // the grant the first exchange created
}

// grant is what a code exchange creates and every token of the sign-in hangs
// on. Revoking it (code reuse, refresh replay, refresh token revocation)
// kills every token at once, as in Logto (§11, §12, §13).
type grant struct {
	id              string
	clientID        string
	userID          string
	scopes          []string // everything requested, offline_access only if a refresh token was issued
	resources       []string
	nonce           string
	sid             string
	authTime        time.Time
	includeAuthTime bool
	revoked         bool
}

// accessToken is an opaque access token, usable at /oidc/me.
type accessToken struct {
	grantID  string
	scopes   []string
	issuedAt time.Time
	expires  time.Time
	revoked  bool
}

// refreshToken is a refresh token. rotatedAt is set once a newer token
// replaced it; it is then accepted only for ReplayGrace.
type refreshToken struct {
	grantID   string
	issuedAt  time.Time
	expires   time.Time
	rotatedAt time.Time
}

// subjectToken is an impersonation subject token, what Logto's
// Management API POST /api/subject-tokens creates: "sub_" and 21
// characters, for one token exchange within 600 s (§18).
type subjectToken struct {
	userID   string
	expires  time.Time
	consumed bool
}

// personalAccessToken is a user's personal access token (POST
// /api/users/{id}/personal-access-tokens): "pat_" and 32 characters,
// exchanged any number of times until it expires, if it does (§18).
type personalAccessToken struct {
	userID  string
	name    string
	expires time.Time // zero: never
}

// oneTimeToken is a magic link's token (POST /api/one-time-tokens): 32
// characters, for one sign-in of the email address it was issued for
// (§18).
type oneTimeToken struct {
	email    string
	expires  time.Time
	consumed bool
}

// pendingLogout is an end-session request waiting for its confirm POST.
type pendingLogout struct {
	sessionID string
	clientID  string
	redirect  string // "" means the success page
	expires   time.Time
}

// randomToken returns 43 base64url characters (256 bits), the length of
// Logto's codes and opaque tokens.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

const (
	lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	alnum      = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	nanoidABC  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
)

// randomID returns n characters from alphabet, like the nanoid IDs Logto
// uses (21 characters for sessions, interactions and verification IDs).
func randomID(n int, alphabet string) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// cookieValue reads a cookie from request headers (op.Request carries the
// header but not the *http.Request).
func cookieValue(h http.Header, name string) string {
	r := http.Request{Header: h}
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

// Cookie names, as Logto's. Values are plain IDs so that a Go cookie jar
// keeps them (Logto's raw-JSON values are dropped by net/http, §0.11).
const (
	interactionCookie = "_interaction"
	sessionCookie     = "_session"
)

// Lifetimes Logto uses for things that are not tokens (§3, §16).
const (
	interactionTTL = time.Hour
	sessionTTL     = 14 * 24 * time.Hour
	codeTTL        = 60 * time.Second // node-oidc-provider's default
	logoutTTL      = time.Hour
	// subjectTokenTTL is the expiresIn of POST /api/subject-tokens, and
	// oneTimeTokenTTL the default expiresIn of POST /api/one-time-tokens
	// (§18).
	subjectTokenTTL = 600 * time.Second
	oneTimeTokenTTL = 600 * time.Second
)

// Cookie lifetimes are sent as Max-Age rather than Expires so that a test
// Clock far from the real time does not make the browser (or cookie jar)
// drop them; the server side enforces its own expiry with the Clock.

func interactionSetCookie(uid string) *http.Cookie {
	return &http.Cookie{Name: interactionCookie, Value: uid, Path: "/", MaxAge: int(interactionTTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteLaxMode}
}

func sessionSetCookie(id string) *http.Cookie {
	return &http.Cookie{Name: sessionCookie, Value: id, Path: "/", MaxAge: int(sessionTTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteLaxMode}
}

func sessionClearCookie() *http.Cookie {
	return &http.Cookie{Name: sessionCookie, Value: "", Path: "/", Expires: time.Unix(0, 0), MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode}
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

// intersect keeps the items of a that are in b, in a's order.
func intersect(a, b []string) []string {
	out := []string{}
	for _, s := range a {
		if contains(b, s) && !contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
