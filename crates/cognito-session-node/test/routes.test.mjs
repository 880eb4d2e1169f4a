// The managed-login routes as Lambda functions call them: login() redirects to the pool's
// sign-in page (testkit's managed-login fake, moto behind it), callback() starts the session,
// logout() ends it; each answers the proxy result of the trigger the event came from.
import assert from 'node:assert/strict'
import { before, test } from 'node:test'

import { callback, login, logout, session } from 'cognito-session'

import { contextWith, cookiePair, header, poolEnv, rejection, request, setCookies, testkit } from './support.mjs'

const CALLBACK = 'http://127.0.0.1:9/callback'
const SIGNED_OUT = 'http://127.0.0.1:9/'
let pool
let fake

before(async () => {
  pool = await testkit('/pool', { callbackUrl: CALLBACK, logoutUrl: SIGNED_OUT })
  fake = await testkit('/managed-login', { pool: pool.poolId })
  const endpoint = (await testkit('/proxy')).url
  Object.assign(process.env, poolEnv(pool, endpoint), {
    COGNITO_DOMAIN: fake.baseUrl,
    REDIRECT_URI: CALLBACK,
    LOGOUT_URI: SIGNED_OUT,
  })
})

/** login() for `shape`, then the fake's sign-in: the callback's query and the login cookie. */
async function signIn(shape, username) {
  await testkit('/user', { pool: pool.poolId, username })
  const started = await login(request(shape, 'GET', '/login', 'return_to=%2Fapp%2Finbox'), contextWith(10_000))
  assert.equal(started.statusCode, 302, JSON.stringify(started))
  const location = header(started, 'location')
  assert.ok(location.startsWith(`${fake.baseUrl}/oauth2/authorize?`), location)
  const loginCookie = cookiePair(started, '__Host-cognito-login')
  assert.ok(loginCookie, JSON.stringify(setCookies(started)))
  const back = await testkit('/managed-login/sign-in', { id: fake.id, location, username })
  assert.ok(back.location.startsWith(`${CALLBACK}?`), back.location)
  return { query: new URL(back.location).search.slice(1), loginCookie }
}

for (const shape of ['http', 'rest']) {
  test(`${shape}: login, callback, a session, logout, then the cookie is refused`, async () => {
    const username = `route-${shape}`
    const { query, loginCookie } = await signIn(shape, username)
    const done = await callback(request(shape, 'GET', '/callback', query, loginCookie), contextWith(10_000))
    assert.equal(done.statusCode, 302, JSON.stringify(done))
    assert.equal(header(done, 'location'), '/app/inbox')
    if (shape === 'http') assert.ok(done.cookies.length > 0, 'HTTP API answers cookies in `cookies`')
    else assert.ok(done.multiValueHeaders['set-cookie'].length > 0, 'REST answers them in multiValueHeaders')
    const token = cookiePair(done, 'token')
    assert.match(token, /^token=eyJ/)
    const data = await session('token', request(shape, 'GET', '/app/inbox', '', token))
    assert.equal(data.username, username)

    const out = await logout(request(shape, 'POST', '/logout', '', token), contextWith(10_000))
    assert.equal(out.statusCode, 302)
    assert.ok(header(out, 'location').startsWith(`${fake.baseUrl}/logout?`), header(out, 'location'))
    assert.ok(setCookies(out).some((c) => /^token=; .*Max-Age=0/.test(c)), JSON.stringify(setCookies(out)))
    const replay = await rejection(session('token', request(shape, 'GET', '/app/inbox', '', token)))
    assert.equal(replay.statusCode, 401)
    assert.equal(replay.code, 'session_ended')
  })
}

test('a callback without this browser\'s login cookie is refused (login CSRF), no session', async () => {
  const { query } = await signIn('http', 'route-csrf')
  const refused = await callback(request('http', 'GET', '/callback', query, '', { json: true }))
  assert.equal(refused.statusCode, 400)
  assert.equal(JSON.parse(refused.body).error, 'login_state_mismatch')
  assert.ok(!setCookies(refused).some((c) => c.startsWith('token=')))
})

test('an event that is no HTTP request is a 400, not a crash', async () => {
  const error = await rejection(login({ Records: [] }))
  assert.equal(error.statusCode, 400)
  assert.equal(error.code, 'invalid_input')
})
