// Package buildinfo names what was built: the version, the commit, its
// date and the Go release, read from the build information the go command
// records, or set at link time for releases.
package buildinfo
