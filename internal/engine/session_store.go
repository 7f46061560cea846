package engine

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/fiberlogto/sdk/logto"
)

// sessionStore keeps session records in the storage (logto.Storage).
//
// The cookie holds a random session ID; storage keys are a hash of it, so a
// leaked storage dump holds no usable cookie. Records are encrypted with
// AES-GCM when Config.EncryptionKey is set, bound to their key so a record
// cannot be moved to another session.
type sessionStore struct {
	locker  // every lock and lease of the engine
	cfg     *settings
	storage logto.Storage
	aead    cipher.AEAD
}

const (
	sessionKeyPrefix = "fiberlogto:s:"
	sessionIDBytes   = 32
	// sessionIDLen is the length of a base64url-encoded session ID.
	sessionIDLen = 43
)

func newSessionStore(cfg *settings) (*sessionStore, error) {
	s := &sessionStore{cfg: cfg, storage: cfg.Storage, locker: locker{storage: cfg.Storage}}
	if len(cfg.EncryptionKey) > 0 {
		block, err := aes.NewCipher(cfg.EncryptionKey)
		if err != nil {
			return nil, fmt.Errorf("%w: EncryptionKey: %w", logto.ErrConfig, err)
		}
		s.aead, err = cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("%w: EncryptionKey: %w", logto.ErrConfig, err)
		}
	}
	return s, nil
}

