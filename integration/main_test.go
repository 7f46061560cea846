//go:build integration

package integration

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Timing of the Logto-compatible provider the suite starts itself: an API
// resource access token lives accessTokenTTL, the app's refresh token
// refreshTokenTTL. fiberlogto refreshes an access token ClockSkew (60 s)
// before it expires, so a 64 s token is fresh for 4 s and then refreshed on
// the next request; a 20 s refresh token is rotated by the first refresh made
// after 14 s (Logto rotates once 70 % of the lifetime has passed), and the
// replaced token is still unexpired 3 s later, when replaying it must revoke
// the grant (Logto's reuse window is 3 s).
const (
	fixtureAccessTokenTTL  = 64
	fixtureRefreshTokenTTL = 20
	fiberlogtoClockSkew    = 60 * time.Second
)

// extraScopes are the scopes the example asks for besides openid,
// offline_access and profile: everything a signed-in user's claims, the API
// resource and the organization token need.
const extraScopes = "email roles urn:logto:scope:organizations urn:logto:scope:organization_roles read:data read:org"

// suite is what TestMain set up for every test.
var suite *suiteEnv

type suiteEnv struct {
	root     string // the module root
	tmp      string
	examples []*exampleCmd // built, in the order of exampleCmds
	target   target
	fixture  *fixtureInfo // nil against a real Logto
	// ports are the app ports by appPortNames (the first example's), and
	// by example and name (appPort) when each example has its own.
	ports map[string]int
	race  bool
}

// exampleCmd is one example app's command, built by TestMain.
type exampleCmd struct {
	name string // fiberv2, fiberv3, nethttp: the subtests' names
	pkg  string // what go build takes, from the module root
	bin  string
}

// exampleCmds are the tutorial apps the suite runs, one per framework:
// what `go run ./example` (Fiber v2), `go run ./example/fiberv3` and
// `go run ./example/nethttp` (net/http's ServeMux) run. The tests
// that drive an example end to end run once per example.
var exampleCmds = []exampleCmd{
	{name: "fiberv2", pkg: "./example"},
	{name: "fiberv3", pkg: "./example/fiberv3"},
	{name: "nethttp", pkg: "./example/nethttp"},
}

// target is the Logto the suite signs in to (LOGTO_* variables, or the
// provider the suite started).
type target struct {
	Endpoint     string
	AppID        string
	AppSecret    string
	M2MAppID     string // the machine-to-machine app: client credentials,
	M2MAppSecret string // read:data on Resource through its M2M role
	// ManagementResource is Logto's Management API resource indicator, for
	// which the M2M app gets the scope all (TestLogtoFeatures).
	ManagementResource string
	Resource           string
	OrganizationID     string
	Username           string
	Password           string
}

func (t target) issuer() string { return t.Endpoint + "/oidc" }

// fixtureInfo is the provider's ready line.
type fixtureInfo struct {
	Ready              bool   `json:"ready"`
	Endpoint           string `json:"endpoint"`
	Issuer             string `json:"issuer"`
	AppID              string `json:"appId"`
	M2MAppID           string `json:"m2mAppId"`
	Resource           string `json:"resource"`
	ManagementResource string `json:"managementResource"`
	OrganizationID     string `json:"organizationId"`
	Username           string `json:"username"`
	UserID             string `json:"userId"`
	AccessTokenTTL     int    `json:"accessTokenTtl"`
	RefreshTokenTTL    int    `json:"refreshTokenTtl"`
	// Set by the providers TestSeveralInstances starts.
	RefreshTokenReuseIntervalMs      int      `json:"refreshTokenReuseIntervalMs"`
	BackchannelLogoutURI             string   `json:"backchannelLogoutUri"`
	BackchannelLogoutSessionRequired *bool    `json:"backchannelLogoutSessionRequired"`
	RedirectURIs                     []string `json:"redirectUris"`
	PostLogoutRedirectURIs           []string `json:"postLogoutRedirectUris"`
}

// App ports: the end-to-end runs (one per session storage) and the browser
// test against the Node provider. Against a real Logto they are fixed
// (INTEGRATION_APP_PORTS, default 3100 3101 3102) because Logto must know the
// redirect URIs, and every example uses them in turn; otherwise free ports,
// a set per example, and the examples run at once.
var appPortNames = []string{"sqlite", "memory", "browser"}

// apiPortName is TestAPIProtection's app port: a free port of its own
// against the suite's provider; against a real Logto the browser port,
// which TestBrowser uses with the suite's provider only.
const apiPortName = "api"

