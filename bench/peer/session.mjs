// cognito-session's Node.js package on the tokens minted by `verify_bench mint`, in token mode
// (no DynamoDB): `await session('token', event)` for an API Gateway REST event carrying each token
// in its Cookie header, round-robin for the given number of seconds on this one thread, with the
// JWKS preloaded (COGNITO_JWKS) and the verified-token cache off (0) or on (its size).
// Prints one JSON line, as verify.mjs does.
//
//   node session.mjs <token dir> <seconds> <cache entries> <package dir>
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'

const [dir, secondsArg, cacheArg, packageDir] = process.argv.slice(2)
const seconds = Number(secondsArg ?? '5')
const tokens = readFileSync(`${dir}/tokens.txt`, 'utf8').trim().split('\n')
const { pool, client } = JSON.parse(readFileSync(`${dir}/pool.json`, 'utf8'))
Object.assign(process.env, {
  SESSION_TABLE: 'sessions',
  PARTITION_KEY: 'sub',
  CLIENT_ID: client,
  USER_POOL_ID: pool,
  SESSION_VALIDATION: 'token',
  COGNITO_JWKS: `${dir}/jwks.json`,
  SESSION_TOKEN_CACHE: cacheArg ?? '0',
  AWS_REGION: 'us-east-1',
})
const session = createRequire(import.meta.url)(packageDir)

// A REST (v1) event as API Gateway sends it, the cookie among the usual headers.
const events = tokens.map((token) => ({
  resource: '/hello',
  path: '/hello',
  httpMethod: 'GET',
  headers: {
    Accept: 'application/json',
    'Accept-Encoding': 'gzip, deflate, br',
    Cookie: `theme=dark; token=${token}`,
    Host: 'abc123.execute-api.us-east-1.amazonaws.com',
    'User-Agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)',
    'X-Amzn-Trace-Id': 'Root=1-5e66d96f-7491f09xmpl79d18acf3d050',
    'X-Forwarded-For': '203.0.113.7',
    'X-Forwarded-Port': '443',
    'X-Forwarded-Proto': 'https',
  },
  multiValueHeaders: null,
  queryStringParameters: null,
  pathParameters: null,
  requestContext: { stage: 'prod', requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef', httpMethod: 'GET' },
  body: null,
  isBase64Encoded: false,
}))

for (const event of events) {
  const data = await session('token', event) // warm-up, and every token must verify
  if (data.claims.client_id !== client) throw new Error('wrong session')
}

let verified = 0
const start = process.hrtime.bigint()
const end = start + BigInt(Math.round(seconds * 1e9))
while (process.hrtime.bigint() < end) {
  for (const event of events) {
    await session('token', event)
    verified += 1
  }
}
const elapsed = Number(process.hrtime.bigint() - start) / 1e9
const rate = verified / elapsed
const cache = Number(cacheArg ?? '0')
console.log(
  JSON.stringify({
    verifier: `cognito-session ${cache ? `with the token cache (${cache})` : 'without the token cache'} (node ${process.version}, session())`,
    tokens: tokens.length,
    verifications: verified,
    seconds: elapsed,
    per_second_per_core: Math.round(rate),
    microseconds_each: 1e6 / rate,
  }),
)
