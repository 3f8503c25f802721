// Package clustertest runs Tessera as an operator would, for tests and the
// bench harness: the real tessera binary as several `tessera serve`
// processes (Node), a PostgreSQL server of their own made with initdb and
// pg_ctl (Postgres), and a redis-server of their own (Redis), each on free
// loopback ports in a temporary folder, so a test can kill, stop and restart
// any of them.
package clustertest
