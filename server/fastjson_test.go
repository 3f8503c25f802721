package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/accesstoken"
)

func TestAppendWhoamiMatchesEncodingJSON(t *testing.T) {
	ts := time.Date(2026, 6, 1, 8, 0, 0, 123456000, time.UTC)
	for _, r := range []whoamiResponse{
		{
			Session: sessionJSON{ID: "01a2", UserID: "u1", CreatedAt: ts, ExpiresAt: ts.Add(time.Hour), IdleExpiresAt: ts, LastSeenAt: ts, AuthTime: ts, AMR: []string{"pwd", "otp"}, AAL: 2},
			User:    userJSON{ID: "u1", Username: "alice"},
		},
		{
			Session:   sessionJSON{ID: "x\"\\\n\r\t\x01<>&\u2028\u2029é\xff", AMR: []string{}},
			User:      userJSON{Username: "日本\x7f"},
			CSRFToken: "abc_-",
		},
	} {
		want, _ := json.Marshal(r)
		got := appendWhoami(nil, &r)
		if !bytes.Equal(bytes.TrimSpace(got), want) {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
	}
}

func TestAppendIntrospectionMatchesEncodingJSON(t *testing.T) {
	for _, r := range []introspection{
		{},
		{Active: true, Scope: "read write", ClientID: "tessera", Username: "ian", TokenType: "Bearer", Exp: 1790000900, Iat: 1790000000,
			Sub: "u1", Aud: accesstoken.Audience{"https://api.example"}, Iss: "https://auth.example", Jti: "j1", Sid: "s1"},
		{Active: true, TokenType: "session", Sub: "u1", Username: "日本\x7f", Sid: "s", Exp: 1, Iat: -1, Iss: "x"},
		{Active: true, Aud: accesstoken.Audience{"a", "b<>&", ""}, Scope: "x\"\\\n\r\t\x01\u2028\u2029é\xff"},
		{Active: true, Aud: accesstoken.Audience{}},
		{Active: false, Aud: accesstoken.Audience{""}},
	} {
		var want bytes.Buffer
		json.NewEncoder(&want).Encode(r) // what writeJSON sent
		if got := appendIntrospection(nil, &r); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("\n got %s\nwant %s", got, want.Bytes())
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "\"\\", "\x00\x1f", "<script>", "\xff\xfe", "\u2028", "日本"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("appendString(%q) = %s, want %s", s, got, want)
		}
	})
}

func TestCookieValue(t *testing.T) {
	tests := []struct {
		header []string
		want   string
	}{
		{nil, ""},
		{[]string{"a=1; __Host-tessera_session=tss_x; b=2"}, "tss_x"},
		{[]string{"a=1", "__Host-tessera_session=tss_y"}, "tss_y"},
		{[]string{`__Host-tessera_session="tss_q"`}, "tss_q"},
		{[]string{"__Host-tessera_session=first; __Host-tessera_session=second"}, "first"},
		{[]string{"x__Host-tessera_session=no; __Host-tessera_sessionx=no"}, ""},
		{[]string{";;; =; __Host-tessera_session"}, ""},
	}
	for _, tt := range tests {
		h := http.Header{"Cookie": tt.header}
		if got := cookieValue(h, "__Host-tessera_session"); got != tt.want {
			t.Errorf("cookieValue(%q) = %q, want %q", tt.header, got, tt.want)
		}
	}
}
