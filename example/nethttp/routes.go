package main

import (
	"encoding/json"
	"net/http"
	"slices"

	"github.com/fiberlogto/sdk/example/internal/tutorial"
	"github.com/fiberlogto/sdk/logto"
	"github.com/fiberlogto/sdk/logtohttp"
)

// registerRoutes adds the tutorial's pages to mux, which lg.Handler wraps.
// The routes that want more than the claims ask for it with
// logtohttp.Fetch, as the tutorial's per-route withLogto config does.
func registerRoutes(mux *http.ServeMux, cfg tutorial.Config, lg *logtohttp.Logto) {
	// A sign-in link, or a greeting and a sign-out link. {$}: / only, as
	// Fiber's "/"; a bare "/" pattern would match every path.
	mux.Handle("GET /{$}", chain{noStore}.then(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(tutorial.HomePage(logtohttp.User(r))))
	}))

	// The user context as @logto/express's req.user: isAuthenticated, claims.
	// SendUser writes the same JSON as encoding/json would of
	// logtohttp.User(r), without its reflection and re-scan of the claims.
	mux.Handle("GET /user", chain{noStore}.then(logtohttp.SendUser))

	// The same with Logto's userinfo answer (FetchUserInfo on this route only).
	mux.Handle("GET /user/info", chain{noStore, logtohttp.Fetch(logto.FetchOptions{UserInfo: true})}.then(
		func(w http.ResponseWriter, r *http.Request) { sendJSON(w, http.StatusOK, logtohttp.User(r)) }))

	// Signed-in users only: browsers are sent to sign in, API clients get 401.
	mux.Handle("GET /protected", chain{noStore, logtohttp.RequireAuth}.then(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(tutorial.Protected))
	}))

	// Sensitive settings: a sign-in within the last five minutes. An older
	// one sends the browser through Logto again (max_age), back here.
	mux.Handle("GET /account/security", chain{noStore, logtohttp.RequireRecentSignIn(tutorial.RecentSignIn)}.then(
		func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte(tutorial.SecurityPage(logtohttp.User(r))))
		}))

	// Organization tokens, for the organizations of the user (or
	// LOGTO_ORGANIZATION_ID); they need the organizations scope: without
	// it, a 400 before anything is asked of the user.
	organizationsScope := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !slices.Contains(cfg.Scopes, logto.ScopeOrganizations) {
				sendJSON(w, http.StatusBadRequest, tutorial.NoOrganizationsScope)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	mux.Handle("GET /organization-token", chain{noStore, organizationsScope, logtohttp.RequireAuth,
		logtohttp.Fetch(logto.FetchOptions{OrganizationTokens: true, OrganizationID: cfg.OrganizationID}),
	}.then(func(w http.ResponseWriter, r *http.Request) {
		sendJSON(w, http.StatusOK, tutorial.OrganizationTokens(logtohttp.User(r)))
	}))

	// The API, for single-page, mobile and machine-to-machine clients:
	// Logto access tokens (Authorization: Bearer), verified once and cached;
	// /api/data also takes users' personal access tokens.
	// {id} is the organization: logtohttp reads it with r.PathValue.
	mux.Handle("GET /api/organizations/{id}/data", chain{noStore, lg.RequireAccessToken(tutorial.OrganizationDataPolicy)}.then(
		func(w http.ResponseWriter, r *http.Request) {
			sendJSON(w, http.StatusOK, tutorial.OrganizationData(logtohttp.AccessToken(r)))
		}))
	if cfg.Resource != "" {
		mux.Handle("GET /api/data", chain{noStore, lg.RequireAccessToken(tutorial.APIDataPolicy(cfg.Resource))}.then(
			func(w http.ResponseWriter, r *http.Request) {
				sendJSON(w, http.StatusOK, tutorial.APIData(logtohttp.AccessToken(r)))
			}))
	}

	// An access token for the API resource LOGTO_RESOURCE.
	if cfg.Resource == "" {
		mux.Handle("GET /access-token", chain{noStore}.then(func(w http.ResponseWriter, r *http.Request) {
			sendJSON(w, http.StatusBadRequest, tutorial.NoResource)
		}))
		return
	}
	mux.Handle("GET /access-token", chain{noStore, logtohttp.RequireAuth,
		logtohttp.Fetch(logto.FetchOptions{AccessToken: true, Resource: cfg.Resource}),
	}.then(func(w http.ResponseWriter, r *http.Request) {
		sendJSON(w, http.StatusOK, tutorial.AccessToken(logtohttp.User(r)))
	}))
}

// chain is a route's middleware, in the order they run: the net/http
// spelling of Fiber's app.Get(path, middleware..., handler).
type chain []func(http.Handler) http.Handler

// then is h behind the chain's middleware, the first one outermost.
func (c chain) then(h http.HandlerFunc) http.Handler {
	var handler http.Handler = h
	for i := len(c) - 1; i >= 0; i-- {
		handler = c[i](handler)
	}
	return handler
}

// noStore marks the answer as not cacheable: every answer of these routes
// is per user.
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// sendJSON answers v as JSON with status: the bytes and headers of Fiber's
// c.JSON (encoding/json's Marshal, no trailing newline, Content-Type
// application/json without charset, as fiberlogto's own answers).
func sendJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
