//go:build integration

package integration

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/fiberlogto/sdk/internal/testenv"
	"github.com/fiberlogto/sdk/storage/postgres"
	fiberredis "github.com/fiberlogto/sdk/storage/redis"
)

// Several instances: two example apps on different ports sharing one real
// Redis, again one real PostgreSQL, and again the Redis under a key prefix
// of their own, each pair against one Logto application of a provider of
// its own. That provider registers both instances' redirect
// and post sign-out URIs, sends back-channel logouts to instance A (session
// required, so tokens carry sid), and has short lifetimes:
//
//   - the API resource's access token lives 63 s: fiberlogto refreshes it
//     ClockSkew (60 s) early, so it is reused for 2 to 3 s, then refreshed;
//   - the refresh token lives 7 s and is rotated by a refresh made after
//     70 % of that (4.9 s), as Logto rotates; each race, the first one
//     included, waits until 74 % so that its refresh rotates, 1.8 s before
//     the token would expire;
//   - REFRESH_TOKEN_REUSE_INTERVAL_MS=0: stricter than Logto's 3 s, any
//     second use of a rotated refresh token revokes the grant at once.
const (
	instancesAccessTokenTTL  = 63
	instancesRefreshTokenTTL = 7
	instancesRotateAt        = 0.74
	// defaultRefreshRaces is how many times the refresh race runs per
	// storage (INTEGRATION_REFRESH_RACES changes it).
	defaultRefreshRaces = 6
	// requestsPerInstance is how many /access-token requests each instance
	// gets at once in a race.
	requestsPerInstance = 4
)

// TestSeveralInstances: sign in on A, use on B; refreshes raced on A and B
// at once, many times, with exactly one refresh grant per race and no grant
// revoked; sign out on A, anonymous on B; sign in again on B, Logto ends
// its session (back-channel logout to A), anonymous on both and the stored
// session gone.
func TestSeveralInstances(t *testing.T) {
	t.Parallel()
	if suite.fixture == nil {
		t.Skip("runs against the suite's provider only: it starts one of its own per storage, with a back-channel logout URI and token lifetimes of seconds")
	}
	// Each pair is two different examples, as in a rolling upgrade from one
	// framework to another: A on Fiber v2 and B on v3 with Redis, A on v3
	// and B on net/http with PostgreSQL, A on net/http and B on Fiber v2
	// with Redis under a key prefix (beside the first pair, on the same
	// server), so that each example plays each part.
	runs := []struct {
		name, kind string
		env        map[string]string // more of both apps' environment
	}{
		{"redis", "redis", nil},
		{"postgres", "postgres", nil},
		{"redis-key-prefix", "redis", map[string]string{"REDIS_KEY_PREFIX": "several-instances:"}},
	}
	for i, run := range runs {
		a, b := suite.examples[i%len(suite.examples)], suite.examples[(i+1)%len(suite.examples)]
		t.Run(run.name, func(t *testing.T) {
			t.Parallel()
			m := startInstances(t, run.kind, run.env, a, b)
			t.Logf("A: %s on %s, B: %s on %s", a.name, m.a.BaseURL, b.name, m.b.BaseURL)
			m.run(t)
		})
	}
}

// instances is one pair's run: the provider, the two apps, the browser
// and what each step hands the next.
type instances struct {
	kind  string
	tg    target
	info  *fixtureInfo
	d     discovery
	v     *jwtVerifier
	a, b  *exampleApp
	br    *browser
	store fiber.Storage // the shared storage, read directly

	races int

	code    string // of the sign-in being checked
	sub     string
	sid     string
	session string // the fiberlogto_session cookie's value
	token   string // the last access token
	claims  jwtClaims
}

