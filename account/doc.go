// Package account is the user lifecycle an administrator runs: list and
// page users, disable and enable, delete (erase personal data, keep ids),
// reset a password (optionally to be changed at the next login), a new
// password and a disabled state together as one Change, and clear a
// user's login throttles. It decides; the store applies each decision
// in one transaction (store.Users.UpdateUser), revocations included, so
// other nodes learn of them from the revocation feed. It knows nothing of
// HTTP: the admin API and the CLI render its results.
package account
