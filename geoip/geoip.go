// Package geoip places IP addresses on the map from a MaxMind-format
// database (GeoLite2-City or GeoIP2-City, or any database with the same
// location fields) that the operator points to; Tessera downloads nothing.
package geoip

// Location is where a database places an address.
type Location struct {
	Lat, Lon   float64
	AccuracyKM int    // the database's accuracy radius; 0 if unknown
	Country    string // ISO 3166-1 alpha-2, "" if unknown
}
