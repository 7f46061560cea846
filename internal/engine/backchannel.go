package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/fiberlogto/sdk/logto"
)

// Back-channel logout (OpenID Connect Back-Channel Logout 1.0): Logto POSTs
// a signed logout token here when a user's Logto session ends (sign-out
// elsewhere, an admin ending the session). Every session of that Logto
// session (sid) or user (sub) is deleted from the shared storage, so it
// ends on every instance at its next request.
//
// Register <BaseURL><RoutesPrefix>/backchannel-logout as the application's
// back-channel logout URI in Logto, and enable "session required" there so
// logout tokens carry sid and end only that session.

const (
	backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"
	jtiKeyPrefix     = "fiberlogto:j:"
	// logoutTokenMaxAge bounds how old a logout token may be: Logto's carry
	// no exp (logto-observed §15), so iat is all that limits a replay, with
	// the jti kept for as long.
	logoutTokenMaxAge = 5 * time.Minute
	maxLogoutTokenLen = 16 << 10
)

// errInvalidLogoutToken is answered 400 {"error":"invalid_request"} as the
// specification asks (section 2.8); the reason stays on the server.
var errInvalidLogoutToken = errors.New("invalid logout token")

type logoutClaims struct {
	Issuer   string                     `json:"iss"`
	Audience audience                   `json:"aud"`
	IssuedAt *int64                     `json:"iat"`
	Expiry   *int64                     `json:"exp"`
	JTI      string                     `json:"jti"`
	Subject  string                     `json:"sub"`
	SID      string                     `json:"sid"`
	Events   map[string]json.RawMessage `json:"events"`
	Nonce    *json.RawMessage           `json:"nonce"`
}

// audience accepts aud as a string (Logto) or an array.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}

func (e *Engine) backchannelLogout(ctx context.Context, r Request, _ SignInHook) *Answer {
	a := &Answer{}
	a.header("Cache-Control", "no-store")
	ctx, cancel := context.WithTimeout(ctx, e.cfg.HTTPTimeout)
	defer cancel()
	if p := repeatedParam(r.FormCount, backchannelParams); p != "" {
		e.log.WarnContext(ctx, msgBackchannelFailed, "status", 400, "reason", "repeated parameter", "parameter", p)
		return a.badLogoutRequest()
	}
	claims, err := e.verifyLogoutToken(ctx, r.FormValue("logout_token"))
	if err != nil {
		if errors.Is(err, errInvalidLogoutToken) {
			// The reason is ours ("iss", "jti replayed" ...), never the token.
			e.log.WarnContext(ctx, msgBackchannelFailed, "status", 400, "reason", err.Error())
			return a.badLogoutRequest()
		}
		e.logFailure(ctx, slog.LevelWarn, msgBackchannelFailed, err)
		return a.fail(err)
	}
	by, key, sub := "sid", storageKey(sidIndexPrefix, claims.SID), claims.Subject
	if claims.SID == "" {
		by, key, sub = "sub", storageKey(subIndexPrefix, claims.Subject), ""
	}
	ended, err := e.store.endIndexed(ctx, key, sub)
	if err == nil {
		err = e.rememberLogoutToken(ctx, claims)
	}
	if err != nil {
		e.logFailure(ctx, slog.LevelWarn, msgBackchannel, err, "by", by, "sessions", ended)
		return a.fail(err)
	}
	e.log.InfoContext(ctx, msgBackchannel, "by", by, "sub", claims.Subject, "sessions", ended)
	a.Status = 200
	return a
}

// badLogoutRequest answers 400 {"error":"invalid_request"}, as section 2.8
// asks of a logout request that cannot be honoured.
func (a *Answer) badLogoutRequest() *Answer {
	a.Status, a.ContentType = 400, "application/json"
	a.Body = []byte(`{"error":"invalid_request","error_description":"invalid logout token"}`)
	return a
}

