// The app's own sign-in form through the package: signIn() with a password (SIGN_IN_FLOW=password
// on moto), one answer for a wrong password and an unknown user, and the new-password challenge
// answered with respond(), whose sealed state opens only with the browser's challenge cookie.
import assert from 'node:assert/strict'
import { before, test } from 'node:test'

import { clearChallengeCookie, respond, session, setCookie, signIn } from 'cognito-session'

import { event, poolEnv, rejection, testkit } from './support.mjs'

let pool

before(async () => {
  pool = await testkit('/pool')
  const endpoint = (await testkit('/proxy')).url
  Object.assign(process.env, poolEnv(pool, endpoint), { SIGN_IN_FLOW: 'password' })
})

test('a password sign-in starts the session', async () => {
  const { sub, password } = await testkit('/user', { pool: pool.poolId, username: 'form-user' })
  const { session: started, challenge } = await signIn('form-user', password)
  assert.equal(challenge, undefined)
  assert.equal(started.sub, sub)
  const cookie = setCookie('token', started.cognito.AuthenticationResult)
  const data = await session('token', event('http', cookie.slice(0, cookie.indexOf(';'))))
  assert.equal(data.username, 'form-user')
})

test('a wrong password and an unknown user get the same answer', async () => {
  await testkit('/user', { pool: pool.poolId, username: 'form-known' })
  const wrong = await rejection(signIn('form-known', 'Not-the-password-1!'))
  const unknown = await rejection(signIn('form-nobody', 'Not-the-password-1!'))
  for (const error of [wrong, unknown]) {
    assert.equal(error.statusCode, 401)
    assert.equal(error.code, 'sign_in_incorrect_credentials')
  }
  assert.equal(wrong.message, unknown.message)
  assert.ok(!wrong.message.includes('form-known'))
})

test('the new-password challenge: answered with its state and this browser\'s cookie only', async () => {
  const { sub, password } = await testkit('/user', { pool: pool.poolId, username: 'form-new', temporary: true })
  const { challenge } = await signIn('form-new', password)
  assert.equal(challenge.name, 'NewPasswordRequired')
  assert.ok(challenge.state.length > 20)
  assert.match(challenge.setCookie, /^(__Host-)?cognito-signin=/)
  assert.equal(challenge.totpSecret, null)
  const browser = challenge.setCookie.slice(0, challenge.setCookie.indexOf(';'))
  // Another browser (no cookie) cannot use the state.
  const stolen = await rejection(respond(event('rest', 'theme=dark'), challenge.state, { newPassword: 'Another-horse-7!' }))
  assert.equal(stolen.statusCode, 400)
  const { session: started } = await respond(event('rest', browser), challenge.state, { newPassword: 'Another-horse-7!' })
  assert.equal(started.sub, sub)
  assert.match(clearChallengeCookie(), /cognito-signin=; .*Max-Age=0/)
  const bad = await rejection(respond(event('rest', browser), challenge.state, { shout: 'x' }))
  assert.equal(bad.statusCode, 400)
  assert.equal(bad.code, 'invalid_input')
})
