// A Node.js Lambda runtime loop, as AWS Lambda's own runs a handler: takes each invocation from
// the Runtime API (AWS_LAMBDA_RUNTIME_API; in the tests, testkit's emulator), calls
// `handler(event, context)` with a context whose getRemainingTimeInMillis() counts down to the
// invocation's deadline, and posts the result (or the error) back.
//
//   node runtime.mjs <handler module> [export name, default "handler"]
import { pathToFileURL } from 'node:url'
import { resolve } from 'node:path'

const api = `http://${process.env.AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime`
const [file, name = 'handler'] = process.argv.slice(2)

async function post(path, body) {
  await fetch(`${api}${path}`, { method: 'POST', body: JSON.stringify(body) })
}

function failure(error) {
  return { errorType: error?.name ?? 'Error', errorMessage: String(error?.message ?? error) }
}

let handler
try {
  handler = (await import(pathToFileURL(resolve(file)).href))[name]
  if (typeof handler !== 'function') throw new Error(`${file} exports no function ${name}`)
} catch (error) {
  await post('/init/error', failure(error))
  process.exit(1)
}

for (;;) {
  const next = await fetch(`${api}/invocation/next`)
  const id = next.headers.get('lambda-runtime-aws-request-id')
  const deadline = Number(next.headers.get('lambda-runtime-deadline-ms'))
  const event = await next.json()
  const context = {
    awsRequestId: id,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: next.headers.get('lambda-runtime-invoked-function-arn'),
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => deadline - Date.now(),
  }
  try {
    await post(`/invocation/${id}/response`, await handler(event, context))
  } catch (error) {
    await post(`/invocation/${id}/error`, failure(error))
  }
}
