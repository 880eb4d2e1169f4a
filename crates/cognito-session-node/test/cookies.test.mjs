// Every Set-Cookie the package writes uses the configured COOKIE_PREFIX, COOKIE_DOMAIN and
// COOKIE_PATH, and session() reads the prefixed cookie: setCookie, clearCookie, a refreshed
// session's setCookie and a refusal's clearCookie.
import assert from 'node:assert/strict'
import { before, test } from 'node:test'

import { clearCookie, session, setCookie, start } from 'cognito-session'

import { event, loggedIn, poolEnv, rejection, testkit } from './support.mjs'

let pool

before(async () => {
  pool = await testkit('/pool')
  const endpoint = (await testkit('/proxy')).url
  Object.assign(process.env, poolEnv(pool, endpoint), {
    COOKIE_PREFIX: '__Secure-',
    COOKIE_DOMAIN: 'example.com',
    COOKIE_PATH: '/app',
    COOKIE_SAME_SITE: 'Strict',
  })
})

function assertAttributes(cookie) {
  assert.match(cookie, /^__Secure-token=/)
  for (const attribute of ['HttpOnly', 'Secure', 'SameSite=Strict', 'Path=/app', 'Domain=example.com']) {
    assert.ok(cookie.split('; ').includes(attribute), `${attribute} in ${cookie}`)
  }
}

test('setCookie and clearCookie carry the prefix, domain and path', async () => {
  const set = setCookie('token', { AccessToken: 'eyJ.abc.def' })
  assertAttributes(set)
  assert.ok(set.startsWith('__Secure-token=eyJ.abc.def; '))
  assert.equal(setCookie('token', 'eyJ.abc.def'), set)
  const clear = clearCookie('token')
  assertAttributes(clear)
  assert.match(clear, /^__Secure-token=; .*Max-Age=0/)
})

test('a token too large for a browser is refused with a 500 naming the cause', () => {
  assert.throws(
    () => setCookie('token', 'x'.repeat(5000)),
    (error) => error.statusCode === 500 && error.code === 'misconfigured' && /too large for a cookie/.test(error.message),
  )
})

test('session() reads the prefixed cookie; a refresh sets it with the same attributes', async () => {
  const { sub, tokens } = await loggedIn(pool, 'prefix-user')
  await start(tokens)
  assert.equal((await session('token', event('http', `__Secure-token=${tokens.AccessToken}`))).sub, sub)
  // The unprefixed name is another cookie.
  assert.equal((await rejection(session('token', event('http', `token=${tokens.AccessToken}`)))).code, 'missing_cookie')
  const { token: expired } = await testkit('/expired', { token: tokens.AccessToken })
  const refreshed = await session('token', event('alb', `__Secure-token=${expired}`))
  assertAttributes(refreshed.setCookie)
  const { token: forged } = await testkit('/forged', { token: expired, kind: 'foreign-key' })
  const refused = await rejection(session('token', event('rest', `__Secure-token=${forged}`)))
  assert.equal(refused.statusCode, 401)
  assertAttributes(refused.clearCookie)
})
