package engine

import (
	"fmt"

	"github.com/fiberlogto/sdk/logto"
)

// One rule for repeated protocol parameters. RFC 6749 section 3.1:
// "Request and response parameters MUST NOT be included more than once."
// A component in front of the app (a proxy, a WAF, a log pipeline) that
// reads the last of two values sees another message than the app, which
// reads the first; and the RFC 9207 iss check is only as strong as the rule
// that there is exactly one iss. So a message that repeats one of the
// parameters an entry point reads is malformed and refused whole (400,
// logto.ErrInvalidRequest), before anything is used up: no token call, no
// session, the pending sign-in left as it was. Other parameters are not
// protocol parameters and are ignored, repeated or not.
var (
	// callbackParams are those of an authorization response (RFC 6749
	// 4.1.2 and 4.1.2.1, RFC 9207, OpenID Connect Session Management).
	callbackParams = []string{"code", "state", "iss", "error", "error_description", "error_uri", "session_state"}
	// signInParams are what the sign-in routes read from the link: the
	// allow-listed sign-in options and the return path.
	signInParams = []string{"first_screen", "login_hint", "direct_sign_in", "identifier", "one_time_token", "max_age", returnToParam}
	// returnToParams is what SignIn reads from the link.
	returnToParams = []string{returnToParam}
	// backchannelParams are those of a back-channel logout request
	// (Back-Channel Logout 1.0 section 2.5), in the form body.
	backchannelParams = []string{"logout_token"}
)

// returnToParam names the path to come back to after sign-in.
const returnToParam = "returnTo"

// repeatedParam returns the first of names that count reports more than
// once, "" when none is.
func repeatedParam(count func(string) int, names []string) string {
	for _, name := range names {
		if count(name) > 1 {
			return name
		}
	}
	return ""
}

// refuseRepeated is the error of a message that repeats param: the log
// record names the parameter, never its values.
func refuseRepeated(param string) error {
	return because("repeated parameter", fmt.Errorf("%w: parameter %s is repeated (RFC 6749 section 3.1)", logto.ErrInvalidRequest, param), "parameter", param)
}
