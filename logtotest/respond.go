package logtotest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// op.Server methods can only return JSON, a 302 redirect or an op error
// ({"error","error_description"}). Logto answers differently in places: 303
// redirects, HTML pages at /oidc/session/end, an empty text/plain revocation
// response, and error bodies with Logto's "code" and "message". So every
// request runs with an exchange in its context, and the response goes
// through a logtoWriter:
//
//   - a method that needs a non-JSON answer sets exchange.page; whatever op
//     then writes is replaced by the page;
//   - a method that fails calls Provider.fail, which sets the page to the
//     exact Logto error body and returns an op error;
//   - errors op produces itself (parse errors, missing parameters) are
//     buffered and rewritten into Logto's shape;
//   - op's 302s under /oidc become Logto's 303s.

type exchangeKey struct{}

type exchange struct {
	p           *Provider // the provider serving the request
	page        *page
	contentType string // overrides op's Content-Type of a successful JSON answer
	reason      string // why a request was refused, in logtotest's words, for Options.Logger and SignInTo; never sent
}

type page struct {
	status int
	header http.Header
	body   []byte
}

func exchangeFrom(ctx context.Context) *exchange {
	ex, _ := ctx.Value(exchangeKey{}).(*exchange)
	if ex == nil {
		ex = &exchange{} // called outside serve (should not happen); harmless
	}
	return ex
}

// setPage makes the response exactly status/header/body, whatever op writes.
func (p *Provider) setPage(ctx context.Context, status int, header http.Header, body []byte) {
	if header == nil {
		header = http.Header{}
	}
	exchangeFrom(ctx).page = &page{status: status, header: header, body: body}
}

func (p *Provider) setContentType(ctx context.Context, ct string) {
	exchangeFrom(ctx).contentType = ct
}

// logtoError is the body of every Logto OIDC error, fields in Logto's order
// (§12): its own code and message, then the RFC 6749 fields, then extras.
type logtoError struct {
	Code        string `json:"code"`
	Message     string `json:"message"`
	ErrorURI    string `json:"error_uri,omitempty"`
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
	Scope       string `json:"scope,omitempty"`
	State       string `json:"state,omitempty"`
	Iss         string `json:"iss,omitempty"`
}

// errExtra are the optional fields of a logtoError.
type errExtra struct{ scope, state, iss string }

// logtoMessages are Logto's "message" strings, unrendered templates included
// (§0.10).
var logtoMessages = map[string]string{
	"invalid_grant":      "Grant request is invalid.",
	"invalid_request":    "Request is invalid.",
	"invalid_token":      "Invalid token provided.",
	"invalid_target":     "Invalid resource indicator.",
	"invalid_scope":      "Invalid scope: {{error_description}}.",
	"insufficient_scope": "Token missing scope `{{scope}}`.",
	"access_denied":      "Access denied.",
}

func newLogtoError(errType, description string, extra *errExtra) logtoError {
	msg, ok := logtoMessages[errType]
	if !ok {
		msg = fmt.Sprintf("An OIDC error occurred: oidc.%s.", errType)
	}
	e := logtoError{Code: "oidc." + errType, Message: msg, Error: errType, Description: description}
	if errType == "invalid_grant" {
		e.ErrorURI = "https://openid.sh/debug/invalid_grant"
	}
	if extra != nil {
		e.Scope, e.State, e.Iss = extra.scope, extra.state, extra.iss
	}
	return e
}

// fail sets the response to a Logto error and returns an error for op to
// propagate (op's own error output is then discarded).
func (p *Provider) fail(ctx context.Context, status int, errType, description string, extra *errExtra) error {
	body, _ := json.Marshal(newLogtoError(errType, description, extra))
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=utf-8")
	p.addAuthenticate(h, status, errType, description, "")
	p.setPage(ctx, status, h, body)
	return op.NewStatusError(oidc.ErrInvalidRequest().WithDescription("%s", description), status)
}

// addAuthenticate sets WWW-Authenticate the way Logto does: Basic for client
// authentication failures, Bearer for userinfo (§8, §12).
func (p *Provider) addAuthenticate(h http.Header, status int, errType, description, path string) {
	realm := p.issuer()
	switch {
	case errType == "invalid_client" && status == http.StatusUnauthorized:
		h.Set("WWW-Authenticate", fmt.Sprintf(`Basic realm=%q, error=%q, error_description=%q`, realm, errType, description))
	case errType == "invalid_token":
		h.Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q, error=%q, error_description=%q`, realm, errType, description))
	case path == "/oidc/me":
		h.Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q`, realm))
	}
}

// writeJSON writes v with status, for the handlers outside op.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError writes a Logto OIDC error from a handler outside op.
func (p *Provider) writeError(w http.ResponseWriter, status int, errType, description string) {
	p.addAuthenticate(w.Header(), status, errType, description, "")
	writeJSON(w, status, newLogtoError(errType, description, nil))
}

const (
	modePass = iota
	modeDiscard
	modeBuffer
)

// logtoWriter implements the rewriting described at the top of this file.
type logtoWriter struct {
	w           http.ResponseWriter
	r           *http.Request
	p           *Provider
	ex          *exchange
	wroteHeader bool
	mode        int
	status      int
	buf         bytes.Buffer
}