// featuresPortName is TestLogtoFeatures's app port: a free port of its own
// against the suite's provider; against a real Logto the browser port too,
// which TestLogtoFeatures has to itself there: it is not parallel then, so
// it runs to its end before TestAPIProtection, a parallel test, starts.
const featuresPortName = "features"

// appPort is the port of ex's run name (one of appPortNames).
func (s *suiteEnv) appPort(ex *exampleCmd, name string) int {
	if p, ok := s.ports[ex.name+"/"+name]; ok {
		return p
	}
	return s.ports[name]
}

// examplesAtOnce reports whether the examples may run at the same time:
// each has ports of its own (the suite's provider), not the fixed ports a
// real Logto knows.
func (s *suiteEnv) examplesAtOnce() bool { return s.fixture != nil }

func TestMain(m *testing.M) {
	flag.Parse()
	runAllAtOnce()
	os.Exit(runMain(m))
}

// suiteParallel is how many tests run at once unless -parallel says
// otherwise: every parallel test of the suite. They spend most of their
// time waiting for tokens to expire, so on a small machine the default
// (GOMAXPROCS) would run them in turns and take twice as long.
const suiteParallel = 8

func runAllAtOnce() {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if f := flag.Lookup("test.parallel"); f != nil && !set && runtime.GOMAXPROCS(0) < suiteParallel {
		_ = f.Value.Set(strconv.Itoa(suiteParallel))
	}
}

func runMain(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "fiberlogto-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	defer os.RemoveAll(tmp)

	s, stop, err := setUp(tmp)
	defer stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration: set-up failed:", err)
		return 1
	}
	suite = s
	return m.Run()
}

// setUp builds the examples and finds or starts the Logto to test against.
// stop is never nil and ends whatever was started.
func setUp(tmp string) (*suiteEnv, func(), error) {
	noop := func() {}
	root, err := filepath.Abs("..")
	if err != nil {
		return nil, noop, err
	}
	if _, err := os.Stat(filepath.Join(root, "example")); err != nil {
		return nil, noop, fmt.Errorf("no ./example next to ./integration: %w", err)
	}
	s := &suiteEnv{root: root, tmp: tmp, ports: map[string]int{}, race: raceEnabled}

	// The examples, built once, by one go build (with the race detector
	// when the suite has it): each to tmp/bin/<last element of its path>.
	binDir := filepath.Join(tmp, "bin") + string(filepath.Separator)
	args := []string{"build", "-o", binDir}
	if s.race {
		args = append(args, "-race")
	}
	for _, ex := range exampleCmds {
		ex.bin = filepath.Join(binDir, path.Base(ex.pkg))
		s.examples = append(s.examples, &ex)
		args = append(args, ex.pkg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, goBinary(), args...)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, noop, fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}

	if endpoint := strings.TrimRight(os.Getenv("LOGTO_ENDPOINT"), "/"); endpoint != "" {
		t, err := targetFromEnv(endpoint)
		if err != nil {
			return nil, noop, err
		}
		s.target = t
		ports, err := fixedPorts()
		if err != nil {
			return nil, noop, err
		}
		for i, name := range appPortNames {
			s.ports[name] = ports[i]
		}
		s.ports[apiPortName] = s.ports["browser"]
		s.ports[featuresPortName] = s.ports["browser"]
		return s, noop, nil
	}

	var bases []string
	for i, ex := range s.examples {
		for _, name := range append(slices.Clone(appPortNames), apiPortName, featuresPortName) {
			port, err := freePort()
			if err != nil {
				return nil, noop, err
			}
			s.ports[ex.name+"/"+name] = port
			if i == 0 {
				s.ports[name] = port
			}
			bases = append(bases, baseURL(port))
		}
	}
	p, info, t, err := startFixture(root, fixtureConfig{
		appBases:        bases,
		accessTokenTTL:  fixtureAccessTokenTTL,
		refreshTokenTTL: fixtureRefreshTokenTTL,
	})
	if err != nil {
		if p != nil {
			p.stop()
		}
		return nil, noop, err
	}
	s.target, s.fixture = t, info
	return s, p.stop, nil
}

