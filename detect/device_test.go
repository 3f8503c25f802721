package detect_test

import (
	"net/netip"
	"testing"

	"github.com/tessera-auth/tessera/detect"
)

func TestDevice(t *testing.T) {
	for ua, want := range map[string]string{
		chromeWin:    "chrome/windows",
		chromeWinNew: "chrome/windows",
		firefoxLinux: "firefox/linux",
		safariPhone:  "safari/ios",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15":                          "safari/macos",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0":                  "edge/windows",
		"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36":                                "chrome/android",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1": "chrome/ios",
		"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36":                                 "chrome/chromeos",
		"curl/8.5.0":                   "curl/other",
		"okhttp/4.12.0":                "okhttp/other",
		"MyApp/2.1 (iPhone; iOS 17.1)": "myapp/ios",
		"python-requests/2.32.3":       "python-requests/other",
		"":                             "",
	} {
		if got := detect.Device(ua); got != want {
			t.Errorf("Device(%.60q) = %q, want %q", ua, got, want)
		}
	}
}

func TestNetwork(t *testing.T) {
	for in, want := range map[string]string{
		"198.51.100.7":          "198.51.100.0/24",
		"::ffff:198.51.100.7":   "198.51.100.0/24",
		"2001:db8:1234:5678::1": "2001:db8:1234::/48",
	} {
		if got := detect.Network(netip.MustParseAddr(in), 24, 48); got.String() != want {
			t.Errorf("Network(%s) = %s, want %s", in, got, want)
		}
	}
	if detect.Network(netip.Addr{}, 24, 48).IsValid() {
		t.Error("the zero address has a network")
	}
}
