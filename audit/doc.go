// Package audit keeps the append-only, tamper-evident audit log: it turns
// domain events (package event) into records, summarises the hot path
// (successful validations), writes them asynchronously in batches, chains
// them with a keyed MAC (HMAC-SHA256 under a key derived from the master
// key), checkpoints the chain, prunes it, and verifies it (docs/audit.md).
package audit
