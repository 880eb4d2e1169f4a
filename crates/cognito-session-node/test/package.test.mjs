// The installed package's two entries: CommonJS `require` and ESM `import` give the same
// functions, `session` is the default export of both, and a bad argument rejects (the promise)
// rather than throwing from the call.
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { test } from 'node:test'

import * as esm from 'cognito-session'
import session from 'cognito-session'

const require = createRequire(import.meta.url)

const EXPORTS = ['session', 'start', 'end', 'setCookie', 'clearCookie', 'signIn', 'respond', 'clearChallengeCookie', 'login', 'callback', 'logout']

test('CommonJS and ESM entries export the same functions; session is the default', () => {
  const cjs = require('cognito-session')
  assert.equal(typeof cjs, 'function')
  assert.equal(cjs, session)
  assert.equal(cjs.default, session)
  assert.equal(esm.default, session)
  for (const name of EXPORTS) {
    assert.equal(typeof esm[name], 'function', name)
    assert.equal(esm[name], cjs[name], name)
  }
})

test('the addon comes from the platform package npm installed', () => {
  const entry = require.resolve('cognito-session-linux-x64-gnu')
  assert.match(entry, /node_modules\/cognito-session-linux-x64-gnu\/cognito-session\.linux-x64-gnu\.node$/)
})

test('a bad argument rejects the promise instead of throwing', async () => {
  const pending = session(42, {})
  assert.ok(pending instanceof Promise)
  await assert.rejects(pending)
})
