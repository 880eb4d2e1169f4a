// Must NOT compile (scripts/node-test.sh checks that tsc refuses it): the cookie name is a
// string, and a session has no `token` field.
import session from 'cognito-session'

export async function handler(event: { headers: Record<string, string> }) {
  const data = await session(42, event)
  return data.token
}
