/**
 * Server-side sessions for AWS Lambda functions on Amazon Cognito and DynamoDB: the seed's
 * `session(cookieName, event)`, verified locally and refreshed safely, over cognito-session (Rust).
 * Configured by environment variables (`SESSION_TABLE`, `PARTITION_KEY`, `CLIENT_ID`, ...).
 */
declare function session(
  cookieName: string,
  event: session.LambdaEvent,
  context?: session.LambdaContext,
): Promise<session.Session>

declare namespace session {
  /** A Lambda HTTP event: API Gateway REST (v1) or HTTP API (v2), ALB, or a function URL. */
  interface LambdaEvent {
    headers?: Record<string, string | undefined> | null
    multiValueHeaders?: Record<string, string[] | undefined> | null
    cookies?: string[] | null
    [field: string]: unknown
  }

  /**
   * The handler's Lambda context: every call's I/O ends before `getRemainingTimeInMillis()` runs
   * out (a call still waiting then rejects with 503). Without it, the configured operation
   * timeout applies.
   */
  interface LambdaContext {
    getRemainingTimeInMillis(): number
    [field: string]: unknown
  }

  /** Cognito's tokens, as `InitiateAuth` / `RespondToAuthChallenge` return them. */
  interface AuthenticationResult {
    AccessToken: string
    IdToken?: string | null
    RefreshToken?: string | null
    ExpiresIn?: number
    TokenType?: string
    NewDeviceMetadata?: { DeviceKey: string; DeviceGroupKey?: string } | null
  }

  /** New tokens: present after a refresh (or a `start`), an empty object otherwise. */
  type Refreshed =
    | { AccessToken: string; IdToken: string | null; ExpiresIn: number; TokenType: 'Bearer' }
    | { AccessToken?: undefined; IdToken?: undefined; ExpiresIn?: undefined; TokenType?: undefined }

  /** A verified session. */
  interface Session {
    /** The user's `sub`. */
    sub: string
    /** Cognito's username for the user. */
    username: string
    /** `cognito:groups` of the access token. */
    groups: string[]
    /** The access token's `scope` claim (space-separated), if any. */
    scope: string | null
    /** Every claim of the verified access token. */
    claims: Record<string, unknown>
    /** The profile from the login's latest ID token (`email`, `name`, ...), when this call read it. */
    profile: Record<string, unknown> | null
    /**
     * The `Set-Cookie` value to send when the token was refreshed (with the configured
     * `COOKIE_PREFIX`, `COOKIE_DOMAIN`, `COOKIE_PATH`); `null` when the cookie is still good.
     */
    setCookie: string | null
    /** As the seed package: `AuthenticationResult` holds the new tokens after a refresh. */
    cognito: { AuthenticationResult: Refreshed }
  }

  /** A Lambda proxy result for the trigger the event came from. */
  interface ProxyResult {
    statusCode: number
    headers?: Record<string, string>
    multiValueHeaders?: Record<string, string[]>
    cookies?: string[]
    body?: string
    isBase64Encoded?: boolean
    statusDescription?: string
  }

  /**
   * What every function rejects (or throws) with: an `Error` whose message never holds a token.
   */
  interface SessionError extends Error {
    /** 401 (log in again), 503 (retry: nothing was lost), 500 (misconfigured), 400 (bad input); sign-in also 403, 429. */
    statusCode: 400 | 401 | 403 | 429 | 500 | 503
    /** A stable code: `missing_cookie`, `signature`, `claims.expired`, `session_ended`, `revoked`, `unavailable`, `misconfigured`, ... */
    code: string
    /** For a 503: the seconds to send in `Retry-After`. */
    retryAfter?: number
    /** For a cookie that can never work again: the `Set-Cookie` value that deletes it. */
    clearCookie?: string
  }

  /** The session of the event's cookie `cookieName`; rejects with a {@link SessionError}. */
  function session(cookieName: string, event: LambdaEvent, context?: LambdaContext): Promise<Session>
  /** Stores the session of a login's tokens (the session row), after verifying them. */
  function start(
    tokens: AuthenticationResult | { AuthenticationResult: AuthenticationResult },
    context?: LambdaContext,
  ): Promise<Session>
  /** Logout: deletes the session row of the event's cookie and revokes its refresh token. */
  function end(cookieName: string, event: LambdaEvent, context?: LambdaContext): Promise<void>
  /** The `Set-Cookie` value storing the access token in cookie `cookieName`. */
  function setCookie(cookieName: string, tokens: string | { AccessToken: string }): string
  /** The `Set-Cookie` value deleting cookie `cookieName`. */
  function clearCookie(cookieName: string): string
  /**
   * A sign-in challenge: `name` is the step (`NewPasswordRequired` with `required_attributes`,
   * `SoftwareTokenMfa`, `SmsMfa` / `EmailOtp` with `destination`, `SelectMfaType` / `MfaSetup`
   * with `options`, `TotpSetup`). Put `state` in the page (a hidden field) and send `setCookie`:
   * the state opens only with this browser's cookie, for 15 minutes.
   */
  interface Challenge {
    name: string
    state: string
    setCookie: string | null
    /** For `TotpSetup`: the secret for the authenticator app (show it to the user only). */
    totpSecret: string | null
    [field: string]: unknown
  }

  /** A sign-in step: signed in (the session is stored), or a challenge to answer. */
  type SignInStep = { session: Session; challenge?: undefined } | { challenge: Challenge; session?: undefined }

  /** An answer to a challenge. */
  type ChallengeAnswer =
    | { code: string }
    | { newPassword: string; attributes?: Record<string, string> }
    | { choose: 'Sms' | 'Totp' | 'Email' }

  /** The app's own sign-in form (`SIGN_IN_FLOW`: `srp` or `password`). */
  function signIn(username: string, password: string, context?: LambdaContext): Promise<SignInStep>
  /** Answers a challenge: `state` from the page, its cookie from the event. */
  function respond(
    event: LambdaEvent,
    state: string,
    answer: ChallengeAnswer,
    context?: LambdaContext,
  ): Promise<SignInStep>
  /** The `Set-Cookie` value that ends a sign-in's challenge cookie (send it once signed in). */
  function clearChallengeCookie(): string
  /** Managed login's `/login` route (`?return_to=/path`): a redirect to the sign-in page. */
  function login(event: LambdaEvent, context?: LambdaContext): Promise<ProxyResult>
  /** Managed login's callback route (the path of `REDIRECT_URI`). */
  function callback(event: LambdaEvent, context?: LambdaContext): Promise<ProxyResult>
  /** The logout route: session ended, cookie cleared, redirect to managed login's logout. */
  function logout(event: LambdaEvent, context?: LambdaContext): Promise<ProxyResult>

}

export = session
