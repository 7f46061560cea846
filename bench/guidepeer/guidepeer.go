// Package guidepeer is the peer of fiberlogto's bearer-token benchmark. It
// is our own implementation of the approach that Logto's guide "Protect your
// Fiber API with RBAC and JWT validation"
// (https://docs.logto.io/api-protection/go/fiber) teaches, written so that
// the benchmark measures what a developer who follows that guide ends up
// running in production: the same library (github.com/lestrrat-go/jwx/v3),
// the same framework (Fiber v2), the same checks in the same order, the same
// status codes. The code is not taken from the guide.
//
// How it behaves:
//   - New downloads the JSON Web Key Set once, with jwk.Fetch and a ten
//     second deadline, and keeps that set for the life of the Middleware.
//     The set is never fetched again: there is no refresh and no retry on
//     an unknown key ID, so a key that Logto rotates in is refused until the
//     process restarts.
//   - A request must carry "Authorization: Bearer <token>", the scheme
//     matched case-sensitively. No header, or another scheme, gets 401.
//   - The token goes through jwt.Parse with the key set and the library's
//     default validation: signature, then exp, nbf and iat with no clock
//     skew. Any failure gets 401, with the library's error text appended to
//     the reason.
//   - iss must equal the configured issuer (else 401), aud must include the
//     configured audience (else 403), and the space-separated scope claim
//     must grant every required scope (else 403).
//   - A refusal is a JSON object {"error": "<reason>"}. An accepted token is
//     stored with c.Locals("auth", token) and the next handler runs.
//   - Nothing is remembered between requests: no cache of verified tokens,
//     so the same token is parsed again and its signature (ES384 with
//     Logto's default signing key) verified again on every request. The JWT
//     header's typ is not looked at.
//
// Departures from the guide's listing, none visible to a client: the JWKS
// endpoint, issuer, audience and scopes are arguments of New rather than
// constants, and a failed fetch is returned rather than a panic; the header
// is read straight from the Fiber context rather than through a net/http
// request built on every call (one small allocation, negligible next to the
// signature check); the jwx v3 accessors are used, since the listing calls
// the v2 ones, which do not compile against the v3 module it installs; only
// the global API resource checks are implemented, not the organization
// variants the guide leaves for the reader to finish.
package guidepeer

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// localsKey is where Handler leaves the verified jwt.Token for the handlers
// after it.
const localsKey = "auth"

// fetchDeadline bounds the one JWKS download New makes.
const fetchDeadline = 10 * time.Second

// Middleware checks bearer tokens against a key set downloaded once.
type Middleware struct {
	keys     jwk.Set
	issuer   string
	audience string
	scopes   []string
}

// New downloads the key set at jwksURL and returns a Middleware that accepts
// tokens signed by one of its keys, issued by issuer, addressed to audience
// and granting every one of scopes.
func New(jwksURL, issuer, audience string, scopes ...string) (*Middleware, error) {
	ctx, cancel := context.WithTimeout(context.Background(), fetchDeadline)
	defer cancel()
	keys, err := jwk.Fetch(ctx, jwksURL)
	if err != nil {
		return nil, fmt.Errorf("guidepeer: key set %s: %w", jwksURL, err)
	}
	return &Middleware{
		keys:     keys,
		issuer:   issuer,
		audience: audience,
		scopes:   slices.Clone(scopes),
	}, nil
}

// Handler returns the Fiber middleware, for app.Use, app.Group or in front
// of a single route.
func (m *Middleware) Handler() fiber.Handler {
	return func(c *fiber.Ctx) error {
		token, refusal := m.admit(c.Get(fiber.HeaderAuthorization))
		if refusal != nil {
			return c.Status(refusal.status).JSON(fiber.Map{"error": refusal.reason})
		}
		c.Locals(localsKey, token)
		return c.Next()
	}
}

// refusal is a rejected request: the status to answer with and why.
type refusal struct {
	status int
	reason string
}

func unauthorized(reason string) *refusal {
	return &refusal{status: fiber.StatusUnauthorized, reason: reason}
}

func forbidden(reason string) *refusal {
	return &refusal{status: fiber.StatusForbidden, reason: reason}
}

// admit runs every check on the Authorization header value, in order, and
// returns the verified token or the first refusal.
func (m *Middleware) admit(authorization string) (jwt.Token, *refusal) {
	if authorization == "" {
		return nil, unauthorized("no credentials: the request has no Authorization header")
	}
	compact, ok := strings.CutPrefix(authorization, "Bearer ")
	if !ok {
		return nil, unauthorized("unsupported credentials: a Bearer token is expected")
	}

	token, err := jwt.Parse([]byte(compact), jwt.WithKeySet(m.keys))
	if err != nil {
		return nil, unauthorized("token rejected: " + err.Error())
	}
	if iss, _ := token.Issuer(); iss != m.issuer {
		return nil, unauthorized("token from an untrusted issuer")
	}
	if aud, _ := token.Audience(); !slices.Contains(aud, m.audience) {
		return nil, forbidden("token not meant for this API")
	}
	granted := grantedScopes(token)
	for _, want := range m.scopes {
		if !slices.Contains(granted, want) {
			return nil, forbidden("token lacks a required scope")
		}
	}
	return token, nil
}

// grantedScopes splits the token's scope claim on single spaces. A missing
// scope claim, an empty one or one that is not a string grants nothing.
func grantedScopes(token jwt.Token) []string {
	var claim any
	if token.Get("scope", &claim) != nil {
		return nil
	}
	s, _ := claim.(string)
	if s == "" {
		return nil
	}
	return strings.Split(s, " ")
}