// startInstances starts the provider and the two apps sharing kind's
// storage, with extra on top of their environment (REDIS_KEY_PREFIX is
// honoured when the suite reads the storage): A runs example a, B example b.
func startInstances(t *testing.T, kind string, extra map[string]string, a, b *exampleCmd) *instances {
	t.Helper()
	env := maps.Clone(extra)
	if env == nil {
		env = map[string]string{}
	}
	var store fiber.Storage
	var err error
	switch kind {
	case "redis":
		u := testenv.ServerURL(t, "REDIS_URL", "Redis")
		env["REDIS_URL"] = u
		// The example's keys, under its REDIS_KEY_PREFIX.
		store, err = fiberredis.New(fiberredis.Config{URL: u, KeyPrefix: env["REDIS_KEY_PREFIX"]})
	case "postgres":
		u := testenv.ServerURL(t, "DATABASE_URL", "PostgreSQL")
		env["DATABASE_URL"] = u
		// The example's table (the default one).
		store, err = postgres.New(postgres.Config{URL: u})
	}
	if err != nil {
		t.Fatalf("open the shared %s: %v", kind, err)
	}
	t.Cleanup(func() { _ = store.Close() })

	races := defaultRefreshRaces
	if raw := os.Getenv("INTEGRATION_REFRESH_RACES"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 {
			t.Fatalf("INTEGRATION_REFRESH_RACES=%q: want a positive number", raw)
		}
		races = n
	}

	portA, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	portB, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	baseA, baseB := baseURL(portA), baseURL(portB)
	p, info, tg, err := startFixture(suite.root, fixtureConfig{
		appBases:        []string{baseA, baseB},
		accessTokenTTL:  instancesAccessTokenTTL,
		refreshTokenTTL: instancesRefreshTokenTTL,
		env: []string{
			"BACKCHANNEL_LOGOUT_URI=" + baseA + "/logto/backchannel-logout",
			"BACKCHANNEL_LOGOUT_SESSION_REQUIRED=1",
			"REFRESH_TOKEN_REUSE_INTERVAL_MS=0",
		},
	})
	if p != nil {
		t.Cleanup(func() {
			p.stop()
			if t.Failed() {
				t.Logf("%s", p.failure())
			}
		})
	}
	if err != nil {
		t.Fatalf("start the provider: %v", err)
	}
	if info.BackchannelLogoutURI != baseA+"/logto/backchannel-logout" || info.BackchannelLogoutSessionRequired == nil || !*info.BackchannelLogoutSessionRequired {
		t.Fatalf("the provider's client: back-channel logout URI %q, session required %v", info.BackchannelLogoutURI, info.BackchannelLogoutSessionRequired)
	}

	// Both instances: the same storage and the same encryption key.
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	env["SESSION_ENCRYPTION_KEY"] = base64.StdEncoding.EncodeToString(key)
	for k, v := range exampleEnvFor(tg, kind, "") {
		env[k] = v
	}
	m := &instances{kind: kind, tg: tg, info: info, store: store, races: races}
	m.a = startExample(t, a, portA, env)
	m.b = startExample(t, b, portB, env)
	m.d = fetchDiscoveryOf(t, tg)
	m.v = newJWTVerifier(t, m.d)
	m.br = newBrowser(t)
	return m
}

func (m *instances) run(t *testing.T) {
	steps := []struct {
		name string
		fn   func(*testing.T)
	}{
		{"sign-in-on-A", m.signInOnA},
		{"use-on-B", m.useOnB},
		{"refresh-race", m.refreshRace},
		{"sign-out-on-A", m.signOutOnA},
		{"sign-in-again-on-B", m.signInAgainOnB},
		{"backchannel-logout", m.backchannelLogout},
	}
	for _, s := range steps {
		if !t.Run(s.name, func(t *testing.T) { m.br.t = t; s.fn(t) }) {
			t.FailNow() // later steps build on this one
		}
	}
}

func (m *instances) events(t *testing.T) []fixtureEvent {
	t.Helper()
	return fixtureEventsAt(t, m.tg.Endpoint)
}

