package fiberlogto

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// transaction is one pending sign-in: what the callback needs to finish it.
//
// Each transaction is stored under a hash of its state, so two tabs signing
// in at once each keep their own; it is bound to the browser by the sign-in
// cookie, whose hash it holds, so a callback URL carried to another browser
// fails. It expires after transactionTTL and is deleted when used.
type transaction struct {
	Binding   string `json:"b"` // base64url SHA-256 of the browser's sign-in cookie
	Nonce     string `json:"n"`
	Verifier  string `json:"v"` // PKCE code verifier
	ReturnTo  string `json:"r"` // same-site path, "" for BaseURL
	CreatedAt int64  `json:"t"`
}

const (
	transactionKeyPrefix = "fiberlogto:t:"
	// transactionLeasePrefix: the lease of the callback taking a pending sign-in.
	transactionLeasePrefix = "fiberlogto:tl:"
	transactionTTL         = 10 * time.Minute
)

func bindingOf(cookie string) string {
	sum := sha256.Sum256([]byte(cookie))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func (s *sessionStore) saveTransaction(state string, tx *transaction) error {
	raw, err := json.Marshal(tx)
	if err != nil {
		return err
	}
	if err := s.storage.Set(storageKey(transactionKeyPrefix, state), raw, transactionTTL); err != nil {
		return fmt.Errorf("%w: %v", ErrStorage, err)
	}
	return nil
}

// takeTransaction reads and deletes the transaction of state. It returns
// (nil, nil) when there is none, or it is corrupt or expired.
// takeTransaction takes the pending sign-in of state, once across
// instances too (Taker, else a lease): the same callback reaching two
// instances at once would otherwise exchange the code twice, and Logto
// revokes the grant of a reused code. The loser answers as for a replay.
func (l *Logto) takeTransaction(state string) (*transaction, error) {
	if !validID(state) {
		return nil, nil
	}
	key := storageKey(transactionKeyPrefix, state)
	var raw []byte
	var err error
	if taker, ok := l.cfg.Storage.(Taker); ok {
		raw, err = taker.Take(key)
	} else {
		raw, err = l.store.takeLeased(key, storageKey(transactionLeasePrefix, state))
	}
	if err != nil {
		if !errors.Is(err, ErrStorage) {
			err = fmt.Errorf("%w: %v", ErrStorage, err)
		}
		return nil, err
	}
	if len(raw) == 0 {
		return nil, nil
	}
	var tx transaction
	if err := json.Unmarshal(raw, &tx); err != nil {
		return nil, nil
	}
	if l.cfg.Now().Sub(time.Unix(tx.CreatedAt, 0)) > transactionTTL {
		return nil, nil
	}
	return &tx, nil
}

// takeLeased reads and deletes key under lease: with a Leaser, one instance
// at a time; with neither a Taker nor a Leaser, the callback's in-process
// lock is all there is.
func (s *sessionStore) takeLeased(key, lease string) ([]byte, error) {
	release, held, err := s.lease(lease, s.cfg.HTTPTimeout+shortLeaseTTL, 0)
	if err != nil || !held {
		return nil, err
	}
	defer release()
	raw, err := s.storage.Get(key)
	if err != nil || len(raw) == 0 {
		return nil, err
	}
	return raw, s.storage.Delete(key)
}

// boundTo reports whether the transaction was started by the browser holding
// this sign-in cookie.
func (tx *transaction) boundTo(cookie string) bool {
	if cookie == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(tx.Binding), []byte(bindingOf(cookie))) == 1
}

// safeReturnPath keeps a post-sign-in return path only when it is a path on
// this site: it starts with one "/", holds no backslash, no scheme-relative
// "//" and no control character. Anything else falls back to "" (BaseURL),
// so the sign-in route is never an open redirector.
func safeReturnPath(p string) string {
	if p == "" || len(p) > 2048 || p[0] != '/' {
		return ""
	}
	if strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\") {
		return ""
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] == 0x7f {
			return ""
		}
	}
	return p
}
