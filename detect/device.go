package detect

import (
	"net/netip"
	"strings"
)

// Device names the kind of client behind a user agent: its browser or
// client family and its OS family, "chrome/windows", without versions,
// so a browser that updates stays the same device while a cookie
// replayed from another browser or OS does not. A client Tessera does
// not know is named by its first product token ("myapp/ios" for
// "MyApp/2.1 (iPhone; iOS 17.1)"). "" for an empty user agent (the
// device rule names a request without one "none").
//
// It is a heuristic over the User-Agent header (RFC 9110 §10.1.5); the
// order of the checks follows how browsers borrow each other's tokens
// (every Chromium browser says Chrome and Safari, Edge says Edg, Opera
// OPR).
func Device(ua string) string {
	if ua == "" {
		return ""
	}
	return family(ua) + "/" + osFamily(ua)
}

// families are checked in order; the first token found names the family.
var families = []struct{ token, name string }{
	{"Edg/", "edge"}, {"EdgA/", "edge"}, {"EdgiOS/", "edge"}, {"Edge/", "edge"},
	{"OPR/", "opera"}, {"OPiOS/", "opera"}, {"Opera", "opera"},
	{"SamsungBrowser/", "samsung"}, {"YaBrowser/", "yandex"}, {"Vivaldi/", "vivaldi"},
	{"Firefox/", "firefox"}, {"FxiOS/", "firefox"},
	{"CriOS/", "chrome"}, {"Chrome/", "chrome"}, {"Chromium/", "chrome"},
	{"Trident/", "ie"}, {"MSIE ", "ie"},
	{"Safari/", "safari"},
}

// browser reports whether dev (a Device) is a web browser's: one of the
// families above, or an unnamed engine whose first product token is
// "Mozilla" (a web view: WKWebView names no browser). Every browser
// starts its user agent so; HTTP libraries and native apps' own stacks
// ("node", "Go-http-client", "okhttp", "MyApp") do not.
func browser(dev string) bool {
	fam, _, _ := strings.Cut(dev, "/")
	if fam == "mozilla" {
		return true
	}
	for _, f := range families {
		if f.name == fam {
			return true
		}
	}
	return false
}

// desktopSite reports whether devices a and b are one browser family on a
// phone or tablet OS and its desktop namesake, which the browser's
// "request desktop site" switch (and an iPad's Safari, which says
// Macintosh unless asked for the mobile site) turns one into the other:
// iOS and macOS, Android and Linux.
func desktopSite(a, b string) bool {
	famA, osA, _ := strings.Cut(a, "/")
	famB, osB, _ := strings.Cut(b, "/")
	if famA != famB || !browser(a) {
		return false
	}
	pair := func(x, y string) bool { return osA == x && osB == y || osA == y && osB == x }
	return pair("ios", "macos") || pair("android", "linux")
}

func family(ua string) string {
	for _, f := range families {
		if strings.Contains(ua, f.token) {
			return f.name
		}
	}
	// Not a browser: the first product token (RFC 9110 §10.1.5), folded,
	// without its version: "curl/8.5.0" → "curl", "okhttp/4.12" → "okhttp".
	// Product names are short words; anything longer or stranger is
	// "other", so a credential pasted into a User-Agent never reaches an
	// alert's evidence (a Tessera token or a JWT is far longer than 24).
	p := ua
	if i := strings.IndexAny(p, "/ ;("); i >= 0 {
		p = p[:i]
	}
	if p == "" || len(p) > 24 || strings.IndexFunc(p, notProductChar) >= 0 {
		return "other"
	}
	return strings.ToLower(p)
}

func notProductChar(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_')
}

func osFamily(ua string) string {
	switch {
	case strings.Contains(ua, "iPhone"), strings.Contains(ua, "iPad"), strings.Contains(ua, "iPod"), strings.Contains(ua, "iOS"):
		return "ios"
	case strings.Contains(ua, "Android"):
		return "android"
	case strings.Contains(ua, "CrOS"):
		return "chromeos"
	case strings.Contains(ua, "Windows"):
		return "windows"
	case strings.Contains(ua, "Mac OS X"), strings.Contains(ua, "Macintosh"), strings.Contains(ua, "macOS"):
		return "macos"
	case strings.Contains(ua, "Linux"), strings.Contains(ua, "X11"):
		return "linux"
	}
	return "other"
}

// Network is the network ip belongs to: its first v4 bits for IPv4 (an
// IPv4-mapped IPv6 address counts as IPv4), v6 bits for IPv6. Invalid
// for the zero address.
func Network(ip netip.Addr, v4, v6 int) netip.Prefix {
	if !ip.IsValid() {
		return netip.Prefix{}
	}
	ip = ip.Unmap()
	bits := v6
	if ip.Is4() {
		bits = v4
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return netip.Prefix{}
	}
	return p
}
