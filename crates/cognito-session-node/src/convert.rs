//! Conversions between JavaScript values and the Rust API's types: the event's cookies, the
//! handler's Lambda `context` (its deadline), login tokens in, a [`Session`] and proxy results out.
//! Nothing here decides: each function only changes a value's shape.
#![forbid(unsafe_code)]

use std::convert::Infallible;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cognito_session::{Error, Session, Tokens};
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, LambdaEvent, Service};
use napi::bindgen_prelude::{Function, Object, Unknown};
use napi::Env;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::error::Rejection;

/// The event's fields a session cookie can arrive in (`cookies`, `headers`,
/// `multiValueHeaders`), as the raw JSON event [`cognito_session::CookieSource`] reads; the rest
/// of the event is never copied.
pub(crate) fn cookie_source(event: &Object) -> napi::Result<Value> {
    let mut fields = Map::new();
    for field in ["cookies", "headers", "multiValueHeaders"] {
        if let Some(value) = event.get::<Value>(field)? {
            fields.insert(field.to_owned(), value);
        }
    }
    Ok(Value::Object(fields))
}

/// The invocation's deadline from the handler's Lambda `context`: now plus
/// `context.getRemainingTimeInMillis()`. `None` without a context (the seed's two-argument
/// call) or one without that method: the configured operation timeout alone applies.
pub(crate) fn deadline(context: Option<Object>) -> napi::Result<Option<SystemTime>> {
    let Some(context) = context else {
        return Ok(None);
    };
    let Some(remaining) = context.get::<Function<(), f64>>("getRemainingTimeInMillis")? else {
        return Ok(None);
    };
    let millis = remaining.apply(context, ())?;
    if !millis.is_finite() {
        return Ok(None);
    }
    // A negative remaining time is a deadline already past: the call answers 503 at once.
    Ok(Some(
        SystemTime::now() + Duration::from_millis(millis.max(0.0) as u64),
    ))
}

/// Login tokens: an `AuthenticationResult` (`AccessToken`, `IdToken`, `RefreshToken`,
/// `ExpiresIn`, `NewDeviceMetadata`, as Cognito's `InitiateAuth` answers), or the whole answer
/// holding one.
pub(crate) fn tokens(env: &Env, tokens: &Object) -> napi::Result<Tokens> {
    let value: Value = match tokens.get::<Value>("AuthenticationResult")? {
        Some(result @ Value::Object(_)) => result,
        _ => env.from_js_value(*tokens)?,
    };
    Tokens::deserialize(&value).map_err(|error| {
        let error = Error::InvalidInput(format!(
            "the tokens are not an AuthenticationResult with an AccessToken string: {error}"
        ));
        Rejection::of(&error).into_js(env)
    })
}

/// The `AccessToken` of an `AuthenticationResult`-shaped object.
pub(crate) fn access_token(env: &Env, tokens: &Object) -> napi::Result<String> {
    tokens
        .get::<String>("AccessToken")?
        .filter(|token| !token.is_empty())
        .ok_or_else(|| {
            let error = Error::InvalidInput("the tokens have no AccessToken".into());
            Rejection::of(&error).into_js(env)
        })
}

/// A [`Session`] as the plain object `session()` resolves with: the verified claims, the
/// profile, `setCookie`, and the seed's `cognito.AuthenticationResult` (the new tokens after a
/// refresh or a login; an empty object otherwise, so the seed's destructuring always works).
pub(crate) fn session<'env>(
    env: &'env Env,
    session: &Session,
    set_cookie: Option<String>,
) -> napi::Result<Unknown<'env>> {
    let claims = session.claims();
    let result = match session.refreshed() {
        // Cognito's `TokenType` is always `Bearer`; the refresh token never leaves `start`.
        Some(tokens) => json!({
            "AccessToken": tokens.access_token,
            "IdToken": tokens.id_token,
            "ExpiresIn": tokens.expires_in,
            "TokenType": "Bearer",
        }),
        None => json!({}),
    };
    let value = json!({
        "sub": claims.sub(),
        "username": claims.username(),
        "groups": claims.groups(),
        "scope": claims.scope(),
        "claims": claims.all(),
        "profile": session.profile().map(|profile| profile.all()),
        "setCookie": set_cookie,
        "cognito": { "AuthenticationResult": result },
    });
    env.to_js_value(&value)
}

/// A JSON value as a JavaScript value.
pub(crate) fn json<'env>(env: &'env Env, value: &Value) -> napi::Result<Unknown<'env>> {
    env.to_js_value(value)
}

/// A Lambda HTTP event (REST v1, HTTP API v2, ALB, function URL) as `lambda_http` sees it, with
/// the invocation's deadline in its `Context`: the request the login routes take, and the
/// proxy result of the event's own trigger for the response they give.
pub(crate) struct LambdaHttp {
    request: LambdaRequest,
    context: lambda_http::Context,
}

impl LambdaHttp {
    pub(crate) fn new(event: &Value, deadline: Option<SystemTime>) -> Result<Self, Rejection> {
        let request = LambdaRequest::deserialize(event).map_err(|error| {
            Rejection::of(&Error::InvalidInput(format!(
                "the event is not an API Gateway (REST or HTTP API), ALB or function URL \
                 request: {error}"
            )))
        })?;
        let mut context = lambda_http::Context::default();
        // Milliseconds since the epoch, as the Runtime API's deadline header; 0 is unknown.
        context.deadline = deadline
            .and_then(|deadline| deadline.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |since| {
                u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
            });
        Ok(LambdaHttp { request, context })
    }

    /// Runs `handler` on the `http::Request` of this event, and gives its response as the
    /// proxy result of the event's trigger (`cookies` for HTTP API and function URLs,
    /// `multiValueHeaders` for REST and ALB).
    pub(crate) async fn respond<F, Fut>(self, mut handler: F) -> Result<Value, Rejection>
    where
        F: FnMut(lambda_http::Request) -> Fut,
        Fut: Future<Output = lambda_http::http::Response<String>> + Send,
    {
        let service = lambda_http::service_fn(move |request| {
            let response = handler(request);
            async move { Ok::<_, Infallible>(response.await) }
        });
        let mut adapter = Adapter::from(service);
        let Ok(response) = adapter
            .call(LambdaEvent::new(self.request, self.context))
            .await;
        serde_json::to_value(response).map_err(|error| {
            Rejection::of(&Error::InvalidInput(format!(
                "the response cannot be written as a proxy result: {error}"
            )))
        })
    }
}
