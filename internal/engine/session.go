package engine

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"unsafe"

	"github.com/fiberlogto/sdk/logto"
)

// Session is one request's view of its session: the user context the app
// reads, and the session record behind it, which Fetch refreshes. The
// adapters keep it for the request (Locals, the request's context) and
// give the app &User.
//
// A shared Session (a snapshot of the session cache, see sessionCache)
// serves every request of its session while the stored bytes stay the
// same, and is never written: what changes a session works on its own
// copy (own).
type Session struct {
	User logto.UserContext

	key    string // the session's storage key; "" when anonymous
	record *sessionRecord
	rec    sessionRecord // record points here when decoded in place
	json   []byte        // User as JSON, built once for a shared Session
	shared bool
}

// anonymousSession is the Session of every request without a live
// session: shared and read-only, as a signed-in snapshot is (Shared), with
// its JSON built once, so that an anonymous request (most of a public
// site's, and every API client's request to an app with sign-in) allocates
// nothing. Nothing in the engine writes to an anonymous Session: Fetch,
// refresh and the token paths stop at !User.IsAuthenticated, and own copies
// a shared Session before any write.
var anonymousSession = func() *Session {
	s := &Session{shared: true}
	s.json = s.User.AppendJSON(nil)
	return s
}()

// Anonymous returns the shared, read-only Session of a request without a
// live session.
func Anonymous() *Session { return anonymousSession }

// Shared reports whether s may serve other requests than this one: the
// app must treat its User as read-only.
func (s *Session) Shared() bool { return s.shared }

// JSON returns User as JSON (logto.UserContext.AppendJSON) when it was
// built once for a shared Session, nil otherwise.
func (s *Session) JSON() []byte { return s.json }

// own returns s, or a copy of it when s is shared: a Session that this
// request alone may change. The copy reads the same record, which nothing
// writes.
func (s *Session) own() *Session {
	if !s.shared {
		return s
	}
	cp := &Session{User: s.User, key: s.key, record: s.record}
	return cp
}

// signIn fills s for the session stored under key as rec.
func (s *Session) signIn(key string, rec *sessionRecord) {
	s.key, s.record = key, rec
	s.User = logto.UserContext{IsAuthenticated: true}
	s.setRecord(rec)
}

// setRecord makes rec the session's record, as read or refreshed: the
// user context shows its claims, subject and ID token. The strings are
// views of the record's bytes, which are never written once decoded.
func (s *Session) setRecord(rec *sessionRecord) {
	s.record = rec
	s.User.Claims = logto.RawClaims(rec.Claims)
	s.User.Subject = bytesView(rec.Subject)
	s.User.IDToken = bytesView(rec.IDToken)
}

// bytesView is b as a string, without a copy.
func bytesView(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// organizations lists the organizations in the user's claims.
func (s *Session) organizations() []string {
	var c struct {
		Organizations []string `json:"organizations"`
	}
	_ = json.Unmarshal(s.User.Claims, &c)
	return c.Organizations
}

// claimsJSON returns the JSON payload of a compact JWS. The signature has
// been checked by the caller.
func claimsJSON(jwt string) ([]byte, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil, errors.New("malformed JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, err
	}
	if !json.Valid(payload) {
		return nil, errors.New("JWT payload is not JSON")
	}
	return payload, nil
}
