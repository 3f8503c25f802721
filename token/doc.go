// Package token owns the wire format of Tessera's opaque tokens: a type
// prefix, 256 bits from crypto/rand in base62, and a CRC32 checksum, so that
// secret scanners can recognise a leaked token and a mistyped one is refused
// before any store lookup.
package token
