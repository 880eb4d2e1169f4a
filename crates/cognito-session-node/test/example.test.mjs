// deploy/node/index.mjs, the SAM template's Node.js function, run as a Lambda function behind
// testkit's Runtime API emulator with HTTP API (v2) events: the user for a valid cookie, the new
// cookie after a refresh, 401 with the dead cookie cleared, and 503 with Retry-After in an outage.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'

import { start } from 'cognito-session'

import { event, loggedIn, poolEnv, testkit } from './support.mjs'

const here = dirname(fileURLToPath(import.meta.url))
let pool
let proxy
let runtime
let fn

before(async () => {
  pool = await testkit('/pool')
  proxy = await testkit('/proxy')
  const env = poolEnv(pool, proxy.url)
  runtime = await testkit('/runtime')
  fn = spawn(process.execPath, [join(here, 'lambda/runtime.mjs'), join(here, 'lambda/example-handler.mjs')], {
    cwd: here,
    env: {
      PATH: process.env.PATH,
      AWS_LAMBDA_RUNTIME_API: runtime.address,
      AWS_LAMBDA_FUNCTION_NAME: 'example',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '128',
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      ...env,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  Object.assign(process.env, env)
})

after(() => fn?.kill())

async function invoke(cookie) {
  const outcome = await testkit('/runtime/invoke', { id: runtime.id, event: event('http', cookie) })
  assert.ok(outcome.response, `the function failed: ${JSON.stringify(outcome.error)}`)
  return outcome.response
}

test('the user for a valid cookie, a new cookie after a refresh', async () => {
  const { sub, tokens } = await loggedIn(pool, 'example-user')
  await start(tokens)
  const ok = await invoke(`token=${tokens.AccessToken}`)
  assert.equal(ok.statusCode, 200)
  assert.deepEqual(JSON.parse(ok.body), { sub, username: 'example-user', groups: [], email: null })
  assert.deepEqual(ok.cookies, [])
  const { token: expired } = await testkit('/expired', { token: tokens.AccessToken })
  const refreshed = await invoke(`token=${expired}`)
  assert.equal(refreshed.statusCode, 200)
  assert.equal(refreshed.cookies.length, 1)
  assert.match(refreshed.cookies[0], /^token=eyJ[^;]+; HttpOnly; SameSite=Lax; Secure; Path=\/; Max-Age=\d+$/)
})

test('401 with the dead cookie cleared; 503 with Retry-After when DynamoDB is down', async () => {
  const { tokens } = await loggedIn(pool, 'example-refused')
  await start(tokens)
  const { token: forged } = await testkit('/forged', { token: tokens.AccessToken, kind: 'unsigned' })
  const refused = await invoke(`token=${forged}`)
  assert.equal(refused.statusCode, 401)
  assert.match(refused.cookies[0], /^token=; .*Max-Age=0/)
  assert.equal(JSON.parse(refused.body).error, 'header.algorithm')
  await testkit('/proxy/inject', { id: proxy.id, operation: 'GetItem', fault: 'status:503' })
  try {
    const down = await invoke(`token=${tokens.AccessToken}`)
    assert.equal(down.statusCode, 503)
    assert.equal(down.headers['retry-after'], '1')
    assert.deepEqual(down.cookies, [])
  } finally {
    await testkit('/proxy/heal', { id: proxy.id })
  }
})
