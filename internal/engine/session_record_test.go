package engine

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/fiberlogto/sdk/storage/memory"
	"github.com/fiberlogto/sdk/storage/sqlite"

	"github.com/fiberlogto/sdk/logto"
)

func sampleRecord() *sessionRecord {
	r := &sessionRecord{
		CreatedAt:    1795719379,
		LastSeen:     1795719400,
		Subject:      []byte("4nok545k38lv"),
		SID:          []byte("nyTv8-LI3L_GSc855U9Bo"),
		Nonce:        []byte("n0nce"),
		Claims:       []byte(`{"sub":"4nok545k38lv","name":"Harness User","picture":null}`),
		IDToken:      []byte("eyJhbGciOiJFUzM4NCJ9.e30.sig"),
		RefreshToken: []byte("v2Sn20"),
		Scope:        []byte("openid profile offline_access"),
		UserInfo:     []byte(`{"sub":"4nok545k38lv"}`),
		UserInfoAt:   1795719401,
	}
	r.setAccessToken(accessTokenEntry{Token: []byte("opaque"), Scope: []byte("openid"), ExpiresAt: 1795723000})
	r.setAccessToken(accessTokenEntry{Key: []byte("r:https://api.example.test"), Token: []byte("jwt"), Scope: []byte("read:data"), ExpiresAt: 1795723001})
	return r
}

func TestRecordRoundTrip(t *testing.T) {
	r := sampleRecord()
	got, err := decodeRecord(r.encode(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got.CreatedAt != r.CreatedAt || got.LastSeen != r.LastSeen || got.UserInfoAt != r.UserInfoAt {
		t.Fatalf("numbers: %+v", got)
	}
	for i, pair := range [][2][]byte{
		{got.Subject, r.Subject}, {got.SID, r.SID}, {got.Nonce, r.Nonce}, {got.Claims, r.Claims}, {got.IDToken, r.IDToken},
		{got.RefreshToken, r.RefreshToken}, {got.Scope, r.Scope}, {got.UserInfo, r.UserInfo},
	} {
		if !bytes.Equal(pair[0], pair[1]) {
			t.Fatalf("field %d: %q != %q", i, pair[0], pair[1])
		}
	}
	e := got.accessToken("r:https://api.example.test")
	if e == nil || string(e.Token) != "jwt" || string(e.Scope) != "read:data" || e.ExpiresAt != 1795723001 {
		t.Fatalf("access token: %+v", e)
	}
	if e := got.accessToken(""); e == nil || string(e.Token) != "opaque" {
		t.Fatalf("opaque token: %+v", e)
	}
}

func TestRecordRejectsCorruption(t *testing.T) {
	enc := sampleRecord().encode(nil)
	for i := 0; i < len(enc); i++ {
		if _, err := decodeRecord(enc[:i]); err == nil {
			t.Fatalf("truncated at %d decoded without error", i)
		}
	}
	if _, err := decodeRecord(append(enc, 0)); err == nil {
		t.Fatal("trailing byte accepted")
	}
	if _, err := decodeRecord([]byte(`{"json":true}`)); err == nil {
		t.Fatal("foreign record accepted")
	}
}

// FuzzDecodeRecord: whatever the storage holds, decoding returns a record or
// an error, never a panic, and a decoded record encodes back to its input.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(sampleRecord().encode(nil))
	f.Add([]byte{recordMagic, recordVersion})
	f.Add([]byte{recordMagic, recordVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(b)
		if err != nil {
			return
		}
		if again := r.encode(nil); !bytes.Equal(again, b) {
			// Non-canonical varints may decode; re-decoding must still agree.
			r2, err := decodeRecord(again)
			if err != nil || !bytes.Equal(r2.Claims, r.Claims) || r2.CreatedAt != r.CreatedAt {
				t.Fatalf("re-encoding changed the record")
			}
		}
	})
}

func TestSafeReturnPath(t *testing.T) {
	for in, want := range map[string]string{
		"/":              "/",
		"/a/b?c=d#e":     "/a/b?c=d#e",
		"":               "",
		"//evil":         "",
		"/\\evil":        "",
		"http://evil":    "",
		"/a\r\nSet-X: y": "",
		"javascript:x":   "",
	} {
		if got := safeReturnPath(in); got != want {
			t.Errorf("safeReturnPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzSafeReturnPath: an accepted return path is always a same-origin path.
func FuzzSafeReturnPath(f *testing.F) {
	for _, s := range []string{"/", "//x", "/\\x", "/a?b", "http://x", "/%2f%2fx"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := safeReturnPath(s)
		if p == "" {
			return
		}
		if p[0] != '/' || (len(p) > 1 && (p[1] == '/' || p[1] == '\\')) {
			t.Fatalf("unsafe path accepted: %q", p)
		}
	})
}

// TestLargestValidRecordRoundTrip: whatever passes the checks fits the
// record and survives a write and a read on the shipped storages, encrypted
// or not: sub and sid at their 255-character limit, and tokens, claims and
// userinfo as large as a token or userinfo response may be (1 MiB, the cap
// oauth2 and zitadel read).
func TestLargestValidRecordRoundTrip(t *testing.T) {
	printable := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(0x21 + i%94)
		}
		return b
	}
	const mib = 1 << 20
	rec := &sessionRecord{
		CreatedAt:    time.Now().Unix(),
		Subject:      printable(maxIdentifierLen),
		SID:          printable(maxIdentifierLen),
		Nonce:        []byte(newID()),
		Claims:       append(append([]byte(`{"sub":"`), bytes.Repeat([]byte("c"), mib)...), `"}`...),
		IDToken:      printable(mib),
		RefreshToken: printable(mib),
		Scope:        printable(64 << 10),
		UserInfo:     append(append([]byte(`{"x":"`), bytes.Repeat([]byte("u"), mib)...), `"}`...),
		UserInfoAt:   time.Now().Unix(),
	}
	for i := 0; i < 8; i++ {
		rec.setAccessToken(accessTokenEntry{Key: append([]byte("r:"), printable(2048+i)...), Token: printable(mib), Scope: printable(4096), ExpiresAt: time.Now().Unix() + 3600})
	}
	sqlitePath := filepath.Join(t.TempDir(), "large.sqlite3")
	for _, key := range [][]byte{nil, bytes.Repeat([]byte("k"), 32)} {
		for name, open := range map[string]func() logto.Storage{
			"memory": func() logto.Storage { return memory.New() },
			"sqlite": func() logto.Storage {
				s, err := sqlite.New(sqlite.Config{Path: sqlitePath, CacheTTL: -1})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = s.Close() })
				return s
			},
		} {
			t.Run(fmt.Sprintf("%s encrypted=%v", name, key != nil), func(t *testing.T) {
				cfg := &settings{Config: logto.Config{Storage: open(), EncryptionKey: key, IdleTimeout: time.Hour, AbsoluteTimeout: time.Hour}, Now: time.Now}
				s, err := newSessionStore(cfg)
				if err != nil {
					t.Fatal(err)
				}
				key := storageKey(sessionKeyPrefix, newID())
				if err := s.save(context.Background(), key, rec); err != nil {
					t.Fatal(err)
				}
				got, err := s.load(context.Background(), key)
				if err != nil || got == nil {
					t.Fatalf("load = %v, %v", got, err)
				}
				if !bytes.Equal(got.encode(nil), rec.encode(nil)) { // save set rec.LastSeen
					t.Fatal("the largest valid record did not survive the round trip")
				}
			})
		}
	}
}
