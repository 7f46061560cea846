package logtotest

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"html/template"
	"io"
	"net/http"
	"strings"
)

// Logto's sign-in page is a single-page app that drives the Experience API
// (§5). This file has both: the API, with Logto's status codes and error
// codes, and a tiny HTML form that runs the same steps server-side, for
// humans and headless browsers.

// experienceError is the body of Experience API errors.
type experienceError struct {
	Code             string `json:"code"`
	Message          string `json:"message"`
	Error            string `json:"error,omitempty"`
	ErrorDescription string `json:"error_description,omitempty"`
}

var (
	errSessionNotFound = experienceError{Code: "session.not_found", Message: "Session not found.",
		Error: "invalid_request", ErrorDescription: "interaction session not found"}
	errInvalidCredentials  = experienceError{Code: "session.invalid_credentials", Message: "Account or password is incorrect."}
	errInteractionNotFound = experienceError{Code: "session.interaction_not_found", Message: "Interaction session not found."}
	errIdentifierNotFound  = experienceError{Code: "session.identifier_not_found", Message: "Identifier not found. Please go back and sign in again."}
	errVerificationMissing = experienceError{Code: "session.verification_session_not_found", Message: "The verification session was not found."}
	errBadEvent            = experienceError{Code: "guard.invalid_input", Message: "The request input is invalid."}
	// errUserNotExist is Logto's answer to an identification by a verified
	// email address no user has; its message is Logto's template.
	errUserNotExist = experienceError{Code: "user.user_not_exist", Message: "User with {{ identifier }} does not exist."}
)

// experience looks up the interaction for an Experience API call; it answers
// 400 session.not_found itself when there is none.
func (p *Provider) experience(w http.ResponseWriter, r *http.Request) *interaction {
	in := p.interactionFromCookie(r, stageLogin)
	if in == nil {
		writeJSON(w, http.StatusBadRequest, errSessionNotFound)
		return nil
	}
	return in
}

func decodeBody(r *http.Request, v any) error {
	return json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(v)
}

// handleExperienceStart is PUT /api/experience {"interactionEvent":"SignIn"}.
func (p *Provider) handleExperienceStart(w http.ResponseWriter, r *http.Request) {
	in := p.experience(w, r)
	if in == nil {
		return
	}
	var body struct {
		InteractionEvent string `json:"interactionEvent"`
	}
	if err := decodeBody(r, &body); err != nil || body.InteractionEvent != "SignIn" {
		// Register and ForgotPassword exist in Logto; this provider only signs in.
		writeJSON(w, http.StatusBadRequest, errBadEvent)
		return
	}
	p.mu.Lock()
	in.event = body.InteractionEvent
	p.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// handleExperiencePassword is POST /api/experience/verification/password.
func (p *Provider) handleExperiencePassword(w http.ResponseWriter, r *http.Request) {
	in := p.experience(w, r)
	if in == nil {
		return
	}
	var body struct {
		Identifier struct {
			Type  string `json:"type"`
			Value string `json:"value"`
		} `json:"identifier"`
		Password string `json:"password"`
	}
	if err := decodeBody(r, &body); err != nil {
		writeJSON(w, http.StatusBadRequest, errBadEvent)
		return
	}
	vid, ok := p.verifyPassword(in, body.Identifier.Type, body.Identifier.Value, body.Password)
	if !ok {
		writeJSON(w, http.StatusUnprocessableEntity, errInvalidCredentials)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"verificationId": vid})
}

// verifyPassword checks credentials and records a verification on the
// interaction. identifierType is username, email or phone.
func (p *Provider) verifyPassword(in *interaction, identifierType, value, password string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var user *userRecord
	for _, id := range p.userOrder {
		u := p.users[id]
		switch identifierType {
		case "username":
			if u.Username == value {
				user = u
			}
		case "email":
			if u.Email != "" && strings.EqualFold(u.Email, value) {
				user = u
			}
		case "phone":
			if u.PhoneNumber != "" && u.PhoneNumber == value {
				user = u
			}
		}
	}
	if user == nil || subtle.ConstantTimeCompare([]byte(user.Password), []byte(password)) != 1 {
		return "", false
	}
	vid := randomID(21, lowerAlnum)
	in.verifications[vid] = user.ID
	return vid, true
}

