// Package clustertest runs Tessera as an operator would, for tests and the
// bench harness: the real tessera binary as several `tessera serve`
// processes (Node, Cluster), a PostgreSQL server of their own made with
// initdb and pg_ctl (Postgres), and nginx in front of them (Nginx), each on
// free loopback ports in a temporary folder, so a test can kill, stop and
// restart any of them. (A redis-server of a test's own is
// redisstate/redistest's.)
package clustertest
