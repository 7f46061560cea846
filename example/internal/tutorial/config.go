// Package tutorial is what the tutorial app does the same on every web
// framework: it reads the configuration from the environment, runs the
// embedded Logto-compatible provider when LOGTO_ENDPOINT is unset, opens the
// session storage SESSION_STORAGE names, prints where the app is and how to
// sign in, serves until SIGINT or SIGTERM, and says what each page shows.
// The examples for Fiber v2 (./example) and Fiber v3 (./example/fiberv3)
// are each only their framework's app and routes on top of it. It imports
// no web framework.
package tutorial

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
)

// Defaults of the environment variables.
const (
	defaultBaseURL   = "http://localhost:3000"
	defaultAddr      = "127.0.0.1:3000"
	defaultDevAddr   = "127.0.0.1:3001"
	defaultSessionDB = "./fiberlogto-example.sqlite3"

	// In embedded mode (no LOGTO_ENDPOINT) the app registers itself with the
	// in-process provider under this ID; the secret is random per run
	// unless LOGTO_APP_SECRET is set.
	DevAppID = "fiberlogto-example"
	// DevResource is the API resource the embedded provider knows and the
	// demo user has the read:data scope on.
	DevResource = "https://api.example.test"
	DevScopes   = "read:data urn:logto:scope:organizations read:org"
)

// Session storages SESSION_STORAGE accepts.
const (
	StorageSQLite   = "sqlite"
	StorageMemory   = "memory"
	StorageRedis    = "redis"
	StoragePostgres = "postgres"
)

// Config is everything the example reads from the environment.
type Config struct {
	// Endpoint is the Logto endpoint; "" until the embedded provider has
	// started when Embedded is true.
	Endpoint  string
	AppID     string
	AppSecret string
	// Resource is the API resource indicator /access-token asks a token for
	// ("" disables the route).
	Resource string
	// Scopes are requested at sign-in besides openid, offline_access and
	// profile.
	Scopes []string
	// OrganizationID restricts /organization-token to one organization
	// ("" : every organization of the user).
	OrganizationID string
	// BaseURL is this app's public URL, without trailing slash.
	BaseURL string
	// Addr is where the app listens.
	Addr string
	// SessionStorage is StorageSQLite, StorageMemory, StorageRedis or
	// StoragePostgres.
	SessionStorage string
	// SessionDB is the SQLite file.
	SessionDB string
	// RedisURL is the Redis server of SESSION_STORAGE=redis (REDIS_URL).
	RedisURL string
	// DatabaseURL is the PostgreSQL database of SESSION_STORAGE=postgres
	// (DATABASE_URL).
	DatabaseURL string
	// RedisKeyPrefix (REDIS_KEY_PREFIX) and PostgresTable (POSTGRES_TABLE)
	// keep apps sharing one Redis or database apart ("": the storage's
	// default, no prefix and table fiberlogto_sessions).
	RedisKeyPrefix string
	PostgresTable  string
	// EncryptionKey encrypts session records at rest (nil: clear).
	EncryptionKey []byte

	// Embedded is true when LOGTO_ENDPOINT is unset: the example runs its
	// own Logto-compatible provider on DevAddr, a loopback address.
	Embedded bool
	DevAddr  string

	// LogLevel (LOG_LEVEL: debug, info, warn, error; default info) and
	// LogFormat (LOG_FORMAT: text or json; default text) shape fiberlogto's
	// records on stderr.
	LogLevel  slog.Level
	LogFormat string
	// Logger is fiberlogto's logger, set by Run (nil: fiberlogto's
	// default).
	Logger *slog.Logger
}

// NewLogger is the logger LOG_LEVEL and LOG_FORMAT ask for, writing to w.
func (c Config) NewLogger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Resources are the API resources to ask tokens for at sign-in: Resource,
// or none.
func (c Config) Resources() []string {
	if c.Resource == "" {
		return nil
	}
	return []string{c.Resource}
}

