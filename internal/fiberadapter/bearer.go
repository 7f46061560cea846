package fiberadapter

import (
	"unsafe"

	"github.com/fiberlogto/sdk/logto"
)

// accessTokenKey is where RequireAccessToken leaves the verified claims,
// boxed once.
var accessTokenKey any = "fiberlogto.access-token"

// RequireAccessToken protects the routes after it with Logto access tokens
// (Authorization: Bearer): a request whose token passes opts goes on, with
// its claims for AccessToken; any other gets 401, 403 or 400 with
// WWW-Authenticate, through the error handler. It shares l's discovery and
// key set. It panics on invalid opts, at setup.
func (l *Logto[C, H]) RequireAccessToken(opts logto.AccessTokenOptions) H {
	policy, err := l.eng.AccessTokenPolicy(opts)
	if err != nil {
		panic(err)
	}
	s := l.state
	param := policy.OrganizationParam()
	return func(c C) error {
		var headers [2]string // the usual one, and a second to refuse
		n := 0
		for _, v := range c.Request().Header.PeekAll("Authorization") {
			if n < len(headers) {
				headers[n] = unsafe.String(unsafe.SliceData(v), len(v))
			}
			n++
		}
		var org string
		if param != "" {
			org = c.Params(param)
		}
		claims, refused := s.eng.CheckAccessToken(s.fw.Context(c), headers[:min(n, len(headers))], org, policy)
		if refused != nil {
			return s.answer(c, refused)
		}
		s.fw.SetLocal(c, accessTokenKey, claims)
		return c.Next()
	}
}

// AccessToken returns the claims RequireAccessToken verified for the
// request, nil when it did not run.
func AccessToken[C Ctx](c C) *logto.AccessTokenClaims {
	t, _ := c.Locals(accessTokenKey).(*logto.AccessTokenClaims)
	return t
}
