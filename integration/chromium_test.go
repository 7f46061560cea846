//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/fiberlogto/sdk/logtotest"
)

// chromiumPath is Debian's chromium package. The suite never downloads a
// browser: make integration and .ci/run install the package when missing.
const chromiumPath = "/usr/bin/chromium"

// TestBrowser signs in and out with a real browser, headless Chromium: what
// only a browser proves is how cookies behave across the redirects (the
// session cookie set on the callback's 302, SameSite=Lax across the ports of
// 127.0.0.1, Logto's own cookies next to the app's), and that the pages work
// as pages (a link to click, a sign-in form, an end-session page that submits
// itself).
//
// Each example (Fiber v2, v3 and net/http), with two providers: the
// example's embedded one (logtotest, started by the example itself when
// LOGTO_ENDPOINT is unset, as `make example` does), and the suite's
// Logto-compatible provider on oidc-provider.
func TestBrowser(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("Chromium is not installed at %s (apt-get install chromium; make integration and .ci/run install it): %v", chromiumPath, err)
	}

	for _, ex := range suite.examples {
		t.Run(ex.name, func(t *testing.T) {
			t.Parallel() // free ports, or the example's own
			t.Run("embedded-provider", func(t *testing.T) {
				t.Parallel()
				port, err := freePort()
				if err != nil {
					t.Fatal(err)
				}
				app := startExample(t, ex, port, map[string]string{
					"SESSION_STORAGE": "memory",
					"LOGTO_DEV_ADDR":  "127.0.0.1:0",
				})
				demo := logtotest.DemoUser
				browserSignInOut(t, app, demo.Username, demo.Password, demo.Name)
			})

			if suite.fixture != nil {
				t.Run("logto-compatible-provider", func(t *testing.T) {
					t.Parallel()
					app := startExample(t, ex, suite.appPort(ex, "browser"), exampleEnv("memory", ""))
					browserSignInOut(t, app, suite.target.Username, suite.target.Password, "Integration User")
				})
			}
		})
	}
}

