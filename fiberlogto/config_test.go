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
