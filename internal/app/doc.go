// Package app is Tessera's one composition root: it turns a config.Config
// into an opened store (store.Open, with the explicit migrator), the domain
// services (sessions, authentication, signing keys, OAuth) and the HTTP
// server, wired the same way for `tessera serve`, the CLI's verbs, the
// benchmarks and the interoperability tests. It decides no policy; it only
// connects the packages that do.
package app
