package engine

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/fiberlogto/sdk/logto"
)

// The engine's log records, one per event, with stable messages and
// attributes (README "In production" lists them). They never hold a token,
// a code, a secret, a cookie's value or a session ID: a session is named by
// its fingerprint, a hash of its storage key.
const (
	msgSignInStarted     = "fiberlogto: sign-in started"
	msgSignInSucceeded   = "fiberlogto: sign-in succeeded"
	msgSignInFailed      = "fiberlogto: sign-in failed"
	msgSignInRefused     = "fiberlogto: sign-in refused by OnSignIn"
	msgRefreshSucceeded  = "fiberlogto: refresh succeeded"
	msgRefreshFailed     = "fiberlogto: refresh failed"
	msgSignedOut         = "fiberlogto: signed out"
	msgBackchannel       = "fiberlogto: back-channel logout"
	msgBackchannelFailed = "fiberlogto: back-channel logout refused"
	msgRequestFailed     = "fiberlogto: request failed"
	msgStorageError      = "fiberlogto: storage error"
	msgConfigError       = "fiberlogto: configuration error"
	msgBearerRefused     = "fiberlogto: access token refused"
	msgExchangeFailed    = "fiberlogto: token exchange failed"
	msgClientRefused     = "fiberlogto: Logto refused the app's credentials: check AppID and AppSecret"
	msgProviderError     = "fiberlogto: provider error"
	msgDiscoveryFailed   = "fiberlogto: discovery failed"
	msgDiscoveryOK       = "fiberlogto: discovery succeeded"
	msgJWKSFailed        = "fiberlogto: JWKS fetch failed"
	msgJWKSOK            = "fiberlogto: JWKS fetched"
)

// failureLogInterval spaces the records of a failure that lasts (discovery,
// the JWKS): one when it starts, then at most one per interval.
const failureLogInterval = time.Minute

// defaultLogger is Config.Logger's default: slog.Default() as it is when a
// record is written, records below Warn dropped, so an app that does not
// ask hears only of what needs an operator.
func defaultLogger() *slog.Logger {
	return slog.New(warnAndAbove{})
}

type warnAndAbove struct{}

func (warnAndAbove) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && slog.Default().Handler().Enabled(ctx, l)
}
func (warnAndAbove) Handle(ctx context.Context, r slog.Record) error {
	return slog.Default().Handler().Handle(ctx, r)
}
func (h warnAndAbove) WithAttrs(as []slog.Attr) slog.Handler {
	return slog.Default().Handler().WithAttrs(as)
}
func (h warnAndAbove) WithGroup(name string) slog.Handler {
	return slog.Default().Handler().WithGroup(name)
}

// fingerprint names a session in logs: 12 characters of a hash of its
// storage key, itself a hash of the session ID. It opens nothing.
func fingerprint(key string) string {
	if key == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(key))
	return base64.RawURLEncoding.EncodeToString(sum[:9])
}

// failure is an error that says which check failed, for the log: "state",
// "iss", "token endpoint", "id_token.aud" ... and facts safe to log.
type failure struct {
	err   error
	check string
	attrs []any
}

func (f *failure) Error() string { return f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

// because tags err with the check that failed.
func because(check string, err error, attrs ...any) error {
	return &failure{err: err, check: check, attrs: attrs}
}

// checkOf returns what because recorded, or what the error's sentinel says.
func checkOf(err error) (string, []any) {
	var f *failure
	if errors.As(err, &f) {
		return f.check, f.attrs
	}
	return "", nil
}

// idTokenCheck names the ID token check zitadel's verifier failed on.
func idTokenCheck(err error) string {
	for _, c := range []struct {
		err   error
		check string
	}{
		{oidc.ErrIssuerInvalid, "id_token.iss"}, {oidc.ErrSubjectMissing, "id_token.sub"},
		{oidc.ErrAudience, "id_token.aud"}, {oidc.ErrAzpMissing, "id_token.azp"}, {oidc.ErrAzpInvalid, "id_token.azp"},
		{oidc.ErrSignatureMissing, "id_token.signature"}, {oidc.ErrSignatureMultiple, "id_token.signature"},
		{oidc.ErrSignatureUnsupportedAlg, "id_token.alg"}, {oidc.ErrSignatureInvalidPayload, "id_token.signature"},
		{oidc.ErrSignatureInvalid, "id_token.signature"}, {oidc.ErrExpired, "id_token.exp"},
		{oidc.ErrIatMissing, "id_token.iat"}, {oidc.ErrIatInFuture, "id_token.iat"}, {oidc.ErrIatToOld, "id_token.iat"},
		{oidc.ErrNonceInvalid, "id_token.nonce"}, {oidc.ErrAtHash, "id_token.at_hash"}, {oidc.ErrParse, "id_token.format"},
	} {
		if errors.Is(err, c.err) {
			return c.check
		}
	}
	return "id_token"
}

// logFailure writes the record of an operation that ended in err: storage
// and provider failures as errors (an operator's problem), the rest at
// level with msg.
//
// Discovery and JWKS failures are left to their own records (once when
// they start, at most once a minute while they last): an outage would
// otherwise write one per request.
func (e *Engine) logFailure(ctx context.Context, level slog.Level, msg string, err error, attrs ...any) {
	check, extra := checkOf(err)
	if (check == "discovery" || check == "jwks") && !errors.Is(err, logto.ErrConfig) {
		return
	}
	status, _ := StatusOf(err)
	attrs = append(attrs, "status", status)
	if check != "" {
		attrs = append(attrs, "check", check)
	}
	attrs = append(attrs, extra...)
	switch {
	case errors.Is(err, logto.ErrInvalidClient):
		e.log.ErrorContext(ctx, msgClientRefused, append(attrs, "event", msg)...)
	case errors.Is(err, logto.ErrConfig), errors.Is(err, logto.ErrTokenExchangeNotAllowed):
		e.log.ErrorContext(ctx, msgConfigError, append(attrs, "event", msg, "error", err.Error())...)
	case errors.Is(err, logto.ErrStorage):
		e.log.ErrorContext(ctx, msgStorageError, append(attrs, "event", msg, "error", err.Error())...)
	case errors.Is(err, logto.ErrProviderUnavailable), errors.Is(err, logto.ErrProviderTimeout):
		e.log.ErrorContext(ctx, msgProviderError, append(attrs, "event", msg, "error", err.Error())...)
	default:
		e.log.Log(ctx, level, msg, attrs...)
	}
}

// lastingFailure logs a failure that may last (discovery, the JWKS): once
// when it starts, then at most once per failureLogInterval, and once when
// it ends.
type lastingFailure struct {
	mu      sync.Mutex
	failing bool
	logged  time.Time
}

func (f *lastingFailure) fail(log *slog.Logger, now time.Time, msg string, attrs ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failing && now.Sub(f.logged) < failureLogInterval {
		return
	}
	f.failing, f.logged = true, now
	log.Error(msg, attrs...)
}

func (f *lastingFailure) recover(log *slog.Logger, msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failing {
		f.failing = false
		log.Info(msg)
	}
}
