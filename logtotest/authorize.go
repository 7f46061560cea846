package logtotest

import (
	"bytes"
	"context"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// The authorization flow, hop by hop as Logto (§3, §4):
//
//	GET /oidc/auth?...            303 /sign-in?app_id=…      (no session, or prompt=login)
//	  Experience API (experience.go) -> redirectTo /oidc/auth/<uid>
//	GET /oidc/auth/<uid>          303 /consent?app_id=…      (creates the SSO session)
//	GET /consent?app_id=…         302 <URL>/oidc/auth/<uid2> (first-party: auto-consent)
//	GET /oidc/auth/<uid2>         303 <redirect_uri>?code=…&state=…&iss=…
//
// With an SSO session and no prompt the first hop returns the code at once;
// prompt=consent goes through /consent; prompt=none without a session is
// login_required. Errors after the redirect_uri is known go back to it with
// state and iss (op's TryErrorRedirect plus issEncoder).

// VerifyAuthRequest checks what must be right before anything can be
// redirected: the client and the redirect_uri. Errors here are JSON 400 with
// state and iss, as Logto's (§3).
func (s *opServer) VerifyAuthRequest(ctx context.Context, r *op.Request[oidc.AuthRequest]) (*op.ClientRequest[oidc.AuthRequest], error) {
	p := s.p
	d := r.Data
	extra := &errExtra{state: d.State, iss: p.issuer()}
	if d.ClientID != p.ClientID {
		setReason(ctx, "client_id %q is not Options.ClientID %q", d.ClientID, p.ClientID)
		return nil, p.fail(ctx, http.StatusBadRequest, "invalid_client", "invalid client "+d.ClientID, extra)
	}
	if d.RedirectURI == "" {
		return nil, p.fail(ctx, http.StatusBadRequest, "invalid_request", "missing required parameter 'redirect_uri'", extra)
	}
	if !uriAllowed(p.opts.RedirectURIs, d.RedirectURI) {
		if len(p.opts.RedirectURIs) > 0 {
			setReason(ctx, "redirect_uri %q is not among Options.RedirectURIs %q", d.RedirectURI, p.opts.RedirectURIs)
		} else {
			setReason(ctx, "redirect_uri %q is not an http(s) loopback URI, the only ones accepted while Options.RedirectURIs is empty", d.RedirectURI)
		}
		return nil, p.fail(ctx, http.StatusBadRequest, "invalid_redirect_uri",
			"redirect_uri did not match any of the client's registered redirect_uris", extra)
	}
	if d.RequestParam != "" {
		return nil, p.fail(ctx, http.StatusBadRequest, "request_not_supported", "request parameter is not supported", extra)
	}
	c := &client{p: p, redirectURIs: p.opts.RedirectURIs}
	if len(c.redirectURIs) == 0 {
		c.redirectURIs = []string{d.RedirectURI}
	}
	return &op.ClientRequest[oidc.AuthRequest]{Request: r, Client: c}, nil
}

// Authorize runs after op validated redirect_uri, scopes and response_type.
// Returned oidc errors are redirected to the client with state and iss.
func (s *opServer) Authorize(ctx context.Context, cr *op.ClientRequest[oidc.AuthRequest]) (*op.Redirect, error) {
	p := s.p
	d := cr.Data
	if d.CodeChallenge != "" {
		switch d.CodeChallengeMethod {
		case oidc.CodeChallengeMethodS256:
		case "":
			return nil, oidc.ErrInvalidRequest().WithDescription("plain code_challenge_method fallback disabled, code_challenge_method must be provided")
		default:
			return nil, oidc.ErrInvalidRequest().WithDescription("not supported value of code_challenge_method")
		}
	}
	resources := cr.Form["resource"]
	for _, res := range resources {
		if !p.resources[res] {
			// Logto's description does not name the resource (§3); the
			// reason, for Options.Logger and SignInTo, does.
			setReason(ctx, "resource %q is not among Options.Resources %q", res, p.opts.Resources)
			return nil, &oidc.Error{ErrorType: oidc.InvalidTarget, Description: "resource indicator is missing, or unknown"}
		}
	}
	req := &authRequest{
		clientID:      d.ClientID,
		redirectURI:   d.RedirectURI,
		state:         d.State,
		nonce:         d.Nonce,
		scopes:        []string(d.Scopes),
		resources:     resources,
		prompt:        []string(d.Prompt),
		codeChallenge: d.CodeChallenge,
		responseMode:  string(d.ResponseMode),
		oneTimeToken:  cr.Form.Get("one_time_token"),
		loginHint:     cr.Form.Get("login_hint"),
		signInQuery:   signInQuery(d.ClientID, cr.Form),
	}
	// op turns prompt=login into max_age=0; whether the session is recent
	// enough depends on whether the client sent max_age, so read the raw
	// parameter.
	if v := cr.Form.Get("max_age"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, oidc.ErrInvalidRequest().WithDescription("invalid max_age parameter value")
		}
		req.maxAge, req.hasMaxAge = n, true
	}

	now := p.now()
	sess := p.liveSession(cookieValue(cr.Header, sessionCookie), now)
	if sess != nil && req.hasMaxAge && now.Unix()-sess.authTime.Unix() > int64(req.maxAge) {
		// Too old for this request: sign in again. node-oidc-provider
		// compares whole seconds since the sign-in, strictly, so max_age=0
		// is still met within the second of the sign-in.
		sess = nil
	}
	if req.hasPrompt("none") {
		if sess == nil {
			return nil, oidc.ErrLoginRequired().WithDescription("End-User authentication is required")
		}
		return p.authResponse(ctx, req, sess)
	}
	if sess == nil || req.hasPrompt("login") {
		uid := p.newInteraction(req, stageLogin, nil, now)
		return p.redirectWithCookie("/sign-in?"+req.signInQuery, interactionSetCookie(uid)), nil
	}
	if req.hasPrompt("consent") || !p.consented(sess, req.clientID) {
		uid := p.newInteraction(req, stageConsent, sess, now)
		return p.redirectWithCookie("/consent?app_id="+url.QueryEscape(req.clientID), interactionSetCookie(uid)), nil
	}
	return p.authResponse(ctx, req, sess)
}

