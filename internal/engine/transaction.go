package engine

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fiberlogto/sdk/logto"
)

// A pending sign-in (state, nonce, PKCE verifier, return path) lives in the
// browser, sealed in the sign-in cookie, not in the session storage: a bot
// that starts sign-ins and never finishes them costs the server nothing, and
// a storage outage does not stop a sign-in from starting. The cookie is
// scoped to RoutesPrefix, so it travels with the callback only, and only
// from the browser that started the sign-in (which binds the state to it).
//
// It holds up to maxPendingSignIns transactions, so several tabs can sign in
// at once; each is found by a hash of its state and records what it was
// started for (app ID, redirect URI, issuer), so a callback reaching an app
// configured otherwise is refused before Logto is called. The cookie is
// sealed with AES-256-GCM under a key derived from AppSecret (and
// EncryptionKey when set), which every instance of the app shares.
//
// Sealing makes a transaction unreadable and unforgeable, not single-use:
// the callback claims its state in the storage (a logto.Leaser's lease, taken
// once) before the code is exchanged, so a callback reloaded onto several
// instances exchanges the code once. Logto revokes the grant of a code used
// twice. Only callbacks write that claim, and it expires with the
// transaction.
type transaction struct {
	State     [16]byte // SHA-256 of the state, truncated
	For       [16]byte // startedFor: app ID, redirect URI, issuer
	CreatedAt int64
	Nonce     string
	Verifier  string // PKCE code verifier
	ReturnTo  string // same-site path, "" for BaseURL
	MaxAge    int64  // max_age sent, seconds; 0 for none
}

const (
	transactionTTL = 10 * time.Minute
	// maxPendingSignIns bounds the transactions of one browser: the oldest
	// goes first.
	maxPendingSignIns = 4
	// maxSignInCookie bounds the sealed cookie, so the callback's request
	// headers stay well inside Fiber's default 4 KiB read buffer.
	maxSignInCookie = 2048
	// signInCookieVersion is the first byte of a sealed cookie: 2 adds
	// max_age to each transaction. A cookie of version 1 (sealed before
	// an upgrade) still opens.
	signInCookieVersion = 2
)

// signInSealer seals and opens the sign-in cookie.
type signInSealer struct {
	aead       cipher.AEAD
	startedFor [16]byte
	name       string // the cookie's name, bound into the seal
}

