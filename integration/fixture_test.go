//go:build integration

package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"
)

// fixtureEvent is one entry of the Logto-compatible provider's
// GET /__fixture/events: what its token and revocation endpoints did. It is
// how the suite sees the refresh tokens fiberlogto keeps server-side (as
// hashes): a real Logto keeps audit logs instead, which the suite does not
// read.
type fixtureEvent struct {
	At                    int64           `json:"at"` // ms
	Type                  string          `json:"type"`
	GrantType             string          `json:"grantType"`
	OrganizationID        string          `json:"organizationId"`
	Resource              json.RawMessage `json:"resource"`
	PresentedCode         string          `json:"presentedCode"`
	PresentedRefreshToken string          `json:"presentedRefreshToken"`
	IssuedRefreshToken    string          `json:"issuedRefreshToken"`
	Rotated               bool            `json:"rotated"`
	Scope                 string          `json:"scope"`
	Error                 string          `json:"error"`
	ErrorDescription      string          `json:"errorDescription"`
	RevokedToken          string          `json:"revokedToken"`
	// A token exchange's subject_token_type and subject token (hashed).
	SubjectTokenType      string `json:"subjectTokenType"`
	PresentedSubjectToken string `json:"presentedSubjectToken"`
	Route                 string `json:"route"` // of a grant.revoked: revocation, token, ...

	// A backchannel.logout: a logout token POSTed to the application's
	// back-channel logout URI, the answer's status or the error, and the
	// token's header and claims (not the signed token).
	ClientID    string `json:"clientId"`
	URI         string `json:"uri"`
	Status      int    `json:"status"`
	LogoutToken *struct {
		Header  map[string]any `json:"header"`
		Payload map[string]any `json:"payload"`
	} `json:"logoutToken"`
}

// describe is the event in a line, for failure messages.
func (e fixtureEvent) describe() string {
	s := e.Type
	if e.GrantType != "" {
		s += " " + e.GrantType
	}
	if e.PresentedRefreshToken != "" {
		s += " presented " + e.PresentedRefreshToken
	}
	if e.IssuedRefreshToken != "" {
		s += " issued " + e.IssuedRefreshToken
	}
	if e.Rotated {
		s += " (rotated)"
	}
	if e.Error != "" {
		s += " " + e.Error + ": " + e.ErrorDescription
	}
	return s
}

func (e fixtureEvent) resource() string {
	var s string
	_ = json.Unmarshal(e.Resource, &s)
	return s
}

// fixtureHash is how the provider shows a token: the first 16 hex digits of
// its SHA-256.
func fixtureHash(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])[:16]
}

func fixtureEvents(t *testing.T) []fixtureEvent {
	t.Helper()
	if suite.fixture == nil {
		t.Fatal("fixture events asked for against a real Logto")
	}
	return fixtureEventsAt(t, suite.target.Endpoint)
}

// fixtureEventsAt reads the events of the provider at endpoint.
func fixtureEventsAt(t *testing.T, endpoint string) []fixtureEvent {
	t.Helper()
	var events []fixtureEvent
	getJSON(t, endpoint+"/__fixture/events", &events)
	return events
}

// refreshChain follows one session's refresh tokens through the provider's
// events: it starts at the code exchange of code and collects every event
// that presented or issued one of that grant's refresh tokens.
type refreshChain struct {
	tokens map[string]bool // hashes of the chain's refresh tokens
	events []fixtureEvent
}

func chainFromCode(t *testing.T, code string) *refreshChain {
	t.Helper()
	return chainIn(t, fixtureEvents(t), code)
}

// chainIn is chainFromCode over the given events.
func chainIn(t *testing.T, events []fixtureEvent, code string) *refreshChain {
	t.Helper()
	c := &refreshChain{tokens: map[string]bool{}}
	codeHash := fixtureHash(code)
	started := false
	for _, e := range events {
		switch {
		case !started && e.Type == "grant.success" && e.GrantType == "authorization_code" && e.PresentedCode == codeHash:
			started = true
			if e.IssuedRefreshToken == "" {
				t.Fatalf("the code exchange issued no refresh token (was prompt=consent sent with offline_access?)")
			}
			c.tokens[e.IssuedRefreshToken] = true
			c.events = append(c.events, e)
		case started && (c.tokens[e.PresentedRefreshToken] || c.tokens[e.RevokedToken]):
			c.events = append(c.events, e)
			if e.IssuedRefreshToken != "" {
				c.tokens[e.IssuedRefreshToken] = true
			}
		}
	}
	if !started {
		t.Fatalf("the provider saw no code exchange for this sign-in's code")
	}
	return c
}

// refreshes returns the chain's successful refresh grants, oldest first.
func (c *refreshChain) refreshes() []fixtureEvent {
	var out []fixtureEvent
	for _, e := range c.events {
		if e.Type == "grant.success" && e.GrantType == "refresh_token" {
			out = append(out, e)
		}
	}
	return out
}

// errors returns the chain's failed grants.
func (c *refreshChain) errors() []fixtureEvent {
	var out []fixtureEvent
	for _, e := range c.events {
		if e.Type == "grant.error" {
			out = append(out, e)
		}
	}
	return out
}

// current is the refresh token the chain's last event left the client with.
func (c *refreshChain) current() string {
	cur := ""
	for _, e := range c.events {
		if e.IssuedRefreshToken != "" {
			cur = e.IssuedRefreshToken
		}
	}
	return cur
}
