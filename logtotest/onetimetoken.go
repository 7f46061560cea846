package logtotest

import (
	"bytes"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Magic links (§18). Logto's Management API issues a one-time token for an
// email address (POST /api/one-time-tokens, here Provider.OneTimeToken);
// the app sends the user to /oidc/auth with one_time_token=<token> and
// login_hint=<the email>; Logto's sign-in page, seeing one_time_token, goes
// on to its /one-time-token page, which signs the user in with the
// Experience API without a password:
//
//	GET /oidc/auth?...&one_time_token=T&login_hint=E   303 /sign-in?app_id=…&one_time_token=T&login_hint=E
//	GET /sign-in?…one_time_token=T…                    302 /one-time-token?<the same query>
//	GET /one-time-token?…   PUT /api/experience, POST /api/experience/verification/one-time-token/verify
//	                        {"token","identifier":{"type":"email","value"}}, identification, submit
//	  -> /oidc/auth/<uid> -> /consent (Logto's consent guard) -> /oidc/auth/<uid2> -> the app
//
// Logto's sign-in app is a single-page app; here /one-time-token does its
// steps server-side and redirects, and SignIn calls the Experience API as
// the app does. A token that is unknown, expired, used or issued for
// another email ends on Logto's "Invalid link" page, which does not go back
// to the app.
//
// Logto's consent guard runs at /consent when the authorization request
// carries both parameters: the signed-in user's primary email must be
// login_hint, else Logto's /switch-account page asks whether to sign in as
// login_hint (its "Continue" goes to /one-time-token); the token must be
// valid, or already used (which lets the code through), else the browser
// goes to /one-time-token?errorMessage=<Logto's message>.

// Logto's RequestErrors for one-time tokens (errors/one-time-token.ts).
var (
	errTokenEmailMismatch = experienceError{Code: "one_time_token.email_mismatch", Message: "Email mismatch with given token."}
	errTokenExpired       = experienceError{Code: "one_time_token.token_expired", Message: "The token is expired."}
	errTokenConsumed      = experienceError{Code: "one_time_token.token_consumed", Message: "The token has been consumed."}
	errEmailNotExist      = experienceError{Code: "user.email_not_exist", Message: "The email address has not been registered yet."}
)

// invalidLinkDescription is what Logto's "Invalid link" page says when it
// has no error message to show.
const invalidLinkDescription = "Your one-time token may have expired or is no longer valid."

// checkOneTimeTokenLocked is Logto's checkOneTimeToken: the token must
// exist, be for email, not be expired nor used. The status goes with the
// error (404 for an unknown token, else 400).
func (p *Provider) checkOneTimeTokenLocked(token, email string, now time.Time) (*oneTimeToken, *experienceError, int) {
	ott := p.oneTimeTokens[token]
	switch {
	case ott == nil:
		return nil, &experienceError{Code: "one_time_token.token_not_found", Message: "Token " + token + " not found."}, http.StatusNotFound
	case ott.email != email:
		return nil, &errTokenEmailMismatch, http.StatusBadRequest
	case !now.Before(ott.expires):
		return nil, &errTokenExpired, http.StatusBadRequest
	case ott.consumed:
		return nil, &errTokenConsumed, http.StatusBadRequest
	}
	return ott, nil, 0
}

// userByEmailLocked is the user whose primary email is email (compared
// without case, as Logto looks users up), or nil.
func (p *Provider) userByEmailLocked(email string) *userRecord {
	for _, id := range p.userOrder {
		if u := p.users[id]; u.Email != "" && strings.EqualFold(u.Email, email) {
			return u
		}
	}
	return nil
}

// verifyOneTimeToken is the Experience API's one-time token verification:
// check the token, use it up, and record a verification on the interaction
// for the user with that email ("" when there is none: identification then
// fails with user.user_not_exist, where Logto would register the user).
// The email is proven, so the user's email_verified becomes true.
func (p *Provider) verifyOneTimeToken(in *interaction, token, email string) (string, *experienceError, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ott, e, status := p.checkOneTimeTokenLocked(token, email, p.now())
	if e != nil {
		return "", e, status
	}
	ott.consumed = true
	userID := ""
	if u := p.userByEmailLocked(email); u != nil {
		u.EmailVerified = true
		userID = u.ID
	}
	vid := randomID(21, lowerAlnum)
	in.verifications[vid] = userID
	return vid, nil, 0
}

// consentGuard is what Logto's consent guard decided instead of the
// auto-consent: a JSON error, or a redirect.
type consentGuard struct {
	status   int
	refusal  *experienceError
	location string
}

// oneTimeTokenGuardLocked is Logto's consent guard (koa-consent-guard.ts)
// for an interaction whose authorization request carries one_time_token
// and login_hint; nil lets the auto-consent go on. On a switch of account
// the interaction goes back to the sign-in stage, for /one-time-token.
func (p *Provider) oneTimeTokenGuardLocked(in *interaction) *consentGuard {
	u := p.users[p.sessions[in.sessionID].userID]
	if u == nil || u.Email == "" {
		return &consentGuard{status: http.StatusBadRequest, refusal: &errEmailNotExist}
	}
	req := in.req
	if u.Email != req.loginHint {
		in.stage, in.userID, in.sessionID, in.event, in.identified = stageLogin, "", "", "", ""
		clear(in.verifications)
		return &consentGuard{location: "/switch-account?" + url.Values{
			"login_hint": {req.loginHint}, "one_time_token": {req.oneTimeToken}}.Encode()}
	}
	ott, e, _ := p.checkOneTimeTokenLocked(req.oneTimeToken, req.loginHint, p.now())
	switch {
	case e == nil:
		ott.consumed = true
	case e.Code == errTokenConsumed.Code:
		// Logto lets a used token through here: it is the one the user
		// just signed in with.
	default:
		return &consentGuard{location: "/one-time-token?errorMessage=" + url.PathEscape(e.Message)}
	}
	return nil
}

// handleExperienceOneTimeToken is POST
// /api/experience/verification/one-time-token/verify.
func (p *Provider) handleExperienceOneTimeToken(w http.ResponseWriter, r *http.Request) {
	in := p.experience(w, r)
	if in == nil {
		return
	}
	var body struct {
		Identifier struct {
			Type  string `json:"type"`
			Value string `json:"value"`
		} `json:"identifier"`
		Token string `json:"token"`
	}
	if err := decodeBody(r, &body); err != nil || body.Identifier.Type != "email" ||
		!strings.Contains(body.Identifier.Value, "@") || body.Token == "" {
		writeJSON(w, http.StatusBadRequest, errBadEvent)
		return
	}
	vid, e, status := p.verifyOneTimeToken(in, body.Token, body.Identifier.Value)
	if e != nil {
		setReason(r.Context(), "one-time token for %q: %s", body.Identifier.Value, e.Message)
		writeJSON(w, status, e)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"verificationId": vid})
}

