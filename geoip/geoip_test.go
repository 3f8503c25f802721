package geoip_test

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/geoip"
	"github.com/tessera-auth/tessera/geoip/geoiptest"
	"github.com/tessera-auth/tessera/internal/clocktest"
)

var entries = []geoiptest.Entry{
	{Prefix: netip.MustParsePrefix("81.2.69.0/24"), Lat: 51.5142, Lon: -0.0931, AccuracyKM: 20, Country: "GB"},
	{Prefix: netip.MustParsePrefix("2a02:d200::/29"), Lat: 60.1708, Lon: 24.9375, AccuracyKM: 100, Country: "FI"},
	{Prefix: netip.MustParsePrefix("89.160.20.0/24"), Lat: 58.4167, Lon: 15.6167, Country: "SE"},   // no accuracy radius
	{Prefix: netip.MustParsePrefix("67.43.156.0/24"), Country: "BT", NoLocation: true},             // country only
	{Prefix: netip.MustParsePrefix("10.0.0.0/8"), Lat: 1, Lon: 2, AccuracyKM: 1, Country: "ZZ"},    // private: never placed
	{Prefix: netip.MustParsePrefix("100.64.0.0/10"), Lat: 1, Lon: 2, AccuracyKM: 1, Country: "ZZ"}, // CGNAT
	{Prefix: netip.MustParsePrefix("127.0.0.0/8"), Lat: 1, Lon: 2, AccuracyKM: 1, Country: "ZZ"},
	{Prefix: netip.MustParsePrefix("fc00::/7"), Lat: 1, Lon: 2, AccuracyKM: 1, Country: "ZZ"},
	{Prefix: netip.MustParsePrefix("fe80::/10"), Lat: 1, Lon: 2, AccuracyKM: 1, Country: "ZZ"},
}

func TestLookup(t *testing.T) {
	db := geoiptest.Open(t, entries...)
	for _, tc := range []struct {
		ip   string
		want geoip.Location
		ok   bool
	}{
		{"81.2.69.160", geoip.Location{Lat: 51.5142, Lon: -0.0931, AccuracyKM: 20, Country: "GB"}, true},
		{"::ffff:81.2.69.160", geoip.Location{Lat: 51.5142, Lon: -0.0931, AccuracyKM: 20, Country: "GB"}, true},
		{"2a02:d200::1", geoip.Location{Lat: 60.1708, Lon: 24.9375, AccuracyKM: 100, Country: "FI"}, true},
		{"2a02:d207:ffff::1", geoip.Location{Lat: 60.1708, Lon: 24.9375, AccuracyKM: 100, Country: "FI"}, true},
		{"89.160.20.112", geoip.Location{Lat: 58.4167, Lon: 15.6167, Country: "SE"}, true},
		{"81.2.70.1", geoip.Location{}, false},    // not in the database
		{"2a02:d208::1", geoip.Location{}, false}, // just past the /29
		{"67.43.156.1", geoip.Location{}, false},  // country without coordinates
		{"10.1.2.3", geoip.Location{}, false},     // private, though the file has it
		{"100.64.1.1", geoip.Location{}, false},   // shared address space
		{"127.0.0.1", geoip.Location{}, false},    // loopback
		{"::ffff:10.1.2.3", geoip.Location{}, false},
		{"fd00::1", geoip.Location{}, false}, // unique local
		{"fe80::1", geoip.Location{}, false}, // link-local
		{"::", geoip.Location{}, false},
	} {
		got, ok := db.Lookup(netip.MustParseAddr(tc.ip))
		if ok != tc.ok || got != tc.want {
			t.Errorf("Lookup(%s) = %+v, %v; want %+v, %v", tc.ip, got, ok, tc.want, tc.ok)
		}
	}
	if _, ok := db.Lookup(netip.Addr{}); ok {
		t.Error("the zero Addr was placed")
	}
}

