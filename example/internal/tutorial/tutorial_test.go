package tutorial

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/fiberlogto/sdk/logto"
	"github.com/fiberlogto/sdk/storage/memory"
)

func TestLoadConfig(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		cfg, err := LoadConfig(envOf(nil))
		if err != nil {
			t.Fatal(err)
		}
		if !cfg.Embedded || cfg.DevAddr != "127.0.0.1:3001" || cfg.Endpoint != "" {
			t.Errorf("embedded mode: %+v", cfg)
		}
		if cfg.BaseURL != "http://localhost:3000" || cfg.Addr != "127.0.0.1:3000" {
			t.Errorf("BaseURL %q Addr %q", cfg.BaseURL, cfg.Addr)
		}
		if cfg.SessionStorage != StorageSQLite || cfg.SessionDB != "./fiberlogto-example.sqlite3" || cfg.EncryptionKey != nil {
			t.Errorf("storage: %+v", cfg)
		}
		if cfg.AppID == "" || len(cfg.AppSecret) < 20 {
			t.Errorf("embedded app credentials: %q %q", cfg.AppID, cfg.AppSecret)
		}
		if cfg.Resource != "https://api.example.test" || strings.Join(cfg.Scopes, " ") != DevScopes {
			t.Errorf("embedded resource %q scopes %q", cfg.Resource, cfg.Scopes)
		}
	})
	t.Run("external Logto", func(t *testing.T) {
		cfg, err := LoadConfig(envOf(map[string]string{
			"LOGTO_ENDPOINT":         "https://tenant.logto.app/",
			"LOGTO_APP_ID":           "app-id",
			"LOGTO_APP_SECRET":       "app secret",
			"LOGTO_SCOPES":           " email  roles ",
			"BASE_URL":               "https://app.example.com/",
			"ADDR":                   ":8080",
			"SESSION_STORAGE":        "Memory",
			"SESSION_ENCRYPTION_KEY": strings.TrimRight(base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)), "="),
		}))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Embedded || cfg.Endpoint != "https://tenant.logto.app" || cfg.AppID != "app-id" || cfg.AppSecret != "app secret" {
			t.Errorf("external: %+v", cfg)
		}
		if cfg.Resource != "" || strings.Join(cfg.Scopes, ",") != "email,roles" {
			t.Errorf("resource %q scopes %q", cfg.Resource, cfg.Scopes)
		}
		if cfg.BaseURL != "https://app.example.com" || cfg.SessionStorage != StorageMemory || len(cfg.EncryptionKey) != 32 {
			t.Errorf("config: %+v", cfg)
		}
	})
	t.Run("shared storages", func(t *testing.T) {
		for _, tc := range []struct {
			env                  map[string]string
			storage, redis, psql string
		}{
			{map[string]string{"SESSION_STORAGE": "redis", "REDIS_URL": " redis://127.0.0.1:6379/2 ", "DATABASE_URL": "postgres://h/db"}, StorageRedis, "redis://127.0.0.1:6379/2", ""},
			{map[string]string{"SESSION_STORAGE": "postgres", "DATABASE_URL": "postgres://u:p@h:5432/db", "REDIS_URL": "redis://h:6379/0"}, StoragePostgres, "", "postgres://u:p@h:5432/db"},
			{map[string]string{"SESSION_STORAGE": "PostgreSQL", "DATABASE_URL": "host=h dbname=db"}, StoragePostgres, "", "host=h dbname=db"},
			// Set for another program: ignored by the other storages.
			{map[string]string{"REDIS_URL": "redis://h:6379/0", "DATABASE_URL": "postgres://h/db"}, StorageSQLite, "", ""},
			{map[string]string{"SESSION_STORAGE": "memory", "REDIS_URL": "redis://h:6379/0"}, StorageMemory, "", ""},
		} {
			cfg, err := LoadConfig(envOf(tc.env))
			if err != nil {
				t.Fatalf("%v: %v", tc.env, err)
			}
			if cfg.SessionStorage != tc.storage || cfg.RedisURL != tc.redis || cfg.DatabaseURL != tc.psql {
				t.Errorf("%v: storage %q, RedisURL %q, DatabaseURL %q; want %q, %q, %q",
					tc.env, cfg.SessionStorage, cfg.RedisURL, cfg.DatabaseURL, tc.storage, tc.redis, tc.psql)
			}
		}
	})
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string // in the error
	}{
		{"unknown storage", map[string]string{"SESSION_STORAGE": "mongodb"}, `SESSION_STORAGE="mongodb" is unknown`},
		{"redis without REDIS_URL", map[string]string{"SESSION_STORAGE": "redis", "DATABASE_URL": "postgres://h/db"}, "SESSION_STORAGE=redis needs REDIS_URL"},
		{"redis with a blank REDIS_URL", map[string]string{"SESSION_STORAGE": "Redis", "REDIS_URL": "  "}, "SESSION_STORAGE=redis needs REDIS_URL"},
		{"postgres without DATABASE_URL", map[string]string{"SESSION_STORAGE": "postgres", "REDIS_URL": "redis://h:6379/0"}, "SESSION_STORAGE=postgres needs DATABASE_URL"},
		{"postgresql without DATABASE_URL", map[string]string{"SESSION_STORAGE": "postgresql"}, "SESSION_STORAGE=postgres needs DATABASE_URL"},
		{"key not base64", map[string]string{"SESSION_ENCRYPTION_KEY": "not base64!"}, "SESSION_ENCRYPTION_KEY: is not valid base64"},
		{"key too short", map[string]string{"SESSION_ENCRYPTION_KEY": base64.StdEncoding.EncodeToString(make([]byte, 16))}, "SESSION_ENCRYPTION_KEY: must be the base64 of 32 bytes, got 16"},
		{"bad BASE_URL", map[string]string{"BASE_URL": "localhost:3000"}, "BASE_URL="},
		{"BASE_URL with query", map[string]string{"BASE_URL": "http://localhost:3000/?x=1"}, "BASE_URL="},
		{"bad ADDR", map[string]string{"ADDR": "3000"}, "ADDR="},
		{"public dev provider", map[string]string{"LOGTO_DEV_ADDR": "0.0.0.0:3001"}, "loopback"},
		{"bad endpoint", map[string]string{"LOGTO_ENDPOINT": "tenant.logto.app", "LOGTO_APP_ID": "a", "LOGTO_APP_SECRET": "s"}, "LOGTO_ENDPOINT="},
		{"no app id", map[string]string{"LOGTO_ENDPOINT": "https://tenant.logto.app", "LOGTO_APP_SECRET": "s"}, "LOGTO_APP_ID is required"},
		{"no app secret", map[string]string{"LOGTO_ENDPOINT": "https://tenant.logto.app", "LOGTO_APP_ID": "a"}, "LOGTO_APP_SECRET is required"},
		{"bad resource", map[string]string{"LOGTO_RESOURCE": "api"}, "LOGTO_RESOURCE="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadConfig(envOf(tc.env))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"redis://127.0.0.1:6379/0":                       "redis://127.0.0.1:6379/0",
		"redis://:pw@127.0.0.1:6379/0":                   "redis://:xxxxx@127.0.0.1:6379/0",
		"postgres://u:pw@h:5432/db?sslmode=disable":      "postgres://u:xxxxx@h:5432/db",
		"postgres://u@h/db?password=pw":                  "postgres://u@h/db",
		"host=h user=u password=pw dbname=db":            "connection string not shown",
		"rediss://default:pw@cache.example.com:6380/1#x": "rediss://default:xxxxx@cache.example.com:6380/1",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// A POSTGRES_TABLE that is not a plain table name stops the app with an
// error naming it, before any connection.
func TestBadPostgresTable(t *testing.T) {
	_, err := openStorage(Config{SessionStorage: StoragePostgres, DatabaseURL: "postgres://u@127.0.0.1:1/db", PostgresTable: "sessions; DROP TABLE users"})
	if err == nil || !strings.Contains(err.Error(), "POSTGRES_TABLE") {
		t.Fatalf("err = %v, want one naming POSTGRES_TABLE", err)
	}
}

func TestHomeEscapesTheName(t *testing.T) {
	// Logto lets users pick their name: it is HTML-escaped.
	for _, tc := range []struct {
		name, claims, want string
	}{
		{"name", `{"sub":"u1","name":"<script>x</script>","username":"bob"}`, "Hello, &lt;script&gt;x&lt;/script&gt;"},
		{"username", `{"sub":"u1","name":null,"username":"bob&co"}`, "Hello, bob&amp;co"},
		{"sub", `{"sub":"u1","name":null,"username":null}`, "Hello, u1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := HomePage(&logto.UserContext{IsAuthenticated: true, Claims: logto.RawClaims(tc.claims)})
			if !strings.Contains(body, tc.want) || strings.Contains(body, "<script>") {
				t.Fatalf("home: %s, want %q", body, tc.want)
			}
		})
	}
}

func TestSecurityPageEscapesTheName(t *testing.T) {
	body := SecurityPage(&logto.UserContext{IsAuthenticated: true, Claims: logto.RawClaims(`{"sub":"u1","name":"<img src=x onerror=alert(1)>"}`)})
	if !strings.Contains(body, "Security settings for &lt;img src=x onerror=alert(1)&gt;") || strings.Contains(body, "<img") {
		t.Fatalf("security page: %s", body)
	}
}

func TestLoopbackAlias(t *testing.T) {
	alias := LoopbackAlias("http://localhost:3000")
	for _, tc := range []struct {
		method, host, target, location string
	}{
		{http.MethodGet, "127.0.0.1:3000", "/logto/sign-in?returnTo=%2Fx", "http://localhost:3000/logto/sign-in?returnTo=%2Fx"},
		{http.MethodGet, "[::1]:3000", "/", "http://localhost:3000/"},
		{http.MethodHead, "127.0.0.1:3000", "/", "http://localhost:3000/"},
		{http.MethodGet, "localhost:3000", "/", ""},                // BASE_URL's own name
		{http.MethodGet, "LocalHost:3000", "/", ""},                // host names are case-insensitive
		{http.MethodGet, "127.0.0.1:3001", "/", ""},                // another port: another service, or a proxy
		{http.MethodGet, "127.0.0.1", "/", ""},                     // port 80
		{http.MethodGet, "app.example.com:3000", "/", ""},          // not a loopback name
		{http.MethodGet, "", "/", ""},                              // no Host
		{http.MethodPost, "127.0.0.1:3000", "/logto/sign-out", ""}, // only GET and HEAD
	} {
		if got := alias(tc.method, tc.host, tc.target); got != tc.location {
			t.Errorf("%s %s on %s: Location %q, want %q", tc.method, tc.target, tc.host, got, tc.location)
		}
	}
	if got := LoopbackAlias("http://127.0.0.1")(http.MethodGet, "localhost", "/x"); got != "http://127.0.0.1/x" {
		t.Errorf("BASE_URL on port 80, Host localhost: Location %q", got)
	}
	for _, base := range []string{"https://app.example.com", "http://localhost:3000/app"} {
		if LoopbackAlias(base) != nil {
			t.Errorf("redirect enabled for BASE_URL %s", base)
		}
	}
}

// envOf turns a map into a getenv function.
func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// Open hands the storage to the app as the framework's type, wraps the
// app's error, and closes the storage when it fails.
func TestOpen(t *testing.T) {
	cfg := Config{Endpoint: "http://127.0.0.1:1", SessionStorage: StorageMemory}
	if _, _, err := Open(cfg, func(Config, fmt.Stringer) (App, error) {
		t.Fatal("newApp called with a storage that is not its type")
		return nil, nil
	}); err == nil || !strings.Contains(err.Error(), "is not a fmt.Stringer") {
		t.Errorf("a storage the app cannot take: %v", err)
	}

	var got io.Closer
	_, _, err := Open(cfg, func(_ Config, store io.Closer) (App, error) {
		got = store
		return nil, errors.New("bad config")
	})
	if err == nil || err.Error() != "fiberlogto: bad config" {
		t.Errorf("newApp's error: %v, want fiberlogto: bad config", err)
	}
	if _, ok := got.(*memory.Storage); !ok {
		t.Errorf("newApp got %T, want the memory storage", got)
	}

	cfg.Endpoint = ""
	if _, _, err := Open(cfg, func(Config, io.Closer) (App, error) { return nil, nil }); err == nil || !strings.Contains(err.Error(), "LOGTO_ENDPOINT") {
		t.Errorf("no endpoint: %v", err)
	}
}
