package logtotest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Logto's Management API makes the tokens a user signs in or is
// impersonated with outside the OpenID Connect flows (§18). The provider
// has no Management API; these methods stand for its calls, and make what
// they make with the same shape, lifetime and rules:
//
//	POST /api/subject-tokens {"userId"}                      SubjectToken
//	POST /api/users/{userId}/personal-access-tokens {"name"}  PersonalAccessToken
//	POST /api/one-time-tokens {"email","expiresIn"}           OneTimeToken
//
// ActorToken makes what a sign-in makes: a user's opaque access token.
// Lifetimes follow Options.Clock.

// userForLocked is the user a helper acts on: the one with ID userID, or
// the first of Options.Users for "".
func (p *Provider) userForLocked(userID string) (*userRecord, error) {
	if userID == "" {
		userID = p.firstUser()
	}
	u := p.users[userID]
	if u == nil {
		return nil, fmt.Errorf("logtotest: no user with ID %q in Options.Users", userID)
	}
	return u, nil
}

// SubjectToken stands for Logto's Management API POST /api/subject-tokens
// {"userId": userID}, with which a support tool impersonates a user: it
// returns a subject token, "sub_" and 21 characters, that an app allowed
// to exchange tokens trades once, within 600 s, for an access token of
// the user (subject_token_type TokenTypeAccessToken or
// TokenTypeImpersonationToken). "" means the first of Options.Users.
func (p *Provider) SubjectToken(userID string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	u, err := p.userForLocked(userID)
	if err != nil {
		return "", err
	}
	tok := "sub_" + randomID(21, lowerAlnum)
	p.subjectTokens[tok] = &subjectToken{userID: u.ID, expires: p.now().Add(subjectTokenTTL)}
	return tok, nil
}

// PersonalAccessToken stands for Logto's Management API POST
// /api/users/{userID}/personal-access-tokens {"name", "expiresAt"}: it
// returns the token's value, "pat_" and 32 characters, which an app
// allowed to exchange tokens trades, as often as it likes, for an access
// token of the user (subject_token_type TokenTypePersonalAccessToken). The
// token expires ttl from now, or never with ttl 0; name, required, is
// unique among the user's tokens. "" for userID means the first of
// Options.Users.
func (p *Provider) PersonalAccessToken(userID, name string, ttl time.Duration) (string, error) {
	if name == "" {
		return "", errors.New("logtotest: a personal access token needs a name")
	}
	if ttl < 0 {
		return "", errors.New("logtotest: the value of `expiresAt` must be in the future (ttl >= 0)")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	u, err := p.userForLocked(userID)
	if err != nil {
		return "", err
	}
	for _, pat := range p.pats {
		if pat.userID == u.ID && pat.name == name {
			return "", fmt.Errorf("logtotest: user %q has a personal access token named %q already", u.ID, name)
		}
	}
	pat := &personalAccessToken{userID: u.ID, name: name}
	if ttl > 0 {
		pat.expires = p.now().Add(ttl)
	}
	tok := "pat_" + randomID(32, alnum)
	p.pats[tok] = pat
	return tok, nil
}

// OneTimeToken stands for Logto's Management API POST /api/one-time-tokens
// {"email", "expiresIn"}: it returns a one-time token, 32 characters, for
// a magic link. An authorization request carrying one_time_token=<it> and
// login_hint=<email> signs the user whose primary email that is in without
// a password, once, within ttl (0 means Logto's default, 600 s); SignIn and
// SignInTo follow such a sign-in. "" for email means the first user's.
func (p *Provider) OneTimeToken(email string, ttl time.Duration) (string, error) {
	if ttl < 0 {
		return "", errors.New("logtotest: a one-time token's ttl must not be negative")
	}
	if ttl == 0 {
		ttl = oneTimeTokenTTL
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if email == "" {
		email = p.users[p.firstUser()].Email
	}
	if at := strings.IndexByte(email, '@'); at < 1 || at == len(email)-1 {
		return "", fmt.Errorf("logtotest: one-time token: %q is not an email address", email)
	}
	tok := randomID(32, alnum)
	p.oneTimeTokens[tok] = &oneTimeToken{email: email, expires: p.now().Add(ttl)}
	return tok, nil
}

// ActorToken returns an opaque access token of the user, the one a sign-in
// to the web application without a resource gets (scope "openid
// profile"): what an app sends as actor_token when that user acts for
// another (the issued token's act claim). It works at /oidc/me too and
// lives Options.AccessTokenTTL. "" means the first of Options.Users.
func (p *Provider) ActorToken(userID string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	u, err := p.userForLocked(userID)
	if err != nil {
		return "", err
	}
	g := &grant{id: randomID(21, nanoidABC), clientID: p.ClientID, userID: u.ID, scopes: []string{"openid", "profile"}}
	p.grants[g.id] = g
	return p.newOpaqueAccessTokenLocked(g, p.now()), nil
}

// MustSubjectToken is SubjectToken that fails t on error.
func (p *Provider) MustSubjectToken(t testing.TB, userID string) string {
	t.Helper()
	return mustToken(t)(p.SubjectToken(userID))
}

// MustPersonalAccessToken is PersonalAccessToken that fails t on error.
func (p *Provider) MustPersonalAccessToken(t testing.TB, userID, name string, ttl time.Duration) string {
	t.Helper()
	return mustToken(t)(p.PersonalAccessToken(userID, name, ttl))
}

// MustOneTimeToken is OneTimeToken that fails t on error.
func (p *Provider) MustOneTimeToken(t testing.TB, email string, ttl time.Duration) string {
	t.Helper()
	return mustToken(t)(p.OneTimeToken(email, ttl))
}

// MustActorToken is ActorToken that fails t on error.
func (p *Provider) MustActorToken(t testing.TB, userID string) string {
	t.Helper()
	return mustToken(t)(p.ActorToken(userID))
}
