//go:build integration

package integration

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// cookieJar keeps cookies the way a browser does, for every host the suite
// talks to. It exists because net/http drops Logto's cookies: _logto and
// _interaction hold raw JSON (`{"appId":"…"}`), which RFC 6265's cookie-value
// grammar does not allow, so http.ParseSetCookie refuses them and
// Response.Cookies() skips them (logto-observed.md §0.11), and a
// net/http/cookiejar client then loses the sign-in interaction. Browsers
// accept any value up to the first ';', and so does this jar.
//
// Like a browser, cookies are kept per host name, not per port: Logto's
// cookies on 127.0.0.1:<logto port> are sent to the app on
// 127.0.0.1:<app port> too, which is why fiberlogto's cookie must not be
// called _session, _interaction or _logto.
type cookieJar struct {
	mu      sync.Mutex
	cookies map[string]*jarCookie // domain + ";" + path + ";" + name
	created int                   // creation order, for the Cookie header's order
	now     func() time.Time
}

type jarCookie struct {
	Name, Value   string
	Domain, Path  string
	HostOnly      bool
	Secure        bool
	HTTPOnly      bool
	SameSite      string
	Expires       time.Time // zero: a session cookie
	CreationIndex int
}

func newCookieJar() *cookieJar {
	return &cookieJar{cookies: map[string]*jarCookie{}, now: time.Now}
}

// setFromResponse stores every Set-Cookie header of a response to u,
// deleting cookies whose Max-Age or Expires says so.
func (j *cookieJar) setFromResponse(u *url.URL, h http.Header) {
	for _, line := range h.Values("Set-Cookie") {
		j.set(u, line)
	}
}

func (j *cookieJar) set(u *url.URL, line string) {
	c, ok := parseSetCookie(line, j.now())
	if !ok {
		return
	}
	host := strings.ToLower(u.Hostname())
	if c.Domain == "" {
		c.Domain, c.HostOnly = host, true
	} else {
		d := strings.TrimPrefix(strings.ToLower(c.Domain), ".")
		if host != d && !strings.HasSuffix(host, "."+d) {
			return // a browser ignores a Domain that does not cover the host
		}
		c.Domain = d
	}
	if c.Path == "" || !strings.HasPrefix(c.Path, "/") {
		c.Path = defaultPath(u.Path)
	}
	key := c.Domain + ";" + c.Path + ";" + c.Name
	j.mu.Lock()
	defer j.mu.Unlock()
	if !c.Expires.IsZero() && !c.Expires.After(j.now()) {
		delete(j.cookies, key)
		return
	}
	if old, ok := j.cookies[key]; ok {
		c.CreationIndex = old.CreationIndex
	} else {
		j.created++
		c.CreationIndex = j.created
	}
	j.cookies[key] = c
}

// header returns the Cookie header a browser sends to u ("" for none):
// longer paths first, then older cookies first (RFC 6265 §5.4).
func (j *cookieJar) header(u *url.URL) string {
	var out []*jarCookie
	host := strings.ToLower(u.Hostname())
	path := u.Path
	if path == "" {
		path = "/"
	}
	j.mu.Lock()
	now := j.now()
	for key, c := range j.cookies {
		if !c.Expires.IsZero() && !c.Expires.After(now) {
			delete(j.cookies, key)
			continue
		}
		if c.HostOnly && host != c.Domain {
			continue
		}
		if !c.HostOnly && host != c.Domain && !strings.HasSuffix(host, "."+c.Domain) {
			continue
		}
		if !pathMatch(path, c.Path) {
			continue
		}
		if c.Secure && u.Scheme != "https" {
			continue
		}
		out = append(out, c)
	}
	j.mu.Unlock()
	sort.Slice(out, func(a, b int) bool {
		if len(out[a].Path) != len(out[b].Path) {
			return len(out[a].Path) > len(out[b].Path)
		}
		return out[a].CreationIndex < out[b].CreationIndex
	})
	parts := make([]string, len(out))
	for i, c := range out {
		parts[i] = c.Name + "=" + c.Value
	}
	return strings.Join(parts, "; ")
}

// get returns the cookie named name that a request to u would carry.
func (j *cookieJar) get(u *url.URL, name string) (*jarCookie, bool) {
	host := strings.ToLower(u.Hostname())
	j.mu.Lock()
	defer j.mu.Unlock()
	var best *jarCookie
	for _, c := range j.cookies {
		if c.Name != name || (c.HostOnly && host != c.Domain) || !pathMatch(orSlash(u.Path), c.Path) {
			continue
		}
		if !c.Expires.IsZero() && !c.Expires.After(j.now()) {
			continue
		}
		if best == nil || len(c.Path) > len(best.Path) {
			cp := *c
			best = &cp
		}
	}
	return best, best != nil
}

