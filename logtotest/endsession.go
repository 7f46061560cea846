package logtotest

import (
	"bytes"
	"context"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// RP-initiated logout as Logto (§14):
//
//	GET /oidc/session/end?id_token_hint=…&client_id=…&post_logout_redirect_uri=…&state=…
//	    200 HTML, a form that posts itself (xsrf, logout=yes)
//	POST /oidc/session/end/confirm
//	    ends the SSO session, sends the back-channel logout, then
//	    303 <post_logout_redirect_uri>[/]?state=…  or  303 /oidc/session/end/success
//
// post_logout_redirect_uri counts only with id_token_hint or client_id.
// Refresh and access tokens survive the logout, as in Logto.

// EndSession handles the GET. op only offers a redirect as the answer, so
// the HTML page is set as the exchange's page (respond.go).
func (s *opServer) EndSession(ctx context.Context, r *op.Request[oidc.EndSessionRequest]) (*op.Redirect, error) {
	p := s.p
	d := r.Data
	clientID := ""
	if d.IdTokenHint != "" {
		var claims struct {
			Iss string `json:"iss"`
			Aud any    `json:"aud"`
		}
		if err := p.verify(d.IdTokenHint, &claims); err != nil || claims.Iss != p.issuer() || !audHas(claims.Aud, p.ClientID) {
			return nil, p.fail(ctx, http.StatusBadRequest, "invalid_request", "could not validate id_token_hint", nil)
		}
		clientID = p.ClientID
	}
	if d.ClientID != "" {
		if d.ClientID != p.ClientID {
			return nil, p.fail(ctx, http.StatusBadRequest, "invalid_client", "client is invalid", nil)
		}
		clientID = d.ClientID
	}
	redirect := ""
	if clientID != "" && d.PostLogoutRedirectURI != "" {
		if !uriAllowed(p.opts.PostLogoutRedirectURIs, d.PostLogoutRedirectURI) {
			return nil, p.fail(ctx, http.StatusBadRequest, "invalid_request", "post_logout_redirect_uri not registered", nil)
		}
		redirect = postLogoutLocation(d.PostLogoutRedirectURI, d.State)
	}

	now := p.now()
	sess := p.liveSession(cookieValue(r.Header, sessionCookie), now)
	xsrf := randomToken()
	pl := &pendingLogout{clientID: clientID, redirect: redirect, expires: now.Add(logoutTTL)}
	if sess != nil {
		pl.sessionID = sess.id
	}
	p.mu.Lock()
	p.logouts[xsrf] = pl
	p.mu.Unlock()

	var buf bytes.Buffer
	tmpl := logoutNoSessionTemplate
	if sess != nil {
		tmpl = logoutSessionTemplate
	}
	_ = tmpl.Execute(&buf, map[string]string{"Action": p.issuer() + "/session/end/confirm", "XSRF": xsrf})
	h := http.Header{}
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	p.setPage(ctx, http.StatusOK, h, buf.Bytes())
	return op.NewRedirect(p.issuer() + "/session/end/confirm"), nil
}

// audHas accepts aud as a string or an array.
func audHas(aud any, clientID string) bool {
	switch a := aud.(type) {
	case string:
		return a == clientID
	case []any:
		for _, v := range a {
			if v == clientID {
				return true
			}
		}
	}
	return false
}

// postLogoutLocation is where the confirm sends the browser: Logto adds "/"
// to a URI with an empty path (http://localhost:3000 -> http://localhost:3000/)
// and appends state.
func postLogoutLocation(uri, state string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return uri
	}
	if u.Path == "" && u.Opaque == "" {
		u.Path = "/"
	}
	if state != "" {
		q := u.RawQuery
		if q != "" {
			q += "&"
		}
		u.RawQuery = q + "state=" + url.QueryEscape(state)
	}
	return u.String()
}

