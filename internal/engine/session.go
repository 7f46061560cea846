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
// give the app &User. It is filled by Engine.User in place, decoding the
// stored record without copying: a signed-in request allocates the Session
// and nothing else. A Session is never copied (the record's slices may
// point into itself).
type Session struct {
	User logto.UserContext

	id     string // the session ID (the cookie's value); "" when anonymous
	record *sessionRecord
	rec    sessionRecord // record points here on the hot path
}

// signIn fills s for the session of id stored as rec.
func (s *Session) signIn(id string, rec *sessionRecord) {
	s.id, s.record = id, rec
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

// signOut makes s anonymous.
func (s *Session) signOut() {
	s.id, s.record = "", nil
	s.User = logto.UserContext{}
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
