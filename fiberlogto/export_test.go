package fiberlogto

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

// StorageKeyForTest exposes the storage key of a session ID to the external
// tests, which look into storage to assert that a session is gone.
func StorageKeyForTest(id string) string { return storageKey(sessionKeyPrefix, id) }

type getter interface{ Get(string) ([]byte, error) }

func recordForTest(s getter, id string) *sessionRecord {
	raw, err := s.Get(StorageKeyForTest(id))
	if err != nil || len(raw) == 0 {
		return nil
	}
	rec, err := decodeRecord(raw)
	if err != nil {
		return nil
	}
	return rec
}

// RefreshTokenForTest reads the refresh token of a stored, unencrypted session.
func RefreshTokenForTest(s getter, id string) string {
	if rec := recordForTest(s, id); rec != nil {
		return string(rec.RefreshToken)
	}
	return ""
}

// AccessTokenForTest reads a stored access token ("" is Logto's opaque one).
func AccessTokenForTest(s getter, id, key string) string {
	if rec := recordForTest(s, id); rec != nil {
		if e := rec.accessToken(key); e != nil {
			return string(e.Token)
		}
	}
	return ""
}

// ClaimKeyForTest exposes the storage key of a callback's claim on its
// state, written once the callback is under way.
func ClaimKeyForTest(state string) string { return storageKey(claimKeyPrefix, state) }

// Storage key prefixes, for tests that watch what is written.
const (
	SessionKeyPrefixForTest = sessionKeyPrefix
	ClaimKeyPrefixForTest   = claimKeyPrefix
)

// SignInRecorderForTest is one instance's callback write path on store: it
// saves a session of sub under a new ID and indexes it, as the callback does.
func SignInRecorderForTest(store fiber.Storage) func(sub string) (string, error) {
	cfg := &Config{Storage: store, IdleTimeout: time.Hour, AbsoluteTimeout: time.Hour, Now: time.Now}
	s, err := newSessionStore(cfg)
	if err != nil {
		panic(err)
	}
	return func(sub string) (string, error) {
		id := newID()
		rec := &sessionRecord{CreatedAt: time.Now().Unix(), Subject: []byte(sub)}
		if err := s.save(id, rec); err != nil {
			return "", err
		}
		return id, s.index(id, rec)
	}
}

// IndexedForTest lists the session storage keys indexed for sub.
func IndexedForTest(store fiber.Storage, sub string) []string {
	raw, err := store.Get(storageKey(subIndexPrefix, sub))
	if err != nil || len(raw) == 0 {
		return nil
	}
	return strings.Split(string(raw), "\n")
}
