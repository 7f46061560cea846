package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fiberlogto/sdk/logtotest"

	"github.com/fiberlogto/sdk/logto"
)

// bearerEngine is an API-only engine (Endpoint alone) on a logtotest
// provider.
func bearerEngine(tb testing.TB) (*Engine, *logtotest.Provider) {
	tb.Helper()
	p := logtotest.NewServer(tb, logtotest.Options{})
	e, err := newForTest(testConfig{Endpoint: p.URL})
	if err != nil {
		tb.Fatal(err)
	}
	return e, p
}

func mustPolicy(tb testing.TB, opts logto.AccessTokenOptions) *AccessTokenPolicy {
	tb.Helper()
	p, err := NewAccessTokenPolicy(opts)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// mustToken is a minted token; minting fails only on a broken provider.
func mustToken(tok string, err error) string {
	if err != nil {
		panic(err)
	}
	return tok
}

// TestAPIOnlyConfig: an API that only takes access tokens configures the
// endpoint alone; sign-in needs all of AppID, AppSecret and BaseURL.
func TestAPIOnlyConfig(t *testing.T) {
	e, err := newForTest(testConfig{Endpoint: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatalf("Endpoint alone: %v", err)
	}
	if _, ok := e.Serve(context.Background(), "/logto/sign-in", fuzzRequest{}, nil); ok {
		t.Fatal("an API-only config serves the sign-in routes")
	}
	if _, err := newForTest(testConfig{Endpoint: "http://127.0.0.1:1", AppID: "app", BaseURL: "http://localhost:3000"}); !errors.Is(err, logto.ErrConfig) || !strings.Contains(err.Error(), "AppSecret") {
		t.Fatalf("AppID without AppSecret: %v", err)
	}
}

// TestAccessTokenPolicyConfig: options that cannot describe a route fail
// at setup, naming the field.
func TestAccessTokenPolicyConfig(t *testing.T) {
	for name, opts := range map[string]logto.AccessTokenOptions{
		"nothing":              {},
		"both organizations":   {Resource: "https://api.example.test", OrganizationParam: "id", OrganizationID: "o"},
		"resource not a URI":   {Resource: "api"},
		"scope with a space":   {Resource: "https://api.example.test", Scopes: []string{"read data"}},
		"scope with a quote":   {Resource: "https://api.example.test", Scopes: []string{`a"b`}},
		"callers out of range": {Resource: "https://api.example.test", Callers: 7},
	} {
		if _, err := NewAccessTokenPolicy(opts); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestAccessTokenCache: a verified token is served from the cache (the same
// claims, no verification), never at or past its exp, and no longer once
// the key that verified it has left the key set.
func TestAccessTokenCache(t *testing.T) {
	e, p := bearerEngine(t)
	policy := mustPolicy(t, logto.AccessTokenOptions{Resource: logtotest.DefaultResource, Scopes: []string{"read:data"}})
	tok := mustToken(p.MintAccessToken(logtotest.AccessToken{Audience: logtotest.DefaultResource, Subject: "u1", Scopes: []string{"read:data"}, TTL: time.Hour}))
	ctx := context.Background()
	first, refused := e.CheckAccessToken(ctx, []string{"Bearer " + tok}, "", policy)
	if refused != nil {
		t.Fatalf("valid token refused: %v", refused.Err)
	}
	second, _ := e.CheckAccessToken(ctx, []string{"bearer " + tok}, "", policy)
	if second != first {
		t.Fatal("the same token was verified again instead of coming from the cache")
	}

	// Past exp: refused though cached.
	key := e.tokens.keyOf(tok)
	d, _ := e.provider.get(ctx)
	if _, ok := e.tokens.get(key, first.Expiry, d.keys); ok {
		t.Fatal("a cached token was served at its exp")
	}

	// The verifying key leaves the key set: the entry goes.
	e.tokens.put(key, first, "thumb-of-a-gone-key", d.keys.version.Load(), 0)
	d.keys.version.Add(1)
	if _, ok := e.tokens.get(key, first.IssuedAt, d.keys); ok {
		t.Fatal("a token verified by a key no longer in the set was served from the cache")
	}
}

// TestAccessTokenCacheBounded: distinct tokens never grow the cache past its
// bounds.
func TestAccessTokenCacheBounded(t *testing.T) {
	c := newTokenCache()
	c.maxEntries, c.maxBytes = 100, 64<<10
	for i := 0; i < 10000; i++ {
		claims := &logto.AccessTokenClaims{Subject: fmt.Sprint("user-", i), Expiry: 2e9, Raw: logto.RawClaims(strings.Repeat("x", 300))}
		c.put(c.keyOf(claims.Subject), claims, "k", 0, 1e9)
		if len(c.m) > c.maxEntries || c.bytes > c.maxBytes+claimsSize(claims) {
			t.Fatalf("after %d tokens: %d entries, %d bytes", i+1, len(c.m), c.bytes)
		}
	}
}

// FuzzBearerHeader: whatever the Authorization header holds, the answer is
// a refusal (400 or 401, never 5xx, never claims), and nothing of the
// token is echoed.
func FuzzBearerHeader(f *testing.F) {
	e, p := bearerEngine(f)
	policy := mustPolicy(f, logto.AccessTokenOptions{Resource: logtotest.DefaultResource})
	valid := "Bearer " + mustToken(p.UserAccessToken(logtotest.DefaultResource, "read:data"))
	for _, s := range []string{"", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", valid, valid + "x", valid[:len(valid)-3],
		"Bearer a.b.c", "Bearer ..", "bEaReR   " + valid[7:], "Bearer <script>", strings.Repeat("A", 9000), "Bearer " + strings.Repeat("a.", 5000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		if header == valid || strings.EqualFold(strings.Fields(header + " x")[0], "bearer") && strings.TrimLeft(header[min(len(header), 6):], " ") == valid[7:] {
			return // the valid token, however the scheme is spelled
		}
		claims, a := e.CheckAccessToken(context.Background(), []string{header}, "", policy)
		if claims != nil || a == nil || a.Err == nil {
			t.Fatalf("header %q accepted", header)
		}
		status, body := rendered(a)
		if status != 400 && status != 401 {
			t.Fatalf("header %q: %d %s", header, status, body)
		}
		for _, h := range a.Headers {
			if strings.Contains(h.Value, "<") || (len(header) > 20 && strings.Contains(h.Value, header[7:min(len(header), 40)])) {
				t.Fatalf("header %q echoed in %s: %s", header, h.Name, h.Value)
			}
		}
	})
}

// BenchmarkAccessToken: a route checking a bearer token, beyond the HTTP
// parsing. "cached" is a client sending the same token again (a hash and a
// map lookup); "distinct" a stream of tokens each seen once (JWS parse, one
// ES384 verification with the key's precomputed tables, the claims).
func BenchmarkAccessToken(b *testing.B) {
	e, p := bearerEngine(b)
	policy := mustPolicy(b, logto.AccessTokenOptions{Resource: logtotest.DefaultResource, Scopes: []string{"read:data"}, Callers: logto.UsersAndMachines})
	ctx := context.Background()
	warm := []string{"Bearer " + mustToken(p.UserAccessToken(logtotest.DefaultResource, "read:data"))}
	if _, a := e.CheckAccessToken(ctx, warm, "", policy); a != nil {
		b.Fatal(a.Err)
	}
	d, _ := e.provider.get(ctx)
	for {
		d.keys.mu.Lock()
		loaded := d.keys.loaded
		d.keys.mu.Unlock()
		if loaded {
			break
		}
		time.Sleep(time.Millisecond)
	}
	p384GeneratorTable() // built in the background at the first fetch: not part of a token's cost
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, a := e.CheckAccessToken(ctx, warm, "", policy); a != nil {
				b.Fatal(a.Err)
			}
		}
	})
	b.Run("distinct", func(b *testing.B) {
		headers := make([]string, 0, 4096)
		for i := 0; i < cap(headers); i++ {
			tok := mustToken(p.MintAccessToken(logtotest.AccessToken{Audience: logtotest.DefaultResource, Subject: fmt.Sprint("user-", i), Scopes: []string{"read:data"}}))
			headers = append(headers, "Bearer "+tok)
		}
		b.ReportAllocs()
		b.ResetTimer()
		i := 0
		for b.Loop() {
			if i == len(headers) {
				b.StopTimer()
				e.tokens = newTokenCache() // each token is seen once
				i = 0
				b.StartTimer()
			}
			if _, a := e.CheckAccessToken(ctx, headers[i:i+1], "", policy); a != nil {
				b.Fatal(a.Err)
			}
			i++
		}
	})
}
