// A misconfiguration (here: no SESSION_TABLE) rejects every call with the same 500 naming the
// variable, for the life of the process (as a Rust function stops at cold start), and never
// reaches AWS.
import assert from 'node:assert/strict'
import { before, test } from 'node:test'

import session, { clearCookie, end, login, setCookie, start } from 'cognito-session'

import { event, rejection } from './support.mjs'

before(() => {
  delete process.env.SESSION_TABLE
  Object.assign(process.env, {
    PARTITION_KEY: 'sub',
    CLIENT_ID: 'client',
    AWS_REGION: 'us-east-1',
    // Nothing listens here: a call that went out would fail as 503, not as this 500.
    AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
  })
})

function assertMisconfigured(error) {
  assert.ok(error instanceof Error)
  assert.equal(error.statusCode, 500)
  assert.equal(error.code, 'misconfigured')
  assert.match(error.message, /SESSION_TABLE/)
  assert.equal(error.retryAfter, undefined)
  return error.message
}

test('every function rejects with the same 500 naming SESSION_TABLE', async () => {
  const first = assertMisconfigured(await rejection(session('token', event('rest', 'token=eyJ.a.b'))))
  const calls = [
    session('token', event('http', 'token=eyJ.a.b')),
    start({ AccessToken: 'eyJ.a.b', RefreshToken: 'r' }),
    end('token', event('alb', 'token=eyJ.a.b')),
    login(event('http', '')),
  ]
  for (const call of calls) assert.equal(assertMisconfigured(await rejection(call)), first)
  assert.throws(() => setCookie('token', 'eyJ.a.b'), (error) => assertMisconfigured(error) === first)
  assert.throws(() => clearCookie('token'), (error) => assertMisconfigured(error) === first)
})

test('setting the variable later changes nothing: the process keeps its configuration', async () => {
  process.env.SESSION_TABLE = 'sessions'
  assertMisconfigured(await rejection(session('token', event('rest', 'token=eyJ.a.b'))))
})