func goBinary() string {
	if goroot := os.Getenv("GOROOT"); goroot != "" {
		if p := filepath.Join(goroot, "bin", "go"); fileExists(p) {
			return p
		}
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// targetFromEnv reads a real Logto's settings.
func targetFromEnv(endpoint string) (target, error) {
	t := target{
		Endpoint:       endpoint,
		AppID:          os.Getenv("LOGTO_APP_ID"),
		AppSecret:      os.Getenv("LOGTO_APP_SECRET"),
		M2MAppID:       os.Getenv("LOGTO_M2M_APP_ID"),
		M2MAppSecret:   os.Getenv("LOGTO_M2M_APP_SECRET"),
		Resource:       os.Getenv("LOGTO_RESOURCE"),
		OrganizationID: os.Getenv("LOGTO_ORGANIZATION_ID"),
		Username:       os.Getenv("LOGTO_USERNAME"),
		Password:       os.Getenv("LOGTO_PASSWORD"),
		// An OSS Logto's default tenant; Logto Cloud's is
		// https://<tenant id>.logto.app/api.
		ManagementResource: strings.TrimSpace(os.Getenv("LOGTO_MANAGEMENT_API_RESOURCE")),
	}
	if t.ManagementResource == "" {
		t.ManagementResource = "https://default.logto.app/api"
	}
	var missing []string
	for name, v := range map[string]string{
		"LOGTO_APP_ID": t.AppID, "LOGTO_APP_SECRET": t.AppSecret, "LOGTO_RESOURCE": t.Resource,
		"LOGTO_M2M_APP_ID": t.M2MAppID, "LOGTO_M2M_APP_SECRET": t.M2MAppSecret,
		"LOGTO_ORGANIZATION_ID": t.OrganizationID, "LOGTO_USERNAME": t.Username, "LOGTO_PASSWORD": t.Password,
	} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return t, fmt.Errorf("LOGTO_ENDPOINT is set, so these must be too: %s (see integration/README.md)", strings.Join(missing, ", "))
	}
	return t, nil
}

func fixedPorts() ([]int, error) {
	raw := os.Getenv("INTEGRATION_APP_PORTS")
	if raw == "" {
		raw = "3100 3101 3102"
	}
	fields := strings.Fields(raw)
	if len(fields) != len(appPortNames) {
		return nil, fmt.Errorf("INTEGRATION_APP_PORTS=%q: want %d ports (%s)", raw, len(appPortNames), strings.Join(appPortNames, ", "))
	}
	ports := make([]int, len(fields))
	for i, f := range fields {
		p, err := strconv.Atoi(f)
		if err != nil || p <= 0 || p > 65535 {
			return nil, fmt.Errorf("INTEGRATION_APP_PORTS=%q: %q is not a port", raw, f)
		}
		ports[i] = p
	}
	return ports, nil
}

func baseURL(port int) string { return "http://127.0.0.1:" + strconv.Itoa(port) }

// fixtureConfig is what a Logto-compatible provider is started with.
type fixtureConfig struct {
	// appBases are the BASE_URLs of the example apps it serves: their
	// redirect URIs and post sign-out redirect URIs are registered.
	appBases []string
	// accessTokenTTL and refreshTokenTTL are in seconds.
	accessTokenTTL, refreshTokenTTL int
	// env is more of the provider's environment (KEY=value).
	env []string
}

// startFixture starts the Logto-compatible provider (integration/provider)
// on a free loopback port, with the example's redirect URIs registered, and
// waits for its ready line.
func startFixture(root string, fc fixtureConfig) (*process, *fixtureInfo, target, error) {
	dir := filepath.Join(root, "integration", "provider")
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, nil, target{}, errors.New("node is not installed: the suite starts the Logto-compatible provider with Node.js (apt-get install nodejs npm), or set LOGTO_ENDPOINT")
	}
	if !fileExists(filepath.Join(dir, "node_modules", "oidc-provider", "package.json")) {
		// make integration runs npm ci first; a plain go test does it here.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		npm := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
		npm.Dir = dir
		if out, err := npm.CombinedOutput(); err != nil {
			return nil, nil, target{}, fmt.Errorf("npm ci in %s: %v\n%s", dir, err, out)
		}
	}

	t := target{
		AppID:        "fiberlogto-integration",
		AppSecret:    randomString(24),
		M2MAppID:     "fiberlogto-integration-m2m",
		M2MAppSecret: randomString(24),
		Resource:     "https://api.fiberlogto.test",
		Username:     "integration_user",
		Password:     randomString(12),
	}
	var redirects, postLogout []string
	for _, base := range fc.appBases {
		redirects = append(redirects, base+"/logto/sign-in-callback")
		postLogout = append(postLogout, base)
	}
	cmd := exec.Command(node, "server.js")
	cmd.Dir = dir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"NODE_ENV=test",
		"PROVIDER_HOST=127.0.0.1",
		"PROVIDER_PORT=0",
		"EXIT_ON_STDIN_CLOSE=1",
		"APP_ID=" + t.AppID,
		"APP_SECRET=" + t.AppSecret,
		"M2M_APP_ID=" + t.M2MAppID,
		"M2M_APP_SECRET=" + t.M2MAppSecret,
		"REDIRECT_URIS=" + strings.Join(redirects, " "),
		"POST_LOGOUT_REDIRECT_URIS=" + strings.Join(postLogout, " "),
		"RESOURCE=" + t.Resource,
		"USER_USERNAME=" + t.Username,
		"USER_PASSWORD=" + t.Password,
		"ACCESS_TOKEN_TTL=" + strconv.Itoa(fc.accessTokenTTL),
		"REFRESH_TOKEN_TTL=" + strconv.Itoa(fc.refreshTokenTTL),
	}
	cmd.Env = append(cmd.Env, fc.env...)
	p, err := startProcess("Logto-compatible provider (node integration/provider/server.js)", cmd)
	if err != nil {
		return nil, nil, t, err
	}
	line, err := p.waitLine(30*time.Second, func(l string) bool { return strings.HasPrefix(l, "{") })
	if err != nil {
		return p, nil, t, err
	}
	var info fixtureInfo
	if err := json.Unmarshal([]byte(line), &info); err != nil || !info.Ready || info.Endpoint == "" {
		return p, nil, t, fmt.Errorf("bad ready line %q: %v", line, err)
	}
	u, err := url.Parse(info.Endpoint)
	if err != nil || u.Hostname() != "127.0.0.1" {
		return p, nil, t, fmt.Errorf("provider endpoint %q is not on 127.0.0.1", info.Endpoint)
	}
	t.Endpoint, t.OrganizationID, t.ManagementResource = info.Endpoint, info.OrganizationID, info.ManagementResource
	if info.AppID != t.AppID || info.M2MAppID != t.M2MAppID || info.Resource != t.Resource || info.Username != t.Username {
		return p, nil, t, fmt.Errorf("provider seeded %+v, not what the suite asked for", info)
	}
	// Discovery answers: the provider is up.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, t.issuer()+"/.well-known/openid-configuration", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return p, nil, t, fmt.Errorf("provider discovery: %v\n%s", err, p.failure())
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return p, nil, t, fmt.Errorf("provider discovery: %s\n%s", resp.Status, p.failure())
	}
	return p, &info, t, nil
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// exampleApp is one running example app.
type exampleApp struct {
	BaseURL string
	proc    *process
}

