//! Conversions between JavaScript values and the Rust API's types: the event's cookies, the
//! handler's Lambda `context` (its deadline), login tokens in, a [`Session`] and proxy results out.
//! Nothing here decides: each function only changes a value's shape.
#![forbid(unsafe_code)]

use std::convert::Infallible;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cognito_session::{Answer, Challenge, Error, Mfa, Session, SignIn, Tokens};
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, LambdaEvent, Service};
use napi::bindgen_prelude::{
    Array, Either, Either3, Function, JsObjectValue, Object, ToNapiValue, Unknown,
};
use napi::Env;
use napi::JsString;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::Rejection;

/// The event's fields a session cookie can arrive in, as the raw JSON event
/// [`cognito_session::CookieSource`] reads: the `cookies` array, and the `Cookie` entries (any
/// case) of `headers` and `multiValueHeaders`. Nothing else of the event is copied: the rest of a
/// request's headers never cross into Rust.
pub(crate) fn cookie_source(event: &Object) -> napi::Result<Value> {
    let mut fields = Map::new();
    if let Some(cookies) = event.get::<Loose>("cookies")? {
        fields.insert("cookies".to_owned(), strings(cookies));
    }
    for field in ["headers", "multiValueHeaders"] {
        let Some(Either::A(headers)) = event.get::<Either<Object, Unknown>>(field)? else {
            continue;
        };
        fields.insert(field.to_owned(), Value::Object(cookie_headers(&headers)?));
    }
    Ok(Value::Object(fields))
}

/// The `Cookie` entries of a headers object, under their names (any case), with their values.
/// Only names of six letters are read out of JavaScript.
fn cookie_headers(headers: &Object) -> napi::Result<Map<String, Value>> {
    let mut cookie = Map::new();
    let names = headers.get_property_names()?;
    for index in 0..names.get_array_length()? {
        let Either::A(name) = names.get_element::<Either<JsString, Unknown>>(index)? else {
            continue;
        };
        if name.utf8_len()? != "cookie".len() {
            continue;
        }
        let name = name.into_utf8()?;
        let name = name.as_str()?;
        if name.eq_ignore_ascii_case("cookie") {
            if let Some(value) = headers.get::<Loose>(name)? {
                cookie.insert(name.to_owned(), strings(value));
            }
        }
    }
    Ok(cookie)
}

/// A header value or `cookies` entry as an event carries it: a string, a list, or anything else.
type Loose<'env> = Either3<String, Vec<Either<String, Unknown<'env>>>, Unknown<'env>>;

/// A string as itself, a list as its strings, anything else as nothing (an empty list).
fn strings(value: Loose) -> Value {
    match value {
        Either3::A(text) => Value::String(text),
        Either3::B(list) => list
            .into_iter()
            .filter_map(|item| match item {
                Either::A(text) => Some(Value::String(text)),
                Either::B(_) => None,
            })
            .collect(),
        Either3::C(_) => Value::Array(Vec::new()),
    }
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

/// A [`Session`] as `index.js` takes it, positionally: `[sub, username, groups, scope, payload,
/// profile, setCookie, tokens]`, `tokens` being `[AccessToken, IdToken, ExpiresIn, TokenType]`
/// when the call produced some (a refresh or a login; the refresh token never leaves `start`)
/// and `null` otherwise.
/// `payload` is the verified access token's own JSON text: `index.js` parses it into `claims`
/// when read. `index.js` lays these out as the plain object `session()` resolves with, because
/// an object literal costs V8 a tenth of building one property by property through Node-API.
pub(crate) fn session<'env>(
    env: &'env Env,
    session: &Session,
    set_cookie: Option<String>,
) -> napi::Result<Unknown<'env>> {
    let claims = session.claims();
    let profile = match session.profile() {
        Some(profile) => Some(env.to_js_value(profile.all())?),
        None => None,
    };
    let tokens = session.refreshed().map(|tokens| {
        (
            tokens.access_token.as_str(),
            tokens.id_token.as_deref(),
            tokens.expires_in,
            // Cognito's `TokenType` is always `Bearer`.
            "Bearer",
        )
    });
    (
        claims.sub(),
        claims.username(),
        Array::from_ref_vec_string(env, claims.groups())?,
        claims.scope(),
        claims.payload(),
        profile,
        set_cookie,
        tokens,
    )
        .into_unknown(env)
}

/// A sign-in step as `index.js` takes it: `["done", session]` (see [`session`]) or
/// `["challenge", challenge]`, the challenge being `{name, ...its fields}` (`name` the
/// [`ChallengeKind`](cognito_session::ChallengeKind) variant, e.g. `NewPasswordRequired` with
/// `required_attributes`), its sealed `state` for the page, the `setCookie` binding it to this
/// browser, and `totpSecret` for a TOTP setup.
pub(crate) fn sign_in<'env>(env: &'env Env, step: SignIn) -> napi::Result<Unknown<'env>> {
    match step {
        SignIn::Done(done) => ("done", session(env, &done, None)?).into_unknown(env),
        SignIn::Challenge(challenge) => {
            ("challenge", challenge_of(env, &challenge)?).into_unknown(env)
        }
    }
}

fn challenge_of<'env>(env: &'env Env, challenge: &Challenge) -> napi::Result<Unknown<'env>> {
    let mut fields = match serde_json::to_value(challenge.kind())? {
        Value::String(name) => Map::from_iter([("name".to_owned(), Value::String(name))]),
        Value::Object(tagged) => {
            let mut fields = Map::new();
            for (name, inner) in tagged {
                fields.insert("name".to_owned(), Value::String(name));
                if let Value::Object(inner) = inner {
                    fields.extend(inner);
                }
            }
            fields
        }
        _ => Map::new(),
    };
    fields.insert("state".to_owned(), challenge.state().into());
    fields.insert("setCookie".to_owned(), challenge.set_cookie().into());
    fields.insert("totpSecret".to_owned(), challenge.totp_secret().into());
    env.to_js_value(&Value::Object(fields))
}

/// An answer to a challenge: `{code}`, `{newPassword, attributes?}` or `{choose}` (`Sms`,
/// `Totp` or `Email`).
pub(crate) fn answer(env: &Env, answer: &Object) -> napi::Result<Answer> {
    let invalid = |what: &str| {
        Rejection::of(&Error::InvalidInput(format!(
            "an answer is {{code}}, {{newPassword, attributes}} or {{choose}}: {what}"
        )))
        .into_js(env)
    };
    if let Some(code) = answer.get::<String>("code")? {
        return Ok(Answer::Code(code));
    }
    if let Some(password) = answer.get::<String>("newPassword")? {
        let attributes = match answer.get::<Value>("attributes")? {
            Some(Value::Object(map)) => map
                .into_iter()
                .map(|(name, value)| match value {
                    Value::String(value) => Ok((name, value)),
                    _ => Err(invalid("attribute values are strings")),
                })
                .collect::<napi::Result<Vec<_>>>()?,
            None | Some(Value::Null) => Vec::new(),
            Some(_) => return Err(invalid("attributes is an object of strings")),
        };
        return Ok(Answer::NewPassword {
            password,
            attributes,
        });
    }
    if let Some(choice) = answer.get::<String>("choose")? {
        let mfa = Mfa::deserialize(Value::String(choice))
            .map_err(|_| invalid("choose Sms, Totp or Email"))?;
        return Ok(Answer::Choose(mfa));
    }
    Err(invalid("none of them was given"))
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
