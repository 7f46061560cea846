package logtotest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"

	"github.com/fiberlogto/sdk/fiberlogto/logtotest"
)

// A test starts a provider, points its relying party at p.URL (the Logto
// endpoint) with p.ClientID and p.ClientSecret, and lets SignIn play the
// browser between the RP's sign-in redirect and its callback.
func Example() {
	p, err := logtotest.New(logtotest.Options{}) // in a test: logtotest.NewServer(t, ...)
	if err != nil {
		panic(err)
	}
	defer p.Close()

	// What an RP's /logto/sign-in would redirect to.
	authorize := p.Issuer + "/auth?" + url.Values{
		"client_id":     {p.ClientID},
		"redirect_uri":  {"http://localhost:3000/logto/sign-in-callback"},
		"response_type": {"code"},
		"scope":         {"openid profile offline_access"},
		"prompt":        {"consent"},
		"state":         {"xyz"},
	}.Encode()

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	callback, err := p.SignIn(context.Background(), browser, authorize, "demo", "demo-password")
	if err != nil {
		panic(err)
	}
	u, _ := url.Parse(callback)
	fmt.Println(u.Path, u.Query().Get("state"), u.Query().Get("iss") == p.Issuer, p.Calls("token"))
	// Output: /logto/sign-in-callback xyz true 0
}
