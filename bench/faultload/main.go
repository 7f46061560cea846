// Command faultload is a bounded load-and-fault run over loopback: many
// users sign in and call protected routes for a fixed time while the
// Logto-compatible provider fails a share of token calls and rotates its
// signing keys. It prints requests, answers and errors by kind, and the
// sessions lost, and exits non-zero when a session was lost, a callback was
// refused (4xx: the injected failures are 5xx, so a refusal means a sound
// answer of Logto's was not accepted, such as an ID token of a new key), or
// the app died.
//
//	go run ./bench/faultload -users 40 -duration 20s -fail 0.2
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/fiberlogto/sdk/fiberlogto"
	"github.com/fiberlogto/sdk/logto"
	"github.com/fiberlogto/sdk/logtotest"
	"github.com/fiberlogto/sdk/storage/memory"
	"github.com/fiberlogto/sdk/storage/sqlite"
)

const resource = "https://api.example.test"

type counters struct {
	mu    sync.Mutex
	kinds map[string]int
}

func (c *counters) add(kind string) {
	c.mu.Lock()
	c.kinds[kind]++
	c.mu.Unlock()
}

func main() {
	users := flag.Int("users", 40, "concurrent users")
	duration := flag.Duration("duration", 20*time.Second, "how long the load runs")
	fail := flag.Float64("fail", 0.2, "share of token calls the provider fails (503, 500 HTML, or slow)")
	rotate := flag.Duration("rotate", 3*time.Second, "how often the provider rotates its signing key")
	store := flag.String("storage", "sqlite", "sqlite or memory")
	flag.Parse()
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil))) // zitadel's op logs every error answer
	if err := run(*users, *duration, *fail, *rotate, *store); err != nil {
		log.Fatal(err)
	}
}

func run(users int, duration time.Duration, failShare float64, rotateEvery time.Duration, storeKind string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	p, err := logtotest.New(logtotest.Options{
		RedirectURIs:           []string{base + "/logto/sign-in-callback"},
		PostLogoutRedirectURIs: []string{base},
		Resources:              []string{resource},
		// Tokens are fresh for 3 s past fiberlogto's 60 s leeway: refreshes
		// run all the time.
		AccessTokenTTL:      63 * time.Second,
		RotateRefreshTokens: true,
	})
	if err != nil {
		return err
	}
	defer p.Close()

	var tokenCalls, injected atomic.Int64
	p.SetTokenHook(func(w http.ResponseWriter, r *http.Request) bool {
		tokenCalls.Add(1)
		if rand.Float64() >= failShare {
			return false
		}
		injected.Add(1)
		switch rand.IntN(3) {
		case 0:
			w.WriteHeader(http.StatusServiceUnavailable)
		case 1:
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, "<html>upstream error</html>")
		default:
			time.Sleep(1500 * time.Millisecond) // past the app's 1 s HTTPTimeout
			w.WriteHeader(http.StatusGatewayTimeout)
		}
		return true
	})

	var st interface {
		logto.Storage
		Close() error
	}
	switch storeKind {
	case "memory":
		st = memory.New()
	case "sqlite":
		dir, err := os.MkdirTemp("", "faultload")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		s, err := sqlite.New(sqlite.Config{Path: filepath.Join(dir, "sessions.sqlite3")})
		if err != nil {
			return err
		}
		st = s
	default:
		return fmt.Errorf("-storage %q: sqlite or memory", storeKind)
	}
	defer st.Close()

	lg, err := fiberlogto.New(fiberlogto.Config{Config: logto.Config{
		Endpoint: p.URL, AppID: p.ClientID, AppSecret: p.ClientSecret, BaseURL: base,
		Scopes: []string{"read:data"}, Resource: resource, GetAccessToken: true,
		Storage: st, HTTPTimeout: time.Second,
	}})
	if err != nil {
		return err
	}
	var panics atomic.Int64
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Use(func(c *fiber.Ctx) (err error) {
		defer func() {
			if r := recover(); r != nil {
				panics.Add(1)
				err = fiber.ErrInternalServerError
			}
		}()
		return c.Next()
	})
	app.Use(lg.Handler())
	app.Get("/user", fiberlogto.SendUser)
	app.Get("/protected", fiberlogto.RequireAuth(), func(c *fiber.Ctx) error { return c.SendString("protected resource") })
	go func() { _ = app.Listener(ln) }()
	defer func() { _ = app.ShutdownWithTimeout(5 * time.Second) }()

	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	go func() {
		t := time.NewTicker(rotateEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				p.RotateKeys()
			}
		}
	}()

	answers := &counters{kinds: map[string]int{}}
	var requests, signIns, lost, refused atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < users; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := newUser()
			for ctx.Err() == nil {
				if !u.signedIn {
					if err := u.signIn(ctx, p, base); err != nil {
						answers.add("sign-in failed: " + err.Error())
						var ce callbackError
						if errors.As(err, &ce) && ce < 500 {
							refused.Add(1)
						}
						continue
					}
					signIns.Add(1)
					u.signedIn = true
				}
				for _, path := range []string{"/protected", "/user"} {
					kind, authenticated := u.get(ctx, base+path)
					if ctx.Err() != nil {
						return
					}
					requests.Add(1)
					answers.add(path + " " + kind)
					if !authenticated {
						// Nothing here signs out: a signed-in user read as
						// anonymous lost the session.
						lost.Add(1)
						u.signedIn = false
					}
				}
			}
		}()
	}
	wg.Wait()

	fmt.Printf("faultload: %d users, %v, storage %s, %.0f%% of token calls failed on purpose, key rotation every %v\n",
		users, duration, storeKind, failShare*100, rotateEvery)
	fmt.Printf("requests: %d (%.0f/s), sign-ins: %d, token calls: %d (%d failed on purpose), key rotations: ~%d\n",
		requests.Load(), float64(requests.Load())/duration.Seconds(), signIns.Load(), tokenCalls.Load(), injected.Load(), int(duration/rotateEvery))
	kinds := make([]string, 0, len(answers.kinds))
	for k := range answers.kinds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Printf("  %-60s %d\n", k, answers.kinds[k])
	}
	fmt.Printf("sessions lost: %d\ncallbacks refused (4xx): %d\npanics: %d\n", lost.Load(), refused.Load(), panics.Load())
	if lost.Load() > 0 || refused.Load() > 0 || panics.Load() > 0 {
		return errors.New("faultload: sessions were lost, callbacks refused or the app panicked")
	}
	return nil
}

