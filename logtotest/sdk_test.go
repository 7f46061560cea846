package logtotest_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/fiberlogto/sdk/logto"
	"github.com/fiberlogto/sdk/logtohttp"
	"github.com/fiberlogto/sdk/logtotest"
)

// TestExchangedTokensPassRequireAccessToken: the tokens a token exchange
// issues are access tokens like the provider's others: an API behind the
// SDK's RequireAccessToken takes them.
func TestExchangedTokensPassRequireAccessToken(t *testing.T) {
	p := logtotest.NewServer(t, logtotest.Options{AllowTokenExchange: true})
	lg, err := logtohttp.New(logtohttp.Config{Config: appConfig(p, "http://localhost:3000")})
	if err != nil {
		t.Fatal(err)
	}
	api := lg.RequireAccessToken(logto.AccessTokenOptions{Resource: logtotest.DefaultResource, Scopes: []string{"read:data"}})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "data") }))
	for name, subject := range map[string]string{
		"subject token":         p.MustSubjectToken(t, ""),
		"personal access token": p.MustPersonalAccessToken(t, "", "ci", 0),
	} {
		token := p.MustExchangeToken(t, logtotest.TokenExchange{SubjectToken: subject, Resource: logtotest.DefaultResource,
			Scopes: []string{"read:data"}, ActorToken: p.MustActorToken(t, "")})
		req := httptest.NewRequest(http.MethodGet, "http://localhost:3000/api/data", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || rec.Body.String() != "data" {
			t.Errorf("%s: RequireAccessToken answered %d %s", name, rec.Code, rec.Body)
		}
	}
}

// TestSignInToOneTimeToken: SignInTo signs in with a magic link through
// the app's sign-in route, which passes one_time_token and login_hint on.
func TestSignInToOneTimeToken(t *testing.T) {
	alice := logtotest.User{ID: "alice-id", Username: "alice", Email: "alice@example.test"}
	p := logtotest.NewServer(t, logtotest.Options{Users: []logtotest.User{logtotest.DemoUser, alice}})
	const base = "http://127.0.0.1:8080"
	app := netHTTPApp(t, appConfig(p, base))
	token := p.MustOneTimeToken(t, alice.Email, 0)
	browser := p.SignInTo(t, base, app, logtotest.SignInToOptions{OneTimeToken: token})
	wantSignedIn(t, browser, base, alice.ID)

	// Used up.
	if _, err := p.SignInToE(t.Context(), base, app, logtotest.SignInToOptions{OneTimeToken: token}); err == nil ||
		!strings.Contains(err.Error(), "Invalid link. The token has been consumed.") {
		t.Fatalf("used token: %v", err)
	}
	// Not the provider's, or with a password.
	for _, o := range []logtotest.SignInToOptions{
		{OneTimeToken: "nope"},
		{OneTimeToken: p.MustOneTimeToken(t, alice.Email, 0), Password: "x"},
	} {
		if _, err := p.SignInToE(t.Context(), base, app, o); err == nil {
			t.Fatalf("%+v accepted", o)
		}
	}

	// An app whose sign-in route drops the link's parameters.
	dropping := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, p.Issuer+"/auth?"+url.Values{"client_id": {p.ClientID}, "response_type": {"code"},
			"scope": {"openid"}, "redirect_uri": {base + "/logto/sign-in-callback"}}.Encode(), http.StatusFound)
	})
	_, err := p.SignInToE(t.Context(), base, dropping, logtotest.SignInToOptions{OneTimeToken: p.MustOneTimeToken(t, alice.Email, 0)})
	if err == nil || !strings.Contains(err.Error(), "does not pass a magic link on") {
		t.Fatalf("dropping app: %v", err)
	}
}