// Two templates, as Logto: with a session the "op.logoutForm" page (the
// logout input sits outside the form, attached with form=), without one the
// "Submitting Callback" page.
var (
	logoutSessionTemplate = template.Must(template.New("logout").Parse(`<!DOCTYPE html>
<html><head><title>Logout Request</title></head>
<body onload="document.getElementById('op.logoutForm').submit();">
<div><h1>Do you want to sign-out?</h1>
<form id="op.logoutForm" method="post" action="{{.Action}}"><input type="hidden" name="xsrf" value="{{.XSRF}}"/></form>
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>
</div>
<input type="hidden" form="op.logoutForm" value="yes" name="logout" />
</body></html>
`))
	logoutNoSessionTemplate = template.Must(template.New("logout-nosession").Parse(`<!DOCTYPE html>
<html><head><title>Submitting Callback</title>
<script>document.addEventListener('DOMContentLoaded', function () { document.forms[0].submit() });</script>
</head><body><form method="post" action="{{.Action}}"><input type="hidden" name="xsrf" value="{{.XSRF}}"/><input type="hidden" name="logout" value="yes"/><noscript><button autofocus type="submit">Continue</button></noscript></form></body></html>
`))
)

// handleEndSessionConfirm is POST /oidc/session/end/confirm. GET is 404, as
// in Logto.
func (p *Provider) handleEndSessionConfirm(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		p.writeError(w, http.StatusNotFound, "invalid_request",
			"unrecognized route or not allowed method ("+r.Method+" on /oidc/session/end/confirm)")
		return
	}
	xsrf := r.PostFormValue("xsrf")
	now := p.now()
	p.mu.Lock()
	pl := p.logouts[xsrf]
	if pl == nil || now.After(pl.expires) {
		p.mu.Unlock()
		p.writeError(w, http.StatusBadRequest, "invalid_request", "xsrf token invalid")
		return
	}
	delete(p.logouts, xsrf)
	sessID := pl.sessionID
	if sessID == "" {
		sessID = cookieOf(r, sessionCookie)
	}
	var logout map[string]any
	if sess := p.sessions[sessID]; sess != nil {
		delete(p.sessions, sessID)
		if p.opts.BackchannelLogoutURI != "" {
			logout = map[string]any{
				"iss":    p.base + "/oidc",
				"aud":    p.ClientID,
				"iat":    now.Unix(),
				"jti":    randomID(21, nanoidABC),
				"sub":    sess.userID,
				"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}},
			}
			if p.opts.BackchannelLogoutSessionRequired {
				logout["sid"] = sess.sid
			}
		}
	}
	p.mu.Unlock()

	if logout != nil {
		p.sendBackchannelLogout(r.Context(), logout)
	}
	http.SetCookie(w, sessionClearCookie())
	w.Header().Set("Cache-Control", "no-store")
	location := pl.redirect
	if location == "" {
		location = "/oidc/session/end/success"
	}
	http.Redirect(w, r, location, http.StatusSeeOther)
}

// sendBackchannelLogout POSTs the logout token synchronously, bounded by the
// client's timeout, while the confirm is being handled (§15). Failures are
// ignored, as the browser's logout must go on.
func (p *Provider) sendBackchannelLogout(ctx context.Context, claims map[string]any) {
	token, err := p.sign("logout+jwt", claims)
	if err != nil {
		return
	}
	form := url.Values{"logout_token": {token}}
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodPost, p.opts.BackchannelLogoutURI,
		strings.NewReader(form.Encode()))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.bcClient.Do(req)
	if err == nil {
		_ = resp.Body.Close()
	}
}

// handleEndSessionSuccess is Logto's landing page for a logout without a
// post-logout redirect.
func (p *Provider) handleEndSessionSuccess(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(`<!DOCTYPE html><html><head><title>Sign-out Success</title></head>` +
		`<body><h1>Sign-out Success</h1><p>You have successfully signed out.</p></body></html>`))
}
