// Command loadapp serves one configuration of the load test bench/run.sh
// runs with wrk, on 127.0.0.1 only, on one adapter: -adapter v2 or v3
// (Fiber v2 or v3, fiberlogto) or http (net/http, logtohttp). -fiber is
// the same flag under its name from before net/http (-fiber http works).
//
//	-mode memory   the example app's /user behind the adapter's
//	               middleware, memory storage
//	-mode sqlite   the same on SQLite (-db), pre-filled to -sessions sessions
//	-mode redis    the same on the Redis server at REDIS_URL, under a key
//	               prefix of the process's own (deleted at exit),
//	               pre-filled to -sessions sessions
//	-mode postgres the same on the PostgreSQL database at DATABASE_URL, in a
//	               table of the process's own (dropped at exit), pre-filled
//	               to -sessions sessions
//	-mode bare     an app of the same framework without the middleware
//	               answering /user with the bytes the signed-in /user
//	               answers (and /user-json: the same built by c.JSON, or
//	               on net/http by encoding/json, from a UserContext)
//	-mode bearer   an API that only takes access tokens (the middleware
//	               with the endpoint alone): GET /api/data behind
//	               RequireAccessToken (the resource, read:data) answers the
//	               same bytes
//	-mode guide    the same route behind the middleware Logto's Fiber guide
//	               has users write (bench/guidepeer; Fiber v2 only)
//
// Every mode starts the in-process Logto-compatible provider, serves the
// app behind the middleware and signs the demo user in once over HTTP, as
// a browser would. It checks that the app's /user-json (c.JSON of
// fiberlogto.User(c); on net/http json.Marshal of logtohttp.User(r))
// answers the body /user (SendUser) answers. Then it prints one line
//
//	READY adapter=v2 url=http://127.0.0.1:PORT cookie=fiberlogto_session=ID body_bytes=N sessions=N prefill_seconds=S
//
// (bearer and guide modes: cookie=- and auth=TOKEN, a user's access token
// for the resource with read:data, valid for an hour)
//
// and serves until SIGINT or SIGTERM. In bare mode the middleware's app and
// the provider are shut down before the bare app starts.
//
// The middleware's app is the example app's setup (Config, the server's
// timeouts, /user handler) without the example's other routes and without
// its loopback-alias redirect, a middleware of its own that the bare app
// would not have.
//
// Everything but the apps is the same for every adapter: each adapter's
// file (fiberv2.go, fiberv3.go, nethttp.go) only builds its apps (the
// Fiber ones from the routes of routes.go) and says how they listen.
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fiberlogto/sdk/logto"
	"github.com/fiberlogto/sdk/logtotest"
	"github.com/fiberlogto/sdk/storage/memory"
	"github.com/fiberlogto/sdk/storage/postgres"
	"github.com/fiberlogto/sdk/storage/redis"
	"github.com/fiberlogto/sdk/storage/sqlite"
	"github.com/jackc/pgx/v5"
)

// resource and scopes are the example app's embedded-mode defaults.
const (
	resource = "https://api.example.test"
	scopes   = "read:data"
)

// The example app's server timeouts (Fiber's, and net/http's http.Server
// with the same).
const (
	readTimeout  = 15 * time.Second
	writeTimeout = 30 * time.Second
	idleTimeout  = 60 * time.Second
)

// cookieName is the session cookie's name: the default of every adapter.
var cookieName = logto.ConfigDefault.CookieName

// server is an app of any adapter, as loadapp runs it.
type server struct {
	serve    func(ln net.Listener) error
	shutdown func(timeout time.Duration) error
}

// major is what differs between the adapters (Fiber v2, Fiber v3,
// net/http): how their apps are built.
type major struct {
	// logtoApp is the app behind the middleware: the middleware on
	// logtoConfig(s) and the routes of logtoRoutes (or their net/http
	// counterparts).
	logtoApp func(s settings) (server, error)
	// bareApp is the app without the middleware: bareRoutes (or their
	// net/http counterparts).
	bareApp func(body []byte, user *logto.UserContext) server
	// apiApp is an API that answers body on /api/data behind mode's
	// middleware: "bearer" the adapter's RequireAccessToken, "guide" the
	// guide's (an error on an adapter without it).
	apiApp func(mode string, s settings, body []byte) (server, error)
}

