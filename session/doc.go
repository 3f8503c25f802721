// Package session is the lifecycle engine: it creates sessions, validates
// their tokens against idle and absolute timeouts and revocation, keeps hot
// sessions in memory, and revokes them durably. It knows nothing of HTTP.
package session
