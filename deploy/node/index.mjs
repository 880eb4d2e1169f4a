// The Node.js variant of the example function (deploy/template.yaml with NodeFunction=true): a
// handler behind an HTTP API or a function URL that answers with the signed-in user, on the
// cognito-session npm package. Configured by the same environment variables as the Rust
// function (SESSION_TABLE, PARTITION_KEY, CLIENT_ID, USER_POOL_ID, ...).
import session from 'cognito-session'

const COOKIE = 'token'

export const handler = async (event, context) => {
  try {
    // The context bounds every call to DynamoDB, Cognito and the JWKS endpoint by the time left.
    const data = await session(COOKIE, event, context)
    return {
      statusCode: 200,
      headers: { 'content-type': 'application/json' },
      // After a refresh, the new cookie (with COOKIE_PREFIX, COOKIE_DOMAIN, COOKIE_PATH).
      cookies: data.setCookie ? [data.setCookie] : [],
      body: JSON.stringify({
        sub: data.sub,
        username: data.username,
        groups: data.groups,
        email: data.profile?.email ?? null,
      }),
    }
  } catch (error) {
    // Not one of ours (a bug): let Lambda report it.
    if (typeof error.statusCode !== 'number') throw error
    return {
      // 401: log in again; 503: retry (nothing was lost); 500: misconfigured (see the logs).
      statusCode: error.statusCode,
      headers: {
        'content-type': 'application/json',
        ...(error.retryAfter ? { 'retry-after': String(error.retryAfter) } : {}),
      },
      // A cookie that can never work again is deleted, so the browser stops sending it.
      cookies: error.clearCookie ? [error.clearCookie] : [],
      body: JSON.stringify({ error: error.code }),
    }
  }
}
