package tutorial

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// LoopbackAlias is the rule behind the apps' loopback-alias redirect: a GET
// or HEAD for this app on another loopback name (http://127.0.0.1:3000 when
// BASE_URL is http://localhost:3000, or the reverse) is sent to BASE_URL.
// Browsers keep cookies per host name, so a sign-in started on one name and
// finished on BASE_URL's would fail the check that binds it to the browser.
//
// It returns nil unless BASE_URL is on a loopback name without a path:
// behind a proxy, where Host may be anything, there is nothing to do. The
// function it returns takes the request's method, its Host header (not
// X-Forwarded-Host, which anyone can send) and its request URI (path and
// query), and returns the URL to redirect to with 302 Found, or "" to serve
// the request.
func LoopbackAlias(baseURL string) func(method, host, requestURI string) string {
	u, err := url.Parse(baseURL)
	if err != nil || !IsLoopbackHost(u.Hostname()) || strings.Trim(u.Path, "/") != "" {
		return nil
	}
	baseHost, basePort := u.Hostname(), portOf(u.Scheme, u.Port())
	return func(method, hostHeader, requestURI string) string {
		if method != http.MethodGet && method != http.MethodHead {
			return ""
		}
		host, port := splitHost(hostHeader, u.Scheme)
		if host == "" || strings.EqualFold(host, baseHost) || port != basePort || !IsLoopbackHost(host) {
			return ""
		}
		return baseURL + requestURI
	}
}

// splitHost splits a Host header into host name (without brackets) and port,
// the scheme's default port when there is none.
func splitHost(hostport, scheme string) (host, port string) {
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		return h, p
	}
	return strings.Trim(hostport, "[]"), portOf(scheme, "")
}

func portOf(scheme, port string) string {
	if port != "" {
		return port
	}
	if scheme == "https" {
		return "443"
	}
	return "80"
}
