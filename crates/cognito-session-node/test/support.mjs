// Test support for the node --test suites: testkit over HTTP (moto, pools, users, minted tokens,
// the fault proxy, the managed-login fake and the Lambda Runtime API emulator, all from
// crates/testkit's `testkit-server`), and Lambda events of every trigger shape.
//
// TESTKIT_URL names a running testkit-server (scripts/node-test.sh starts one for all suites);
// without it, TESTKIT_SERVER names the binary and each suite starts its own.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

let server

function startServer() {
  const binary = process.env.TESTKIT_SERVER
  if (!binary) {
    throw new Error('set TESTKIT_URL or TESTKIT_SERVER (scripts/node-test.sh sets both)')
  }
  const child = spawn(binary, [], { stdio: ['pipe', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`testkit-server exited (${code})`)))
    const lines = createInterface({ input: child.stdout })
    lines.once('line', (line) => {
      lines.close()
      child.stdout.destroy()
      // Our end of its standard input closes when this process exits, and testkit-server
      // (with its moto) ends then; until then it does not keep this process alive.
      child.stdin.unref()
      child.unref()
      resolve(JSON.parse(line).url)
    })
  })
}

/** Calls testkit-server: `POST path` with `body`, the answer's JSON. */
export async function testkit(path, body = {}) {
  const url = process.env.TESTKIT_URL ?? (await (server ??= startServer()))
  const response = await fetch(url + path, { method: 'POST', body: JSON.stringify(body) })
  const answer = await response.json()
  if (!response.ok) throw new Error(`testkit ${path}: ${answer.error}`)
  return answer
}

/** The environment a function on `pool` needs: the seed's three variables and the pool. */
export function poolEnv(pool, endpoint) {
  return {
    SESSION_TABLE: pool.table,
    PARTITION_KEY: pool.partitionKey,
    CLIENT_ID: pool.clientId,
    USER_POOL_ID: pool.poolId,
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
  }
}

/** A user on `pool` who logged in (moto's real tokens); the session is not started. */
export async function loggedIn(pool, username) {
  const { sub } = await testkit('/user', { pool: pool.poolId, username })
  const tokens = await testkit('/login', { pool: pool.poolId, username })
  return { sub, tokens }
}

function fixture(name) {
  const dir = process.env.LAMBDA_EVENTS
  if (!dir) throw new Error('set LAMBDA_EVENTS to crates/testkit/fixtures')
  return JSON.parse(readFileSync(join(dir, name), 'utf8'))
}

/**
 * A real Lambda event of trigger `shape` (`rest`, `rest-multi`, `http`, `alb`, `alb-multi`,
 * `url`) whose cookies are `cookie` (a `Cookie` header value, `a=1; b=2`), where that trigger
 * puts them.
 */
export function event(shape, cookie) {
  const pairs = cookie ? cookie.split('; ') : []
  switch (shape) {
    case 'rest': {
      const e = fixture('apigw_proxy_request.json')
      if (cookie) e.headers.Cookie = cookie
      return e
    }
    case 'rest-multi': {
      const e = fixture('apigw_multi_value_proxy_request.json')
      if (cookie) e.multiValueHeaders.Cookie = [cookie]
      return e
    }
    case 'http':
    case 'url': {
      const e = fixture(shape === 'http' ? 'apigw_v2_proxy_request.json' : 'lambda_function_url_request.json')
      e.cookies = pairs
      for (const name of Object.keys(e.headers)) if (name.toLowerCase() === 'cookie') delete e.headers[name]
      return e
    }
    case 'alb': {
      const e = fixture('alb_request.json')
      delete e.headers.cookie
      if (cookie) e.headers.cookie = cookie
      return e
    }
    case 'alb-multi': {
      const e = fixture('alb_request.json')
      e.multiValueHeaders = Object.fromEntries(Object.entries(e.headers).map(([k, v]) => [k, [v]]))
      delete e.headers
      delete e.multiValueHeaders.cookie
      if (cookie) e.multiValueHeaders.cookie = [cookie]
      return e
    }
    default:
      throw new Error(`unknown trigger shape ${shape}`)
  }
}

export const SHAPES = ['rest', 'rest-multi', 'http', 'alb', 'alb-multi', 'url']

/** A Lambda context whose remaining time is `millis` from now. */
export function contextWith(millis) {
  const deadline = Date.now() + millis
  return { getRemainingTimeInMillis: () => deadline - Date.now() }
}

/** Waits for `promise` to reject and returns the error (fails when it resolves). */
export async function rejection(promise) {
  try {
    const value = await promise
    throw Object.assign(new Error(`expected a rejection, got ${JSON.stringify(value)}`), { resolved: true })
  } catch (error) {
    if (error.resolved) throw error
    return error
  }
}

/**
 * A request to `method path?query` with `cookie`, as trigger `shape` sends it (`http` for HTTP
 * API v2, `rest` for REST v1), from a browser (`Accept: text/html`) unless `json`.
 */
export function request(shape, method, path, query = '', cookie = '', { json = false } = {}) {
  const params = Object.fromEntries(new URLSearchParams(query))
  const accept = json ? 'application/json' : 'text/html'
  if (shape === 'http') {
    const e = event('http', cookie)
    e.rawPath = path
    e.rawQueryString = query
    e.queryStringParameters = params
    e.requestContext.http.method = method
    e.requestContext.http.path = path
    e.headers = { accept, host: 'app.example.com' }
    delete e.body
    return e
  }
  const e = event('rest', cookie)
  e.path = path
  e.resource = path
  e.httpMethod = method
  e.queryStringParameters = params
  e.multiValueQueryStringParameters = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, [v]]))
  e.headers = { ...(cookie ? { Cookie: cookie } : {}), Accept: accept, Host: 'app.example.com' }
  e.multiValueHeaders = Object.fromEntries(Object.entries(e.headers).map(([k, v]) => [k, [v]]))
  return e
}

/** The `Set-Cookie` values of a proxy result, whichever trigger's shape it has. */
export function setCookies(result) {
  if (result.cookies?.length) return result.cookies
  const multi = result.multiValueHeaders ?? {}
  const key = Object.keys(multi).find((k) => k.toLowerCase() === 'set-cookie')
  return key ? multi[key] : []
}

/** The `name=value` pair of cookie `name` in a proxy result's `Set-Cookie`s. */
export function cookiePair(result, name) {
  const cookie = setCookies(result).find((c) => c.startsWith(`${name}=`))
  return cookie?.slice(0, cookie.indexOf(';'))
}

/** A header of a proxy result (any trigger), case-insensitively. */
export function header(result, name) {
  for (const headers of [result.headers ?? {}, result.multiValueHeaders ?? {}]) {
    const key = Object.keys(headers).find((k) => k.toLowerCase() === name)
    if (key) return Array.isArray(headers[key]) ? headers[key][0] : headers[key]
  }
  return undefined
}