// signIn signs in through app with the suite's browser, at Logto's sign-in
// page (no Logto session yet), and returns the code Logto sent to the
// callback.
func (m *instances) signIn(t *testing.T, app *exampleApp) string {
	t.Helper()
	start := m.br.open(app.BaseURL + "/logto/sign-in")
	authz := start.location(t)
	if got := authz.Scheme + "://" + authz.Host + authz.Path; got != m.d.AuthorizationEndpoint {
		t.Fatalf("GET /logto/sign-in on %s: redirect to %s, want %s", app.BaseURL, got, m.d.AuthorizationEndpoint)
	}
	if authz.Query().Get("redirect_uri") != app.BaseURL+"/logto/sign-in-callback" {
		t.Errorf("redirect_uri %q: want this instance's own callback", authz.Query().Get("redirect_uri"))
	}
	callback := signInAt(t, m.tg, m.br, authz.String())
	if got := callback.Scheme + "://" + callback.Host + callback.Path; got != app.BaseURL+"/logto/sign-in-callback" {
		t.Fatalf("Logto redirected to %s, want %s/logto/sign-in-callback", got, app.BaseURL)
	}
	code := callback.Query().Get("code")
	cb := m.br.open(callback.String())
	if cb.Status != http.StatusFound {
		t.Fatalf("callback on %s: %d %s", app.BaseURL, cb.Status, cb.snippet())
	}
	if _, ok := cb.setCookie("fiberlogto_session"); !ok {
		t.Fatalf("callback on %s set no session cookie", app.BaseURL)
	}
	return code
}

// sessionClaims are the claims of /user the steps compare across instances.
type sessionClaims struct {
	userClaims
	Sid string `json:"sid"` // the Logto session, with back-channel logout's session required
}

// user reads /user on app as the browser.
func (m *instances) user(t *testing.T, app *exampleApp) (user, sessionClaims) {
	t.Helper()
	var u user
	m.br.fetchJSON(http.MethodGet, app.BaseURL+"/user", nil, &u).expect(t, http.StatusOK)
	var c sessionClaims
	if u.IsAuthenticated {
		if err := json.Unmarshal(u.Claims, &c); err != nil {
			t.Fatalf("claims: %v: %s", err, u.Claims)
		}
	}
	return u, c
}

// cookie is the browser's fiberlogto_session for app ("" when none).
func (m *instances) cookie(app *exampleApp) string {
	u, _ := url.Parse(app.BaseURL)
	if c, ok := m.br.jar.get(u, "fiberlogto_session"); ok {
		return c.Value
	}
	return ""
}

// storageKey is fiberlogto's storage key of an ID (a session ID, a sid):
// the prefix and the ID's SHA-256, base64url (fiberlogto/session_store.go).
// The steps check a key is there before they check it is gone, so a change
// there fails loudly rather than passing.
func storageKey(prefix, id string) string {
	sum := sha256.Sum256([]byte(id))
	return prefix + base64.RawURLEncoding.EncodeToString(sum[:])
}

const (
	sessionKeyPrefix  = "fiberlogto:s:"
	sidIndexKeyPrefix = "fiberlogto:x:"
)

// stored reports whether the shared storage holds key.
func (m *instances) stored(t *testing.T, key string) bool {
	t.Helper()
	v, err := m.store.Get(key)
	if err != nil {
		t.Fatalf("read %s from %s: %v", key, m.kind, err)
	}
	return len(v) > 0
}

// anonymousWith checks that app treats the session cookie value as no
// session: /user anonymous, /protected and /access-token 401.
func anonymousWith(t *testing.T, app *exampleApp, session, when string) {
	t.Helper()
	cookie := "fiberlogto_session=" + session
	status, body := rawGet(t, app.BaseURL+"/user", cookie)
	var u user
	if status != http.StatusOK || json.Unmarshal(body, &u) != nil || u.IsAuthenticated {
		t.Errorf("%s: GET %s/user with the session cookie: %d %s, want anonymous", when, app.BaseURL, status, body)
	}
	for _, path := range []string{"/protected", "/access-token"} {
		if status, body := rawGet(t, app.BaseURL+path, cookie); status != http.StatusUnauthorized {
			t.Errorf("%s: GET %s%s with the session cookie: %d %s, want 401", when, app.BaseURL, path, status, body)
		}
	}
}

