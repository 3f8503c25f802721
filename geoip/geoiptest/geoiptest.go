// Package geoiptest builds small City-format MaxMind databases for tests,
// so nothing is ever downloaded.
package geoiptest

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/tessera-auth/tessera/geoip"
)

// Entry is one network's record. The record is laid out as GeoLite2-City
// lays it out (location.latitude/longitude/accuracy_radius,
// country.iso_code).
type Entry struct {
	Prefix     netip.Prefix
	Lat, Lon   float64
	AccuracyKM int
	Country    string // omitted when ""
	NoLocation bool   // a record with the country only, no location map
}

// Bytes is a database holding entries. Reserved networks (private,
// documentation ranges) are allowed, so tests can show that Lookup refuses
// them itself.
func Bytes(tb testing.TB, entries ...Entry) []byte {
	tb.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            "Tessera-Test-City",
		RecordSize:              28,
		IncludeReservedNetworks: true,
	})
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range entries {
		rec := mmdbtype.Map{}
		if !e.NoLocation {
			loc := mmdbtype.Map{
				"latitude":  mmdbtype.Float64(e.Lat),
				"longitude": mmdbtype.Float64(e.Lon),
			}
			if e.AccuracyKM > 0 {
				loc["accuracy_radius"] = mmdbtype.Uint16(e.AccuracyKM)
			}
			rec["location"] = loc
		}
		if e.Country != "" {
			rec["country"] = mmdbtype.Map{"iso_code": mmdbtype.String(e.Country)}
		}
		p := e.Prefix.Masked()
		n := &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
		if err := tree.Insert(n, rec); err != nil {
			tb.Fatalf("geoiptest: insert %s: %v", p, err)
		}
	}
	var buf bytes.Buffer
	if _, err := tree.WriteTo(&buf); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// Write writes a database holding entries into a fresh temporary folder
// and returns its path.
func Write(tb testing.TB, entries ...Entry) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "city.mmdb")
	if err := os.WriteFile(path, Bytes(tb, entries...), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// Open is a geoip.DB over a database holding entries, closed when the test
// ends.
func Open(tb testing.TB, entries ...Entry) *geoip.DB {
	tb.Helper()
	db, err := geoip.Open(Write(tb, entries...))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}