// signInQuery is the query of the sign-in page URL Logto's interaction
// redirect names: app_id, then the parameters of the authorization request
// Logto passes on to its sign-in app, in Logto's order (buildLoginPromptUrl).
func signInQuery(clientID string, form url.Values) string {
	var b strings.Builder
	b.WriteString("app_id=" + url.QueryEscape(clientID))
	for _, k := range []string{"organization_id", "one_time_token", "login_hint", "identifier", "ui_locales"} {
		if v := form.Get(k); v != "" {
			b.WriteString("&" + k + "=" + url.QueryEscape(v))
		}
	}
	return b.String()
}

// redirectWithCookie is an op redirect that sets a cookie on the way.
func (p *Provider) redirectWithCookie(location string, c *http.Cookie) *op.Redirect {
	red := op.NewRedirect(location)
	red.Header.Add("Set-Cookie", c.String())
	return red
}

// authResponse issues a code for an SSO session from inside op.Authorize.
func (p *Provider) authResponse(ctx context.Context, req *authRequest, sess *ssoSession) (*op.Redirect, error) {
	location, formPage := p.issueCode(req, sess)
	if formPage != nil {
		formPage.header.Add("Set-Cookie", sessionSetCookie(sess.id).String())
		p.setPage(ctx, http.StatusOK, formPage.header, formPage.body)
		return op.NewRedirect(req.redirectURI), nil
	}
	red := op.NewRedirect(location)
	red.Header.Add("Set-Cookie", sessionSetCookie(sess.id).String())
	return red, nil
}

