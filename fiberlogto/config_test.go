package fiberlogto

import (
	"errors"
	"strings"
	"testing"
)

func TestConfigNamesTheBadField(t *testing.T) {
	good := Config{Endpoint: "http://127.0.0.1:3001", AppID: "app", AppSecret: "s", BaseURL: "http://localhost:3000"}
	for field, edit := range map[string]func(c *Config){
		"Endpoint":             func(c *Config) { c.Endpoint = "" },
		"BaseURL":              func(c *Config) { c.BaseURL = "localhost:3000" },
		"AppID":                func(c *Config) { c.AppID = " " },
		"AppSecret":            func(c *Config) { c.AppSecret = "" },
		"CookieName":           func(c *Config) { c.CookieName = "_session" },
		"EncryptionKey":        func(c *Config) { c.EncryptionKey = []byte("short") },
		"Resource":             func(c *Config) { c.Resource = "not a uri" },
		"GetOrganizationToken": func(c *Config) { c.GetOrganizationToken = true },
		"DirectSignIn":         func(c *Config) { c.SignInOptions.DirectSignIn = &DirectSignIn{Method: "magic"} },
	} {
		c := good
		edit(&c)
		_, err := New(c)
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: err = %v, want ErrConfig naming the field", field, err)
		}
	}
	if _, err := New(good); err != nil {
		t.Fatalf("good config: %v", err)
	}
	if _, err := New(); !errors.Is(err, ErrConfig) {
		t.Fatalf("no config: %v", err)
	}
}

func TestWithLogtoPanicsOnBadConfig(t *testing.T) {
	defer func() {
		if r := recover(); r == nil {
			t.Fatal("no panic")
		}
	}()
	WithLogto(Config{})
}

func TestDefaults(t *testing.T) {
	cfg, err := configDefault(Config{Endpoint: "http://x/", AppID: "a", AppSecret: "s", BaseURL: "https://app.example/"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Endpoint != "http://x" || cfg.BaseURL != "https://app.example" || cfg.RoutesPrefix != "/logto" ||
		cfg.CookieName != "fiberlogto_session" || cfg.ContextKey != "user" || cfg.Storage == nil || cfg.HTTPClient == nil ||
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
	good := Config{Endpoint: "http://127.0.0.1:3001", AppID: "app", AppSecret: "s", BaseURL: "http://localhost:3000"}
	for name, tc := range map[string]struct {
		field string
		edit  func(c *Config)
	}{
		"BaseURL with a path":            {"BaseURL", func(c *Config) { c.BaseURL = "https://host.example/app" }},
		"BaseURL with user info":         {"BaseURL", func(c *Config) { c.BaseURL = "https://u:p@host.example" }},
		"RoutesPrefix /":                 {"RoutesPrefix", func(c *Config) { c.RoutesPrefix = "/" }},
		"RoutesPrefix with a query":      {"RoutesPrefix", func(c *Config) { c.RoutesPrefix = "/auth?x" }},
		"RoutesPrefix with a fragment":   {"RoutesPrefix", func(c *Config) { c.RoutesPrefix = "/a#b" }},
		"RoutesPrefix with a space":      {"RoutesPrefix", func(c *Config) { c.RoutesPrefix = "/a b" }},
		"RoutesPrefix with //":           {"RoutesPrefix", func(c *Config) { c.RoutesPrefix = "/a//b" }},
		"RoutesPrefix with ..":           {"RoutesPrefix", func(c *Config) { c.RoutesPrefix = "/a/../b" }},
		"CookieDomain of another host":   {"CookieDomain", func(c *Config) { c.CookieDomain = "example.com" }},
		"CookieDomain a sibling":         {"CookieDomain", func(c *Config) { c.BaseURL = "https://app.example.com"; c.CookieDomain = "api.example.com" }},
		"CookieName __Host-":             {"CookieName", func(c *Config) { c.BaseURL = "https://app.example.com"; c.CookieName = "__Host-sess" }},
		"CookieName __Secure- over http": {"CookieName", func(c *Config) { c.CookieName = "__Secure-sess" }},
	} {
		c := good
		tc.edit(&c)
		if _, err := New(c); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: err = %v, want ErrConfig naming %s", name, err, tc.field)
		}
	}
	for name, edit := range map[string]func(c *Config){
		"RoutesPrefix nested":           func(c *Config) { c.RoutesPrefix = "/auth/logto/" },
		"CookieDomain the host":         func(c *Config) { c.BaseURL = "https://app.example.com"; c.CookieDomain = "app.example.com" },
		"CookieDomain a parent":         func(c *Config) { c.BaseURL = "https://app.example.com:8443"; c.CookieDomain = ".Example.com" },
		"CookieName __Secure- on https": func(c *Config) { c.BaseURL = "https://app.example.com"; c.CookieName = "__Secure-sess" },
	} {
		c := good
		edit(&c)
		if _, err := New(c); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestBaseURLCaseNormalised: an upper-case scheme or host still gets Secure
// cookies and a lower-case redirect URI.
func TestBaseURLCaseNormalised(t *testing.T) {
	cfg, err := configDefault(Config{Endpoint: "http://x", AppID: "a", AppSecret: "s", BaseURL: "HTTPS://App.Example.COM/"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BaseURL != "https://app.example.com" || !cfg.secureCookies() || cfg.redirectURI() != "https://app.example.com/logto/sign-in-callback" {
		t.Fatalf("BaseURL %q, secure %v, redirect URI %q", cfg.BaseURL, cfg.secureCookies(), cfg.redirectURI())
	}
}