// handleExperienceIdentify is POST /api/experience/identification.
func (p *Provider) handleExperienceIdentify(w http.ResponseWriter, r *http.Request) {
	in := p.experience(w, r)
	if in == nil {
		return
	}
	var body struct {
		VerificationID string `json:"verificationId"`
	}
	_ = decodeBody(r, &body)
	if e := p.identify(in, body.VerificationID); e != nil {
		writeJSON(w, http.StatusNotFound, e)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (p *Provider) identify(in *interaction, vid string) *experienceError {
	p.mu.Lock()
	defer p.mu.Unlock()
	if in.event == "" {
		return &errInteractionNotFound
	}
	userID, ok := in.verifications[vid]
	if !ok {
		return &errVerificationMissing
	}
	if userID == "" {
		// A one-time token verified an email address no user has: Logto's
		// sign-in app would start a registration, which this provider
		// does not model.
		return &errUserNotExist
	}
	in.identified = userID
	return nil
}

// handleExperienceSubmit is POST /api/experience/submit; it answers the
// absolute /oidc/auth/<uid> the browser goes to next.
func (p *Provider) handleExperienceSubmit(w http.ResponseWriter, r *http.Request) {
	in := p.experience(w, r)
	if in == nil {
		return
	}
	redirectTo, e := p.submit(in)
	if e != nil {
		writeJSON(w, http.StatusNotFound, e)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"redirectTo": redirectTo})
}

func (p *Provider) submit(in *interaction) (string, *experienceError) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if in.stage != stageLogin {
		return "", &errSessionNotFound // submitted already, by a concurrent request
	}
	if in.event == "" {
		return "", &errInteractionNotFound
	}
	if in.identified == "" {
		return "", &errIdentifierNotFound
	}
	in.userID = in.identified
	in.stage = stageSubmitted
	return p.base + "/oidc/auth/" + in.uid, nil
}

var signInTemplate = template.Must(template.New("sign-in").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:sans-serif;max-width:22rem;margin:4rem auto}label,input,button{display:block;width:100%;margin:.4rem 0}.error{color:#b00}</style>
</head><body>
<h1>Sign in</h1>
<p>logtotest provider, application <code>{{.AppID}}</code></p>
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
<form method="post" action="/sign-in">
<label for="identifier">Username or email</label>
<input id="identifier" name="identifier" autocomplete="username" value="{{.Identifier}}" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button id="submit" type="submit">Sign in</button>
</form>
</body></html>
`))

func (p *Provider) renderSignIn(w http.ResponseWriter, status int, appID, identifier, errMsg string) {
	var buf bytes.Buffer
	_ = signInTemplate.Execute(&buf, map[string]string{"AppID": appID, "Identifier": identifier, "Error": errMsg})
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// handleSignInPage is GET /sign-in: the form, or 302 /unknown-session for a
// browser without an interaction, as Logto (§3); for a magic link, 302
// /one-time-token (onetimetoken.go).
func (p *Provider) handleSignInPage(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("one_time_token") != "" {
		p.handleSignInPageOneTimeToken(w, r)
		return
	}
	in := p.interactionFromCookie(r, stageLogin)
	if in == nil {
		http.Redirect(w, r, "/unknown-session", http.StatusFound)
		return
	}
	p.renderSignIn(w, http.StatusOK, in.req.clientID, in.req.loginHint, "") // login_hint pre-fills the identifier, as on Logto's page
}

// handleSignInForm is POST /sign-in: the four Experience API steps in one,
// then 303 to the redirectTo, or the form again with an error.
func (p *Provider) handleSignInForm(w http.ResponseWriter, r *http.Request) {
	in := p.interactionFromCookie(r, stageLogin)
	if in == nil {
		http.Redirect(w, r, "/unknown-session", http.StatusSeeOther)
		return
	}
	identifier, password := r.PostFormValue("identifier"), r.PostFormValue("password")
	idType := "username"
	if strings.Contains(identifier, "@") {
		idType = "email"
	}
	p.mu.Lock()
	in.event = "SignIn"
	p.mu.Unlock()
	vid, ok := p.verifyPassword(in, idType, identifier, password)
	if !ok {
		p.renderSignIn(w, http.StatusUnprocessableEntity, in.req.clientID, identifier, "Account or password is incorrect.")
		return
	}
	if e := p.identify(in, vid); e != nil {
		p.renderSignIn(w, http.StatusUnprocessableEntity, in.req.clientID, identifier, e.Message)
		return
	}
	redirectTo, e := p.submit(in)
	if e != nil {
		p.renderSignIn(w, http.StatusUnprocessableEntity, in.req.clientID, identifier, e.Message)
		return
	}
	http.Redirect(w, r, redirectTo, http.StatusSeeOther)
}

// handleUnknownSession is where Logto's sign-in app lands without an
// interaction.
func (p *Provider) handleUnknownSession(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = io.WriteString(w, `<!DOCTYPE html><html><head><title>Session not found</title></head>`+
		`<body><h1>Session not found</h1><p>Please go back and sign in again.</p></body></html>`)
}
