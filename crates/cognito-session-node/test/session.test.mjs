// session(), start(), end() from the installed package against moto, through testkit's fault
// proxy (for the outages): what the seed's users call, and every answer the issue lists.
import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'

import session, { end, setCookie, start } from 'cognito-session'

import { SHAPES, contextWith, event, loggedIn, poolEnv, rejection, testkit } from './support.mjs'

let pool
let proxy

before(async () => {
  pool = await testkit('/pool')
  proxy = await testkit('/proxy')
  // Read once, at the first call: every test below shares this process's Sessions.
  Object.assign(process.env, poolEnv(pool, proxy.url))
})

/** A user with a started session: `{sub, tokens, cookie}`. */
async function user(name) {
  const login = await loggedIn(pool, name)
  await start(login.tokens)
  return { ...login, cookie: `theme=dark; token=${login.tokens.AccessToken}` }
}

async function expiredCopy(token) {
  return (await testkit('/expired', { token })).token
}

async function row(sub) {
  return (await testkit('/row', { pool: pool.poolId, sub })).row
}

describe('a valid cookie', () => {
  test('resolves with the verified claims and an empty AuthenticationResult', async () => {
    const { sub, tokens, cookie } = await user('valid-user')
    const data = await session('token', event('rest', cookie))
    assert.equal(data.sub, sub)
    assert.equal(data.username, 'valid-user')
    assert.deepEqual(data.groups, [])
    assert.equal(data.scope, 'aws.cognito.signin.user.admin')
    assert.equal(data.claims.client_id, pool.clientId)
    assert.equal(data.claims.token_use, 'access')
    assert.equal(data.setCookie, null)
    assert.deepEqual(data.cognito, { AuthenticationResult: {} })
    // The seed's example destructures it unconditionally.
    const { AccessToken } = data.cognito?.AuthenticationResult
    assert.equal(AccessToken, undefined)
    assert.ok(!JSON.stringify(data).includes(tokens.RefreshToken))
  })

  test('works in every trigger shape', async () => {
    const { sub, cookie } = await user('shapes-user')
    for (const shape of SHAPES) {
      const data = await session('token', event(shape, cookie))
      assert.equal(data.sub, sub, shape)
    }
  })

  test('takes the handler context: a short deadline is a 503, not a Lambda timeout', async () => {
    const { cookie } = await user('deadline-user')
    await testkit('/proxy/inject', { id: proxy.id, operation: 'GetItem', fault: 'latency:3000', times: 1 })
    const started = Date.now()
    const error = await rejection(session('token', event('http', cookie), contextWith(800)))
    const took = Date.now() - started
    assert.equal(error.statusCode, 503, error.message)
    assert.equal(error.code, 'unavailable')
    assert.ok(took < 2000, `answered after ${took} ms`)
    // The same call with time to spare succeeds.
    assert.equal((await session('token', event('http', cookie), contextWith(10_000))).username, 'deadline-user')
  })
})

describe('an expired cookie', () => {
  test('is refreshed: the new tokens in cognito.AuthenticationResult and setCookie', async () => {
    const { sub, tokens } = await user('expired-user')
    const expired = await expiredCopy(tokens.AccessToken)
    const data = await session('token', event('http', `token=${expired}`))
    assert.equal(data.sub, sub)
    const result = data.cognito.AuthenticationResult
    assert.match(result.AccessToken, /^eyJ/)
    assert.notEqual(result.AccessToken, expired)
    assert.match(result.IdToken, /^eyJ/)
    assert.equal(result.TokenType, 'Bearer')
    assert.equal(result.ExpiresIn, 3600)
    assert.equal(result.RefreshToken, undefined)
    assert.ok(data.setCookie.startsWith(`token=${result.AccessToken}; HttpOnly;`), data.setCookie)
    assert.match(data.setCookie, /Secure/)
    assert.match(data.setCookie, /SameSite=Lax/)
    assert.deepEqual(data.setCookie, setCookie('token', result))
    // The new cookie is valid as it is.
    const next = await session('token', event('http', `token=${result.AccessToken}`))
    assert.deepEqual(next.cognito.AuthenticationResult, {})
  })
})

describe('401', () => {
  test('no cookie: missing_cookie, and no cookie to clear', async () => {
    for (const shape of SHAPES) {
      const error = await rejection(session('token', event(shape, 'theme=dark')))
      assert.ok(error instanceof Error)
      assert.equal(error.statusCode, 401, shape)
      assert.equal(error.code, 'missing_cookie')
      assert.equal(error.clearCookie, undefined)
      assert.equal(error.retryAfter, undefined)
    }
    assert.equal((await rejection(session('token', {}))).code, 'missing_cookie')
  })

  test('forged cookies: refused before any claim is used, the cookie cleared', async () => {
    const { sub, tokens } = await user('forged-user')
    const expired = await expiredCopy(tokens.AccessToken)
    for (const kind of ['unsigned', 'foreign-key']) {
      const { token } = await testkit('/forged', { token: expired, kind })
      const error = await rejection(session('token', event('rest', `token=${token}`)))
      assert.equal(error.statusCode, 401, kind)
      assert.match(error.code, kind === 'unsigned' ? /^header\./ : /^(key\.|signature)/)
      assert.match(error.clearCookie, /^token=; .*Max-Age=0/)
      assert.ok(!error.message.includes(token.split('.')[1]), error.message)
    }
    // The seed handed the victim's fresh tokens to this request; the row is still the victim's.
    assert.ok(await row(sub))
  })

  test('logout, then the same cookie (valid or expired) is refused', async () => {
    const { sub, tokens, cookie } = await user('logout-user')
    assert.equal(await end('token', event('http', cookie)), undefined)
    assert.equal(await row(sub), null)
    const replay = await rejection(session('token', event('http', cookie)))
    assert.equal(replay.statusCode, 401)
    assert.equal(replay.code, 'session_ended')
    assert.match(replay.clearCookie, /^token=;/)
    const expired = await expiredCopy(tokens.AccessToken)
    const refresh = await rejection(session('token', event('http', `token=${expired}`)))
    assert.equal(refresh.statusCode, 401)
  })

  test('end() without a cookie rejects, and removes nothing', async () => {
    const error = await rejection(end('token', event('alb', 'theme=dark')))
    assert.equal(error.statusCode, 401)
    assert.equal(error.code, 'missing_cookie')
  })
})

