package engine

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Request is what the engine's operations read of an HTTP request. An
// adapter implements it over its framework's request; the engine never
// sees the framework.
type Request interface {
	// Method is the request method.
	Method() string
	// Host is the host the client asked for (the Host header, r.Host).
	Host() string
	// OriginalURL is the request's path and query, as the client sent them.
	OriginalURL() string
	// Query returns a query parameter ("" when absent): its first value.
	Query(key string) string
	// QueryCount returns how many times the query holds key.
	QueryCount(key string) int
	// Cookie returns a cookie's value ("" when absent).
	Cookie(name string) string
	// Header returns a request header ("" when absent).
	Header(name string) string
	// FormValue returns a field of a url-encoded POST body of at most
	// MaxFormBytes: its first value.
	FormValue(key string) string
	// FormCount returns how many times that body holds key.
	FormCount(key string) int
}

// MaxFormBytes bounds the url-encoded body of the one route that reads one
// (the back-channel logout: a logout token is about 1 KiB). The net/http
// adapter reads no more (http.MaxBytesReader); Fiber reads the body within
// its own BodyLimit, and the engine refuses a logout token over
// maxLogoutTokenLen.
const MaxFormBytes = 64 << 10

// Answer is what an operation asks the adapter to answer: headers and
// cookies first, then either Err through the app's error handler, a
// redirect to Location, or Status with Body. Cookies are complete: the
// engine has set every attribute (HttpOnly, SameSite, Secure, Path,
// Domain, Max-Age); the adapter writes them as they are.
type Answer struct {
	Status   int
	Location string
	Headers  []Header
	Cookies  []*http.Cookie
	// Body is sent with ContentType when no redirect or error is set.
	Body        []byte
	ContentType string
	// Err, when set, is rendered by the app's error handler; it wraps one
	// of logto's sentinel errors.
	Err error
}

// Header is a response header to set.
type Header struct{ Name, Value string }

func (a *Answer) header(name, value string) { a.Headers = append(a.Headers, Header{name, value}) }

// redirect answers 302 to location.
func (a *Answer) redirect(location string) *Answer {
	a.Status, a.Location = 302, location
	return a
}

// fail answers err through the error handler.
func (a *Answer) fail(err error) *Answer {
	a.Err = err
	return a
}

// cookie is a cookie of ours, or one that clears it when maxAge < 0: always
// HttpOnly and SameSite=Lax (Lax, not Strict: the callback arrives as a
// cross-site navigation from Logto), Secure when the app is served over
// https, on CookieDomain.
func (cfg *settings) cookie(name, value, path string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: name, Value: value, Path: path, Domain: cfg.CookieDomain, MaxAge: maxAge,
		Secure: cfg.secureCookies(), HttpOnly: true, SameSite: http.SameSiteLaxMode,
	}
}

// setCookie sends a cookie of ours for maxAge.
func (cfg *settings) setCookie(a *Answer, name, value, path string, maxAge time.Duration) {
	a.Cookies = append(a.Cookies, cfg.cookie(name, value, path, int(maxAge/time.Second)))
}

// clearCookie expires a cookie of ours in the browser.
func (cfg *settings) clearCookie(a *Answer, name, path string) {
	a.Cookies = append(a.Cookies, cfg.cookie(name, "", path, -1))
}

// IsPageRequest tells a browser navigation (which gets redirects and HTML)
// from an API call (which gets status codes and JSON): Sec-Fetch-Mode when
// the browser sends it, else X-Requested-With, else whether Accept prefers
// text/html to application/json (as Fiber's c.Accepts decides it).
func IsPageRequest(r Request) bool {
	if mode := r.Header("Sec-Fetch-Mode"); mode != "" {
		return mode == "navigate"
	}
	if r.Header("X-Requested-With") != "" {
		return false
	}
	accept := r.Header("Accept")
	if accept == "" {
		return false
	}
	return prefersHTML(accept)
}

// prefersHTML reports whether the best media range of an Accept header
// (by quality, then specificity, then order: RFC 9110 12.5.1) that matches
// text/html or application/json matches text/html; */* does, as the first
// of the two offers.
func prefersHTML(accept string) bool {
	type mediaRange struct {
		spec        string
		q           float64
		specificity int
		params      bool
	}
	var ranges []mediaRange
	for _, part := range strings.Split(accept, ",") {
		spec, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		r := mediaRange{spec: strings.TrimSpace(spec), q: 1}
		for _, p := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			switch {
			case k == "":
			case k == "q" || k == "Q":
				if q, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && q >= 0 {
					r.q = q
				}
			default:
				r.params = true
			}
		}
		if r.q == 0 || r.spec == "" {
			continue
		}
		switch {
		case r.spec == "*/*" || r.spec == "*":
			r.specificity = 1
		case strings.HasSuffix(r.spec, "/*"):
			r.specificity = 2
		case strings.Contains(r.spec, "/"):
			r.specificity = 3
		default:
			r.specificity = 4
		}
		ranges = append(ranges, r)
	}
	sort.SliceStable(ranges, func(i, j int) bool {
		if ranges[i].q != ranges[j].q {
			return ranges[i].q > ranges[j].q
		}
		return ranges[i].specificity > ranges[j].specificity
	})
	for _, r := range ranges {
		if r.params {
			continue // our offers carry no parameters: such a range matches neither
		}
		switch r.spec {
		case "*/*", "text/html", "text/*":
			return true
		case "application/json", "application/*":
			return false
		}
	}
	return false
}

// sameSiteRequest reports whether a state-changing request comes from this
// app's own pages. Browsers send Sec-Fetch-Site; older ones Origin or
// Referer. A request with none of them (curl, a test client) is not a
// browser's cross-site request and passes.
func (e *Engine) sameSiteRequest(r Request) bool {
	switch r.Header("Sec-Fetch-Site") {
	case "same-origin", "same-site", "none":
		return true
	case "":
	default:
		return false
	}
	origin := originOf(e.cfg.BaseURL)
	if o := r.Header("Origin"); o != "" {
		return o == origin
	}
	if ref := r.Header("Referer"); ref != "" {
		return ref == origin || strings.HasPrefix(ref, origin+"/")
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
