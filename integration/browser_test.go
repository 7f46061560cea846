//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// browser is an HTTP client that behaves as a browser does where the
// sign-in depends on it: a cookie jar shared by every host (cookiejar.go),
// redirects followed one hop at a time (so each hop can be checked), and the
// Fetch Metadata headers a browser sends (Sec-Fetch-Site, Sec-Fetch-Mode),
// which fiberlogto reads to tell pages from API calls and same-site from
// cross-site requests. Every request has a timeout.
type browser struct {
	t       *testing.T
	jar     *cookieJar
	client  *http.Client
	current *url.URL // the page on screen: the initiator of the next request
}

// page is one response, its body read (at most 1 MiB).
type page struct {
	Method string
	URL    *url.URL
	Status int
	Header http.Header
	Body   []byte
}

func newBrowser(t *testing.T) *browser {
	return &browser{
		t:   t,
		jar: newCookieJar(),
		client: &http.Client{
			Timeout:       15 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

type requestKind int

const (
	// navigation: following a link, a redirect or typing a URL.
	navigation requestKind = iota
	// fetchCall: a script's fetch() from the current page (JSON).
	fetchCall
	// formSubmit: a form on the current page posted (a navigation).
	formSubmit
)

// siteOf tells how target relates to the initiator, as Sec-Fetch-Site does.
// Ports do not make a different site: 127.0.0.1:3000 and 127.0.0.1:3001 are
// same-site.
func siteOf(initiator, target *url.URL) string {
	switch {
	case initiator == nil:
		return "none"
	case initiator.Scheme == target.Scheme && initiator.Host == target.Host:
		return "same-origin"
	case initiator.Scheme == target.Scheme && strings.EqualFold(initiator.Hostname(), target.Hostname()):
		return "same-site"
	default:
		return "cross-site"
	}
}

func origin(u *url.URL) string { return u.Scheme + "://" + u.Host }

// do sends one request and returns the response without following it.
func (b *browser) do(kind requestKind, method, rawURL string, body []byte, contentType string) *page {
	b.t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		b.t.Fatalf("bad URL %q: %v", rawURL, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("User-Agent", "fiberlogto-integration-suite")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	switch kind {
	case navigation, formSubmit:
		req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
		req.Header.Set("Sec-Fetch-Mode", "navigate")
		req.Header.Set("Sec-Fetch-Dest", "document")
	case fetchCall:
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Sec-Fetch-Mode", "cors")
		req.Header.Set("Sec-Fetch-Dest", "empty")
	}
	req.Header.Set("Sec-Fetch-Site", siteOf(b.current, u))
	if method != http.MethodGet && method != http.MethodHead && b.current != nil {
		req.Header.Set("Origin", origin(b.current))
	}
	if c := b.jar.header(u); c != "" {
		req.Header.Set("Cookie", c)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, u.Redacted(), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		b.t.Fatalf("%s %s: reading the body: %v", method, u.Redacted(), err)
	}
	b.jar.setFromResponse(u, resp.Header)
	return &page{Method: method, URL: u, Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// open is a navigation to rawURL from the current page (or typed in, when
// there is none). It does not follow redirects.
func (b *browser) open(rawURL string) *page {
	b.t.Helper()
	p := b.do(navigation, http.MethodGet, rawURL, nil, "")
	if !p.isRedirect() {
		b.current = p.URL
	}
	return p
}

// follow takes the redirect p answered, as a browser does (GET).
func (b *browser) follow(p *page) *page {
	b.t.Helper()
	loc := p.location(b.t)
	next := b.do(navigation, http.MethodGet, loc.String(), nil, "")
	if !next.isRedirect() {
		b.current = next.URL
	}
	return next
}

// fetchJSON calls a JSON API from the current page and decodes the answer
// into out (when not nil). It returns the page for status checks.
func (b *browser) fetchJSON(method, rawURL string, in, out any) *page {
	b.t.Helper()
	var body []byte
	ct := ""
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			b.t.Fatal(err)
		}
		ct = "application/json"
	}
	p := b.do(fetchCall, method, rawURL, body, ct)
	if out != nil && len(p.Body) > 0 && p.Status < 300 {
		p.decode(b.t, out)
	}
	return p
}

// submitForm posts fields to action as a form on the current page would.
func (b *browser) submitForm(action string, fields url.Values) *page {
	b.t.Helper()
	p := b.do(formSubmit, http.MethodPost, action, []byte(fields.Encode()), "application/x-www-form-urlencoded")
	if !p.isRedirect() {
		b.current = p.URL
	}
	return p
}

func (p *page) isRedirect() bool {
	return p.Status >= 300 && p.Status < 400 && p.Header.Get("Location") != ""
}

// location is the redirect target, resolved against the request URL.
func (p *page) location(t *testing.T) *url.URL {
	t.Helper()
	loc := p.Header.Get("Location")
	if !p.isRedirect() {
		t.Fatalf("%s %s: want a redirect, got %d: %s", p.Method, p.URL.Redacted(), p.Status, p.snippet())
	}
	u, err := p.URL.Parse(loc)
	if err != nil {
		t.Fatalf("%s %s: bad Location %q: %v", p.Method, p.URL.Redacted(), loc, err)
	}
	return u
}

func (p *page) decode(t *testing.T, out any) {
	t.Helper()
	if err := json.Unmarshal(p.Body, out); err != nil {
		t.Fatalf("%s %s: not JSON (%v): %s", p.Method, p.URL.Redacted(), err, p.snippet())
	}
}

// expect fails the test unless the page has the status.
func (p *page) expect(t *testing.T, status int) *page {
	t.Helper()
	if p.Status != status {
		t.Fatalf("%s %s: status %d, want %d; Location %q; body: %s", p.Method, p.URL.Redacted(), p.Status, status, p.Header.Get("Location"), p.snippet())
	}
	return p
}

func (p *page) snippet() string {
	s := strings.TrimSpace(string(p.Body))
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return s
}

// setCookie returns the raw Set-Cookie header for name in the response.
func (p *page) setCookie(name string) (string, bool) {
	for _, line := range p.Header.Values("Set-Cookie") {
		if n, _, ok := strings.Cut(line, "="); ok && strings.TrimSpace(n) == name {
			return line, true
		}
	}
	return "", false
}
