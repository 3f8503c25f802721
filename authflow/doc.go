// Package authflow owns what happens between a credential and a session:
// a password login that starts a session and delivers it (cookie or
// tokens), and a password change that ends every session of the user and
// starts a fresh one. It returns values and sentinel errors; the JSON
// handlers (and later HTML pages, OIDC and MFA steps) only render them.
package authflow
