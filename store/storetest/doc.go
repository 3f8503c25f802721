// Package storetest is the conformance suite every storage backend runs, so
// the domain code can rely on one behaviour whatever the backend.
package storetest
