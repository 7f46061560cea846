package logto

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// The hand-written encoding must mean what encoding/json gives for the same
// context, byte for byte but for the stored claims, which are sent as Logto
// sent them (encoding/json would also HTML-escape <, > and & inside them).
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	cases := []*UserContext{
		{},
		{IsAuthenticated: true, Claims: RawClaims(`{"sub":"u","name":"<b>&\"x\"</b>","picture":null}`)},
		{IsAuthenticated: true, Claims: RawClaims(`{"sub":"u"}`), UserInfo: RawClaims(`{"sub":"u","organization_data":[{"id":"o"}]}`),
			AccessToken: "eyJ.a\u2028b\x01\xff", Scopes: []string{"read:data", "a\tb"},
			OrganizationTokens: map[string]string{"z": "t2", "a": "t1", "m<": "t3"}},
	}
	for i, u := range cases {
		type plain struct {
			IsAuthenticated    bool              `json:"isAuthenticated"`
			Claims             json.RawMessage   `json:"claims,omitempty"`
			UserInfo           json.RawMessage   `json:"userInfo,omitempty"`
			AccessToken        string            `json:"accessToken,omitempty"`
			Scopes             []string          `json:"scopes,omitempty"`
			OrganizationTokens map[string]string `json:"organizationTokens,omitempty"`
		}
		want, err := json.Marshal(plain{u.IsAuthenticated, json.RawMessage(u.Claims), json.RawMessage(u.UserInfo), u.AccessToken, u.Scopes, u.OrganizationTokens})
		if err != nil {
			t.Fatal(err)
		}
		got := u.AppendJSON(nil)
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("case %d: invalid JSON %s: %v", i, got, err)
		}
		_ = json.Unmarshal(want, &w)
		if !reflect.DeepEqual(g, w) {
			t.Errorf("case %d:\n got %s\nwant %s", i, got, want)
		}
		if !bytes.ContainsAny(u.Claims, "<>&") && !bytes.Equal(got, want) {
			t.Errorf("case %d bytes:\n got %s\nwant %s", i, got, want)
		}
		if viaMarshal, err := json.Marshal(u); err != nil || !json.Valid(viaMarshal) { // encoding/json path
			t.Errorf("case %d json.Marshal: %s %v", i, viaMarshal, err)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "a", "<>&", "\x00\x1f\"\\", "\u2028\u2029", "\xff\xfe", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s want %s", s, got, want)
		}
	})
}