// liveSession returns the SSO session named by the cookie, if it is valid.
func (p *Provider) liveSession(id string, now time.Time) *ssoSession {
	if id == "" {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.sessions[id]
	if s == nil || now.After(s.expires) || p.users[s.userID] == nil {
		return nil
	}
	return s
}

func (p *Provider) consented(s *ssoSession, clientID string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return s.consented[clientID]
}

// newInteraction stores an interaction and returns its uid.
func (p *Provider) newInteraction(req *authRequest, stage int, sess *ssoSession, now time.Time) string {
	in := &interaction{
		uid:           randomID(21, nanoidABC),
		req:           req,
		stage:         stage,
		expires:       now.Add(interactionTTL),
		verifications: map[string]string{},
	}
	if sess != nil {
		in.userID, in.sessionID = sess.userID, sess.id
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.interactions[in.uid] = in
	return in.uid
}

// anyStage makes interactionFromCookie accept an interaction at any stage.
const anyStage = -1

// interactionFromCookie returns the live interaction the browser's
// _interaction cookie names, if it is at stage (checked under the lock, as
// concurrent requests of one browser may move it on).
func (p *Provider) interactionFromCookie(r *http.Request, stage int) *interaction {
	c, err := r.Cookie(interactionCookie)
	if err != nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	in := p.interactions[c.Value]
	if in == nil || p.now().After(in.expires) || (stage != anyStage && in.stage != stage) {
		return nil
	}
	return in
}

// handleResume is GET /oidc/auth/{uid}: the hop after sign-in (creates the
// SSO session, then consent) and the hop after consent (issues the code).
// The uid must be the one in the browser's _interaction cookie, as Logto
// binds the resume to its _interaction_resume cookie.
func (p *Provider) handleResume(w http.ResponseWriter, r *http.Request) {
	uid := chi.URLParam(r, "uid")
	in := p.interactionFromCookie(r, anyStage)
	if in == nil || in.uid != uid {
		p.writeError(w, http.StatusBadRequest, "invalid_request", "interaction session not found")
		return
	}
	now := p.now()
	w.Header().Set("Cache-Control", "no-store")
	p.mu.Lock()
	switch in.stage {
	case stageSubmitted:
		u := p.users[in.userID]
		if u == nil {
			p.mu.Unlock()
			p.writeError(w, http.StatusBadRequest, "invalid_request", "interaction session not found")
			return
		}
		// A sign-in starts a new SSO session; updated_at moves (§7).
		sess := &ssoSession{
			id:        randomID(21, nanoidABC),
			sid:       randomID(21, nanoidABC),
			userID:    u.ID,
			authTime:  now,
			expires:   now.Add(sessionTTL),
			consented: map[string]bool{},
		}
		if old := cookieOf(r, sessionCookie); old != "" {
			delete(p.sessions, old)
		}
		p.sessions[sess.id] = sess
		u.updatedAt = max(now.UnixMilli(), u.updatedAt+1)
		in.sessionID = sess.id
		in.stage = stageConsent
		p.mu.Unlock()
		http.SetCookie(w, sessionSetCookie(sess.id))
		http.Redirect(w, r, "/consent?app_id="+url.QueryEscape(in.req.clientID), http.StatusSeeOther)
	case stageConsented:
		delete(p.interactions, in.uid)
		sess := p.sessions[in.sessionID]
		p.mu.Unlock()
		if sess == nil {
			p.writeError(w, http.StatusBadRequest, "invalid_request", "session not found")
			return
		}
		location, formPage := p.issueCode(in.req, sess)
		http.SetCookie(w, sessionSetCookie(sess.id))
		if formPage != nil {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(formPage.body)
			return
		}
		http.Redirect(w, r, location, http.StatusSeeOther)
	default:
		p.mu.Unlock()
		p.writeError(w, http.StatusBadRequest, "invalid_request", "interaction not finished")
	}
}

func cookieOf(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

// handleConsent is GET /consent. Logto core auto-consents for first-party
// apps: it records the grant and sends the browser to a new interaction
// (§3 hop 7, §4). For a magic link (one_time_token and login_hint), Logto's
// consent guard runs first.
func (p *Provider) handleConsent(w http.ResponseWriter, r *http.Request) {
	in := p.interactionFromCookie(r, anyStage)
	p.mu.Lock()
	if in == nil || in.stage != stageConsent || p.sessions[in.sessionID] == nil {
		p.mu.Unlock()
		http.Redirect(w, r, "/unknown-session", http.StatusFound)
		return
	}
	if in.req.oneTimeToken != "" && in.req.loginHint != "" {
		// Logto's consent guard, before the auto-consent (onetimetoken.go).
		if g := p.oneTimeTokenGuardLocked(in); g != nil {
			p.mu.Unlock()
			if g.refusal != nil {
				writeJSON(w, g.status, g.refusal)
				return
			}
			http.Redirect(w, r, g.location, http.StatusFound)
			return
		}
	}
	p.sessions[in.sessionID].consented[in.req.clientID] = true
	next := &interaction{
		uid:           randomID(21, nanoidABC),
		req:           in.req,
		stage:         stageConsented,
		expires:       p.now().Add(interactionTTL),
		verifications: map[string]string{},
		userID:        in.userID,
		sessionID:     in.sessionID,
	}
	delete(p.interactions, in.uid)
	p.interactions[next.uid] = next
	base := p.base
	p.mu.Unlock()
	http.SetCookie(w, interactionSetCookie(next.uid))
	http.Redirect(w, r, base+"/oidc/auth/"+next.uid, http.StatusFound)
}

// issueCode stores a code for req and sess and returns the callback URL, or
// for response_mode=form_post the auto-submitting page.
func (p *Provider) issueCode(req *authRequest, sess *ssoSession) (string, *page) {
	now := p.now()
	code := randomToken()
	p.mu.Lock()
	p.codes[code] = &authCode{
		req:       req,
		userID:    sess.userID,
		sessionID: sess.id,
		sid:       sess.sid,
		authTime:  sess.authTime,
		// Logto: offline_access AND prompt=consent (§0.1, §4).
		issueRefresh: contains(req.scopes, oidc.ScopeOfflineAccess) &&
			(req.hasPrompt("consent") || p.opts.AlwaysIssueRefreshToken),
		expires: now.Add(codeTTL),
	}
	base := p.base
	p.mu.Unlock()
	params := [][2]string{{"code", code}}
	if req.state != "" {
		params = append(params, [2]string{"state", req.state})
	}
	params = append(params, [2]string{"iss", base + "/oidc"})
	if req.responseMode == string(oidc.ResponseModeFormPost) {
		return "", formPostPage(req.redirectURI, params)
	}
	return appendParams(req.redirectURI, req.responseMode == string(oidc.ResponseModeFragment), params), nil
}

// appendParams adds params to uri's query (or fragment) in the given order,
// keeping what the registered URI already has.
func appendParams(uri string, fragment bool, params [][2]string) string {
	var b strings.Builder
	for i, kv := range params {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(kv[0]) + "=" + url.QueryEscape(kv[1]))
	}
	if fragment {
		return uri + "#" + b.String()
	}
	sep := "?"
	if strings.Contains(uri, "?") {
		sep = "&"
	}
	return uri + sep + b.String()
}

var formPostTemplate = template.Must(template.New("form_post").Parse(`<!DOCTYPE html>
<html><head><title>Submitting Callback</title>
<script>document.addEventListener('DOMContentLoaded', function () { document.forms[0].submit() });</script>
</head><body><form method="post" action="{{.Action}}">{{range .Params}}<input type="hidden" name="{{index . 0}}" value="{{index . 1}}"/>{{end}}<noscript><button autofocus type="submit">Continue</button></noscript></form></body></html>
`))

// formPostPage is Logto's response_mode=form_post answer (§3).
func formPostPage(action string, params [][2]string) *page {
	var buf bytes.Buffer
	_ = formPostTemplate.Execute(&buf, map[string]any{"Action": action, "Params": params})
	h := http.Header{}
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	return &page{status: http.StatusOK, header: h, body: buf.Bytes()}
}
