package event

// Redact returns v, or "[redacted]" if v could be a credential (a Tessera
// token prefix or a JWS shape), as LogValue filters every field: for
// subscribers that store fields (audit).
func Redact(v string) string { return redact(v) }
