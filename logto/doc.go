// Package logto is the framework-free core of fiberlogto, the Go SDK that
// signs the users of a web app in with Logto, the open-source OpenID
// Connect identity server, and protects its APIs with Logto's access
// tokens. Every type a user reads or sets is declared and documented here:
// the settings (Config), the user context a request carries (UserContext),
// what a route can ask for beyond it (FetchOptions), Logto's sign-in
// options (SignInOptions), what an API route accepts (AccessTokenOptions)
// and what it verified (AccessTokenClaims), the session storage (Storage,
// Leaser), the sentinel errors every failure wraps (with StatusOf), and the
// scopes Logto reserves.
//
// An adapter serves it on a web framework, with the same names in each:
// New, WithLogto, RequireAuth, Fetch, User, AccessToken, RequireAccessToken
// and SignIn.
//
//   - Fiber v2: github.com/fiberlogto/sdk/fiberlogto
//   - Fiber v3: github.com/fiberlogto/sdk/fiberlogto/v3
//   - net/http (the standard ServeMux, chi, Echo through
//     echo.WrapMiddleware): github.com/fiberlogto/sdk/logtohttp
//
// Each adapter's Config embeds this package's Config and adds only what
// belongs to its framework (the request type of its hooks):
//
//	lg, err := logtohttp.New(logtohttp.Config{Config: logto.Config{
//		Endpoint:  "https://tenant.logto.app",
//		AppID:     "...",
//		AppSecret: "...",
//		BaseURL:   "http://localhost:3000",
//	}})
//
// The adapters share one engine (OpenID Connect, sessions, tokens, leases,
// the bearer checks, and every security rule: cookie attributes, the
// sign-in hook's recovery, body limits), so a fix there is a fix for all of
// them. github.com/fiberlogto/sdk/logtotest is an in-process
// Logto-compatible provider for tests of an app of your own.
package logto
