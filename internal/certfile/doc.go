// Package certfile keeps a TLS certificate read from PEM files current:
// replaced files are read again at the next handshake, or when asked (on
// SIGHUP), without a restart.
package certfile