func (lw *logtoWriter) Header() http.Header { return lw.w.Header() }

func (lw *logtoWriter) WriteHeader(code int) {
	if lw.wroteHeader {
		return
	}
	lw.wroteHeader = true
	lw.status = code
	if lw.ex.page != nil {
		lw.writePage()
		lw.mode = modeDiscard
		return
	}
	h := lw.w.Header()
	isOIDC := strings.HasPrefix(lw.r.URL.Path, "/oidc/")
	switch {
	case code >= 400 && strings.Contains(h.Get("Content-Type"), "json"):
		lw.mode = modeBuffer
		return
	case code == http.StatusFound && isOIDC:
		// node-oidc-provider redirects with 303 where op uses 302.
		code = http.StatusSeeOther
		h.Set("Cache-Control", "no-store")
		if lw.r.URL.Path == "/oidc/auth" {
			lw.addIss(h)
		}
	case code == http.StatusOK && lw.ex.contentType != "":
		h.Set("Content-Type", lw.ex.contentType)
	}
	lw.w.WriteHeader(code)
}

func (lw *logtoWriter) Write(b []byte) (int, error) {
	if !lw.wroteHeader {
		lw.WriteHeader(http.StatusOK)
	}
	switch lw.mode {
	case modeDiscard:
		return len(b), nil
	case modeBuffer:
		return lw.buf.Write(b)
	}
	return lw.w.Write(b)
}

// addIss adds iss to an error redirect of the authorization endpoint
// (RFC 9207): Logto sends it on error redirects too (§3), and op's error
// type has no field for it. The parameters stay sorted, as op encodes them.
func (lw *logtoWriter) addIss(h http.Header) {
	u, err := url.Parse(h.Get("Location"))
	if err != nil {
		return
	}
	if q := u.Query(); q.Has("error") && !q.Has("iss") {
		q.Set("iss", lw.p.issuer())
		u.RawQuery = q.Encode()
	} else if f, err := url.ParseQuery(u.RawFragment); err == nil && f.Has("error") && !f.Has("iss") {
		f.Set("iss", lw.p.issuer())
		u.RawFragment = f.Encode()
		u.Fragment, _ = url.PathUnescape(u.RawFragment)
	} else {
		return
	}
	h.Set("Location", u.String())
}

// writePage writes exchange.page in place of op's answer, dropping the
// headers op set for its own body.
func (lw *logtoWriter) writePage() {
	h := lw.w.Header()
	for _, k := range []string{"Content-Type", "Location", "Content-Length"} {
		h.Del(k)
	}
	pg := lw.ex.page
	for k, v := range pg.header {
		if k == "Set-Cookie" {
			h[k] = append(h[k], v...)
			continue
		}
		h[k] = v
	}
	lw.w.WriteHeader(pg.status)
	_, _ = lw.w.Write(pg.body)
}

// finish completes the response after the handler returned.
func (lw *logtoWriter) finish() {
	switch {
	case !lw.wroteHeader && lw.ex.page != nil:
		lw.wroteHeader = true
		lw.writePage()
	case lw.mode == modeBuffer:
		lw.rewriteError()
	}
}

// rewriteError turns an op error body into Logto's, adjusting the few cases
// where op's status or wording differs from Logto's.
func (lw *logtoWriter) rewriteError() {
	var in struct {
		Code        string `json:"code"` // set when the body is Logto's already
		Error       string `json:"error"`
		Description string `json:"error_description"`
		State       string `json:"state"`
	}
	status := lw.status
	h := lw.w.Header()
	if err := json.Unmarshal(lw.buf.Bytes(), &in); err != nil || in.Error == "" || in.Code != "" {
		lw.w.WriteHeader(status)
		_, _ = lw.w.Write(lw.buf.Bytes())
		return
	}
	path := lw.r.URL.Path
	switch in.Description {
	case "client_id or client_assertion must be provided":
		status, in.Error, in.Description = http.StatusBadRequest, "invalid_request", "no client authentication mechanism provided"
	case "client must be authenticated":
		status, in.Error, in.Description = http.StatusUnauthorized, "invalid_client", "client authentication failed"
	case "access token missing":
		status, in.Description = http.StatusBadRequest, "no access token provided"
	}
	if in.Error == "unauthorized_client" && strings.HasPrefix(in.Description, "grant_type ") {
		// op's `grant_type "x" not allowed`: a client asking for a grant it
		// is not registered for (the web app and client_credentials, a
		// machine-to-machine app and authorization_code), in
		// node-oidc-provider's words.
		in.Description = "requested grant type is not allowed for this client"
	}
	if in.Error == "invalid_client" && path != "/oidc/auth" {
		status = http.StatusUnauthorized
	}
	var extra *errExtra
	if in.State != "" || path == "/oidc/auth" {
		extra = &errExtra{state: in.State, iss: lw.p.issuer()}
	}
	body, _ := json.Marshal(newLogtoError(in.Error, in.Description, extra))
	h.Set("Content-Type", "application/json; charset=utf-8")
	lw.p.addAuthenticate(h, status, in.Error, in.Description, path)
	lw.w.WriteHeader(status)
	_, _ = lw.w.Write(body)
}