func TestOpenRefuses(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := geoiptest.Bytes(t, entries...)
	for name, path := range map[string]string{
		"missing":   filepath.Join(dir, "nope.mmdb"),
		"empty":     write("empty", nil),
		"text":      write("text", []byte("GeoIP2-City\n81.2.69.0/24,GB\n")),
		"truncated": write("truncated", good[:len(good)/3]),
	} {
		if db, err := geoip.Open(path); err == nil {
			db.Close()
			t.Errorf("%s: Open succeeded", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	// A Country-like database: records, none with coordinates.
	country := write("country.mmdb", geoiptest.Bytes(t,
		geoiptest.Entry{Prefix: netip.MustParsePrefix("81.2.69.0/24"), Country: "GB", NoLocation: true}))
	if _, err := geoip.Open(country); !errors.Is(err, geoip.ErrNoLocation) {
		t.Errorf("Open(country database) = %v, want ErrNoLocation", err)
	}
}

func TestReloadWhenChanged(t *testing.T) {
	clock := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	path := geoiptest.Write(t, entries...)
	db, err := geoip.Open(path, geoip.WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	paris := netip.MustParseAddr("2.2.2.2")
	if _, ok := db.Lookup(paris); ok {
		t.Fatal("placed before the new file")
	}
	// The new file is renamed over the old one, as geoipupdate does.
	next := append(entries[:1:1], geoiptest.Entry{Prefix: netip.MustParsePrefix("2.2.2.0/24"), Lat: 48.86, Lon: 2.35, AccuracyKM: 50, Country: "FR"})
	tmp := filepath.Join(filepath.Dir(path), "new.mmdb")
	if err := os.WriteFile(tmp, geoiptest.Bytes(t, next...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	if _, ok := db.Lookup(paris); ok {
		t.Fatal("the file was read again before CheckEvery passed")
	}
	clock.Add(geoip.CheckEvery)
	if got, ok := db.Lookup(paris); !ok || got.Country != "FR" {
		t.Fatalf("after CheckEvery: Lookup = %+v, %v; want FR", got, ok)
	}

	// A broken file is refused and the loaded database stays.
	if err := os.WriteFile(path, []byte("half a download"), 0o600); err != nil {
		t.Fatal(err)
	}
	clock.Add(geoip.CheckEvery)
	if got, ok := db.Lookup(paris); !ok || got.Country != "FR" {
		t.Fatalf("after a broken file: Lookup = %+v, %v; want FR still", got, ok)
	}
	if err := db.Reload(); err == nil {
		t.Error("Reload of a broken file succeeded")
	}

	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := db.Lookup(paris); ok {
		t.Error("placed after Close")
	}
}

// TestConcurrentLookupAndReload is for the race detector.
func TestConcurrentLookupAndReload(t *testing.T) {
	db := geoiptest.Open(t, entries...)
	ip := netip.MustParseAddr("81.2.69.160")
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				if _, ok := db.Lookup(ip); !ok {
					t.Error("miss during reload")
					return
				}
			}
		})
	}
	for range 5 {
		if err := db.Reload(); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
}

func BenchmarkLookup(b *testing.B) {
	db := geoiptest.Open(b, entries...)
	v4, v6 := netip.MustParseAddr("81.2.69.160"), netip.MustParseAddr("2a02:d200::1")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ip := v4
		if i%2 == 1 {
			ip = v6
		}
		if _, ok := db.Lookup(ip); !ok {
			b.Fatal("miss")
		}
	}
}

// FuzzOpen feeds arbitrary bytes as the database file: the operator's file
// is trusted, but a damaged one must be an error or misses, never a panic
// that takes the server down.
func FuzzOpen(f *testing.F) {
	good := geoiptest.Bytes(f, entries...)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte("\xab\xcd\xefMaxMind.com"))
	dir := f.TempDir()
	ips := []netip.Addr{netip.MustParseAddr("81.2.69.160"), netip.MustParseAddr("2a02:d200::1"), netip.MustParseAddr("8.8.8.8")}
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(dir, "fuzz.mmdb")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		db, err := geoip.Open(path)
		if err != nil {
			return
		}
		for _, ip := range ips {
			db.Lookup(ip)
		}
		db.Close()
	})
}
