// Package pgtest gives tests a throwaway PostgreSQL schema on the
// machine's server, or skips them (fails them under CI=true) when there is
// no server to reach.
package pgtest
