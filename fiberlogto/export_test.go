package fiberlogto

import (
	"github.com/fiberlogto/sdk/internal/engine"
	"github.com/fiberlogto/sdk/logto"
)

// StorageKeyForTest exposes the storage key of a session ID to the external
// tests, which look into storage to assert that a session is gone.
func StorageKeyForTest(id string) string { return engine.SessionStorageKey(id) }

// RefreshTokenForTest reads the refresh token of a stored, unencrypted session.
func RefreshTokenForTest(s engine.Getter, id string) string { return engine.StoredRefreshToken(s, id) }

// AccessTokenForTest reads a stored access token ("" is Logto's opaque one).
func AccessTokenForTest(s engine.Getter, id, key string) string {
	return engine.StoredAccessToken(s, id, key)
}

// ClaimKeyForTest exposes the storage key of a callback's claim on its
// state, written once the callback is under way.
func ClaimKeyForTest(state string) string { return engine.ClaimStorageKey(state) }

// Storage key prefixes, for tests that watch what is written.
const (
	SessionKeyPrefixForTest = engine.SessionKeyPrefix
	ClaimKeyPrefixForTest   = engine.ClaimKeyPrefix
)

// SignInRecorderForTest is one instance's callback write path on store: it
// saves a session of sub under a new ID and indexes it, as the callback does.
func SignInRecorderForTest(store logto.Storage) func(sub string) (string, error) {
	return engine.SignInRecorder(store)
}

// IndexedForTest lists the session storage keys indexed for sub.
func IndexedForTest(store engine.Getter, sub string) []string {
	return engine.IndexedSessions(store, sub)
}
