// Compiled by scripts/node-test.sh with `tsc --strict --module node16`: an ES module consumer of
// the declarations, using every export as the README shows.
import session, { clearCookie, end, login, setCookie, start } from 'cognito-session'
import type { LambdaContext, LambdaEvent, Session, SessionError } from 'cognito-session'

export const handler = async (event: LambdaEvent, context: LambdaContext) => {
  try {
    const data: Session = await session('token', event, context)
    const { AccessToken } = data.cognito.AuthenticationResult
    const refreshed: string | undefined = AccessToken
    const groups: string[] = data.groups
    return { statusCode: 200, body: JSON.stringify({ user: data.username, groups, refreshed: !!refreshed }) }
  } catch (caught) {
    const error = caught as SessionError
    const cookie: string | undefined = error.clearCookie
    const retry: number | undefined = error.retryAfter
    return { statusCode: error.statusCode, body: error.code, cookie, retry }
  }
}

export async function afterLogin(tokens: { AccessToken: string; RefreshToken: string }) {
  const started = await start(tokens)
  return setCookie('token', started.cognito.AuthenticationResult.AccessToken ?? '')
}

export async function signOut(event: LambdaEvent): Promise<string> {
  await end('token', event)
  return clearCookie('token')
}

export const route = (event: LambdaEvent) => login(event).then((result) => result.statusCode)
