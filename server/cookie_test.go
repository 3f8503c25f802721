package server

import (
	"net/http"
	"testing"
)

func TestCookieValue(t *testing.T) {
	tests := []struct {
		header []string
		want   string
		ok     bool
	}{
		{nil, "", true},
		{[]string{"a=1; __Host-tessera_session=tss_x; b=2"}, "tss_x", true},
		{[]string{"a=1", "__Host-tessera_session=tss_y"}, "tss_y", true},
		{[]string{`__Host-tessera_session="tss_q"`}, "tss_q", true},
		// Two different session cookies are ambiguous (issue 10, L10);
		// the same one twice, or an empty one besides, is not.
		{[]string{"__Host-tessera_session=first; __Host-tessera_session=second"}, "", false},
		{[]string{"__Host-tessera_session=first", "__Host-tessera_session=second"}, "", false},
		{[]string{"__Host-tessera_session=same; __Host-tessera_session=same"}, "same", true},
		{[]string{"__Host-tessera_session=; __Host-tessera_session=tss_z"}, "tss_z", true},
		{[]string{"x__Host-tessera_session=no; __Host-tessera_sessionx=no"}, "", true},
		{[]string{";;; =; __Host-tessera_session"}, "", true},
	}
	for _, tt := range tests {
		h := http.Header{"Cookie": tt.header}
		if got, ok := cookieValue(h, "__Host-tessera_session"); got != tt.want || ok != tt.ok {
			t.Errorf("cookieValue(%q) = %q, %v, want %q, %v", tt.header, got, ok, tt.want, tt.ok)
		}
	}
}
