// openid-client (v6) against Tessera: RFC 8414 discovery (algorithm
// 'oauth2'), client_credentials, introspection, revocation, and a refresh
// with the first-party client (client_id=tessera). Run by
// interop/js_test.go; the recipe in docs/clients.md is this file. Prints
// one JSON object.
import * as client from 'openid-client'

const env = (k) => {
  if (!process.env[k]) throw new Error(`${k} is not set`)
  return process.env[k]
}
const issuer = new URL(env('TESSERA_ISSUER'))
// Plain http is for this test's loopback server only: drop the option in
// production, where the issuer is https.
const options = { algorithm: 'oauth2', execute: [client.allowInsecureRequests] }

// Tessera publishes RFC 8414 metadata, not OpenID Connect discovery.
const worker = await client.discovery(issuer, env('TESSERA_CLIENT_ID'), env('TESSERA_CLIENT_SECRET'), undefined, options)
const cc = await client.clientCredentialsGrant(worker, { scope: 'jobs:read' })
const before = await client.tokenIntrospection(worker, cc.access_token)
await client.tokenRevocation(worker, cc.access_token)
const after = await client.tokenIntrospection(worker, cc.access_token)

// The first party's tokens, from Tessera's own login, refresh as the
// public client "tessera" (client.None(): no client authentication).
const login = await fetch(new URL('/v1/login', issuer), {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ username: env('TESSERA_USERNAME'), password: env('TESSERA_PASSWORD'), delivery: 'token' }),
})
if (!login.ok) throw new Error(`login: ${login.status} ${await login.text()}`)
const first = await login.json()
const firstParty = await client.discovery(issuer, 'tessera', undefined, client.None(), options)
const refreshed = await client.refreshTokenGrant(firstParty, first.refresh_token)

console.log(JSON.stringify({
  issuer: worker.serverMetadata().issuer,
  cc_token_type: cc.token_type,
  cc_expires_in: cc.expires_in,
  cc_scope: cc.scope,
  introspect_active_before: before.active,
  introspect_client_id: before.client_id,
  introspect_active_after: after.active,
  refresh_rotated: refreshed.refresh_token !== first.refresh_token && !!refreshed.refresh_token,
  refresh_expires_in: refreshed.expires_in,
}))