type user struct {
	client   *http.Client
	signedIn bool
}

func newUser() *user {
	jar, _ := cookiejar.New(nil)
	return &user{client: &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// signIn runs the whole sign-in; a failure of the callback (an injected
// token failure) is reported by its status.
func (u *user) signIn(ctx context.Context, p *logtotest.Provider, base string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/logto/sign-in", nil)
	resp, err := u.client.Do(req)
	if err != nil {
		return errors.New("transport")
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return fmt.Errorf("sign-in route %d", resp.StatusCode)
	}
	cb, err := p.SignIn(ctx, u.client, resp.Header.Get("Location"), logtotest.DemoUser.Username, logtotest.DemoUser.Password)
	if err != nil {
		return errors.New("provider")
	}
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, cb, nil)
	req.Header.Set("Accept", "application/json")
	resp, err = u.client.Do(req)
	if err != nil {
		return errors.New("transport")
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return callbackError(resp.StatusCode)
	}
	return nil
}

// callbackError is the status of a callback that did not sign in.
type callbackError int

func (e callbackError) Error() string { return fmt.Sprintf("callback %d", int(e)) }

// get calls a route as an API client and classifies the answer. Only a
// 401 or an anonymous /user means the session is gone; 5xx are the
// injected failures passing through.
func (u *user) get(ctx context.Context, url string) (kind string, authenticated bool) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Header.Set("Accept", "application/json")
	resp, err := u.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return "cancelled", true
		}
		return "transport error", true
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return "401", false
	case resp.StatusCode != http.StatusOK:
		return fmt.Sprint(resp.StatusCode), true
	}
	var v struct {
		IsAuthenticated *bool `json:"isAuthenticated"`
	}
	if json.Unmarshal(body, &v) == nil && v.IsAuthenticated != nil && !*v.IsAuthenticated {
		return "200 anonymous", false
	}
	return "200", true
}
