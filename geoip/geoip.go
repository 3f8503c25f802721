// Package geoip places IP addresses on the map from a MaxMind-format
// database (GeoLite2-City or GeoIP2-City, or any database with the same
// location fields) that the operator points to; Tessera downloads nothing.
package geoip

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"
	"github.com/oschwald/maxminddb-golang/v2/mmdbdata"
)

// Location is where a database places an address.
type Location struct {
	Lat, Lon   float64
	AccuracyKM int    // the database's accuracy radius; 0 if unknown
	Country    string // ISO 3166-1 alpha-2, "" if unknown
}

// ErrNoLocation is Open's (and Reload's) error for a MaxMind DB file that
// places nothing on the map: a Country or ASN database rather than a City
// one.
var ErrNoLocation = errors.New("geoip: database has no location.latitude/longitude (a City database is needed)")

// CheckEvery is how often Lookup looks whether the file changed.
const CheckEvery = time.Minute

// probeNetworks bounds Open's search for a record with coordinates: a City
// database has them in nearly every record, so a run this long without one
// is another kind of database. The walk counts networks with and without
// data, aliases included, so a damaged tree (whose pointers may loop back
// and make it look 2^128 networks large) cannot keep Open walking.
const probeNetworks = 4096

// record is the part of a GeoIP2/GeoLite2 City record Lookup reads. The
// coordinates say whether they were there, because 0,0 is a place: a
// record without them (some anycast and satellite networks have only a
// country) is a miss.
type record struct {
	Location struct {
		Latitude       coord  `maxminddb:"latitude"`
		Longitude      coord  `maxminddb:"longitude"`
		AccuracyRadius uint16 `maxminddb:"accuracy_radius"`
	} `maxminddb:"location"`
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
}

// coord is a coordinate and whether the record had it (a pointer would
// cost an allocation per lookup).
type coord struct {
	v  float64
	ok bool
}

// UnmarshalMaxMindDBCursor is mmdbdata.CursorUnmarshaler.
func (c *coord) UnmarshalMaxMindDBCursor(cur mmdbdata.Cursor) (mmdbdata.Cursor, error) {
	v, next, err := cur.ReadFloat()
	if err != nil {
		return mmdbdata.Cursor{}, mmdbdata.NormalizeUnmarshalError[float64](err)
	}
	c.v, c.ok = v, true
	return next, nil
}

// DB is an opened database, read again when its file changes. Safe for
// concurrent use; lookups take no lock.
type DB struct {
	path string
	log  *slog.Logger
	now  func() time.Time

	cur  atomic.Pointer[maxminddb.Reader] // nil once closed
	next atomic.Int64                     // when Lookup next stats the file (Unix ns)

	mu   sync.Mutex  // serialises reloads
	seen os.FileInfo // the file as last read or last refused
}

// Option adjusts Open.
type Option func(*DB)

// WithLogger logs reloads and refused files to log.
func WithLogger(log *slog.Logger) Option { return func(d *DB) { d.log = log } }

// WithClock makes Lookup read the time (for its CheckEvery) from now.
func WithClock(now func() time.Time) Option { return func(d *DB) { d.now = now } }

// Open reads the database at path. A file that is not a MaxMind DB is an
// error, and so is one without coordinates (ErrNoLocation).
//
// The file is read into memory rather than mapped: an operator who
// overwrites it in place (cp rather than an atomic rename) would otherwise
// make the next lookup fault and take the server down with SIGBUS. A City
// database is tens of megabytes.
func Open(path string, opts ...Option) (*DB, error) {
	d := &DB{path: path, log: slog.New(slog.DiscardHandler), now: time.Now}
	for _, o := range opts {
		o(d)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("geoip: %w", err)
	}
	r, err := read(path)
	if err != nil {
		return nil, err
	}
	d.cur.Store(r)
	d.seen = fi
	d.next.Store(d.now().Add(CheckEvery).UnixNano())
	return d, nil
}

// read opens path's content and checks it places addresses.
func read(path string) (*maxminddb.Reader, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("geoip: %w", err)
	}
	r, err := maxminddb.OpenBytes(b)
	if err != nil {
		return nil, fmt.Errorf("geoip: %s is not a MaxMind DB file: %w", path, err)
	}
	if err := hasLocation(r); err != nil {
		return nil, fmt.Errorf("%w: %s (type %q)", err, path, r.Metadata.DatabaseType)
	}
	return r, nil
}