// newID returns a random 256-bit identifier, base64url without padding.
func newID() string {
	var b [sessionIDBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("fiberlogto: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// validID rejects cookie values that cannot be one of our IDs before they
// reach the storage.
func validID(id string) bool {
	if len(id) != sessionIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// sessionKeyOf is the storage key of the session of id, "" when id cannot
// be one of ours. Past the cookie, the engine knows a session by this key
// only: a hash, so neither the storage nor the process's caches hold a
// usable session ID.
func sessionKeyOf(id string) string {
	if !validID(id) {
		return ""
	}
	return storageKey(sessionKeyPrefix, id)
}

// storageKey derives the storage key of an ID: prefix + base64url of its
// SHA-256. It runs on every signed-in request, so it builds the key in one
// allocation.
func storageKey(prefix, id string) string {
	var in [128]byte
	var sum [sha256.Size]byte
	if len(id) <= len(in) {
		n := copy(in[:], id)
		sum = sha256.Sum256(in[:n])
	} else {
		sum = sha256.Sum256([]byte(id))
	}
	var out [64]byte
	if len(prefix)+43 > len(out) {
		return prefix + base64.RawURLEncoding.EncodeToString(sum[:])
	}
	n := copy(out[:], prefix)
	base64.RawURLEncoding.Encode(out[n:], sum[:])
	return string(out[:n+43])
}

// getFresh reads key from the storage itself, past any read cache of the
// process (logto.FreshReader): for what is about to be decided on or
// rewritten.
func (s *sessionStore) getFresh(ctx context.Context, key string) ([]byte, error) {
	return s.locker.getFresh(ctx, key)
}

// load reads and decodes the session stored under key. A missing, corrupt or expired
// record yields (nil, nil): an unreadable session reads as no session. Only a
// failing storage is an error.
//
// It reads fresh (getFresh): every caller reads to decide or rewrite,
// mostly under the session's lease. The signed-in request's own read is
// loadInto's, through any read cache.
func (s *sessionStore) load(ctx context.Context, key string) (*sessionRecord, error) {
	rec := new(sessionRecord)
	ok, err := s.loadInto(ctx, key, rec, s.cfg.Now(), true)
	if !ok {
		return nil, err
	}
	return rec, nil
}

// loadInto is load decoding into rec, which the hot path keeps inside its
// Session to save an allocation, reading fresh or through the storage's
// read cache. It reports whether a live session was found.
func (s *sessionStore) loadInto(ctx context.Context, key string, rec *sessionRecord, now time.Time, fresh bool) (bool, error) {
	if key == "" {
		return false, nil
	}
	var raw []byte
	var err error
	if fresh {
		raw, err = s.getFresh(ctx, key)
	} else {
		raw, err = s.storage.GetWithContext(ctx, key)
	}
	if err != nil {
		return false, fmt.Errorf("%w: %w", logto.ErrStorage, err)
	}
	if !s.decodeStoredInto(key, raw, rec) {
		return false, nil
	}
	return s.aliveAt(rec, now), nil
}

// decodeStored decrypts and decodes a stored record; nil when there is none
// or it cannot be read.
func (s *sessionStore) decodeStored(key string, raw []byte) *sessionRecord {
	rec := new(sessionRecord)
	if !s.decodeStoredInto(key, raw, rec) {
		return nil
	}
	return rec
}

func (s *sessionStore) decodeStoredInto(key string, raw []byte, rec *sessionRecord) bool {
	if len(raw) == 0 {
		return false
	}
	if s.aead != nil {
		var err error
		if raw, err = s.open(key, raw); err != nil {
			return false
		}
	}
	return rec.decode(raw) == nil
}

// aliveAt enforces the absolute and idle timeouts server-side, whatever the
// storage's own expiry does.
func (s *sessionStore) aliveAt(rec *sessionRecord, at time.Time) bool {
	now := at.Unix()
	if now >= rec.CreatedAt+int64(s.cfg.AbsoluteTimeout/time.Second) {
		return false
	}
	return now < rec.LastSeen+int64(s.cfg.IdleTimeout/time.Second)
}

// needsTouch reports whether the last use is old enough to be written back.
// Writing at most every IdleTimeout/24 keeps signed-in requests read-only.
func (s *sessionStore) needsTouch(rec *sessionRecord, now time.Time) bool {
	return now.Unix()-rec.LastSeen >= int64(s.cfg.IdleTimeout/24/time.Second)
}

// save writes rec under key, with a storage expiry at the earlier of the
// idle and absolute deadlines.
func (s *sessionStore) save(ctx context.Context, key string, rec *sessionRecord) error {
	now := s.cfg.Now()
	rec.LastSeen = now.Unix()
	exp := s.cfg.IdleTimeout
	if left := time.Unix(rec.CreatedAt, 0).Add(s.cfg.AbsoluteTimeout).Sub(now); left < exp {
		exp = left
	}
	if exp <= 0 {
		return s.delete(ctx, key)
	}
	raw := rec.encode(make([]byte, 0, 2048))
	if s.aead != nil {
		raw = s.seal(key, raw)
	}
	if err := s.storage.SetWithContext(ctx, key, raw, exp); err != nil {
		return fmt.Errorf("%w: %w", logto.ErrStorage, err)
	}
	return nil
}

func (s *sessionStore) delete(ctx context.Context, key string) error {
	if key == "" {
		return nil
	}
	if err := s.storage.DeleteWithContext(ctx, key); err != nil {
		return fmt.Errorf("%w: %w", logto.ErrStorage, err)
	}
	return nil
}

func (s *sessionStore) seal(key string, plain []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("fiberlogto: crypto/rand failed: " + err.Error())
	}
	return s.aead.Seal(nonce, nonce, plain, []byte(key))
}

var errShortCiphertext = errors.New("ciphertext too short")

func (s *sessionStore) open(key string, sealed []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	if len(sealed) < ns+s.aead.Overhead() {
		return nil, errShortCiphertext
	}
	return s.aead.Open(nil, sealed[:ns], sealed[ns:], []byte(key))
}

// update re-reads the session stored under key and saves what change makes of it,
// under the session's lock: the lock a refresh holds, so a touch or a
// userinfo answer written on one instance never puts back the refresh
// token another instance has just rotated (Logto would revoke the grant at
// its next use). It returns the record as saved, or nil when the session
// is gone. When the lease is not had in time the write is skipped and the
// record returned as read: what is written here can wait for a later
// request.
func (s *sessionStore) update(ctx context.Context, key string, change func(*sessionRecord)) (*sessionRecord, error) {
	l, err := s.hold(ctx, sessionLock(key), shortLeaseTTL, shortLeaseWait, nil)
	if err != nil {
		return nil, err
	}
	defer l.release()
	rec, err := s.load(ctx, key)
	if err != nil || rec == nil || !l.held {
		return rec, err
	}
	change(rec)
	return rec, s.save(ctx, key, rec)
}
