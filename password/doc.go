// Package password owns how Tessera stores and accepts passwords: argon2id
// hashes in the PHC string format, and a NIST SP 800-63B policy for choosing
// a new password.
package password
