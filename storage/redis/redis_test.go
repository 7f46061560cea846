package redis

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fiberlogto/sdk/internal/testenv"
	"github.com/fiberlogto/sdk/logto"
	"github.com/fiberlogto/sdk/storage/internal/storagetest"
	fiberv2 "github.com/gofiber/fiber/v2"
	fiberv3 "github.com/gofiber/fiber/v3"
)

// The interfaces Storage implements. Only the tests import Fiber and logto:
// the package implements them structurally (storagetest's
// TestEachBackendLinksOnlyItsOwnClient).
var (
	_ fiberv2.Storage            = (*Storage)(nil)
	_ fiberv3.Storage            = (*Storage)(nil)
	_ logto.Leaser               = (*Storage)(nil)
	_ logto.FreshReader          = (*Storage)(nil)
	_ storagetest.CachingStorage = (*Storage)(nil)
)

// redisTestStorage opens a Redis storage under a key prefix of the test's
// own, so tests sharing a server (this package's and others') never see each
// other's keys, and Reset never flushes the database.
func redisTestStorage(t *testing.T) func(t *testing.T) *Storage {
	t.Helper()
	url := testenv.ServerURL(t, "REDIS_URL", "Redis")
	prefix := "fiberlogto-test:" + storagetest.RandomHex(t) + ":"
	open := func(t *testing.T) *Storage {
		t.Helper()
		s, err := New(Config{URL: url, KeyPrefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		countCommands(s)
		t.Cleanup(func() { s.Close() })
		return s
	}
	admin := open(t)
	t.Cleanup(func() {
		if err := admin.Reset(); err != nil {
			t.Errorf("cleaning the test keys: %v", err)
		}
	})
	return open
}

func TestConformance(t *testing.T) {
	open := redisTestStorage(t)
	// Another instance's write reaches this one's cache within the
	// invalidation delay (TestCoherence).
	storagetest.Run(t, func(t *testing.T) storagetest.Storage { return open(t) }, storagetest.Options{Staleness: invalidationDelay})
}

func TestResetKeepsOtherPrefixes(t *testing.T) {
	open := redisTestStorage(t)
	mine := open(t)
	other := redisTestStorage(t)(t)
	storagetest.MustSet(t, mine, "k", "mine", time.Hour)
	storagetest.MustSet(t, other, "k", "other", time.Hour)
	// A prefix holding glob characters matches only itself.
	globby, err := New(Config{URL: testenv.ServerURL(t, "REDIS_URL", "Redis"), KeyPrefix: "fiberlogto-test:" + storagetest.RandomHex(t) + ":*?["})
	if err != nil {
		t.Fatal(err)
	}
	defer globby.Close()
	storagetest.MustSet(t, globby, "k", "globby", time.Hour)
	if err := globby.Reset(); err != nil {
		t.Fatal(err)
	}
	storagetest.MustGet(t, globby, "k", "")
	if err := mine.Reset(); err != nil {
		t.Fatal(err)
	}
	storagetest.MustGet(t, mine, "k", "")
	storagetest.MustGet(t, other, "k", "other")
}

func TestKeyPrefixOnTheServer(t *testing.T) {
	url := testenv.ServerURL(t, "REDIS_URL", "Redis")
	prefix := "fiberlogto-test:" + storagetest.RandomHex(t) + ":"
	s, err := New(Config{URL: url, KeyPrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	defer s.Reset()
	storagetest.MustSet(t, s, "k", "v", 1500*time.Millisecond)
	rs := s
	ctx := context.Background()
	if got, err := rs.client.Get(ctx, prefix+"k").Result(); err != nil || got != "v" {
		t.Fatalf("raw GET %sk = %q, %v; want v", prefix, got, err)
	}
	// Millisecond TTLs: Redis keeps exactly the asked lifetime.
	if ttl := rs.client.PTTL(ctx, prefix+"k").Val(); ttl <= time.Second || ttl > 1500*time.Millisecond {
		t.Fatalf("PTTL = %v; want in (1s, 1.5s]", ttl)
	}
	if n := rs.client.Exists(ctx, "k").Val(); n != 0 {
		t.Fatal("the unprefixed key exists")
	}
}

func TestTimeouts(t *testing.T) {
	url := testenv.ServerURL(t, "REDIS_URL", "Redis")
	s, err := New(Config{URL: url, ConnectTimeout: 2 * time.Second, CommandTimeout: 700 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rs := s
	o := rs.client.Options()
	if o.DialTimeout != 2*time.Second || o.ReadTimeout != 700*time.Millisecond || o.WriteTimeout != 700*time.Millisecond || rs.timeout != 700*time.Millisecond {
		t.Fatalf("dial %v read %v write %v call %v; want 2s, 700ms, 700ms, 700ms", o.DialTimeout, o.ReadTimeout, o.WriteTimeout, rs.timeout)
	}

	// Defaults, and the URL's own options when no field is set.
	d, err := New(Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if o := d.client.Options(); o.DialTimeout != 5*time.Second || o.ReadTimeout != 3*time.Second {
		t.Fatalf("defaults: dial %v read %v; want 5s, 3s", o.DialTimeout, o.ReadTimeout)
	}
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	u, err := New(Config{URL: url + sep + "dial_timeout=4s&read_timeout=2s"})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if o := u.client.Options(); o.DialTimeout != 4*time.Second || o.ReadTimeout != 2*time.Second {
		t.Fatalf("from the URL: dial %v read %v; want 4s, 2s", o.DialTimeout, o.ReadTimeout)
	}
}

// A server that stops answering: the command timeout ends the call. The
// fake speaks just enough RESP for the handshake and PING, then never
// answers a GET.
func TestCommandTimeout(t *testing.T) {
	addr := fakeRedis(t, "GET")
	s, err := New(Config{URL: "redis://" + addr + "/0", CommandTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	if _, err := s.Get("k"); err == nil {
		t.Fatal("Get on a silent server: want a timeout error")
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Fatalf("Get took %v; want about 300ms", d)
	}
}

// A server that accepts connections but never answers: Redis fails in
// about ConnectTimeout + CommandTimeout instead of hanging.
func TestSilentServer(t *testing.T) {
	addr := fakeRedis(t, "*")
	storagetest.MustFailFast(t, 2*time.Second, func() (io.Closer, error) {
		return New(Config{URL: "redis://" + addr + "/0", ConnectTimeout: 300 * time.Millisecond, CommandTimeout: 300 * time.Millisecond})
	})
}

// fakeRedis serves RESP on loopback: HELLO is unknown (go-redis falls back
// to RESP2), PING answers PONG, the command named silent (or every command,
// for "*") gets no answer, anything else +OK.
func fakeRedis(t *testing.T, silent string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func(c net.Conn) {
				r := bufio.NewReader(c)
				for {
					args, err := readRESP(r)
					if err != nil {
						return
					}
					cmd := strings.ToUpper(args[0])
					switch {
					case silent == "*" || cmd == silent:
					case cmd == "HELLO":
						fmt.Fprint(c, "-ERR unknown command 'HELLO'\r\n")
					case cmd == "PING":
						fmt.Fprint(c, "+PONG\r\n")
					default:
						fmt.Fprint(c, "+OK\r\n")
					}
				}
			}(c)
		}
	}()
	return ln.Addr().String()
}

// readRESP reads one command: an array of bulk strings.
func readRESP(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "*")))
	if err != nil || n < 1 {
		return nil, fmt.Errorf("bad array header %q", line)
	}
	args := make([]string, n)
	for i := range args {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		size, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "$")))
		if err != nil || size < 0 {
			return nil, fmt.Errorf("bad bulk header %q", line)
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		args[i] = string(buf[:size])
	}
	return args, nil
}

func TestBadConfig(t *testing.T) {
	storagetest.BadURLs(t, "storage: Redis: ", map[string]string{
		"empty":       "",
		"scheme":      "http://127.0.0.1:6379/0",
		"port":        "redis://127.0.0.1:notaport/0",
		"db":          "redis://127.0.0.1:6379/x",
		"unreachable": "redis://127.0.0.1:1/0",
		"garbage":     "::not a url::",
		"bad option":  "redis://127.0.0.1:6379/0?dial_timeout=soon",
		"bad host":    "redis://u:s3cr3t-pw@ho st:6379/0",
		"bad port":    "redis://u:s3cr3t-pw@127.0.0.1:port/0",
	}, func(url string) (io.Closer, error) {
		return New(Config{URL: url, ConnectTimeout: time.Second})
	})
}

func TestWrongPassword(t *testing.T) {
	url := testenv.ServerURL(t, "REDIS_URL", "Redis")
	bad := strings.Replace(url, "redis://", "redis://nobody:s3cr3t-pw@", 1)
	err := storagetest.MustFailFast(t, 5*time.Second, func() (io.Closer, error) { return New(Config{URL: bad}) })
	if strings.Contains(err.Error(), "s3cr3t-pw") {
		t.Errorf("error %q shows the password", err)
	}
}

// The caller's context reaches the call: cancelling it ends a call the
// server never answers at once, not at CommandTimeout; and CommandTimeout
// still bounds a context method whose context would wait longer.
func TestContextEndsCall(t *testing.T) {
	addr := fakeRedis(t, "GET")
	s, err := New(Config{URL: "redis://" + addr + "/0", CommandTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	if _, err := s.GetWithContext(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("GetWithContext, cancelled in flight: %v; want context.Canceled", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("GetWithContext returned %v after its context was cancelled; want at once", d-200*time.Millisecond)
	}

	short, err := New(Config{URL: "redis://" + addr + "/0", CommandTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer short.Close()
	long, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start = time.Now()
	if _, err := short.GetWithContext(long, "k"); err == nil {
		t.Fatal("GetWithContext on a silent server: want a timeout error")
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Fatalf("GetWithContext took %v; want about CommandTimeout, 300ms", d)
	}
}
