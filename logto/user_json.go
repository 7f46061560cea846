package logto

import (
	"sort"
	"unicode/utf8"
)

// AppendJSON appends the user context as JSON (LogtoContext's field names)
// to dst. It writes the stored claims as they are, without the reflection
// and re-validation encoding/json does, so answering the tutorial's /user
// costs about as much as sending fixed bytes (the adapters' SendUser does
// this). json.Marshal(u) gives the same bytes, more slowly.
func (u *UserContext) AppendJSON(dst []byte) []byte {
	if !u.IsAuthenticated {
		dst = append(dst, `{"isAuthenticated":false`...)
	} else {
		dst = append(dst, `{"isAuthenticated":true`...)
	}
	if len(u.Claims) > 0 {
		dst = append(dst, `,"claims":`...)
		dst = append(dst, u.Claims...)
	}
	if len(u.UserInfo) > 0 {
		dst = append(dst, `,"userInfo":`...)
		dst = append(dst, u.UserInfo...)
	}
	if u.AccessToken != "" {
		dst = append(dst, `,"accessToken":`...)
		dst = appendJSONString(dst, u.AccessToken)
	}
	if len(u.Scopes) > 0 {
		dst = append(dst, `,"scopes":[`...)
		for i, s := range u.Scopes {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, s)
		}
		dst = append(dst, ']')
	}
	if len(u.OrganizationTokens) > 0 {
		orgs := make([]string, 0, len(u.OrganizationTokens))
		for k := range u.OrganizationTokens {
			orgs = append(orgs, k)
		}
		sort.Strings(orgs)
		dst = append(dst, `,"organizationTokens":{`...)
		for i, k := range orgs {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			dst = appendJSONString(dst, u.OrganizationTokens[k])
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// appendJSONString appends s as a JSON string, escaped as encoding/json
// does by default (HTML-safe, invalid UTF-8 replaced).
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"
