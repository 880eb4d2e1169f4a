//! The Node.js addon of cognito-session: the seed's `session(cookieName, event)` and the rest a
//! Node handler needs, each a thin conversion over [`cognito_session::Sessions`].
//!
//! Every export converts its arguments (`convert`), runs the Rust call, and converts the result
//! (or the error, `error`) back; nothing here decides anything about sessions. The npm
//! package's `index.js` wraps each export in an `async` function, so a call that finished without
//! waiting for I/O (a valid token in token mode, say) is answered without a trip through the
//! thread pool, and one that waits settles its promise from there.
//!
//! One [`Sessions`] per process, built from the environment at the first call and reused by every
//! call after it (`sessions`). The handler's Lambda `context`, when passed as the last argument,
//! bounds the call by `context.getRemainingTimeInMillis()` ([`Sessions::with_deadline`]).
// napi-derive's `#[napi]` expands to `unsafe` glue (the C entry points and value conversions);
// everything written in this crate is safe, and `convert` and `error` forbid `unsafe` outright.
#![deny(unsafe_code)]

mod convert;
mod error;

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::SystemTime;

use cognito_session::{Error, Sessions};
use napi::bindgen_prelude::{
    within_runtime_if_available, Either, Object, PromiseRaw, ToNapiValue, Unknown,
};
use napi::Env;
use napi_derive::napi;
use tokio::sync::OnceCell;

use crate::error::Rejection;

/// The process's [`Sessions`]: built at the first call. A configuration error (500) is kept and
/// answers every later call the same way, as `Sessions::from_env` would; a transient failure
/// (KMS unavailable at cold start, 503) is not kept, so the next call tries again.
static SESSIONS: OnceCell<Result<Sessions, Arc<Error>>> = OnceCell::const_new();

/// The process's [`Sessions`], bounded by `deadline` when there is one.
async fn sessions(deadline: Option<SystemTime>) -> Result<Sessions, Rejection> {
    let built = SESSIONS
        .get_or_try_init(|| async {
            match Sessions::from_env().await {
                Ok(sessions) => Ok(Ok(sessions)),
                Err(error) if error.status() == 500 => Ok(Err(Arc::new(error))),
                Err(error) => Err(error),
            }
        })
        .await
        .map_err(|error| Rejection::of(&error))?;
    match built {
        Ok(sessions) => Ok(match deadline {
            Some(deadline) => sessions.with_deadline(deadline),
            None => sessions.clone(),
        }),
        Err(error) => Err(Rejection::of(error)),
    }
}

/// What an export hands to `index.js`: the converted result when `work` finished at its first
/// poll (no I/O was needed), else a promise settled on the runtime. A refusal is thrown (or
/// rejects the promise) as the JS error [`Rejection::into_js`] builds.
fn run<'env, T, W, J>(env: &'env Env, work: W, to_js: J) -> napi::Result<Answer<'env>>
where
    T: Send + 'static,
    W: Future<Output = Result<T, Rejection>> + Send + 'static,
    J: FnOnce(&Env, T) -> napi::Result<Unknown<'_>> + 'static,
{
    let mut work = Box::pin(work);
    let mut cx = Context::from_waker(Waker::noop());
    let first = within_runtime_if_available(|| work.as_mut().poll(&mut cx));
    match first {
        Poll::Ready(Ok(value)) => to_js(env, value).map(Either::A),
        Poll::Ready(Err(rejection)) => Err(rejection.into_js(env)),
        Poll::Pending => env
            .spawn_future_with_callback(async move { Ok(work.await) }, move |env, outcome| {
                match outcome {
                    Ok(value) => to_js(env, value),
                    Err(rejection) => Err(rejection.into_js(env)),
                }
            })
            .map(Either::B),
    }
}

type Answer<'env> = Either<Unknown<'env>, PromiseRaw<'env, Unknown<'env>>>;

/// `session(cookieName, event, context?)`: the session of the event's cookie `cookieName`.
#[napi(ts_return_type = "Promise<Session>")]
pub fn session<'env>(
    env: &'env Env,
    cookie_name: String,
    event: Object<'env>,
    context: Option<Object<'env>>,
) -> napi::Result<Answer<'env>> {
    let request = convert::cookie_source(&event)?;
    let deadline = convert::deadline(context)?;
    run(
        env,
        async move {
            let sessions = sessions(deadline).await?;
            let session = sessions
                .session(&cookie_name, &request)
                .await
                .map_err(|error| Rejection::clearing(&error, &sessions, &cookie_name))?;
            let set_cookie = session
                .try_set_cookie(&cookie_name)
                .map_err(|error| Rejection::of(&error))?;
            Ok((session, set_cookie))
        },
        |env, (session, set_cookie)| convert::session(env, &session, set_cookie),
    )
}

/// `start(tokens, context?)`: stores the session of a login's tokens.
#[napi(ts_return_type = "Promise<Session>")]
pub fn start<'env>(
    env: &'env Env,
    tokens: Object<'env>,
    context: Option<Object<'env>>,
) -> napi::Result<Answer<'env>> {
    let tokens = convert::tokens(env, &tokens)?;
    let deadline = convert::deadline(context)?;
    run(
        env,
        async move {
            let sessions = sessions(deadline).await?;
            sessions.start(&tokens).await.map_err(|e| Rejection::of(&e))
        },
        |env, session| convert::session(env, &session, None),
    )
}

