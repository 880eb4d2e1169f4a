'use strict'
// The package's API: each function hands its arguments to the native addon, which converts them,
// runs cognito-session (Rust) and converts the answer back. `async` turns an error thrown by a
// call that finished at once into a rejection, like one that waited for I/O.
const native = require('./binding.js')

// A session as the addon hands it over (positionally, see convert.rs), as the object the API
// documents. `claims` is parsed from the verified payload's JSON text when first read (a getter
// on the class, so creating a session costs no parse); `toJSON` includes it.
class Session {
  #payload
  #claims
  constructor([sub, username, groups, scope, payload, profile, setCookie, tokens]) {
    this.sub = sub
    this.username = username
    this.groups = groups
    this.scope = scope
    this.profile = profile
    this.setCookie = setCookie
    this.cognito = {
      AuthenticationResult:
        tokens === null
          ? {}
          : { AccessToken: tokens[0], IdToken: tokens[1], ExpiresIn: tokens[2], TokenType: tokens[3] },
    }
    this.#payload = payload
  }

  get claims() {
    return (this.#claims ??= JSON.parse(this.#payload))
  }

  toJSON() {
    return { ...this, claims: this.claims }
  }
}

/** The session of the event's cookie `cookieName` (see index.d.ts). */
async function session(cookieName, event, context) {
  return new Session(await native.session(cookieName, event, context))
}

/** Stores the session of a login's tokens (Cognito's `AuthenticationResult`). */
async function start(tokens, context) {
  return new Session(await native.start(tokens, context))
}

/** Logout: removes the session of the event's cookie `cookieName`. */
async function end(cookieName, event, context) {
  return native.end(cookieName, event, context)
}

/** The `Set-Cookie` value that stores the access token in cookie `cookieName`. */
function setCookie(cookieName, tokens) {
  return native.setCookie(cookieName, tokens)
}

/** The `Set-Cookie` value that deletes cookie `cookieName`. */
function clearCookie(cookieName) {
  return native.clearCookie(cookieName)
}

// A sign-in step: `{ session }` when signed in, `{ challenge }` when Cognito asks for more.
function stepOf([kind, value]) {
  return kind === 'done' ? { session: new Session(value) } : { challenge: value }
}

/** The app's own sign-in form: username and password (SIGN_IN_FLOW), a session or a challenge. */
async function signIn(username, password, context) {
  return stepOf(await native.signIn(username, password, context))
}

/** The answer to a challenge: its `state` from the page, its cookie from the event. */
async function respond(event, state, answer, context) {
  return stepOf(await native.respond(event, state, answer, context))
}

/** The `Set-Cookie` value that ends a sign-in's challenge cookie. */
function clearChallengeCookie() {
  return native.clearChallengeCookie()
}

/** Managed login's `/login` route: a redirect to the sign-in page, as a Lambda proxy result. */
async function login(event, context) {
  return native.login(event, context)
}

/** Managed login's callback route (`REDIRECT_URI`): starts the session, as a proxy result. */
async function callback(event, context) {
  return native.callback(event, context)
}

/** The logout route: ends the session and the managed-login session, as a proxy result. */
async function logout(event, context) {
  return native.logout(event, context)
}

module.exports = session
Object.assign(session, {
  default: session,
  session,
  start,
  end,
  setCookie,
  clearCookie,
  signIn,
  respond,
  clearChallengeCookie,
  login,
  callback,
  logout,
})