func newSignInSealer(cfg *settings, name string) (*signInSealer, error) {
	ikm := append([]byte(cfg.AppSecret), 0)
	ikm = append(ikm, cfg.EncryptionKey...)
	key, err := hkdf.Key(sha256.New, ikm, nil, "fiberlogto sign-in cookie v1", 32)
	if err != nil {
		return nil, fmt.Errorf("%w: sign-in cookie key: %w", logto.ErrConfig, err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: sign-in cookie key: %w", logto.ErrConfig, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("%w: sign-in cookie key: %w", logto.ErrConfig, err)
	}
	s := &signInSealer{aead: aead, name: name}
	sum := sha256.Sum256([]byte(cfg.AppID + "\x00" + cfg.redirectURI() + "\x00" + cfg.Endpoint + "/oidc"))
	copy(s.startedFor[:], sum[:])
	return s, nil
}

func stateHash(state string) (h [16]byte) {
	sum := sha256.Sum256([]byte(state))
	copy(h[:], sum[:])
	return h
}

// open reads the transactions of a sign-in cookie. A cookie that is
// missing, tampered with, or sealed under another key reads as none.
func (s *signInSealer) open(value string) []transaction {
	if value == "" || len(value) > 2*maxSignInCookie {
		return nil
	}
	sealed, err := base64.RawURLEncoding.DecodeString(value)
	ns := s.aead.NonceSize()
	if err != nil || len(sealed) < 1+ns+s.aead.Overhead() || (sealed[0] != signInCookieVersion && sealed[0] != 1) {
		return nil
	}
	plain, err := s.aead.Open(nil, sealed[1:1+ns], sealed[1+ns:], []byte(s.name))
	if err != nil {
		return nil
	}
	txs, err := decodeTransactions(plain, sealed[0])
	if err != nil {
		return nil
	}
	return txs
}

// seal encodes txs, newest last, dropping the oldest ones until the cookie
// fits maxSignInCookie; "" when none is left.
func (s *signInSealer) seal(txs []transaction) string {
	for len(txs) > 0 {
		plain := encodeTransactions(txs)
		out := make([]byte, 1+s.aead.NonceSize(), 1+s.aead.NonceSize()+len(plain)+s.aead.Overhead())
		out[0] = signInCookieVersion
		if _, err := rand.Read(out[1:]); err != nil {
			panic("fiberlogto: crypto/rand failed: " + err.Error())
		}
		out = s.aead.Seal(out, out[1:], plain, []byte(s.name))
		if v := base64.RawURLEncoding.EncodeToString(out); len(v) <= maxSignInCookie {
			return v
		}
		if len(txs) == 1 && txs[0].ReturnTo != "" {
			// One sign-in with a very long return path: it comes back to
			// BaseURL rather than not at all.
			txs = []transaction{txs[0]}
			txs[0].ReturnTo = ""
			continue
		}
		txs = txs[1:]
	}
	return ""
}

// pending returns the live transactions of a cookie, expired ones dropped.
func (s *signInSealer) pending(value string, now time.Time) []transaction {
	txs := s.open(value)
	live := txs[:0]
	for _, tx := range txs {
		if !tx.expired(now) {
			live = append(live, tx)
		}
	}
	return live
}

func (tx *transaction) expired(now time.Time) bool {
	age := now.Sub(time.Unix(tx.CreatedAt, 0))
	return age > transactionTTL || age < -time.Minute
}

// add returns txs with tx appended, keeping the newest maxPendingSignIns.
func addTransaction(txs []transaction, tx transaction) []transaction {
	txs = append(txs, tx)
	if len(txs) > maxPendingSignIns {
		txs = txs[len(txs)-maxPendingSignIns:]
	}
	return txs
}

// takeTransaction finds the transaction of state in txs and returns it with
// the others.
func takeTransaction(txs []transaction, state string) (*transaction, []transaction) {
	h := stateHash(state)
	for i := range txs {
		if txs[i].State == h {
			tx := txs[i]
			rest := append(txs[:i:i], txs[i+1:]...)
			return &tx, rest
		}
	}
	return nil, txs
}

var errCorruptTransaction = errors.New("corrupt sign-in cookie")

// encodeTransactions: per transaction, the two hashes, the creation time,
// the nonce and verifier (32 bytes each, the random bytes behind their
// base64url text) and the return path.
func encodeTransactions(txs []transaction) []byte {
	var b []byte
	for _, tx := range txs {
		b = append(b, tx.State[:]...)
		b = append(b, tx.For[:]...)
		b = binary.AppendVarint(b, tx.CreatedAt)
		b = appendBytes(b, decodeID(tx.Nonce))
		b = appendBytes(b, decodeID(tx.Verifier))
		b = appendBytes(b, []byte(tx.ReturnTo))
		b = binary.AppendVarint(b, tx.MaxAge)
	}
	return b
}

func decodeTransactions(b []byte, version byte) ([]transaction, error) {
	var txs []transaction
	rr := recordReader{b: b}
	for len(rr.b) > 0 && rr.err == nil && len(txs) < maxPendingSignIns {
		var tx transaction
		if len(rr.b) < 32 {
			return nil, errCorruptTransaction
		}
		copy(tx.State[:], rr.b[:16])
		copy(tx.For[:], rr.b[16:32])
		rr.b = rr.b[32:]
		tx.CreatedAt = rr.varint()
		tx.Nonce = base64.RawURLEncoding.EncodeToString(rr.bytes())
		tx.Verifier = base64.RawURLEncoding.EncodeToString(rr.bytes())
		tx.ReturnTo = string(rr.bytes())
		if version >= 2 {
			tx.MaxAge = rr.varint()
		}
		txs = append(txs, tx)
	}
	if rr.err != nil || len(rr.b) != 0 {
		return nil, errCorruptTransaction
	}
	return txs, nil
}

// decodeID returns the random bytes of an ID made by newID.
func decodeID(id string) []byte {
	b, _ := base64.RawURLEncoding.DecodeString(id)
	return b
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