// majors are the adapters by -adapter's value.
var majors = map[string]major{"v2": fiberV2, "v3": fiberV3, "http": netHTTP}

// settings is the middleware app's setup, whichever the adapter.
type settings struct {
	provider *logtotest.Provider
	baseURL  string
	store    storage
}

// logtoConfig is the example app's core config, for any adapter.
func logtoConfig(s settings) logto.Config {
	return logto.Config{
		Endpoint:  s.provider.URL,
		AppID:     s.provider.ClientID,
		AppSecret: s.provider.ClientSecret,
		BaseURL:   s.baseURL,
		Scopes:    strings.Fields(scopes),
		Resources: []string{resource},
		Storage:   s.store,
	}
}

func main() {
	adapter := flag.String("adapter", "v2", "the adapter: v2 or v3 (Fiber v2 or v3, fiberlogto) or http (net/http, logtohttp)")
	flag.StringVar(adapter, "fiber", "v2", "the same as -adapter (its name from before net/http)")
	mode := flag.String("mode", "memory", "bare, memory, sqlite, redis, postgres, bearer or guide")
	db := flag.String("db", "", "SQLite database file (sqlite mode)")
	sessions := flag.Int("sessions", 1000, "sessions in the storage, the signed-in one included (sqlite, redis and postgres modes)")
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback)")
	flag.Parse()

	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *adapter, *mode, *db, *sessions, *addr); err != nil {
		fmt.Fprintln(os.Stderr, "loadapp:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, adapter, mode, db string, sessions int, addr string) error {
	maj, ok := majors[adapter]
	if !ok {
		return fmt.Errorf("unknown -adapter %q (v2, v3 or http)", adapter)
	}
	switch mode {
	case "bare", "memory", "bearer", "guide":
	case "sqlite":
		if db == "" {
			return errors.New("sqlite mode needs -db")
		}
	case "redis", "postgres":
		env := map[string]string{"redis": "REDIS_URL", "postgres": "DATABASE_URL"}[mode]
		if db = os.Getenv(env); db == "" {
			return fmt.Errorf("%s mode needs %s (scripts/services.sh start)", mode, env)
		}
	default:
		return fmt.Errorf("unknown -mode %q", mode)
	}
	if host, _, err := net.SplitHostPort(addr); err != nil || !net.ParseIP(host).IsLoopback() {
		return fmt.Errorf("-addr %q must be a loopback IP address and port", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	baseURL := "http://" + ln.Addr().String()

	p, err := logtotest.NewUnstarted(logtotest.Options{
		RedirectURIs:           []string{baseURL + "/logto/sign-in-callback"},
		PostLogoutRedirectURIs: []string{baseURL},
		Resources:              []string{resource},
	})
	if err != nil {
		return err
	}
	pln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	p.Start(pln)
	defer p.Close()

	store, cleanup, err := openStorage(mode, db)
	if err != nil {
		return err
	}
	rec := &recordingStorage{storage: store}
	var wrapped storage = rec
	if l, ok := store.(logto.Leaser); ok {
		wrapped = &recordingLeaser{recordingStorage: rec, Leaser: l}
		if f, ok := store.(logto.FreshReader); ok {
			wrapped = &recordingFreshLeaser{recordingStorage: rec, Leaser: l, FreshReader: f}
		}
	}
	defer cleanup()

	app, err := maj.logtoApp(settings{provider: p, baseURL: baseURL, store: wrapped})
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- app.serve(ln) }()

	cookie, body, err := signIn(ctx, p, baseURL, rec)
	if err != nil {
		return fmt.Errorf("sign-in: %w", err)
	}
	if err := sameBody(ctx, baseURL+"/user-json", cookie, body); err != nil {
		return err
	}

	key, value, err := rec.session(strings.TrimPrefix(cookie, cookieName+"="))
	if err != nil {
		return err
	}
	recordBytes := len(value)
	var prefill time.Duration
	if (mode == "sqlite" || mode == "redis" || mode == "postgres") && sessions > 1 {
		start := time.Now()
		if err := fill(store, key, value, sessions-1); err != nil {
			return fmt.Errorf("prefill: %w", err)
		}
		prefill = time.Since(start)
		// Fold the write-ahead log into the database, as SQLite's own
		// checkpoints eventually do, so the file size is the data's.
		if mode == "sqlite" {
			if err := checkpoint(db); err != nil {
				return fmt.Errorf("checkpoint: %w", err)
			}
		}
		if _, _, err := getUser(ctx, baseURL+"/user", cookie, true); err != nil {
			return fmt.Errorf("after prefill: %w", err)
		}
	}

	auth := ""
	if mode == "bearer" || mode == "guide" {
		// The API alone in this process, with the provider (its JWKS):
		// the web app is shut down.
		_ = app.shutdown(5 * time.Second)
		<-served
		if app, err = maj.apiApp(mode, settings{provider: p, baseURL: baseURL}, body); err != nil {
			return err
		}
		if auth, err = p.UserAccessToken(resource, "read:data"); err != nil {
			return err
		}
		if ln, err = net.Listen("tcp", addr); err != nil {
			return err
		}
		baseURL = "http://" + ln.Addr().String()
		served = make(chan error, 1)
		go func() { served <- app.serve(ln) }()
		if err := sameAPIBody(ctx, baseURL+"/api/data", auth, body); err != nil {
			return fmt.Errorf("%s: %w", mode, err)
		}
		cookie, sessions = "-", 0
	} else if mode == "bare" {
		// The bare app alone in this process: no provider, no middleware.
		_ = app.shutdown(5 * time.Second)
		<-served
		p.Close()
		user, err := userOf(body)
		if err != nil {
			return err
		}
		app = maj.bareApp(body, user)
		if ln, err = net.Listen("tcp", addr); err != nil {
			return err
		}
		baseURL = "http://" + ln.Addr().String()
		served = make(chan error, 1)
		go func() { served <- app.serve(ln) }()
		for _, path := range []string{"/user", "/user-json"} {
			if err := sameBody(ctx, baseURL+path, "", body); err != nil {
				return fmt.Errorf("bare: %w", err)
			}
		}
		cookie, sessions = "", 0
	} else if mode == "memory" {
		sessions = 1
	}

	authField := ""
	if auth != "" {
		authField = " auth=" + auth
	}
	fmt.Printf("READY adapter=%s url=%s cookie=%s body_bytes=%d sessions=%d record_bytes=%d prefill_seconds=%.1f%s\n",
		adapter, baseURL, cookie, len(body), sessions, recordBytes, prefill.Seconds(), authField)

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// A benchmark helper must never outlive its signal, whatever hangs.
	time.AfterFunc(10*time.Second, func() {
		fmt.Fprintln(os.Stderr, "loadapp: shutdown took more than 10 s, exiting")
		os.Exit(1)
	})
	_ = app.shutdown(5 * time.Second)
	<-served
	return nil
}

// sameAPIBody checks that target answers want to a request with the
// access token, and 401 to one without.
func sameAPIBody(ctx context.Context, target, token string, want []byte) error {
	for _, auth := range []string{"Bearer " + token, ""} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return err
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case auth == "" && resp.StatusCode != http.StatusUnauthorized:
			return fmt.Errorf("%s without a token answers %d, want 401", target, resp.StatusCode)
		case auth != "" && (resp.StatusCode != http.StatusOK || string(got) != string(want)):
			return fmt.Errorf("%s answers %d %s, want %s", target, resp.StatusCode, got, want)
		}
	}
	return nil
}

