package engine

import (
	"encoding/json"
	"errors"
	"html"

	"github.com/fiberlogto/sdk/logto"
)

// The sentinel errors and their statuses are logto's (logto.StatusOf):
// one table for every adapter.

// ErrHookPanicked: the sign-in hook panicked; the engine recovered it and
// the sign-in is refused (the error wraps logto.ErrSignInRefused too).
var ErrHookPanicked = errors.New("OnSignIn panicked")

// StatusOf returns the status the default error handler answers err with,
// and whether err wraps one of logto's sentinels (else 500, false: an
// adapter may know better, such as Fiber's own *fiber.Error).
func StatusOf(err error) (int, bool) {
	return logto.StatusOf(err), logto.Sentinel(err) != nil
}

// PublicMessage is the text shown to the user for err: the sentinel's own,
// never the wrapped details ("" when err wraps none).
func PublicMessage(err error) string {
	if s := logto.Sentinel(err); s != nil {
		return s.Error()
	}
	return ""
}

// ErrorAnswer is the default error handler's answer: JSON {"error": msg}
// to an API client (api), a small HTML page with the message only, escaped,
// to a browser; never cacheable.
func ErrorAnswer(status int, msg string, api bool) *Answer {
	a := &Answer{Status: status}
	a.header("Cache-Control", "no-store")
	if api {
		a.ContentType = "application/json"
		a.Body = ErrorJSON(msg)
		return a
	}
	a.ContentType = "text/html; charset=utf-8"
	a.Body = []byte(ErrorPage(msg))
	return a
}

// ErrorPage is the default error handler's page for browsers: the message
// only, escaped.
func ErrorPage(msg string) string {
	return "<!doctype html><title>" + html.EscapeString(msg) + "</title><p>" + html.EscapeString(msg) + "</p>"
}

// ErrorJSON is the default error handler's body for API clients:
// {"error": msg}, HTML-escaped as encoding/json does.
func ErrorJSON(msg string) []byte {
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	return b
}
