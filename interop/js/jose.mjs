// jose against Tessera: verify an RFC 9068 JWT access token with the
// published JWKS (createRemoteJWKSet + jwtVerify, issuer and audience
// checked). Run by interop/js_test.go; the recipe in docs/clients.md is
// this file. Reads the token from TESSERA_ACCESS_TOKEN, prints one JSON
// object.
import { createRemoteJWKSet, jwtVerify, errors } from 'jose'

const env = (k) => {
  if (!process.env[k]) throw new Error(`${k} is not set`)
  return process.env[k]
}
const issuer = env('TESSERA_ISSUER')
const audience = env('TESSERA_AUDIENCE')

// The JWKS URL is the metadata's jwks_uri; createRemoteJWKSet caches the
// set and refetches it when a token names an unknown kid (a rotation).
const meta = await (await fetch(new URL('/.well-known/oauth-authorization-server', issuer))).json()
const JWKS = createRemoteJWKSet(new URL(meta.jwks_uri))

const verify = (token, aud = audience) => jwtVerify(token, JWKS, {
  issuer,
  audience: aud,
  typ: 'at+jwt', // RFC 9068 §2.1
  algorithms: ['ES256', 'EdDSA', 'RS256'],
})

const { payload, protectedHeader } = await verify(env('TESSERA_ACCESS_TOKEN'))

// Another audience, and a tampered token, must be refused.
let wrongAudience = 'accepted'
try {
  await verify(env('TESSERA_ACCESS_TOKEN'), 'https://other.example')
} catch (e) {
  wrongAudience = e.code
}
let tampered = 'accepted'
const [h, p, s] = env('TESSERA_ACCESS_TOKEN').split('.')
const claims = JSON.parse(Buffer.from(p, 'base64url'))
claims.sub = 'someone-else'
try {
  await verify([h, Buffer.from(JSON.stringify(claims)).toString('base64url'), s].join('.'))
} catch (e) {
  tampered = e instanceof errors.JWSSignatureVerificationFailed ? 'signature' : e.code
}

console.log(JSON.stringify({
  alg: protectedHeader.alg,
  kid: protectedHeader.kid,
  typ: protectedHeader.typ,
  iss: payload.iss,
  sub: payload.sub,
  client_id: payload.client_id,
  scope: payload.scope,
  wrong_audience: wrongAudience,
  tampered,
}))
