// The CommonJS consumer: `require`, as a Node handler written in CommonJS TypeScript would.
import session = require('cognito-session')

export async function handler(event: session.LambdaEvent): Promise<number> {
  const data = await session('token', event)
  const again = await session.session('token', event)
  return data.sub.length + again.sub.length + session.clearCookie('token').length
}
