// A cold start of the Node.js package: `require` (loading the addon), then the first session()
// (building Sessions from the environment, the JWKS, one RS256 verification) in token mode on one
// of the tokens minted by `verify_bench mint`, with the JWKS preloaded (COGNITO_JWKS) or fetched
// from a server on 127.0.0.1 (COGNITO_JWKS_URL). Prints one JSON line of milliseconds.
//
//   node cold.mjs <token dir> <package dir> preload|fetch
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { createRequire } from 'node:module'

const [dir, packageDir, mode] = process.argv.slice(2)
const token = readFileSync(`${dir}/tokens.txt`, 'utf8').split('\n')[0]
const jwks = readFileSync(`${dir}/jwks.json`, 'utf8')
const { pool, client } = JSON.parse(readFileSync(`${dir}/pool.json`, 'utf8'))
Object.assign(process.env, {
  SESSION_TABLE: 'sessions',
  PARTITION_KEY: 'sub',
  CLIENT_ID: client,
  USER_POOL_ID: pool,
  SESSION_VALIDATION: 'token',
  AWS_REGION: 'us-east-1',
})
let server
if (mode === 'fetch') {
  server = createServer((_, response) => response.end(jwks))
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  process.env.COGNITO_JWKS_URL = `http://127.0.0.1:${server.address().port}/jwks.json`
} else {
  process.env.COGNITO_JWKS = `${dir}/jwks.json`
}
const event = { headers: { cookie: `token=${token}` } }

const t0 = performance.now()
const session = createRequire(import.meta.url)(packageDir)
const t1 = performance.now()
const data = await session('token', event)
const t2 = performance.now()
if (data.claims.client_id !== client) throw new Error('wrong session')
const t3 = performance.now()
await session('token', event)
const t4 = performance.now()
server?.close()
console.log(JSON.stringify({ mode, require_ms: t1 - t0, first_call_ms: t2 - t1, second_call_ms: t4 - t3 }))
