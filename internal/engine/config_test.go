package engine

import (
	"errors"
	"strings"
	"testing"

	"github.com/fiberlogto/sdk/storage/memory"

	"github.com/fiberlogto/sdk/logto"
)

// testConfig is the config the engine's own tests write.
type testConfig = logto.Config

// newForTest builds an engine as an adapter would, on a memory storage.
func newForTest(cfg testConfig) (*Engine, error) {
	if cfg.Storage == nil {
		cfg.Storage = memory.New()
	}
	return New(cfg)
}

func TestConfigNamesTheBadField(t *testing.T) {
	good := testConfig{Endpoint: "http://127.0.0.1:3001", AppID: "app", AppSecret: "s", BaseURL: "http://localhost:3000"}
	for field, edit := range map[string]func(c *testConfig){
		"Endpoint":             func(c *testConfig) { c.Endpoint = "" },
		"BaseURL":              func(c *testConfig) { c.BaseURL = "localhost:3000" },
		"AppID":                func(c *testConfig) { c.AppID = " " },
		"AppSecret":            func(c *testConfig) { c.AppSecret = "" },
		"CookieName":           func(c *testConfig) { c.CookieName = "_session" },
		"EncryptionKey":        func(c *testConfig) { c.EncryptionKey = []byte("short") },
		"Resource":             func(c *testConfig) { c.Resource = "not a uri" },
		"GetOrganizationToken": func(c *testConfig) { c.GetOrganizationToken = true },
		"DirectSignIn":         func(c *testConfig) { c.SignInOptions.DirectSignIn = &logto.DirectSignIn{Method: "magic"} },
	} {
		c := good
		edit(&c)
		_, err := newForTest(c)
		if !errors.Is(err, logto.ErrConfig) || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: err = %v, want logto.ErrConfig naming the field", field, err)
		}
	}
	if _, err := newForTest(good); err != nil {
		t.Fatalf("good config: %v", err)
	}
	if _, err := Prepare(testConfig{}); !errors.Is(err, logto.ErrConfig) {
		t.Fatalf("empty config: %v", err)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Prepare(testConfig{Endpoint: "http://x/", AppID: "a", AppSecret: "s", BaseURL: "https://app.example/"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := settingsOf(&c)
	if cfg.Endpoint != "http://x" || cfg.BaseURL != "https://app.example" || cfg.RoutesPrefix != "/logto" ||
		cfg.CookieName != "fiberlogto_session" || cfg.Storage == nil || cfg.HTTPClient == nil ||
		cfg.PostLogoutRedirectURI != "https://app.example" || !cfg.secureCookies() {
		t.Fatalf("defaults: %+v", cfg)
	}
	if got := strings.Join(cfg.scopes(), " "); got != "openid offline_access profile" {
		t.Fatalf("scopes = %q", got)
	}
	if cfg.HTTPClient.Timeout == 0 {
		t.Fatal("default HTTP client has no timeout")
	}
}

// TestConfigRejectsWhatBreaksAtRuntime: settings that parse but would make
// browsers drop the cookies or send sign-in somewhere else fail at New,
// naming the field.
func TestConfigRejectsWhatBreaksAtRuntime(t *testing.T) {
	good := testConfig{Endpoint: "http://127.0.0.1:3001", AppID: "app", AppSecret: "s", BaseURL: "http://localhost:3000"}
	for name, tc := range map[string]struct {
		field string
		edit  func(c *testConfig)
	}{
		"BaseURL with a path":            {"BaseURL", func(c *testConfig) { c.BaseURL = "https://host.example/app" }},
		"BaseURL with user info":         {"BaseURL", func(c *testConfig) { c.BaseURL = "https://u:p@host.example" }},
		"RoutesPrefix /":                 {"RoutesPrefix", func(c *testConfig) { c.RoutesPrefix = "/" }},
		"RoutesPrefix with a query":      {"RoutesPrefix", func(c *testConfig) { c.RoutesPrefix = "/auth?x" }},
		"RoutesPrefix with a fragment":   {"RoutesPrefix", func(c *testConfig) { c.RoutesPrefix = "/a#b" }},
		"RoutesPrefix with a space":      {"RoutesPrefix", func(c *testConfig) { c.RoutesPrefix = "/a b" }},
		"RoutesPrefix with //":           {"RoutesPrefix", func(c *testConfig) { c.RoutesPrefix = "/a//b" }},
		"RoutesPrefix with ..":           {"RoutesPrefix", func(c *testConfig) { c.RoutesPrefix = "/a/../b" }},
		"CookieDomain of another host":   {"CookieDomain", func(c *testConfig) { c.CookieDomain = "example.com" }},
		"CookieDomain a sibling":         {"CookieDomain", func(c *testConfig) { c.BaseURL = "https://app.example.com"; c.CookieDomain = "api.example.com" }},
		"CookieName __Host-":             {"CookieName", func(c *testConfig) { c.BaseURL = "https://app.example.com"; c.CookieName = "__Host-sess" }},
		"CookieName __Secure- over http": {"CookieName", func(c *testConfig) { c.CookieName = "__Secure-sess" }},
	} {
		c := good
		tc.edit(&c)
		if _, err := newForTest(c); !errors.Is(err, logto.ErrConfig) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: err = %v, want logto.ErrConfig naming %s", name, err, tc.field)
		}
	}
	for name, edit := range map[string]func(c *testConfig){
		"RoutesPrefix nested":           func(c *testConfig) { c.RoutesPrefix = "/auth/logto/" },
		"CookieDomain the host":         func(c *testConfig) { c.BaseURL = "https://app.example.com"; c.CookieDomain = "app.example.com" },
		"CookieDomain a parent":         func(c *testConfig) { c.BaseURL = "https://app.example.com:8443"; c.CookieDomain = ".Example.com" },
		"CookieName __Secure- on https": func(c *testConfig) { c.BaseURL = "https://app.example.com"; c.CookieName = "__Secure-sess" },
	} {
		c := good
		edit(&c)
		if _, err := newForTest(c); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestBaseURLCaseNormalised: an upper-case scheme or host still gets Secure
// cookies and a lower-case redirect URI.
func TestBaseURLCaseNormalised(t *testing.T) {
	c, err := Prepare(testConfig{Endpoint: "http://x", AppID: "a", AppSecret: "s", BaseURL: "HTTPS://App.Example.COM/"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := settingsOf(&c)
	if cfg.BaseURL != "https://app.example.com" || !cfg.secureCookies() || cfg.redirectURI() != "https://app.example.com/logto/sign-in-callback" {
		t.Fatalf("BaseURL %q, secure %v, redirect URI %q", cfg.BaseURL, cfg.secureCookies(), cfg.redirectURI())
	}
}
