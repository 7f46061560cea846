package readcache

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func mustGet(t *testing.T, c *Cache, key, want string, wantOK bool) {
	t.Helper()
	v, ok := c.Get(key)
	if ok != wantOK || string(v) != want {
		t.Fatalf("Get(%s) = %q, %v; want %q, %v", key, v, ok, want, wantOK)
	}
}

// read is a read of key from the server that returned val.
func read(c *Cache, key, val string) {
	t, ok := c.Begin(key)
	if !ok {
		return
	}
	var v []byte
	if val != "" {
		v = []byte(val)
	}
	c.End(key, t, v, 0, true)
}

func TestOffAndNotLive(t *testing.T) {
	var off *Cache
	read(off, "k", "v")
	off.Invalidate("k")
	off.Flush()
	off.SetLive(true)
	mustGet(t, off, "k", "", false)
	if off.Live() || off.Len() != 0 || New(0) != nil || New(-1) != nil {
		t.Fatal("a nil cache is off")
	}

	c := New(10)
	if _, ok := c.Begin("k"); ok {
		t.Fatal("Begin before SetLive(true): want no caching")
	}
	c.SetLive(true)
	read(c, "k", "v")
	read(c, "missing", "")
	mustGet(t, c, "k", "v", true)
	mustGet(t, c, "missing", "", true) // known missing
	c.SetLive(false)
	mustGet(t, c, "k", "", false)
	read(c, "k", "v")
	mustGet(t, c, "k", "", false)
}

// A key invalidated, or the channel lost (even if back since), while a read
// of it was under way: the read is not cached. Other keys' reads are.
func TestReadUnderWay(t *testing.T) {
	c := New(10)
	c.SetLive(true)

	t1, _ := c.Begin("k")
	t2, _ := c.Begin("other")
	c.Invalidate("k")
	c.End("k", t1, []byte("old"), 0, true)
	c.End("other", t2, []byte("o"), 0, true)
	mustGet(t, c, "k", "", false)
	mustGet(t, c, "other", "o", true)

	// Two reads of one key: the one begun after the invalidation is cached.
	t1, _ = c.Begin("k")
	c.Invalidate("k")
	t2, _ = c.Begin("k")
	c.End("k", t2, []byte("new"), 0, true)
	c.End("k", t1, []byte("old"), 0, true)
	mustGet(t, c, "k", "new", true)
	if len(c.flights) != 0 {
		t.Fatalf("%d flights left", len(c.flights))
	}

	for name, lose := range map[string]func(){
		"Flush":        c.Flush,
		"down and up":  func() { c.SetLive(false); c.SetLive(true) },
		"down for now": func() { c.SetLive(false) },
	} {
		c.SetLive(true)
		tk, _ := c.Begin("k")
		lose()
		c.End("k", tk, []byte("old"), 0, true)
		if _, ok := c.Get("k"); ok {
			t.Fatalf("%s while a read was under way: the read was cached", name)
		}
	}

	// A failed read caches nothing.
	c.SetLive(true)
	tk, _ := c.Begin("k")
	c.End("k", tk, []byte("x"), 0, false)
	mustGet(t, c, "k", "", false)
}

func TestExpiry(t *testing.T) {
	c := New(10)
	c.SetLive(true)
	tk, _ := c.Begin("k")
	c.End("k", tk, []byte("v"), time.Now().Add(50*time.Millisecond).UnixNano(), true)
	mustGet(t, c, "k", "v", true)
	time.Sleep(60 * time.Millisecond)
	mustGet(t, c, "k", "", false)
	tk, _ = c.Begin("past")
	c.End("past", tk, []byte("v"), time.Now().Add(-time.Second).UnixNano(), true)
	if c.Len() != 1 {
		t.Fatalf("Len = %d; want 1 (an expired read is not cached)", c.Len())
	}
}

func TestBounded(t *testing.T) {
	c := New(100)
	c.SetLive(true)
	for i := range 1000 {
		read(c, fmt.Sprint(i), "v")
		if c.Len() > 100 {
			t.Fatalf("Len = %d after %d reads; want at most 100", c.Len(), i+1)
		}
	}
	read(c, "last", "v")
	mustGet(t, c, "last", "v", true) // the newest read is kept
	// An expired entry goes first.
	c = New(2)
	c.SetLive(true)
	tk, _ := c.Begin("old")
	c.End("old", tk, []byte("v"), time.Now().Add(10*time.Millisecond).UnixNano(), true)
	read(c, "kept", "v")
	time.Sleep(20 * time.Millisecond)
	read(c, "new", "v")
	mustGet(t, c, "kept", "v", true)
	mustGet(t, c, "new", "v", true)
}

func TestConcurrent(t *testing.T) {
	c := New(50)
	c.SetLive(true)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				k := fmt.Sprint(i % 80)
				switch (w + i) % 7 {
				case 0:
					c.Invalidate(k)
				case 1:
					if i%100 == 1 {
						c.Flush()
					}
				default:
					if _, ok := c.Get(k); !ok {
						read(c, k, "v")
					}
				}
			}
		})
	}
	wg.Wait()
	if c.Len() > 50 || len(c.flights) != 0 {
		t.Fatalf("Len %d, flights %d; want at most 50 and none", c.Len(), len(c.flights))
	}
}