// LoadConfig reads the configuration from getenv (os.Getenv in main). An
// empty variable counts as unset. Every error names the variable at fault.
func LoadConfig(getenv func(string) string) (Config, error) {
	env := func(name string) string { return strings.TrimSpace(getenv(name)) }
	cfg := Config{
		Endpoint:       strings.TrimRight(env("LOGTO_ENDPOINT"), "/"),
		AppID:          env("LOGTO_APP_ID"),
		AppSecret:      getenv("LOGTO_APP_SECRET"), // a secret is taken as it is
		Resource:       env("LOGTO_RESOURCE"),
		Scopes:         strings.Fields(getenv("LOGTO_SCOPES")),
		OrganizationID: env("LOGTO_ORGANIZATION_ID"),
		BaseURL:        strings.TrimRight(orDefault(env("BASE_URL"), defaultBaseURL), "/"),
		Addr:           orDefault(env("ADDR"), defaultAddr),
		SessionDB:      orDefault(env("SESSION_DB"), defaultSessionDB),
	}

	if err := checkHTTPURL("BASE_URL", cfg.BaseURL); err != nil {
		return cfg, err
	}
	if v := env("LOG_LEVEL"); v != "" {
		if err := cfg.LogLevel.UnmarshalText([]byte(v)); err != nil {
			return cfg, fmt.Errorf("LOG_LEVEL=%q: debug, info, warn or error", v)
		}
	}
	switch cfg.LogFormat = strings.ToLower(orDefault(env("LOG_FORMAT"), "text")); cfg.LogFormat {
	case "text", "json":
	default:
		return cfg, fmt.Errorf("LOG_FORMAT=%q: text or json", cfg.LogFormat)
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		return cfg, fmt.Errorf("ADDR=%q is not host:port (e.g. 127.0.0.1:3000): %v", cfg.Addr, err)
	}

	// REDIS_URL and DATABASE_URL are read only for the storage that uses
	// them: either may be set in the environment for something else.
	switch s := strings.ToLower(env("SESSION_STORAGE")); s {
	case "", StorageSQLite, "sqlite3":
		cfg.SessionStorage = StorageSQLite
	case StorageMemory:
		cfg.SessionStorage = StorageMemory
	case StorageRedis:
		cfg.SessionStorage = StorageRedis
		if cfg.RedisURL = env("REDIS_URL"); cfg.RedisURL == "" {
			return cfg, errors.New("SESSION_STORAGE=redis needs REDIS_URL, the Redis server's URL, e.g. redis://127.0.0.1:6379/0")
		}
		cfg.RedisKeyPrefix = env("REDIS_KEY_PREFIX")
	case StoragePostgres, "postgresql":
		cfg.SessionStorage = StoragePostgres
		if cfg.DatabaseURL = env("DATABASE_URL"); cfg.DatabaseURL == "" {
			return cfg, errors.New("SESSION_STORAGE=postgres needs DATABASE_URL, the PostgreSQL database's URL, e.g. postgres://user:password@127.0.0.1:5432/db?sslmode=disable")
		}
		cfg.PostgresTable = env("POSTGRES_TABLE")
	default:
		return cfg, fmt.Errorf("SESSION_STORAGE=%q is unknown: use %q (default), %q, %q or %q",
			getenv("SESSION_STORAGE"), StorageSQLite, StorageMemory, StorageRedis, StoragePostgres)
	}

	if raw := env("SESSION_ENCRYPTION_KEY"); raw != "" {
		key, err := decodeKey(raw)
		if err != nil {
			return cfg, fmt.Errorf("SESSION_ENCRYPTION_KEY: %v (generate one with: openssl rand -base64 32)", err)
		}
		cfg.EncryptionKey = key
	}

	if cfg.Resource != "" {
		if u, err := url.Parse(cfg.Resource); err != nil || u.Scheme == "" || u.Fragment != "" {
			return cfg, fmt.Errorf("LOGTO_RESOURCE=%q must be an absolute URI without fragment, e.g. https://api.example.com", cfg.Resource)
		}
	}

	if cfg.Endpoint != "" {
		if err := checkHTTPURL("LOGTO_ENDPOINT", cfg.Endpoint); err != nil {
			return cfg, err
		}
		if cfg.AppID == "" {
			return cfg, errors.New("LOGTO_APP_ID is required with LOGTO_ENDPOINT: the App ID of a Traditional Web application in the Logto Console")
		}
		if cfg.AppSecret == "" {
			return cfg, errors.New("LOGTO_APP_SECRET is required with LOGTO_ENDPOINT: the App secret of that application")
		}
		return cfg, nil
	}

	// Embedded mode: the example runs its own provider.
	cfg.Embedded = true
	cfg.DevAddr = orDefault(env("LOGTO_DEV_ADDR"), defaultDevAddr)
	if err := checkLoopbackAddr(cfg.DevAddr); err != nil {
		return cfg, err
	}
	if cfg.AppID == "" {
		cfg.AppID = DevAppID
	}
	if cfg.AppSecret == "" {
		cfg.AppSecret = randomSecret()
	}
	if cfg.Resource == "" {
		cfg.Resource = DevResource
	}
	if getenv("LOGTO_SCOPES") == "" {
		cfg.Scopes = strings.Fields(DevScopes)
	}
	return cfg, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// checkHTTPURL accepts an absolute http(s) URL without query or fragment:
// what fiberlogto accepts for Endpoint and BaseURL, checked here to name the
// variable rather than the Config field.
func checkHTTPURL(name, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%s=%q must be an absolute http(s) URL without query or fragment, e.g. http://localhost:3000", name, raw)
	}
	return nil
}

// checkLoopbackAddr refuses to serve the embedded provider, whose demo user
// has a published password, anywhere but on a loopback address.
func checkLoopbackAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("LOGTO_DEV_ADDR=%q is not host:port (e.g. 127.0.0.1:3001): %v", addr, err)
	}
	if !IsLoopbackHost(host) {
		return fmt.Errorf("LOGTO_DEV_ADDR=%q: the embedded provider only listens on a loopback address (127.0.0.1, ::1 or localhost)", addr)
	}
	return nil
}

// IsLoopbackHost reports whether host (no port, no brackets) names this machine.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// decodeKey decodes a base64 (standard or URL alphabet, padded or not)
// AES-256 key.
func decodeKey(raw string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err := enc.DecodeString(raw); err == nil {
			if len(key) != 32 {
				return nil, fmt.Errorf("must be the base64 of 32 bytes, got %d bytes", len(key))
			}
			return key, nil
		}
	}
	return nil, errors.New("is not valid base64")
}

func randomSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}