// hasLocation reports ErrNoLocation unless a record among the first
// probeNetworks networks has coordinates; a malformed tree or data section
// is its own error.
func hasLocation(r *maxminddb.Reader) error {
	n := 0
	for res := range r.Networks(maxminddb.IncludeNetworksWithoutData(), maxminddb.IncludeAliasedNetworks()) {
		if err := res.Err(); err != nil {
			return fmt.Errorf("geoip: corrupt database: %w", err)
		}
		if n++; n > probeNetworks {
			break
		}
		if !res.Found() {
			continue
		}
		var rec record
		if err := res.Decode(&rec); err != nil {
			return fmt.Errorf("geoip: corrupt database: %w", err)
		}
		if rec.Location.Latitude.ok && rec.Location.Longitude.ok {
			return nil
		}
	}
	return ErrNoLocation
}

// Lookup places ip. ok is false for an address the database does not
// know, one that is not globally routed (private, loopback, link-local,
// multicast, unspecified, shared CGNAT space: its place is the network's,
// not the client's), a record without coordinates, and after Close.
func (d *DB) Lookup(ip netip.Addr) (Location, bool) {
	ip = ip.Unmap()
	if !routed(ip) {
		return Location{}, false
	}
	d.maybeReload()
	r := d.cur.Load()
	if r == nil {
		return Location{}, false
	}
	var rec record
	// A decoding error (a corrupt record) is a miss: the caller treats an
	// unplaced address as unknown, never as a failure of the request.
	if err := r.Lookup(ip).Decode(&rec); err != nil || !rec.Location.Latitude.ok || !rec.Location.Longitude.ok {
		return Location{}, false
	}
	return Location{
		Lat:        rec.Location.Latitude.v,
		Lon:        rec.Location.Longitude.v,
		AccuracyKM: int(rec.Location.AccuracyRadius),
		Country:    rec.Country.ISOCode,
	}, true
}

// cgnat is RFC 6598 shared address space: behind a carrier's NAT, placed
// wherever the carrier is.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

func routed(ip netip.Addr) bool {
	return ip.IsValid() && !ip.IsPrivate() && !ip.IsLoopback() && !ip.IsUnspecified() &&
		!ip.IsLinkLocalUnicast() && !ip.IsMulticast() && !cgnat.Contains(ip)
}

// maybeReload stats the file at most once per CheckEvery (one caller wins
// the turn; the others go on with the current database) and reads it again
// if it changed. The reading caller pays for it, once per new file.
func (d *DB) maybeReload() {
	now := d.now().UnixNano()
	next := d.next.Load()
	if now < next || !d.next.CompareAndSwap(next, now+int64(CheckEvery)) {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	fi, err := os.Stat(d.path)
	if err != nil || !changed(d.seen, fi) {
		return
	}
	d.reload(fi)
}

// Reload reads the file again now, changed or not (SIGHUP). On error the
// current database stays.
func (d *DB) Reload() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	fi, err := os.Stat(d.path)
	if err != nil {
		d.log.Warn("GeoIP database not reloaded; using the previous one", "path", d.path, "err", err)
		return fmt.Errorf("geoip: %w", err)
	}
	return d.reload(fi)
}

// reload reads the file; d.mu is held. A file refused is tried again only
// once it changes again (a half-copied file costs one read and one log line).
func (d *DB) reload(fi os.FileInfo) error {
	d.seen = fi
	r, err := read(d.path)
	if err != nil {
		d.log.Warn("GeoIP database not reloaded; using the previous one", "path", d.path, "err", err)
		return err
	}
	// The old reader is not closed: lookups in flight may still hold it,
	// and a reader over a byte slice holds nothing the collector does not
	// take back. Swap only if still open.
	if d.cur.Load() != nil {
		d.cur.Store(r)
		d.log.Info("GeoIP database loaded", "path", d.path, "type", r.Metadata.DatabaseType,
			"built", r.Metadata.BuildTime().UTC().Format(time.RFC3339))
	}
	return nil
}

// Close drops the database; later lookups miss. Lookups in flight finish
// on the database they started with.
func (d *DB) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cur.Store(nil)
	return nil
}

func changed(old, cur os.FileInfo) bool {
	return old == nil || !os.SameFile(old, cur) || !old.ModTime().Equal(cur.ModTime()) || old.Size() != cur.Size()
}
