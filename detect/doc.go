// Package detect notices token theft and account attacks in the stream of
// domain events (package event), and acts on what it finds: it logs,
// raises an alert, asks the session to step up, or revokes the session or
// every session of the user. Rules run off the request path, on state
// that every node shares (State), so a rule sees the whole cluster's
// traffic and never costs a request a store round trip (docs/detection.md).
package detect