// startExample runs the example ex with env (on top of a minimal
// environment) on 127.0.0.1:port and waits until it answers. It is stopped
// when the test ends.
func startExample(t *testing.T, ex *exampleCmd, port int, env map[string]string) *exampleApp {
	t.Helper()
	base := baseURL(port)
	cmd := exec.Command(ex.bin)
	cmd.Dir = t.TempDir()
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"ADDR=127.0.0.1:" + strconv.Itoa(port),
		"BASE_URL=" + base,
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p, err := startProcess(ex.name+" example app on "+base, cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("%s", p.failure())
		}
	})
	app := &exampleApp{BaseURL: base, proc: p}

	client := &http.Client{Timeout: 2 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(base + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return app
			}
		}
		if p.exited() || time.Now().After(deadline) {
			t.Fatalf("the example app did not come up on %s: %v\n%s", base, err, p.failure())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// exampleEnv is the environment that points the example at the target.
func exampleEnv(storage, dbPath string) map[string]string {
	return exampleEnvFor(suite.target, storage, dbPath)
}

// exampleEnvFor is the environment that points the example at the Logto tg.
func exampleEnvFor(tg target, storage, dbPath string) map[string]string {
	env := map[string]string{
		"LOGTO_ENDPOINT":   tg.Endpoint,
		"LOGTO_APP_ID":     tg.AppID,
		"LOGTO_APP_SECRET": tg.AppSecret,
		"LOGTO_RESOURCE":   tg.Resource,
		"LOGTO_SCOPES":     extraScopes,
		"SESSION_STORAGE":  storage,
	}
	if dbPath != "" {
		env["SESSION_DB"] = dbPath
	}
	return env
}
