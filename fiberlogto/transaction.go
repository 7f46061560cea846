package fiberlogto

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
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
// takeTransaction takes the pending sign-in of state once across instances
// too: the same callback reaching two instances at once (a reload behind a
// load balancer) would otherwise exchange the code twice, and Logto revokes
// the grant of a reused code. The loser answers as for a replay.
func (l *Logto) takeTransaction(state string) (*transaction, error) {
	if !validID(state) {
		return nil, nil
	}
	release, held, err := l.store.lease(storageKey(transactionLeasePrefix, state), l.cfg.HTTPTimeout+shortLeaseTTL, 0)
	if err != nil {
		return nil, err
	}
	defer release()
	if !held {
		return nil, nil
	}
	return l.store.takeTransaction(state)
}

func (s *sessionStore) takeTransaction(state string) (*transaction, error) {
	if !validID(state) {
		return nil, nil
	}
	key := storageKey(transactionKeyPrefix, state)
	raw, err := s.storage.Get(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStorage, err)
	}
	if len(raw) == 0 {
		return nil, nil
	}
	if err := s.storage.Delete(key); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStorage, err)
	}
	var tx transaction
	if err := json.Unmarshal(raw, &tx); err != nil {
		return nil, nil
	}
	if s.cfg.Now().Sub(time.Unix(tx.CreatedAt, 0)) > transactionTTL {
		return nil, nil
	}
	return &tx, nil
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
