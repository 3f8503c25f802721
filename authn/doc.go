// Package authn authenticates users by password: account creation under the
// password policy, login with throttling and without user enumeration, and
// password change. It knows nothing of HTTP or sessions.
package authn