// handleOneTimeTokenPage is GET /one-time-token, Logto's page for a magic
// link, which signs the user in without a password: the Experience API
// steps done server-side, then 303 to the next hop; or Logto's "Invalid
// link" page.
func (p *Provider) handleOneTimeTokenPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if msg := q.Get("errorMessage"); msg != "" {
		p.renderInvalidLink(w, r, msg)
		return
	}
	in := p.interactionFromCookie(r, stageLogin)
	if in == nil {
		http.Redirect(w, r, "/unknown-session", http.StatusFound)
		return
	}
	token, email := q.Get("one_time_token"), q.Get("login_hint")
	if token == "" || email == "" {
		p.renderInvalidLink(w, r, "")
		return
	}
	p.mu.Lock()
	in.event = "SignIn"
	p.mu.Unlock()
	vid, e, _ := p.verifyOneTimeToken(in, token, email)
	if e == nil {
		e = p.identify(in, vid)
	}
	if e == &errUserNotExist {
		setReason(r.Context(), "no user has the primary email %q: Logto would start a registration, which logtotest does not model", email)
		p.renderPage(w, http.StatusNotFound, "Create account",
			"No account has the email address "+email+". Logto would ask for the details of a new account here; logtotest does not register users: add one with that Email to Options.Users.")
		return
	}
	var redirectTo string
	if e == nil {
		redirectTo, e = p.submit(in)
	}
	if e != nil {
		p.renderInvalidLink(w, r, e.Message)
		return
	}
	http.Redirect(w, r, redirectTo, http.StatusSeeOther)
}

// handleSignInPageOneTimeToken is GET /sign-in for a magic link: Logto's
// sign-in app goes on to /one-time-token with the same query.
func (p *Provider) handleSignInPageOneTimeToken(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/one-time-token?"+r.URL.RawQuery, http.StatusFound)
}

// handleSwitchAccount is GET /switch-account, where Logto's consent guard
// sends a browser signed in as someone else than a magic link's email: a
// page whose "Continue" signs in with the link (/one-time-token).
func (p *Provider) handleSwitchAccount(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	hint := q.Get("login_hint")
	if hint == "" {
		p.renderPage(w, http.StatusBadRequest, "Oops! Something went wrong.", "")
		return
	}
	next := "/one-time-token?" + url.Values{"login_hint": {hint}, "one_time_token": {q.Get("one_time_token")}}.Encode()
	var buf bytes.Buffer
	_ = switchAccountTemplate.Execute(&buf, map[string]string{"Hint": hint, "Next": next})
	writeHTML(w, http.StatusOK, buf.Bytes())
}

// renderInvalidLink is Logto's error page for a magic link: "Invalid link"
// and Logto's message (or its general description).
func (p *Provider) renderInvalidLink(w http.ResponseWriter, r *http.Request, msg string) {
	if msg == "" {
		msg = invalidLinkDescription
	}
	setReason(r.Context(), "one-time token: %s", msg)
	p.renderPage(w, http.StatusBadRequest, "Invalid link", msg)
}

var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body><h1>{{.Title}}</h1>{{if .Message}}<p role="alert">{{.Message}}</p>{{end}}</body></html>
`))

var switchAccountTemplate = template.Must(template.New("switch-account").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Switch account</title></head>
<body><h1>Switch account</h1><p>You are signed in with another account.</p>
<p><a id="continue" href="{{.Next}}">Continue as {{.Hint}}</a></p></body></html>
`))

// renderPage writes a page with a title and a message. Logto's pages are
// its single-page app's, always 200; these have a status that says how it
// went, for tests and Options.Logger.
func (p *Provider) renderPage(w http.ResponseWriter, status int, title, msg string) {
	var buf bytes.Buffer
	_ = pageTemplate.Execute(&buf, map[string]string{"Title": title, "Message": msg})
	writeHTML(w, status, buf.Bytes())
}

func writeHTML(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
