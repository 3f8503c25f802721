// oauth4webapi against Tessera: RFC 8414 discovery (algorithm 'oauth2'),
// client_credentials, introspection, revocation, and a refresh with the
// first-party client (client_id=tessera). Run by interop/js_test.go; the
// recipe in docs/clients.md is this file. Prints one JSON object.
import * as oauth from 'oauth4webapi'

const env = (k) => {
  if (!process.env[k]) throw new Error(`${k} is not set`)
  return process.env[k]
}
const issuer = new URL(env('TESSERA_ISSUER'))
// Plain http is for this test's loopback server only: drop the option in
// production, where the issuer is https.
const insecure = { [oauth.allowInsecureRequests]: true }

// Tessera publishes RFC 8414 metadata (/.well-known/oauth-authorization-server),
// not OpenID Connect discovery: say algorithm 'oauth2'.
const as = await oauth.processDiscoveryResponse(
  issuer,
  await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }),
)

// A confidential client: client_credentials, then introspection and revocation.
const worker = { client_id: env('TESSERA_CLIENT_ID') }
const auth = oauth.ClientSecretBasic(env('TESSERA_CLIENT_SECRET'))
const cc = await oauth.processClientCredentialsResponse(
  as, worker,
  await oauth.clientCredentialsGrantRequest(as, worker, auth, new URLSearchParams({ scope: 'jobs:read' }), insecure),
)
const introspect = async (token) => oauth.processIntrospectionResponse(
  as, worker, await oauth.introspectionRequest(as, worker, auth, token, insecure))
const before = await introspect(cc.access_token)
await oauth.processRevocationResponse(await oauth.revocationRequest(as, worker, auth, cc.access_token, insecure))
const after = await introspect(cc.access_token)

// Tessera's own login hands out the first party's tokens: refresh them as
// client_id=tessera, a public client (no client authentication).
const login = await fetch(new URL('/v1/login', issuer), {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ username: env('TESSERA_USERNAME'), password: env('TESSERA_PASSWORD'), delivery: 'token' }),
})
if (!login.ok) throw new Error(`login: ${login.status} ${await login.text()}`)
const first = await login.json()
const firstParty = { client_id: 'tessera' }
const refreshed = await oauth.processRefreshTokenResponse(
  as, firstParty,
  await oauth.refreshTokenGrantRequest(as, firstParty, oauth.None(), first.refresh_token, insecure),
)

console.log(JSON.stringify({
  issuer: as.issuer,
  token_endpoint: as.token_endpoint,
  cc_token_type: cc.token_type,
  cc_expires_in: cc.expires_in,
  cc_scope: cc.scope,
  introspect_active_before: before.active,
  introspect_client_id: before.client_id,
  introspect_active_after: after.active,
  refresh_rotated: refreshed.refresh_token !== first.refresh_token && !!refreshed.refresh_token,
  refresh_expires_in: refreshed.expires_in,
}))
