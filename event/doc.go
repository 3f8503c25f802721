// Package event owns Tessera's domain events: one typed record of each
// thing that happened to a login, a session, a token, a key or an admin
// object, and the Sink the domain publishes it to. Logging and metrics
// subscribe today; audit, detection and back-channel logout subscribe next.
//
// An Event names tokens only by session id and jti, never by their text,
// and its LogValue redacts anything shaped like a credential, so logging
// one cannot leak a secret.
package event