// browserSignInOut: open the app, click Sign In, sign in on the provider's
// page, see the user's name, open /protected, click Sign Out, end anonymous.
func browserSignInOut(t *testing.T, app *exampleApp, username, password, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var chromeOut tail
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.WSURLReadTimeout(30*time.Second),
		chromedp.CombinedOutput(&chromeOut),
		// No UserDataDir option: chromedp starts Chromium with a fresh
		// --user-data-dir of its own and removes it afterwards.
	)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()

	base := app.BaseURL
	fail := func(step string, err error) {
		t.Helper()
		snap, cancel := context.WithTimeout(bctx, 5*time.Second)
		defer cancel()
		loc, _ := chromedp.Run(snap, chromedp.Location())
		doc, _ := chromedp.Run(snap, chromedp.OuterHTML(chromedp.CSS("html")))
		if len(doc) > 3000 {
			doc = doc[:3000] + "…"
		}
		if shot, err := chromedp.Run(snap, chromedp.FullScreenshot(80)); err == nil && len(shot) > 0 {
			p := filepath.Join(os.TempDir(), "fiberlogto-integration-"+strings.ReplaceAll(t.Name(), "/", "_")+".jpg")
			if os.WriteFile(p, shot, 0o644) == nil {
				t.Logf("screenshot: %s", p)
			}
		}
		t.Fatalf("%s: %v\nat %s\n%s\nChromium output:\n%s", step, err, loc, doc, chromeOut.String())
	}
	location := func(step string) string {
		t.Helper()
		loc, err := chromedp.Run(bctx, chromedp.Location())
		if err != nil {
			fail(step, err)
		}
		return loc
	}
	text := func(step string) string {
		t.Helper()
		body, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("body")))
		if err != nil {
			fail(step, err)
		}
		return body
	}
	signInLink, signOutLink := chromedp.CSS(`a[href="/logto/sign-in"]`), chromedp.CSS(`a[href="/logto/sign-out"]`)

	// Home page, signed out: click Sign In.
	if err := chromedp.Do(bctx,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(signInLink),
		chromedp.Click(signInLink),
		chromedp.WaitVisible(chromedp.CSS(`#identifier`)),
	); err != nil {
		fail("open the app and click Sign In", err)
	}
	if loc := location("sign-in page"); !strings.Contains(loc, "/sign-in") || strings.HasPrefix(loc, base) {
		t.Fatalf("after clicking Sign In the browser is at %s, want the provider's sign-in page", loc)
	}

	// The provider's sign-in page: fill in the form and submit.
	if err := chromedp.Do(bctx,
		chromedp.SendKeys(chromedp.CSS(`#identifier`), username),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Click(chromedp.CSS(`#submit`)),
		chromedp.WaitVisible(signOutLink),
	); err != nil {
		fail("sign in on the provider's page", err)
	}
	if loc := location("home after sign-in"); strings.TrimSuffix(loc, "/") != base {
		t.Errorf("after signing in the browser is at %s, want %s/", loc, base)
	}
	if body := text("home after sign-in"); !strings.Contains(body, "Hello, "+name) {
		t.Errorf("home page after sign-in does not greet %q: %q", name, body)
	}
	cookies := browserCookies(t, bctx, base)
	if c, ok := cookies["fiberlogto_session"]; !ok {
		t.Errorf("no fiberlogto_session cookie in the browser after sign-in")
	} else if !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax {
		t.Errorf("fiberlogto_session: HttpOnly %v, SameSite %q; want HttpOnly, Lax", c.HTTPOnly, c.SameSite)
	}

	// The protected page.
	if err := chromedp.Do(bctx, chromedp.Navigate(base+"/protected")); err != nil {
		fail("open /protected", err)
	}
	if body, loc := text("/protected"), location("/protected"); strings.TrimSpace(body) != "protected resource" || loc != base+"/protected" {
		t.Errorf("/protected signed in: at %s, body %q", loc, body)
	}

	// Sign out: the link, Logto's end-session page (it submits itself), back home.
	if err := chromedp.Do(bctx,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(signOutLink),
		chromedp.Click(signOutLink),
		chromedp.WaitVisible(signInLink),
	); err != nil {
		fail("click Sign Out", err)
	}
	if loc := location("home after sign-out"); strings.TrimSuffix(loc, "/") != base {
		t.Errorf("after signing out the browser is at %s, want %s/", loc, base)
	}
	if _, ok := browserCookies(t, bctx, base)["fiberlogto_session"]; ok {
		t.Errorf("the fiberlogto_session cookie survived the sign-out")
	}

	// Anonymous again: /user says so, and /protected sends the page to sign in.
	if err := chromedp.Do(bctx, chromedp.Navigate(base+"/user")); err != nil {
		fail("open /user", err)
	}
	userJSON := text("/user after sign-out")
	var u struct {
		IsAuthenticated bool `json:"isAuthenticated"`
	}
	if err := json.Unmarshal([]byte(userJSON), &u); err != nil || u.IsAuthenticated {
		t.Errorf("/user after sign-out: %q", userJSON)
	}
	if err := chromedp.Do(bctx,
		chromedp.Navigate(base+"/protected"),
		chromedp.WaitVisible(chromedp.CSS(`#identifier`)),
	); err != nil {
		fail("open /protected signed out", err)
	}
}

// browserCookies returns the cookies Chromium would send to rawURL, by name.
func browserCookies(t *testing.T, ctx context.Context, rawURL string) map[string]*network.Cookie {
	t.Helper()
	res, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) (network.GetCookiesResult, error) {
		return cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{rawURL}})
	})
	if err != nil {
		t.Fatalf("reading the browser's cookies: %v", err)
	}
	out := map[string]*network.Cookie{}
	for _, c := range res.Cookies {
		out[c.Name] = c
	}
	return out
}
