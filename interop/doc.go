// Package interop holds tests in which clients and verifiers that Tessera
// did not write talk to Tessera, so that "standard" means what others read.
package interop