func (m *instances) signInOnA(t *testing.T) {
	for _, app := range []*exampleApp{m.a, m.b} {
		if u, _ := m.user(t, app); u.IsAuthenticated {
			t.Fatalf("%s: signed in before the sign-in", app.BaseURL)
		}
	}
	m.code = m.signIn(t, m.a)
	m.session = m.cookie(m.a)
	if m.session == "" {
		t.Fatal("no session cookie for A after the sign-in")
	}
	u, c := m.user(t, m.a)
	if !u.IsAuthenticated || c.Sub != m.info.UserID {
		t.Fatalf("GET /user on A: isAuthenticated %v, sub %q; want %q", u.IsAuthenticated, c.Sub, m.info.UserID)
	}
	m.sub = c.Sub
	// Back-channel logout with session required: the ID token has sid.
	if m.sid = c.Sid; m.sid == "" {
		t.Errorf("the ID token has no sid, though the application's back-channel logout requires the session")
	}
	if !m.stored(t, storageKey(sessionKeyPrefix, m.session)) {
		t.Errorf("the session is not in %s under fiberlogto's key", m.kind)
	}
}

func (m *instances) useOnB(t *testing.T) {
	// The suite's jar, like a browser, sends 127.0.0.1's host-only cookie
	// to every port: B gets the cookie A set.
	if got := m.cookie(m.b); got != m.session {
		t.Fatalf("the browser sends B the session cookie %q, want A's %q", got, m.session)
	}
	u, c := m.user(t, m.b)
	if !u.IsAuthenticated || c.Sub != m.sub || c.Username == nil || *c.Username != m.tg.Username {
		t.Fatalf("GET /user on B: isAuthenticated %v, sub %q; want the user A signed in (%s)", u.IsAuthenticated, c.Sub, m.sub)
	}
	if c.Sid != m.sid {
		t.Errorf("sid on B %q, on A %q", c.Sid, m.sid)
	}
	page := m.br.open(m.b.BaseURL+"/protected").expect(t, http.StatusOK)
	if strings.TrimSpace(string(page.Body)) != "protected resource" {
		t.Errorf("GET /protected on B: %q", page.snippet())
	}
	m.br.fetchJSON(http.MethodGet, m.b.BaseURL+"/protected", nil, nil).expect(t, http.StatusOK)
	home := m.br.open(m.b.BaseURL+"/").expect(t, http.StatusOK)
	if !strings.Contains(string(home.Body), "Hello, ") {
		t.Errorf("GET / on B: no greeting: %s", home.snippet())
	}
	// Userinfo from B, with the tokens A's sign-in got.
	var info user
	m.br.fetchJSON(http.MethodGet, m.b.BaseURL+"/user/info", nil, &info).expect(t, http.StatusOK)
	var ui struct {
		Sub string `json:"sub"`
	}
	if json.Unmarshal(info.UserInfo, &ui) != nil || ui.Sub != m.sub {
		t.Errorf("GET /user/info on B: userInfo %s, want sub %s", info.UserInfo, m.sub)
	}
}

// raceResult is one /access-token answer of a race.
type raceResult struct {
	app    string
	status int
	token  string
	err    error
	body   string
}