/// `end(cookieName, event, context?)`: logout, the session row of the event's cookie removed.
#[napi(ts_return_type = "Promise<void>")]
pub fn end<'env>(
    env: &'env Env,
    cookie_name: String,
    event: Object<'env>,
    context: Option<Object<'env>>,
) -> napi::Result<Answer<'env>> {
    let request = convert::cookie_source(&event)?;
    let deadline = convert::deadline(context)?;
    run(
        env,
        async move {
            let sessions = sessions(deadline).await?;
            sessions
                .end(&cookie_name, &request)
                .await
                .map_err(|error| Rejection::clearing(&error, &sessions, &cookie_name))
        },
        |env, ()| ().into_unknown(env),
    )
}

/// `setCookie(cookieName, tokens)`: the `Set-Cookie` value that stores `tokens.AccessToken`.
#[napi]
pub fn set_cookie(
    env: &Env,
    cookie_name: String,
    tokens: Either<String, Object>,
) -> napi::Result<String> {
    let access_token = match tokens {
        Either::A(token) => token,
        Either::B(tokens) => convert::access_token(env, &tokens)?,
    };
    built(env)?
        .cookie_options()
        .try_set(&cookie_name, &access_token)
        .map_err(|error| Rejection::of(&error).into_js(env))
}

/// `clearCookie(cookieName)`: the `Set-Cookie` value that deletes the cookie.
#[napi]
pub fn clear_cookie(env: &Env, cookie_name: String) -> napi::Result<String> {
    Ok(built(env)?.clear_cookie(&cookie_name))
}

/// The process's [`Sessions`] for the synchronous exports: built now if no call did yet.
fn built(env: &Env) -> napi::Result<Sessions> {
    match SESSIONS.get() {
        Some(Ok(sessions)) => Ok(sessions.clone()),
        _ => napi::bindgen_prelude::block_on(sessions(None)).map_err(|r| r.into_js(env)),
    }
}

/// `signIn(username, password, context?)`: the app's own sign-in form (`SIGN_IN_FLOW`).
#[napi]
pub fn sign_in<'env>(
    env: &'env Env,
    username: String,
    password: String,
    context: Option<Object<'env>>,
) -> napi::Result<Answer<'env>> {
    let deadline = convert::deadline(context)?;
    run(
        env,
        async move {
            let sessions = sessions(deadline).await?;
            let step = sessions.sign_in(&username, &password).await;
            step.map_err(|error| Rejection::sign_in(&error))
        },
        convert::sign_in,
    )
}

/// `respond(event, state, answer, context?)`: the answer to a sign-in challenge, its `state`
/// from the page and its binding cookie from the event.
#[napi]
pub fn respond<'env>(
    env: &'env Env,
    event: Object<'env>,
    state: String,
    answer: Object<'env>,
    context: Option<Object<'env>>,
) -> napi::Result<Answer<'env>> {
    let request = convert::cookie_source(&event)?;
    let answer = convert::answer(env, &answer)?;
    let deadline = convert::deadline(context)?;
    run(
        env,
        async move {
            let sessions = sessions(deadline).await?;
            let rejected = |error: cognito_session::SignInError| Rejection::sign_in(&error);
            let challenge = sessions
                .open_challenge(&request, &state)
                .await
                .map_err(rejected)?;
            sessions
                .respond(&challenge, &answer)
                .await
                .map_err(rejected)
        },
        convert::sign_in,
    )
}

/// `clearChallengeCookie()`: the `Set-Cookie` that ends a sign-in's challenge cookie.
#[napi]
pub fn clear_challenge_cookie(env: &Env) -> napi::Result<String> {
    Ok(built(env)?.clear_challenge_cookie())
}

/// `login(event, context?)`: the managed-login route, as a Lambda proxy result.
#[napi(ts_return_type = "Promise<ProxyResult>")]
pub fn login<'env>(
    env: &'env Env,
    event: Unknown<'env>,
    context: Option<Object<'env>>,
) -> napi::Result<Answer<'env>> {
    route(env, event, context, Route::Login)
}

/// `callback(event, context?)`: the managed login's callback route, as a Lambda proxy result.
#[napi(ts_return_type = "Promise<ProxyResult>")]
pub fn callback<'env>(
    env: &'env Env,
    event: Unknown<'env>,
    context: Option<Object<'env>>,
) -> napi::Result<Answer<'env>> {
    route(env, event, context, Route::Callback)
}

/// `logout(event, context?)`: the logout route, as a Lambda proxy result.
#[napi(ts_return_type = "Promise<ProxyResult>")]
pub fn logout<'env>(
    env: &'env Env,
    event: Unknown<'env>,
    context: Option<Object<'env>>,
) -> napi::Result<Answer<'env>> {
    route(env, event, context, Route::Logout)
}

#[derive(Clone, Copy)]
enum Route {
    Login,
    Callback,
    Logout,
}

fn route<'env>(
    env: &'env Env,
    event: Unknown<'env>,
    context: Option<Object<'env>>,
    which: Route,
) -> napi::Result<Answer<'env>> {
    let event: serde_json::Value = env.from_js_value(event)?;
    let deadline = convert::deadline(context)?;
    run(
        env,
        async move {
            let sessions = sessions(deadline).await?;
            let request = convert::LambdaHttp::new(&event, deadline)?;
            request
                .respond(move |request| {
                    let sessions = sessions.clone();
                    async move {
                        match which {
                            Route::Login => sessions.login(&request).await,
                            Route::Callback => sessions.callback(&request).await,
                            Route::Logout => sessions.logout(&request).await,
                        }
                    }
                })
                .await
        },
        |env, response| convert::json(env, &response),
    )
}
