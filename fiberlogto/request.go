package fiberlogto

import (
	"net/url"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"
)

// isPageRequest tells a browser navigation (which gets redirects and HTML)
// from an API call (which gets status codes and JSON).
func isPageRequest(c *fiber.Ctx) bool {
	if mode := c.Get("Sec-Fetch-Mode"); mode != "" {
		return mode == "navigate"
	}
	if c.Get(fiber.HeaderXRequestedWith) != "" {
		return false
	}
	accept := c.Get(fiber.HeaderAccept)
	if accept == "" {
		return false
	}
	return c.Accepts(fiber.MIMETextHTML, fiber.MIMEApplicationJSON) == fiber.MIMETextHTML
}

// sameSiteRequest reports whether a state-changing request comes from this
// app's own pages. Browsers send Sec-Fetch-Site; older ones Origin or
// Referer. A request with none of them (curl, a test client) is not a
// browser's cross-site request and passes.
func (l *Logto) sameSiteRequest(c *fiber.Ctx) bool {
	switch c.Get("Sec-Fetch-Site") {
	case "same-origin", "same-site", "none":
		return true
	case "":
	default:
		return false
	}
	origin := originOf(l.cfg.BaseURL)
	if o := c.Get(fiber.HeaderOrigin); o != "" {
		return o == origin
	}
	if r := c.Get(fiber.HeaderReferer); r != "" {
		return r == origin || strings.HasPrefix(r, origin+"/")
	}
	return true
}

// originOf returns scheme://host[:port] of an absolute URL.
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// keyedMutex serialises work per key (a session or a state) inside the
// process, so one rotating refresh token is never used twice at once.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyedLock
}

type keyedLock struct {
	mu   sync.Mutex
	refs int
}

// lock locks key and returns its unlock function.
func (k *keyedMutex) lock(key string) func() {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = make(map[string]*keyedLock)
	}
	l := k.locks[key]
	if l == nil {
		l = &keyedLock{}
		k.locks[key] = l
	}
	l.refs++
	k.mu.Unlock()

	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		k.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
