// The seed README's example handler (lambda/seed-handler.mjs: copied verbatim, only the import
// line changed) run as a Node.js Lambda function: lambda/runtime.mjs behind testkit's Runtime API
// emulator, with moto behind it and the seed's three variables (and the pool) as configuration.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'

import { end, start } from 'cognito-session'

import { event, loggedIn, poolEnv, testkit } from './support.mjs'

const here = dirname(fileURLToPath(import.meta.url))
let pool
let runtime
let fn

before(async () => {
  pool = await testkit('/pool')
  const endpoint = (await testkit('/proxy')).url
  const env = poolEnv(pool, endpoint)
  runtime = await testkit('/runtime')
  // Only what the Lambda service sets, and the function's configuration.
  fn = spawn(process.execPath, [join(here, 'lambda/runtime.mjs'), join(here, 'lambda/seed-handler.mjs')], {
    cwd: here,
    env: {
      PATH: process.env.PATH,
      AWS_LAMBDA_RUNTIME_API: runtime.address,
      AWS_LAMBDA_FUNCTION_NAME: 'seed-handler',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '128',
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/seed-handler',
      AWS_LAMBDA_LOG_STREAM_NAME: 'test',
      ...env,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  // This process starts and ends sessions on the same pool, as the app's login and logout do.
  Object.assign(process.env, env)
})

after(() => fn?.kill())

async function invoke(cookie) {
  const outcome = await testkit('/runtime/invoke', { id: runtime.id, event: event('rest', cookie) })
  assert.ok(outcome.response, `the function failed: ${JSON.stringify(outcome.error)}`)
  return outcome.response
}

test('200 without Set-Cookie for a valid cookie', async () => {
  const { tokens } = await loggedIn(pool, 'seed-valid')
  await start(tokens)
  const response = await invoke(`token=${tokens.AccessToken}`)
  assert.equal(response.statusCode, 200)
  assert.deepEqual(JSON.parse(response.body), { message: 'Request successful' })
  assert.deepEqual(response.headers, { 'Content-Type': 'application/json' })
})

test('200 with the new cookie after expiry', async () => {
  const { tokens } = await loggedIn(pool, 'seed-expired')
  await start(tokens)
  const { token: expired } = await testkit('/expired', { token: tokens.AccessToken })
  const response = await invoke(`token=${expired}`)
  assert.equal(response.statusCode, 200)
  const cookie = response.headers['Set-Cookie']
  assert.match(cookie, /^token=eyJ[^;]+; HttpOnly;$/)
  assert.notEqual(cookie, `token=${expired}; HttpOnly;`)
  // The new cookie works, and needs no refresh.
  const again = await invoke(cookie.slice(0, cookie.indexOf(';')))
  assert.equal(again.statusCode, 200)
  assert.equal(again.headers['Set-Cookie'], undefined)
})

test('401 for no cookie, a forged cookie, and a logged-out cookie', async () => {
  const { tokens } = await loggedIn(pool, 'seed-refused')
  await start(tokens)
  const cookie = `token=${tokens.AccessToken}`
  const { token: expired } = await testkit('/expired', { token: tokens.AccessToken })
  const { token: forged } = await testkit('/forged', { token: expired, kind: 'unsigned' })
  for (const refused of ['theme=dark', `token=${forged}`]) {
    const response = await invoke(refused)
    assert.equal(response.statusCode, 401, refused)
    assert.deepEqual(JSON.parse(response.body), { error: 'Unauthorized' })
  }
  assert.equal((await invoke(cookie)).statusCode, 200)
  await end('token', event('rest', cookie))
  assert.equal((await invoke(cookie)).statusCode, 401)
  assert.equal((await invoke(`token=${expired}`)).statusCode, 401)
})
