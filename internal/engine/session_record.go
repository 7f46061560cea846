package engine

import (
	"encoding/binary"
	"errors"
)

// sessionRecord is what a signed-in session keeps in storage.
//
// It is stored in a length-prefixed binary layout rather than JSON or gob:
// a signed-in request reads the timestamps and the claims and must not pay
// for scanning the long token strings it does not use (see
// bench/RESULTS.md). Byte-slice fields alias the decoded buffer and are never
// modified in place.
type sessionRecord struct {
	CreatedAt int64 // unix seconds, start of the absolute timeout
	LastSeen  int64 // unix seconds, start of the idle timeout

	Subject []byte
	SID     []byte // Logto session ID, for back-channel logout
	Nonce   []byte // the sign-in's nonce; refreshed ID tokens may repeat it
	Claims  []byte // the verified ID token's payload, as JSON

	IDToken      []byte
	RefreshToken []byte
	Scope        []byte // granted scopes, space-separated

	// AccessTokens holds the opaque token (key "") and the tokens for
	// resources ("r:" + indicator) and organizations ("o:" + ID).
	AccessTokens []accessTokenEntry

	UserInfo   []byte // cached userinfo answer, JSON
	UserInfoAt int64  // unix seconds

	// inline holds the first access tokens, so decoding allocates nothing.
	inline [4]accessTokenEntry
}

type accessTokenEntry struct {
	Key       []byte
	Token     []byte
	Scope     []byte
	ExpiresAt int64 // unix seconds
}

const (
	recordMagic   = 0xF1
	recordVersion = 2 // 2: no write counter
)

var errCorruptRecord = errors.New("corrupt session record")

func (r *sessionRecord) accessToken(key string) *accessTokenEntry {
	for i := range r.AccessTokens {
		if string(r.AccessTokens[i].Key) == key {
			return &r.AccessTokens[i]
		}
	}
	return nil
}

func (r *sessionRecord) setAccessToken(e accessTokenEntry) {
	if cur := r.accessToken(string(e.Key)); cur != nil {
		*cur = e
		return
	}
	r.AccessTokens = append(r.AccessTokens, e)
}

// encode appends the record to dst.
func (r *sessionRecord) encode(dst []byte) []byte {
	dst = append(dst, recordMagic, recordVersion)
	dst = binary.AppendVarint(dst, r.CreatedAt)
	dst = binary.AppendVarint(dst, r.LastSeen)
	// The claims come first among the byte fields: what a signed-in request
	// reads, ahead of the long tokens.
	for _, b := range [][]byte{r.Claims, r.Subject, r.SID, r.Nonce, r.IDToken, r.RefreshToken, r.Scope, r.UserInfo} {
		dst = appendBytes(dst, b)
	}
	dst = binary.AppendVarint(dst, r.UserInfoAt)
	dst = binary.AppendUvarint(dst, uint64(len(r.AccessTokens)))
	for _, e := range r.AccessTokens {
		dst = appendBytes(dst, e.Key)
		dst = appendBytes(dst, e.Token)
		dst = appendBytes(dst, e.Scope)
		dst = binary.AppendVarint(dst, e.ExpiresAt)
	}
	return dst
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// recordReader walks an encoded record without copying.
type recordReader struct {
	b   []byte
	err error
}

func (rr *recordReader) varint() int64 {
	if rr.err != nil {
		return 0
	}
	v, n := binary.Varint(rr.b)
	if n <= 0 {
		rr.err = errCorruptRecord
		return 0
	}
	rr.b = rr.b[n:]
	return v
}

func (rr *recordReader) uvarint() uint64 {
	if rr.err != nil {
		return 0
	}
	v, n := binary.Uvarint(rr.b)
	if n <= 0 {
		rr.err = errCorruptRecord
		return 0
	}
	rr.b = rr.b[n:]
	return v
}

func (rr *recordReader) bytes() []byte {
	l := rr.uvarint()
	if rr.err != nil {
		return nil
	}
	if l > uint64(len(rr.b)) {
		rr.err = errCorruptRecord
		return nil
	}
	v := rr.b[:l:l]
	rr.b = rr.b[l:]
	if l == 0 {
		return nil
	}
	return v
}

// decodeRecord decodes b fully. A corrupt or foreign record is an error,
// which callers treat as "no session": never a panic.
func decodeRecord(b []byte) (*sessionRecord, error) {
	r := new(sessionRecord)
	if err := r.decode(b); err != nil {
		return nil, err
	}
	return r, nil
}

// decode decodes b into r. Byte fields alias b; up to len(r.inline) access
// tokens are decoded without allocating.
func (r *sessionRecord) decode(b []byte) error {
	rr, err := r.decodeHead(b)
	if err != nil {
		return err
	}
	r.Subject = rr.bytes()
	r.SID = rr.bytes()
	r.Nonce = rr.bytes()
	r.IDToken = rr.bytes()
	r.RefreshToken = rr.bytes()
	r.Scope = rr.bytes()
	r.UserInfo = rr.bytes()
	r.UserInfoAt = rr.varint()
	n := rr.uvarint()
	if rr.err == nil && n > uint64(len(rr.b)) {
		return errCorruptRecord
	}
	r.AccessTokens = r.inline[:0]
	for i := uint64(0); i < n && rr.err == nil; i++ {
		var e accessTokenEntry
		e.Key = rr.bytes()
		e.Token = rr.bytes()
		e.Scope = rr.bytes()
		e.ExpiresAt = rr.varint()
		r.AccessTokens = append(r.AccessTokens, e)
	}
	if rr.err != nil {
		return rr.err
	}
	if len(rr.b) != 0 {
		return errCorruptRecord
	}
	return nil
}

// decodeHead reads the timestamps and the claims only: all a signed-in
// request without token needs.
func (r *sessionRecord) decodeHead(b []byte) (recordReader, error) {
	if len(b) < 2 || b[0] != recordMagic || b[1] != recordVersion {
		return recordReader{}, errCorruptRecord
	}
	rr := recordReader{b: b[2:]}
	r.CreatedAt = rr.varint()
	r.LastSeen = rr.varint()
	r.Claims = rr.bytes()
	return rr, rr.err
}
