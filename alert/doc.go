// Package alert keeps the alerts detection raises (detect.Alerts): it
// stores each with one outbox row per webhook that wants it, in one
// transaction, and delivers the outbox at least once as signed Standard
// Webhooks (HMAC-SHA256), retried with exponential backoff and jitter
// until delivered or given up on (docs/webhooks.md). Sending over HTTP is
// package webhook's; this package holds the policy.
package alert