describe('outages', () => {
  test('DynamoDB throttled: 503 with retryAfter, the row kept, then it works again', async () => {
    const { sub, cookie } = await user('outage-user')
    const before = await row(sub)
    await testkit('/proxy/inject', { id: proxy.id, operation: 'GetItem', fault: 'throttled' })
    try {
      const error = await rejection(session('token', event('rest', cookie)))
      assert.equal(error.statusCode, 503, error.message)
      assert.equal(error.code, 'unavailable')
      assert.equal(error.retryAfter, 1)
      assert.equal(error.clearCookie, undefined)
      assert.match(error.message, /DynamoDB is unavailable/)
    } finally {
      await testkit('/proxy/heal', { id: proxy.id })
    }
    assert.deepEqual(await row(sub), before)
    assert.equal((await session('token', event('rest', cookie))).sub, sub)
  })

  test('Cognito down during a refresh: 503, the row and its refresh token kept', async () => {
    const { sub, tokens } = await user('refresh-outage-user')
    const expired = await expiredCopy(tokens.AccessToken)
    const before = await row(sub)
    await testkit('/proxy/inject', { id: proxy.id, operation: 'InitiateAuth', fault: 'internal' })
    try {
      const error = await rejection(session('token', event('url', `token=${expired}`)))
      assert.equal(error.statusCode, 503, error.message)
      assert.equal(error.retryAfter, 1)
    } finally {
      await testkit('/proxy/heal', { id: proxy.id })
    }
    assert.equal((await row(sub)).token, before.token)
    const data = await session('token', event('url', `token=${expired}`))
    assert.match(data.cognito.AuthenticationResult.AccessToken, /^eyJ/)
  })
})

describe('every call meets the handler\'s deadline', () => {
  test('start() and end() with DynamoDB hanging: 503 before the deadline', async () => {
    const { tokens } = await loggedIn(pool, 'deadline-start')
    await testkit('/proxy/inject', { id: proxy.id, operation: 'PutItem', fault: 'latency:3000', times: 1 })
    let started = Date.now()
    const slowStart = await rejection(start(tokens, contextWith(800)))
    assert.equal(slowStart.statusCode, 503, slowStart.message)
    assert.ok(Date.now() - started < 2000, `start answered after ${Date.now() - started} ms`)
    await start(tokens)
    await testkit('/proxy/inject', { id: proxy.id, operation: 'DeleteItem', fault: 'latency:3000', times: 1 })
    started = Date.now()
    const cookie = `token=${tokens.AccessToken}`
    const slowEnd = await rejection(end('token', event('http', cookie), contextWith(800)))
    assert.equal(slowEnd.statusCode, 503, slowEnd.message)
    assert.ok(Date.now() - started < 2000, `end answered after ${Date.now() - started} ms`)
  })
})

describe('start()', () => {
  test('stores the session of a login, and takes the whole InitiateAuth answer too', async () => {
    const { sub, tokens } = await loggedIn(pool, 'start-user')
    const started = await start({ AuthenticationResult: tokens })
    assert.equal(started.sub, sub)
    assert.equal(started.cognito.AuthenticationResult.AccessToken, tokens.AccessToken)
    assert.equal(started.cognito.AuthenticationResult.RefreshToken, undefined)
    assert.ok((await row(sub)).token)
    const data = await session('token', event('rest', `token=${tokens.AccessToken}`))
    assert.equal(data.sub, sub)
  })

  test('refuses tokens without a refresh token (400) or without an access token', async () => {
    const { tokens } = await loggedIn(pool, 'start-refused')
    const error = await rejection(start({ ...tokens, RefreshToken: undefined }))
    assert.equal(error.statusCode, 400)
    assert.equal(error.code, 'invalid_input')
    const shapeless = await rejection(start({ IdToken: tokens.IdToken }))
    assert.equal(shapeless.statusCode, 400)
    assert.ok(!shapeless.message.includes(tokens.IdToken))
  })

  test('refuses a forged login: 401, nothing stored', async () => {
    const { sub, tokens } = await loggedIn(pool, 'start-forged')
    const { token } = await testkit('/forged', { token: tokens.AccessToken, kind: 'foreign-key' })
    const error = await rejection(start({ ...tokens, AccessToken: token }))
    assert.equal(error.statusCode, 401)
    assert.equal(await row(sub), null)
  })
})
