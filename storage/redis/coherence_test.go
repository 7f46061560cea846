package redis

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fiberlogto/sdk/internal/testenv"
	"github.com/fiberlogto/sdk/storage/internal/storagetest"
	goredis "github.com/redis/go-redis/v9"
)

// invalidationDelay is the package's promise: another instance's write,
// delete or Reset is seen within it.
const invalidationDelay = 100 * time.Millisecond

// commands counts, per Storage, the commands its client sent (a hook on
// its go-redis client; the tracking connection is not the client's).
var commands sync.Map // *Storage → *atomic.Int64

func countCommands(s *Storage) {
	n := new(atomic.Int64)
	commands.Store(s, n)
	s.client.AddHook(countingHook{n})
}

type countingHook struct{ n *atomic.Int64 }

func (countingHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h countingHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h countingHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		h.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

func serverCalls(s storagetest.CachingStorage) int64 {
	n, _ := commands.Load(s.(*Storage))
	return n.(*atomic.Int64).Load()
}

// TestCoherence: two instances on one server, each with its read cache:
// storagetest.RunCoherence, the channel cut by CLIENT KILL from an admin
// client.
func TestCoherence(t *testing.T) {
	open := redisTestStorage(t)
	admin := goredis.NewClient(mustParse(t))
	t.Cleanup(func() { admin.Close() })
	storagetest.RunCoherence(t, func(t *testing.T) storagetest.CachingStorage { return open(t) }, storagetest.Coherence{
		ServerCalls: serverCalls,
		Listening:   func(s storagetest.CachingStorage) bool { return s.(*Storage).cache.Live() },
		Cut: func(t *testing.T, cs storagetest.CachingStorage) func() {
			t.Helper()
			s := cs.(*Storage)
			id := s.tracker.clientID()
			if id == 0 {
				t.Fatal("no tracking connection to cut")
			}
			release := s.tracker.hold()
			if n, err := admin.ClientKillByFilter(context.Background(), "ID", itoa(id)).Result(); err != nil || n != 1 {
				t.Fatalf("CLIENT KILL ID %d: %d, %v", id, n, err)
			}
			return release
		},
		Delay: invalidationDelay,
	})
}

func mustParse(t *testing.T) *goredis.Options {
	t.Helper()
	o, err := goredis.ParseURL(testenv.ServerURL(t, "REDIS_URL", "Redis"))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// The tracking connection is one of the storage's own, named in CLIENT
// LIST, tracking in BCAST mode under KeyPrefix only; a key of another
// prefix changing invalidates nothing here, and FLUSHDB of another
// database empties the cache (Redis tracks keys across databases).
func TestTrackingConnection(t *testing.T) {
	open := redisTestStorage(t)
	s := open(t)
	if !s.cache.Live() {
		t.Fatal("New returned before the cache was live")
	}
	admin := goredis.NewClient(mustParse(t))
	defer admin.Close()
	ctx := context.Background()
	list, err := admin.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for _, l := range strings.Split(list, "\n") {
		if strings.Contains(l, "id="+itoa(s.tracker.clientID())+" ") {
			line = l
		}
	}
	t.Logf("CLIENT LIST: %s", line)
	if !strings.Contains(line, "name="+trackingName) || !strings.Contains(line, "resp=3") {
		t.Fatalf("CLIENT LIST line of the tracking connection: %q; want name=%s resp=3", line, trackingName)
	}

	storagetest.MustSet(t, s, "k", "v", time.Hour)
	settle(t, s, "k", "v")
	if err := admin.Set(ctx, "fiberlogto-test-other:"+storagetest.RandomHex(t), "x", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if _, ok := s.cache.Get("k"); !ok {
		t.Fatal("a key of another prefix invalidated this one")
	}
	// A write with no client of ours (redis-cli, another app) is heard too.
	if err := admin.Set(ctx, s.prefix+"k", "w", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(invalidationDelay)
	for {
		if v, ok := s.cache.Get("k"); !ok || string(v) != "v" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a SET by another client did not invalidate the cached key")
		}
		time.Sleep(time.Millisecond)
	}
	storagetest.MustGet(t, s, "k", "w")
}

// CacheSize bounds the cache; a negative one turns it off, and no
// tracking connection is opened.
func TestCacheSize(t *testing.T) {
	url := testenv.ServerURL(t, "REDIS_URL", "Redis")
	prefix := "fiberlogto-test:" + storagetest.RandomHex(t) + ":"
	small, err := New(Config{URL: url, KeyPrefix: prefix, CacheSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	defer small.Reset()
	for i := range 50 {
		k := "k" + itoa(int64(i))
		storagetest.MustSet(t, small, k, "v", time.Hour)
		storagetest.MustGet(t, small, k, "v")
		if n := small.cache.Len(); n > 10 {
			t.Fatalf("%d keys cached; want at most CacheSize, 10", n)
		}
	}

	off, err := New(Config{URL: url, KeyPrefix: prefix, CacheSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	countCommands(off)
	if off.cache != nil || off.tracker != nil {
		t.Fatal("CacheSize -1: want no cache and no tracking connection")
	}
	storagetest.MustGet(t, off, "k1", "v")
	before := serverCalls(off)
	storagetest.MustGet(t, off, "k1", "v")
	if serverCalls(off) == before {
		t.Fatal("CacheSize -1: a read was served without the server")
	}

	d, err := New(Config{URL: url, KeyPrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.cache == nil || DefaultCacheSize != 10000 {
		t.Fatal("the default cache is on, 10000 keys")
	}
}

// A value is cached no longer than its key lives: a key expiring in Redis
// is gone from the cache too, at once, not when the server gets round to
// expiring it.
func TestCacheKeepsTTL(t *testing.T) {
	s := redisTestStorage(t)(t)
	storagetest.MustSet(t, s, "k", "v", 300*time.Millisecond)
	readUntilCached(t, s, "k", "v")
	time.Sleep(320 * time.Millisecond)
	if v, ok := s.cache.Get("k"); ok {
		t.Fatalf("cached %q past its TTL", v)
	}
	storagetest.MustGet(t, s, "k", "")
}

// A server without client tracking (the fake: no HELLO 3) is read from
// every time, and the storage works.
func TestNoTracking(t *testing.T) {
	addr := fakeRedis(t, "")
	s, err := New(Config{URL: "redis://" + addr + "/0", CommandTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.cache.Live() {
		t.Fatal("caching on a server that cannot track")
	}
	if err := s.Set("k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Close took %v while the tracker waited to retry", d)
	}
}

// readUntilCached and settle are storagetest's, on s's cache.
func readUntilCached(t *testing.T, s *Storage, key, want string) {
	t.Helper()
	storagetest.ReadUntilCached(t, s, inCache(s), key, want)
}

func settle(t *testing.T, s *Storage, key, want string) {
	t.Helper()
	storagetest.Settle(t, s, inCache(s), key, want)
}

func inCache(s *Storage) func(string) bool {
	return func(key string) bool { _, ok := s.cache.Get(key); return ok }
}