// apiConfig is an API's core config, for any adapter: the endpoint alone
// (no sign-in).
func apiConfig(s settings) logto.Config {
	return logto.Config{Endpoint: s.provider.URL}
}

// apiPolicy is what /api/data takes: a user's token for the resource with
// read:data.
var apiPolicy = logto.AccessTokenOptions{Resource: resource, Scopes: []string{"read:data"}}

// userOf is the signed-in user context that answers body, for the bare
// app's c.JSON (json.Marshal on net/http).
func userOf(body []byte) (*logto.UserContext, error) {
	var u struct {
		Claims json.RawMessage `json:"claims"`
	}
	if err := json.Unmarshal(body, &u); err != nil {
		return nil, err
	}
	return &logto.UserContext{IsAuthenticated: true, Claims: logto.RawClaims(u.Claims)}, nil
}

// sameBody checks that target answers want (with cookie, when not empty).
func sameBody(ctx context.Context, target, cookie string, want []byte) error {
	got, _, err := getUser(ctx, target, cookie, cookie != "")
	if err != nil {
		return err
	}
	if got != string(want) {
		return fmt.Errorf("%s answers %s, want %s", target, got, want)
	}
	return nil
}

// signIn signs the demo user in as a browser would and returns the session
// cookie ("name=value") and the signed-in /user body.
func signIn(ctx context.Context, p *logtotest.Provider, baseURL string, rec *recordingStorage) (string, []byte, error) {
	jar, _ := cookiejar.New(nil)
	client := &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer client.CloseIdleConnections()
	resp, err := client.Get(baseURL + "/logto/sign-in")
	if err != nil {
		return "", nil, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return "", nil, fmt.Errorf("GET /logto/sign-in: %s", resp.Status)
	}
	cb, err := p.SignIn(ctx, client, resp.Header.Get("Location"), logtotest.DemoUser.Username, logtotest.DemoUser.Password)
	if err != nil {
		return "", nil, err
	}
	rec.record(true)
	resp, err = client.Get(cb)
	rec.record(false)
	if err != nil {
		return "", nil, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return "", nil, fmt.Errorf("callback: %s", resp.Status)
	}
	u, _ := url.Parse(baseURL)
	var cookie string
	for _, c := range jar.Cookies(u) {
		if c.Name == cookieName {
			cookie = c.Name + "=" + c.Value
		}
	}
	if cookie == "" {
		return "", nil, errors.New("no session cookie after the callback")
	}
	body, _, err := getUser(ctx, baseURL+"/user", cookie, true)
	return cookie, []byte(body), err
}