// accessTokenRace fires requestsPerInstance GET /access-token at A and as
// many at B, all released at once, with the session cookie.
func (m *instances) accessTokenRace() []raceResult {
	client := &http.Client{Timeout: 20 * time.Second}
	start := make(chan struct{})
	var wg sync.WaitGroup
	results := make([]raceResult, 2*requestsPerInstance)
	for i := range results {
		app := m.a
		if i%2 == 1 {
			app = m.b
		}
		wg.Add(1)
		go func(i int, app *exampleApp) {
			defer wg.Done()
			r := raceResult{app: app.BaseURL}
			defer func() { results[i] = r }()
			req, err := http.NewRequest(http.MethodGet, app.BaseURL+"/access-token", nil)
			if err != nil {
				r.err = err
				return
			}
			req.Header.Set("Accept", "application/json")
			req.Header.Set("Cookie", "fiberlogto_session="+m.session)
			<-start
			resp, err := client.Do(req)
			if err != nil {
				r.err = err
				return
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			r.status, r.body = resp.StatusCode, string(body)
			var out struct {
				AccessToken string `json:"accessToken"`
			}
			if err := json.Unmarshal(body, &out); err == nil {
				r.token = out.AccessToken
			}
		}(i, app)
	}
	close(start)
	wg.Wait()
	return results
}

func (m *instances) refreshRace(t *testing.T) {
	var refreshes, rotations, revoked int
	for round := 0; round < m.races; round++ {
		events := m.events(t)
		chain := chainIn(t, events, m.code)
		before := len(chain.refreshes())
		current := chain.current()
		// The refresh token past 70 % of its lifetime: this refresh rotates
		// it. The first race (the session's first resource token) waits
		// for that too: one that came early would not rotate, and the next
		// race, 3 s after it at least, would be left the sign-in's refresh
		// token near its end (7 s after the sign-in), past it on a loaded
		// machine.
		issued := chain.events[len(chain.events)-1]
		for _, e := range chain.events {
			if e.IssuedRefreshToken == current {
				issued = e
				break
			}
		}
		at := time.UnixMilli(issued.At).Add(time.Duration(instancesRotateAt * instancesRefreshTokenTTL * float64(time.Second)))
		if round > 0 {
			// And the last access token is due (fiberlogto's view).
			if due := freshUntil(m.claims).Add(300 * time.Millisecond); due.After(at) {
				at = due
			}
		}
		time.Sleep(time.Until(at))
		startedAt := time.Now()

		results := m.accessTokenRace()
		token, distinct := "", map[string]bool{}
		for _, r := range results {
			if r.err != nil || r.status != http.StatusOK || r.token == "" {
				t.Fatalf("race %d: GET %s/access-token: %d %v %s", round, r.app, r.status, r.err, r.body)
			}
			if token == "" {
				token = r.token
			}
			distinct[r.token] = true
		}
		if len(distinct) != 1 {
			t.Errorf("race %d: %d different access tokens in %d answers: more than one refresh", round, len(distinct), len(results))
		}
		if token == m.token {
			t.Fatalf("race %d: the same access token as before: no refresh happened", round)
		}
		c := m.v.verify(t, token)
		if c.str("aud") != m.tg.Resource || c.str("sub") != m.sub {
			t.Errorf("race %d: access token aud %v sub %q", round, c.Claims["aud"], c.str("sub"))
		}
		m.token, m.claims = token, c

		events = m.events(t)
		chain = chainIn(t, events, m.code)
		rs := chain.refreshes()
		var grants []fixtureEvent
		revoked = 0
		for _, e := range events {
			if e.GrantType == "refresh_token" && e.At >= startedAt.UnixMilli()-50 {
				grants = append(grants, e)
			}
			if e.Type == "grant.revoked" {
				revoked++
			}
		}
		if len(rs)-before != 1 || len(grants) != 1 || grants[0].Type != "grant.success" {
			var seen []string
			for _, g := range grants {
				seen = append(seen, g.describe())
			}
			t.Fatalf("race %d: %d refresh grants for this session, %d refresh requests at the provider (%s); want exactly one",
				round, len(rs)-before, len(grants), strings.Join(seen, "; "))
		}
		r := rs[len(rs)-1]
		refreshes++
		if r.PresentedRefreshToken != current {
			t.Errorf("race %d: the refresh presented %s, want the current refresh token %s", round, r.PresentedRefreshToken, current)
		}
		if r.resource() != m.tg.Resource {
			t.Errorf("race %d: the refresh asked for resource %q, want %q", round, r.resource(), m.tg.Resource)
		}
		if r.Rotated {
			rotations++
		} else {
			t.Errorf("race %d: waited past 70 %% of the refresh token's lifetime, yet the refresh did not rotate it", round)
		}
		if errs := chain.errors(); len(errs) > 0 {
			t.Fatalf("race %d: failed grants: %+v", round, errs)
		}
		if revoked > 0 {
			t.Fatalf("race %d: %d grants revoked at the provider", round, revoked)
		}
		// Both instances still serve the signed-in user.
		for _, app := range []*exampleApp{m.a, m.b} {
			status, body := rawGet(t, app.BaseURL+"/user", "fiberlogto_session="+m.session)
			var u user
			if status != http.StatusOK || json.Unmarshal(body, &u) != nil || !u.IsAuthenticated {
				t.Fatalf("race %d: GET %s/user: %d %s", round, app.BaseURL, status, body)
			}
		}
	}
	if rotations < m.races {
		t.Errorf("only %d of %d refreshes rotated the refresh token", rotations, refreshes)
	}
	t.Logf("%s: %d refresh races, %d concurrent /access-token each (%d on A, %d on B): %d refresh grants, %d rotations, %d revoked grants",
		m.kind, m.races, 2*requestsPerInstance, requestsPerInstance, requestsPerInstance, refreshes, rotations, revoked)
}

// backchannelSince returns the back-channel logouts the provider sent after
// the first n events.
func backchannelSince(events []fixtureEvent, n int) []fixtureEvent {
	var out []fixtureEvent
	for _, e := range events[min(n, len(events)):] {
		if e.Type == "backchannel.logout" {
			out = append(out, e)
		}
	}
	return out
}

func (m *instances) signOutOnA(t *testing.T) {
	before := m.events(t)
	n, current := len(before), chainIn(t, before, m.code).current()
	m.br.open(m.a.BaseURL+"/").expect(t, http.StatusOK)
	out := m.br.open(m.a.BaseURL + "/logto/sign-out")
	end := out.location(t)
	if got := end.Scheme + "://" + end.Host + end.Path; got != m.d.EndSessionEndpoint {
		t.Fatalf("GET /logto/sign-out on A: redirect to %s, want %s", got, m.d.EndSessionEndpoint)
	}
	if end.Query().Get("post_logout_redirect_uri") != m.a.BaseURL {
		t.Errorf("post_logout_redirect_uri %q, want A's BASE_URL", end.Query().Get("post_logout_redirect_uri"))
	}
	back := signOutAtLogto(t, m.br, out)
	if back.Scheme+"://"+back.Host != m.a.BaseURL {
		t.Errorf("Logto sent the browser to %s after sign-out, want A", back)
	}
	if m.cookie(m.b) != "" {
		t.Errorf("the session cookie survived the sign-out in the browser")
	}
	// B is anonymous: without the cookie, and with the same cookie replayed.
	if u, _ := m.user(t, m.b); u.IsAuthenticated {
		t.Errorf("GET /user on B after the sign-out on A: signed in")
	}
	anonymousWith(t, m.b, m.session, "after the sign-out on A")
	anonymousWith(t, m.a, m.session, "after the sign-out on A")
	if m.stored(t, storageKey(sessionKeyPrefix, m.session)) {
		t.Errorf("the session is still in %s after the sign-out", m.kind)
	}

	events := m.events(t)
	var revokedBySignOut bool
	for _, e := range events[n:] {
		revokedBySignOut = revokedBySignOut || (e.Type == "grant.revoked" && e.Route == "revocation" && e.RevokedToken == current)
	}
	if !revokedBySignOut {
		t.Errorf("the sign-out on A did not revoke the session's refresh token")
	}
	// Logto's end-session also told A over the back channel; A had ended
	// the session already, and answers 200 all the same.
	for _, e := range backchannelSince(events, n) {
		if e.Status != http.StatusOK {
			t.Errorf("back-channel logout during the sign-out: %d %q", e.Status, e.Error)
		}
	}
}

func (m *instances) signInAgainOnB(t *testing.T) {
	m.code = m.signIn(t, m.b) // Logto's session ended: its sign-in page again
	m.session = m.cookie(m.b)
	if m.session == "" || m.cookie(m.a) != m.session {
		t.Fatal("no session cookie for A and B after the sign-in on B")
	}
	u, c := m.user(t, m.a)
	if !u.IsAuthenticated || c.Sub != m.sub {
		t.Fatalf("GET /user on A after the sign-in on B: isAuthenticated %v, sub %q", u.IsAuthenticated, c.Sub)
	}
	if c.Sid == "" || c.Sid == m.sid {
		t.Errorf("sid %q after a new Logto session, before %q: want a new one", c.Sid, m.sid)
	}
	m.sid = c.Sid
	m.br.fetchJSON(http.MethodGet, m.a.BaseURL+"/protected", nil, nil).expect(t, http.StatusOK)
	m.br.fetchJSON(http.MethodGet, m.b.BaseURL+"/access-token", nil, nil).expect(t, http.StatusOK)
	// What the back-channel logout must remove is there.
	if !m.stored(t, storageKey(sessionKeyPrefix, m.session)) {
		t.Fatalf("the session is not in %s under fiberlogto's key", m.kind)
	}
	if !m.stored(t, storageKey(sidIndexKeyPrefix, m.sid)) {
		t.Fatalf("no sid index entry in %s for the Logto session", m.kind)
	}
}

func (m *instances) backchannelLogout(t *testing.T) {
	n := len(m.events(t))
	sentAt := time.Now()
	// The Logto session ends at Logto itself (another app's sign-out, say):
	// the end-session page and its confirm, not the app's sign-out route.
	endURL := m.d.EndSessionEndpoint + "?" + url.Values{"client_id": {m.tg.AppID}}.Encode()
	done := confirmEndSession(t, m.br, m.br.open(endURL))
	if !strings.HasPrefix(done.Path, "/oidc/session/end") {
		t.Errorf("end-session confirm redirected to %s", done)
	}

	sent := backchannelSince(m.events(t), n)
	if len(sent) != 1 {
		t.Fatalf("the provider sent %d back-channel logouts, want 1: %+v", len(sent), sent)
	}
	e := sent[0]
	if e.URI != m.a.BaseURL+"/logto/backchannel-logout" || e.Status != http.StatusOK {
		t.Fatalf("back-channel logout to %s: status %d, error %q; want 200 from A", e.URI, e.Status, e.Error)
	}
	// The logout token as Logto sends it (logto-observed.md §15).
	if e.LogoutToken == nil {
		t.Fatal("no logout token in the event")
	}
	h, p := e.LogoutToken.Header, e.LogoutToken.Payload
	if h["typ"] != "logout+jwt" || h["alg"] != "ES384" || h["kid"] == nil {
		t.Errorf("logout token header %v: want typ logout+jwt, alg ES384, a kid", h)
	}
	if aud, ok := p["aud"].(string); !ok || aud != m.tg.AppID {
		t.Errorf("logout token aud %v: want the string %q", p["aud"], m.tg.AppID)
	}
	if p["iss"] != m.d.Issuer || p["sub"] != m.sub || p["sid"] != m.sid {
		t.Errorf("logout token iss %v sub %v sid %v; want %s, %s, %s", p["iss"], p["sub"], p["sid"], m.d.Issuer, m.sub, m.sid)
	}
	if iat, _ := p["iat"].(float64); iat < float64(sentAt.Unix()-5) || iat > float64(time.Now().Unix()+5) {
		t.Errorf("logout token iat %v, sent at %d", p["iat"], sentAt.Unix())
	}
	if jti, _ := p["jti"].(string); jti == "" {
		t.Errorf("logout token without jti")
	}
	if ev, _ := p["events"].(map[string]any); ev == nil || ev["http://schemas.openid.net/event/backchannel-logout"] == nil {
		t.Errorf("logout token events %v", p["events"])
	}
	for _, absent := range []string{"exp", "nonce"} {
		if _, has := p[absent]; has {
			t.Errorf("logout token has %s (%v); Logto's has none", absent, p[absent])
		}
	}

	// Both instances anonymous, the browser's cookie still there: the
	// session is gone from the shared storage, not from the browser.
	if m.cookie(m.a) != m.session {
		t.Fatalf("the browser lost its session cookie; the check below needs it")
	}
	for _, app := range []*exampleApp{m.a, m.b} {
		if u, _ := m.user(t, app); u.IsAuthenticated {
			t.Errorf("GET /user on %s after the back-channel logout: signed in", app.BaseURL)
		}
		m.br.fetchJSON(http.MethodGet, app.BaseURL+"/protected", nil, nil).expect(t, http.StatusUnauthorized)
		anonymousWith(t, app, m.session, "after the back-channel logout")
	}
	if m.stored(t, storageKey(sessionKeyPrefix, m.session)) {
		t.Errorf("the session is still in %s after the back-channel logout", m.kind)
	}
	if m.stored(t, storageKey(sidIndexKeyPrefix, m.sid)) {
		t.Errorf("the sid index entry is still in %s after the back-channel logout", m.kind)
	}
	t.Logf("%s: back-channel logout to A ended the session on A and B: logout token claims %s", m.kind, claimNames(p))
}

func claimNames(p map[string]any) string {
	names := make([]string, 0, len(p))
	for _, k := range []string{"sub", "events", "jti", "sid", "aud", "iat", "iss", "exp", "nonce"} {
		if _, ok := p[k]; ok {
			names = append(names, k)
		}
	}
	return fmt.Sprint(names)
}
