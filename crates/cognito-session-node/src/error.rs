//! One mapping of the library's errors to the JavaScript `Error` the package throws: `message` is
//! our `Display` (which never holds a token), `code` our stable code, `statusCode` the HTTP status
//! to answer with, `retryAfter` the seconds to send in `Retry-After` (503 only), and `clearCookie`
//! the `Set-Cookie` that deletes a cookie that can never work again (401 only). Sign-in errors
//! ([`SignInError`]) map the same way, with their own codes.
#![forbid(unsafe_code)]

use cognito_session::{Error, Sessions, SignInError};
use napi::bindgen_prelude::Object;
use napi::{Env, JsValue};

/// A refusal on its way to JavaScript (built off the JS thread, turned into an `Error` on it).
#[derive(Debug)]
pub(crate) struct Rejection {
    message: String,
    code: &'static str,
    status: u16,
    retry_after: Option<u64>,
    clear_cookie: Option<String>,
}

impl Rejection {
    /// The refusal for `error`.
    pub(crate) fn of(error: &Error) -> Rejection {
        Rejection {
            message: error.to_string(),
            code: error.code(),
            status: error.status(),
            retry_after: error.retry_after(),
            clear_cookie: None,
        }
    }

    /// The refusal for `error` of a call about cookie `name`, with the `Set-Cookie` that deletes
    /// the cookie when it can never work again ([`Sessions::clear_cookie_for`]).
    pub(crate) fn clearing(error: &Error, sessions: &Sessions, name: &str) -> Rejection {
        Rejection {
            clear_cookie: sessions.clear_cookie_for(error, name),
            ..Rejection::of(error)
        }
    }

    /// The refusal for a sign-in error (`sign_in_incorrect_credentials`, a rejected state, ...).
    pub(crate) fn sign_in(error: &SignInError) -> Rejection {
        Rejection {
            message: error.to_string(),
            code: error.code(),
            status: error.status(),
            retry_after: match error {
                SignInError::Failed(error) => error.retry_after(),
                _ => None,
            },
            clear_cookie: None,
        }
    }

    /// The JavaScript `Error` for this refusal, to throw or reject with.
    pub(crate) fn into_js(self, env: &Env) -> napi::Error {
        let message = self.message.clone();
        self.build(env)
            .unwrap_or_else(|_| napi::Error::from_reason(message))
    }

    fn build(self, env: &Env) -> napi::Result<napi::Error> {
        let mut error: Object = env.create_error(napi::Error::from_reason(self.message))?;
        error.set("code", self.code)?;
        error.set("statusCode", u32::from(self.status))?;
        if let Some(seconds) = self.retry_after {
            error.set("retryAfter", u32::try_from(seconds).unwrap_or(u32::MAX))?;
        }
        if let Some(cookie) = self.clear_cookie {
            error.set("clearCookie", cookie)?;
        }
        Ok(napi::Error::from_unknown_without_coercion(
            error.to_unknown(),
        ))
    }
}