// getUser GETs target (a /user URL) with cookie, checks the answer is a
// user context, signed in when signedIn, and returns it.
func getUser(ctx context.Context, target, cookie string, signedIn bool) (string, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return "", false, err
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		return "", false, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", false, err
	}
	var u struct {
		IsAuthenticated bool `json:"isAuthenticated"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &u) != nil {
		return "", false, fmt.Errorf("GET %s: %s %s", target, resp.Status, b)
	}
	if signedIn && !u.IsAuthenticated {
		return "", false, fmt.Errorf("GET %s: not signed in: %s", target, b)
	}
	return string(b), u.IsAuthenticated, nil
}

// openStorage opens mode's storage: target is the SQLite file, or the
// Redis or PostgreSQL URL. cleanup closes it, and deletes what a Redis or
// PostgreSQL run stored (its key prefix, its table).
func openStorage(mode, target string) (storage, func(), error) {
	var suffix [6]byte
	_, _ = rand.Read(suffix[:])
	own := hex.EncodeToString(suffix[:])
	switch mode {
	case "sqlite":
		s, err := sqlite.New(sqlite.Config{Path: target})
		if err != nil {
			return nil, nil, err
		}
		return s, func() { _ = s.Close() }, nil
	case "redis":
		s, err := redis.New(redis.Config{URL: target, KeyPrefix: "fiberlogto-bench:" + own + ":"})
		if err != nil {
			return nil, nil, err
		}
		return s, func() { _ = s.Reset(); _ = s.Close() }, nil
	case "postgres":
		table := "fiberlogto_bench_" + own
		s, err := postgres.New(postgres.Config{URL: target, Table: table})
		if err != nil {
			return nil, nil, err
		}
		return s, func() {
			_ = s.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if conn, err := pgx.Connect(ctx, target); err == nil {
				_, _ = conn.Exec(ctx, "DROP TABLE IF EXISTS "+pgx.Identifier{table}.Sanitize())
				_ = conn.Close(ctx)
			}
		}, nil
	}
	s := memory.New()
	return s, func() { _ = s.Close() }, nil
}

// recordingStorage notes every Set while recording is on, so that the
// session record the callback stores can be copied whatever its format and
// whatever else (transactions, indexes) the callback writes. It costs one
// interface call more per storage call.
type recordingStorage struct {
	storage
	mu        sync.Mutex
	recording bool
	sets      map[string][]byte
}

// recordingLeaser keeps the logto.Leaser of a storage that has one
// (memory.Storage, sqlite.Storage), so the middleware takes the same paths
// as without the recording.
type recordingLeaser struct {
	*recordingStorage
	logto.Leaser
}

// recordingFreshLeaser keeps logto.FreshReader too (redis.Storage,
// postgres.Storage), so the middleware reads what it rewrites past their
// read caches, as without the recording.
type recordingFreshLeaser struct {
	*recordingStorage
	logto.Leaser
	logto.FreshReader
}

func (s *recordingStorage) record(on bool) {
	s.mu.Lock()
	s.recording = on
	if on {
		s.sets = map[string][]byte{}
	}
	s.mu.Unlock()
}

// note keeps a copy of a value written while recording is on.
func (s *recordingStorage) note(key string, val []byte) {
	s.mu.Lock()
	if s.recording {
		s.sets[key] = append([]byte(nil), val...)
	}
	s.mu.Unlock()
}

func (s *recordingStorage) Set(key string, val []byte, exp time.Duration) error {
	s.note(key, val)
	return s.storage.Set(key, val, exp)
}

func (s *recordingStorage) SetWithContext(ctx context.Context, key string, val []byte, exp time.Duration) error {
	s.note(key, val)
	return s.storage.SetWithContext(ctx, key, val, exp)
}

// session returns the key and record the callback stored for the session
// ID id: the key holding the ID's SHA-256 (fiberlogto's documented storage
// key), else the largest value written.
func (s *recordingStorage) session(id string) (string, []byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sum := sha256.Sum256([]byte(id))
	hashes := []string{base64.RawURLEncoding.EncodeToString(sum[:]), hex.EncodeToString(sum[:])}
	var largest string
	for k, v := range s.sets {
		for _, h := range hashes {
			if strings.Contains(k, h) {
				return k, v, nil
			}
		}
		if largest == "" || len(v) > len(s.sets[largest]) {
			largest = k
		}
	}
	if largest == "" {
		return "", nil, errors.New("the callback stored nothing")
	}
	fmt.Fprintf(os.Stderr, "loadapp: no stored key holds the session ID's hash; copying the largest record written at sign-in (%s, %d bytes)\n", largest, len(s.sets[largest]))
	return largest, s.sets[largest], nil
}

// fill stores value under n random keys shaped like key (same prefix up to
// the last ':', a random base64url tail of the same length), through the
// storage interface as any session write goes.
func fill(store storage, key string, value []byte, n int) error {
	prefix, tail := "", key
	if i := strings.LastIndexByte(key, ':'); i >= 0 {
		prefix, tail = key[:i+1], key[i+1:]
	}
	raw := make([]byte, base64.RawURLEncoding.DecodedLen(len(tail))+3)
	const workers = 4
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(count int) {
			defer wg.Done()
			buf := make([]byte, len(raw))
			for i := 0; i < count; i++ {
				_, _ = rand.Read(buf)
				k := prefix + base64.RawURLEncoding.EncodeToString(buf)[:len(tail)]
				if err := store.Set(k, value, 24*time.Hour); err != nil {
					errs <- err
					return
				}
			}
		}(n/workers + boolInt(w < n%workers))
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// checkpoint folds SQLite's write-ahead log into the database file, through
// a connection of its own on the same file.
func checkpoint(path string) error {
	conn, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=5000")
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	return err
}
