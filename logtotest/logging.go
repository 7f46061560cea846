package logtotest

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
)

// Options.Logger gets one record per answer (logAnswer). A refusal's record
// carries, besides Logto's error and error_description, a reason in
// logtotest's words where the provider knows more than Logto says on the
// wire (which resource is unknown, which redirect_uri is not registered).

// setReason records why the request is refused, for Options.Logger.
func setReason(ctx context.Context, format string, args ...any) {
	exchangeFrom(ctx).reason = fmt.Sprintf(format, args...)
}

// answerRecorder notes the status and the start of an error body.
type answerRecorder struct {
	http.ResponseWriter
	status int
	body   []byte
}

const recordedBody = 2 << 10

func (a *answerRecorder) WriteHeader(code int) {
	if a.status == 0 {
		a.status = code
	}
	a.ResponseWriter.WriteHeader(code)
}

func (a *answerRecorder) Write(b []byte) (int, error) {
	if a.status == 0 {
		a.status = http.StatusOK
	}
	if a.status >= 400 && len(a.body) < recordedBody {
		a.body = append(a.body, b[:min(len(b), recordedBody-len(a.body))]...)
	}
	return a.ResponseWriter.Write(b)
}

// Flush passes a flush on (a token hook may stream a slow answer).
func (a *answerRecorder) Flush() {
	if a.status == 0 {
		a.status = http.StatusOK
	}
	if f, ok := a.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap is for http.ResponseController.
func (a *answerRecorder) Unwrap() http.ResponseWriter { return a.ResponseWriter }

// noteAnswer notes a refusal for SignInTo's failures and writes the
// record of the answer to Options.Logger: DEBUG for an answer that went
// well, WARN for a refusal (an error body, or a redirect carrying error),
// ERROR for a 5xx.
func (p *Provider) noteAnswer(r *http.Request, a *answerRecorder, ex *exchange) {
	status := a.status
	if status == 0 {
		status = http.StatusOK
	}
	var e struct {
		Code        string `json:"code"`
		Message     string `json:"message"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	level := slog.LevelDebug
	loc := a.Header().Get("Location")
	switch {
	case status >= 500:
		level = slog.LevelError
		_ = json.Unmarshal(a.body, &e)
	case status >= 400:
		level = slog.LevelWarn
		_ = json.Unmarshal(a.body, &e)
	case loc != "":
		if u, err := url.Parse(loc); err == nil {
			if q := callbackParams(u); q.Has("error") {
				level = slog.LevelWarn
				e.Error, e.Description = q.Get("error"), q.Get("error_description")
			}
		}
	}
	if level >= slog.LevelWarn {
		what, desc := cmp.Or(e.Error, e.Code), cmp.Or(e.Description, e.Message)
		line := fmt.Sprintf("%s %s: %d %s %q", r.Method, r.URL.Path, status, what, desc)
		if ex.reason != "" {
			line += " (" + ex.reason + ")"
		}
		p.mu.Lock()
		p.refusals = append(p.refusals, line)
		if n := len(p.refusals); n > maxRefusals {
			p.refusals = slices.Delete(p.refusals, 0, n-maxRefusals)
		}
		p.refusalCount++
		p.mu.Unlock()
	}
	if p.opts.Logger == nil {
		return
	}
	attrs := []slog.Attr{slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", status)}
	if loc != "" {
		attrs = append(attrs, slog.String("location", loc))
	}
	for _, kv := range [][2]string{{"code", e.Code}, {"message", e.Message}, {"error", e.Error},
		{"error_description", e.Description}, {"reason", ex.reason}} {
		if kv[1] != "" {
			attrs = append(attrs, slog.String(kv[0], kv[1]))
		}
	}
	msg := "logtotest: answered"
	switch level {
	case slog.LevelWarn:
		msg = "logtotest: refused"
	case slog.LevelError:
		msg = "logtotest: failed"
	}
	p.opts.Logger.LogAttrs(r.Context(), level, msg, attrs...)
}

// maxRefusals is how many refusals a provider keeps for SignInTo.
const maxRefusals = 16

// refusalsNoted is how many refusals the provider noted since the start.
func (p *Provider) refusalsNoted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refusalCount
}

// refusalsSince returns the refusals noted after the first n (the last
// maxRefusals of them at most).
func (p *Provider) refusalsSince(n int) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := min(p.refusalCount-n, len(p.refusals))
	return slices.Clone(p.refusals[len(p.refusals)-k:])
}
