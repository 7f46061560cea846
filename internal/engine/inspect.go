package engine

import (
	"context"
	"strings"
	"time"

	"github.com/fiberlogto/sdk/logto"
)

// What follows lets the adapters' tests look into the storage from outside,
// as an operator would: where a session or a claim is stored, what a stored
// session holds. Nothing in the request path uses it.

// Storage key prefixes, for tests that watch what is written.
const (
	SessionKeyPrefix = sessionKeyPrefix
	ClaimKeyPrefix   = claimKeyPrefix
)

// SessionStorageKey is the storage key of the session of a session ID.
func SessionStorageKey(id string) string { return storageKey(sessionKeyPrefix, id) }

// ClaimStorageKey is the storage key of a callback's claim on its state.
func ClaimStorageKey(state string) string { return claimKey(state) }

// Getter reads a storage without context (every storage of this module).
type Getter interface{ Get(string) ([]byte, error) }

func storedRecord(s Getter, id string) *sessionRecord {
	raw, err := s.Get(SessionStorageKey(id))
	if err != nil || len(raw) == 0 {
		return nil
	}
	rec, err := decodeRecord(raw)
	if err != nil {
		return nil
	}
	return rec
}

// StoredRefreshToken reads the refresh token of a stored, unencrypted session.
func StoredRefreshToken(s Getter, id string) string {
	if rec := storedRecord(s, id); rec != nil {
		return string(rec.RefreshToken)
	}
	return ""
}

// StoredAccessToken reads a stored access token ("" is Logto's opaque one).
func StoredAccessToken(s Getter, id, key string) string {
	if rec := storedRecord(s, id); rec != nil {
		if t := rec.accessToken(key); t != nil {
			return string(t.Token)
		}
	}
	return ""
}

// SignInRecorder is one instance's callback write path on store: it saves
// a session of sub under a new ID and indexes it, as the callback does.
func SignInRecorder(store logto.Storage) func(sub string) (string, error) {
	s, err := newSessionStore(&settings{Config: logto.Config{Storage: store, IdleTimeout: time.Hour, AbsoluteTimeout: time.Hour}, Now: time.Now})
	if err != nil {
		panic(err)
	}
	return func(sub string) (string, error) {
		id := newID()
		rec := &sessionRecord{CreatedAt: time.Now().Unix(), Subject: []byte(sub)}
		key := storageKey(sessionKeyPrefix, id)
		if err := s.save(context.Background(), key, rec); err != nil {
			return "", err
		}
		return id, s.index(context.Background(), key, rec)
	}
}

// IndexedSessions lists the session storage keys indexed for sub.
func IndexedSessions(store Getter, sub string) []string {
	raw, err := store.Get(storageKey(subIndexPrefix, sub))
	if err != nil || len(raw) == 0 {
		return nil
	}
	return strings.Split(string(raw), "\n")
}