func orSlash(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// parseSetCookie parses a Set-Cookie header leniently, as browsers do: the
// value is everything between the first '=' and the first ';', quotes and
// JSON included.
func parseSetCookie(line string, now time.Time) (*jarCookie, bool) {
	parts := strings.Split(line, ";")
	name, value, ok := strings.Cut(parts[0], "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return nil, false
	}
	c := &jarCookie{Name: name, Value: strings.TrimSpace(value)}
	var maxAge *int
	for _, attr := range parts[1:] {
		k, v, _ := strings.Cut(attr, "=")
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		switch k {
		case "path":
			c.Path = v
		case "domain":
			c.Domain = v
		case "secure":
			c.Secure = true
		case "httponly":
			c.HTTPOnly = true
		case "samesite":
			c.SameSite = strings.ToLower(v)
		case "max-age":
			if n, err := strconv.Atoi(v); err == nil {
				maxAge = &n
			}
		case "expires":
			if t, ok := parseCookieDate(v); ok {
				c.Expires = t
			}
		}
	}
	if maxAge != nil { // Max-Age wins over Expires
		if *maxAge <= 0 {
			c.Expires = time.Unix(1, 0)
		} else {
			c.Expires = now.Add(time.Duration(*maxAge) * time.Second)
		}
	}
	return c, true
}

func parseCookieDate(v string) (time.Time, bool) {
	for _, layout := range []string{time.RFC1123, "Mon, 02-Jan-2006 15:04:05 MST", time.RFC850, time.ANSIC, "Mon, 02 Jan 2006 15:04:05 GMT"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// defaultPath is RFC 6265 §5.1.4's default-path.
func defaultPath(p string) string {
	if p == "" || p[0] != '/' {
		return "/"
	}
	i := strings.LastIndex(p, "/")
	if i == 0 {
		return "/"
	}
	return p[:i]
}

// pathMatch is RFC 6265 §5.1.4's path-match.
func pathMatch(reqPath, cookiePath string) bool {
	if reqPath == cookiePath {
		return true
	}
	if strings.HasPrefix(reqPath, cookiePath) {
		return strings.HasSuffix(cookiePath, "/") || reqPath[len(cookiePath)] == '/'
	}
	return false
}

// TestCookieJar pins the browser behaviour the suite relies on, the raw-JSON
// cookies net/http drops first.
func TestCookieJar(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	j := newCookieJar()
	j.now = func() time.Time { return now }
	logto, _ := url.Parse("http://127.0.0.1:3001/oidc/auth")
	app, _ := url.Parse("http://127.0.0.1:3000/user")
	h := http.Header{}
	h.Add("Set-Cookie", `_logto={"appId":"app"}; path=/; samesite=lax`)
	h.Add("Set-Cookie", `_interaction={"app":"uid1","_legacy":"uid1"}; path=/; expires=Thu, 26 Nov 2026 13:00:00 GMT; samesite=lax; httponly`)
	h.Add("Set-Cookie", `_interaction_resume=uid1; path=/oidc/auth/uid1; samesite=lax; httponly`)
	if _, err := http.ParseSetCookie(h.Values("Set-Cookie")[0]); err == nil {
		t.Log("note: net/http now accepts raw JSON cookie values")
	}
	j.setFromResponse(logto, h)

	if got := j.header(logto); got != `_logto={"appId":"app"}; _interaction={"app":"uid1","_legacy":"uid1"}` {
		t.Errorf("Cookie for /oidc/auth: %s", got)
	}
	resume, _ := url.Parse("http://127.0.0.1:3001/oidc/auth/uid1")
	if got := j.header(resume); !strings.HasPrefix(got, "_interaction_resume=uid1; ") {
		t.Errorf("Cookie for /oidc/auth/uid1: longest path first, got %s", got)
	}
	// Host-only cookies go to every port of the host, as in browsers.
	if got := j.header(app); !strings.Contains(got, "_logto=") {
		t.Errorf("Cookie for another port of the host: %s", got)
	}
	other, _ := url.Parse("http://localhost:3001/")
	if got := j.header(other); got != "" {
		t.Errorf("Cookie for another host name: %s", got)
	}
	// Expiry in the past, or Max-Age=0, deletes.
	del := http.Header{}
	del.Add("Set-Cookie", `_logto=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT`)
	del.Add("Set-Cookie", `_interaction=; path=/; max-age=0`)
	j.setFromResponse(logto, del)
	if got := j.header(logto); got != "" {
		t.Errorf("after deletion: %s", got)
	}
	// Expiry passes.
	now = now.Add(2 * time.Hour)
	if got := j.header(resume); got != "_interaction_resume=uid1" {
		t.Errorf("session cookie after 2 h: %s", got)
	}
}
