package server

import (
	"net/http"
	"testing"
)

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