// verifyLogoutToken checks a logout token as section 2.6 says: signature
// with Logto's keys and an algorithm from discovery, iss, aud, a fresh iat,
// exp when present, the back-channel event, sub or sid, no nonce, and a jti
// not seen before.
func (e *Engine) verifyLogoutToken(ctx context.Context, token string) (*logoutClaims, error) {
	if token == "" || len(token) > maxLogoutTokenLen {
		return nil, fmt.Errorf("%w: missing or oversized", errInvalidLogoutToken)
	}
	d, err := e.provider.get(ctx)
	if err != nil {
		return nil, err
	}
	jws, err := jose.ParseSignedCompact(token, d.signingAlgs)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errInvalidLogoutToken, err)
	}
	payload, _, err := d.keys.verify(ctx, jws, fromOutside) // anyone can POST one
	if err != nil {
		if providerFailure(err) {
			return nil, err // a 5xx: Logto retries a logout token that failed on our side
		}
		return nil, fmt.Errorf("%w: %w", errInvalidLogoutToken, err)
	}
	var claims logoutClaims
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, fmt.Errorf("%w: %w", errInvalidLogoutToken, err)
	}
	now := e.cfg.Now()
	skew := e.cfg.ClockSkew
	switch {
	case claims.Issuer != e.provider.issuer():
		return nil, fmt.Errorf("%w: iss", errInvalidLogoutToken)
	case !containsString(claims.Audience, e.cfg.AppID):
		return nil, fmt.Errorf("%w: aud", errInvalidLogoutToken)
	case claims.IssuedAt == nil:
		return nil, fmt.Errorf("%w: no iat", errInvalidLogoutToken)
	case time.Unix(*claims.IssuedAt, 0).After(now.Add(skew)), time.Unix(*claims.IssuedAt, 0).Before(now.Add(-logoutTokenMaxAge - skew)):
		return nil, fmt.Errorf("%w: iat out of range", errInvalidLogoutToken)
	case claims.Expiry != nil && !time.Unix(*claims.Expiry, 0).Add(skew).After(now):
		return nil, fmt.Errorf("%w: expired", errInvalidLogoutToken)
	case claims.Nonce != nil:
		return nil, fmt.Errorf("%w: nonce present", errInvalidLogoutToken)
	case claims.Subject == "" && claims.SID == "":
		return nil, fmt.Errorf("%w: neither sub nor sid", errInvalidLogoutToken)
	case claims.Subject != "" && !validIdentifier(claims.Subject), claims.SID != "" && !validIdentifier(claims.SID):
		return nil, fmt.Errorf("%w: sub or sid longer than %d characters or not printable ASCII", errInvalidLogoutToken, maxIdentifierLen)
	case claims.JTI == "":
		return nil, fmt.Errorf("%w: no jti", errInvalidLogoutToken)
	}
	if ev, ok := claims.Events[backchannelEvent]; !ok || !isJSONObject(ev) {
		return nil, fmt.Errorf("%w: no back-channel logout event", errInvalidLogoutToken)
	}
	// A jti seen before is a replay (see rememberLogoutToken).
	jtiKey := storageKey(jtiKeyPrefix, claims.Issuer+" "+claims.JTI)
	seen, err := e.store.getFresh(ctx, jtiKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", logto.ErrStorage, err)
	}
	if len(seen) > 0 {
		return nil, fmt.Errorf("%w: jti replayed", errInvalidLogoutToken)
	}
	return &claims, nil
}

// rememberLogoutToken marks the token's jti as used, for as long as the
// token could pass the iat check. It runs after the sessions are deleted,
// so a delete that failed can be retried by Logto with the same token.
func (e *Engine) rememberLogoutToken(ctx context.Context, claims *logoutClaims) error {
	key := storageKey(jtiKeyPrefix, claims.Issuer+" "+claims.JTI)
	if err := e.store.storage.SetWithContext(ctx, key, []byte{1}, logoutTokenMaxAge+2*e.cfg.ClockSkew); err != nil {
		return fmt.Errorf("%w: %w", logto.ErrStorage, err)
	}
	return nil
}

func isJSONObject(b json.RawMessage) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(b, &m) == nil && m != nil
}
