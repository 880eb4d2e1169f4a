//! What can go wrong, as one typed [`Error`], and the HTTP status each case maps to.

use std::fmt;

use cognito_jwt::Rejected;

/// A boxed error from a dependency (the AWS SDK, the HTTP client, ...), kept as the cause.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything [`Sessions`](crate::Sessions) can answer instead of a session.
///
/// Three families matter to a handler, and [`Error::status`] tells them apart:
/// - [`Error::Unauthorized`] (401): the request carries no usable session. Answer with
///   [`Sessions::clear_cookie_for`](crate::Sessions::clear_cookie_for) so clients don't loop on
///   a dead token (it clears the cookie with the configured prefix, `Domain` and `Path`).
/// - [`Error::Unavailable`] (503): DynamoDB, Cognito or the JWKS endpoint failed transiently.
///   Nothing was changed; the same request may succeed on retry.
/// - [`Error::Config`] (500) and [`Error::InvalidInput`] (400): a deployment or caller mistake
///   that no retry will fix.
///
/// ```
/// use cognito_session::{Error, Unauthorized};
///
/// let error = Error::Unauthorized(Unauthorized::MissingCookie);
/// assert_eq!(error.status(), 401);
/// // No cookie was sent, so there is none to clear.
/// assert!(!error.clears_cookie());
///
/// let error = Error::Unauthorized(Unauthorized::SessionEnded);
/// assert!(error.clears_cookie());
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request has no valid session: answer 401 and ask the user to log in again.
    #[error("unauthorized: {0}")]
    Unauthorized(#[from] Unauthorized),

    /// A dependency failed transiently. Answer 503 and let the client retry. (A session check
    /// that answers this kept the session; the message says only what is true wherever it is
    /// used: a logout, a token check, a login.)
    ///
    /// ```
    /// use cognito_session::{Error, Service};
    /// let error = Error::Unavailable {
    ///     service: Service::Jwks,
    ///     action: "fetching the signing keys",
    ///     source: "timed out".into(),
    /// };
    /// assert_eq!(error.to_string(), "the JWKS endpoint is unavailable (fetching the signing keys); retry");
    /// ```
    #[error("{service} is unavailable ({action}); retry")]
    Unavailable {
        /// The service that failed.
        service: Service,
        /// What we were doing.
        action: &'static str,
        /// The underlying failure.
        #[source]
        source: BoxError,
    },

    /// The library is misconfigured (environment, table, app client, IAM). Fix the deployment.
    #[error("configuration error: {message}")]
    Config {
        /// What is wrong and how to fix it, naming the variable or resource.
        message: String,
        /// The underlying failure, when there is one.
        #[source]
        source: Option<BoxError>,
    },

    /// The caller passed something unusable (for example login tokens without a refresh token).
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

/// The dependency behind an [`Error::Unavailable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Service {
    /// The DynamoDB session table.
    DynamoDb,
    /// The Cognito user pool API.
    Cognito,
    /// The user pool's JWKS endpoint.
    Jwks,
    /// AWS KMS (decrypting the session encryption key at cold start).
    Kms,
    /// The managed login's token endpoint (`<COGNITO_DOMAIN>/oauth2/token`).
    TokenEndpoint,
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Service::DynamoDb => "DynamoDB",
            Service::Cognito => "Cognito",
            Service::Jwks => "the JWKS endpoint",
            Service::Kms => "KMS",
            Service::TokenEndpoint => "the managed login token endpoint",
        })
    }
}

/// Why a request was refused with 401.
///
/// ```
/// use cognito_session::Unauthorized;
/// assert_eq!(Unauthorized::SessionEnded.to_string(), "the session was ended (logged out or replaced by a newer login)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Unauthorized {
    /// The named cookie is not in the request.
    #[error("no session cookie in the request")]
    MissingCookie,
    /// The token failed verification (format, header, key, signature or claims).
    #[error("invalid token: {0}")]
    InvalidToken(#[from] Rejected),
    /// The token expired longer ago than the refresh window allows.
    #[error("the token expired beyond the refresh window")]
    ExpiredBeyondRefresh,
    /// No session row exists for the token's user (logged out, never started, or deleted).
    #[error("the session was ended (logged out or replaced by a newer login)")]
    SessionEnded,
    /// The token belongs to another login of the same user (its `origin_jti` differs from the row's).
    #[error("the token belongs to another login of this user")]
    FamilyMismatch,
    /// Cognito definitively refused the stored refresh token (revoked, expired, user gone);
    /// the session row was deleted.
    #[error("Cognito refused the refresh token; the session was ended")]
    Revoked,
    /// The token is an expired one of this login that a refresh has since replaced, presented
    /// after the grace window (`SESSION_REPLACED_TOKEN_GRACE`): an old copy of the cookie (a
    /// shared computer, a proxy log, a backup). The session was kept; the browser holding the
    /// newest token goes on.
    #[error("the token was replaced by a newer one of this session; log in again")]
    Replaced,
    /// The session row's stored refresh token is empty, not a string or absurdly long: it was
    /// not sent to Cognito, and the row was kept for the operator to inspect.
    #[error("the session row holds no usable refresh token; log in again")]
    UnusableRefreshToken,
}

impl Unauthorized {
    /// A stable machine-readable code for the refusal, for logs, JSON answers and the Node.js
    /// package's `error.code`: the verifier's [`Rejected::code`] for a token that failed
    /// verification (`signature`, `claims.client`, ...), else one word per variant. It never
    /// carries a value from the token.
    ///
    /// ```
    /// use cognito_session::Unauthorized;
    /// assert_eq!(Unauthorized::MissingCookie.code(), "missing_cookie");
    /// assert_eq!(Unauthorized::InvalidToken(cognito_session::Rejected::Signature).code(), "signature");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            Unauthorized::MissingCookie => "missing_cookie",
            Unauthorized::InvalidToken(rejected) => rejected.code(),
            Unauthorized::ExpiredBeyondRefresh => "expired_beyond_refresh",
            Unauthorized::SessionEnded => "session_ended",
            Unauthorized::FamilyMismatch => "family_mismatch",
            Unauthorized::Revoked => "revoked",
            Unauthorized::UnusableRefreshToken => "unusable_refresh_token",
            Unauthorized::Replaced => "replaced",
        }
    }
}

impl Error {
    /// A stable machine-readable code: [`Unauthorized::code`] for a 401, `unavailable` (503),
    /// `misconfigured` (500) and `invalid_input` (400), as [`LoginError::code`](crate::LoginError::code)
    /// names the last three. Unlike the message, it does not change when a sentence is reworded.
    ///
    /// ```
    /// use cognito_session::{Error, Unauthorized};
    /// assert_eq!(Error::Unauthorized(Unauthorized::Revoked).code(), "revoked");
    /// assert_eq!(Error::InvalidInput("no refresh token".into()).code(), "invalid_input");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            Error::Unauthorized(reason) => reason.code(),
            Error::Unavailable { .. } => "unavailable",
            Error::Config { .. } => "misconfigured",
            Error::InvalidInput(_) => "invalid_input",
        }
    }

    /// The HTTP status a handler should answer with: 401, 503, 500 or 400.
    ///
    /// ```
    /// use cognito_session::{Error, Unauthorized};
    /// assert_eq!(Error::Unauthorized(Unauthorized::Revoked).status(), 401);
    /// assert_eq!(Error::InvalidInput("no refresh token".into()).status(), 400);
    /// ```
    pub fn status(&self) -> u16 {
        match self {
            Error::Unauthorized(_) => 401,
            Error::Unavailable { .. } => 503,
            Error::Config { .. } => 500,
            Error::InvalidInput(_) => 400,
        }
    }

    /// For a 503, a suggested `Retry-After` in seconds: the failure was transient and the same
    /// request may succeed then. `None` for every other error (retrying them changes nothing).
    ///
    /// One second: long enough for the SDK's throttling backoff and a concurrent refresh's lease
    /// to move on, short enough that users do not notice. A handler answering 503 should send it:
    ///
    /// ```
    /// use cognito_session::{Error, Service, Unauthorized};
    /// let outage = Error::Unavailable {
    ///     service: Service::DynamoDb,
    ///     action: "reading the session",
    ///     source: "throttled".into(),
    /// };
    /// assert_eq!(outage.retry_after(), Some(1));
    /// assert_eq!(Error::Unauthorized(Unauthorized::Revoked).retry_after(), None);
    /// ```
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Error::Unavailable { .. } => Some(1),
            _ => None,
        }
    }

    /// Whether this is a 401.
    ///
    /// ```
    /// use cognito_session::{Error, Unauthorized};
    /// assert!(Error::Unauthorized(Unauthorized::MissingCookie).is_unauthorized());
    /// ```
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Error::Unauthorized(_))
    }

    /// The reason for a 401, if this is one.
    ///
    /// ```
    /// use cognito_session::{Error, Unauthorized};
    /// let error = Error::Unauthorized(Unauthorized::FamilyMismatch);
    /// assert_eq!(error.unauthorized(), Some(&Unauthorized::FamilyMismatch));
    /// ```
    pub fn unauthorized(&self) -> Option<&Unauthorized> {
        match self {
            Error::Unauthorized(reason) => Some(reason),
            _ => None,
        }
    }

    /// Whether the answer to this error should delete the session cookie: a 401 caused by a
    /// cookie that can never work again. `false` for every other error (a 503 or a 500 keeps the
    /// cookie, which works again once the cause is gone), and when no cookie was sent.
    /// [`Sessions::clear_cookie_for`](crate::Sessions::clear_cookie_for) gives the `Set-Cookie`.
    ///
    /// ```
    /// use cognito_session::{Error, Unauthorized};
    /// assert!(Error::Unauthorized(Unauthorized::Revoked).clears_cookie());
    /// assert!(!Error::Unauthorized(Unauthorized::MissingCookie).clears_cookie());
    /// assert!(!Error::InvalidInput("x".into()).clears_cookie());
    /// ```
    pub fn clears_cookie(&self) -> bool {
        matches!(self, Error::Unauthorized(reason) if !matches!(reason, Unauthorized::MissingCookie))
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Error::Config {
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn config_with(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::Config {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// A transient failure of `service`, unless `source` says the request could not be signed
    /// for want of AWS credentials: no retry fixes that, so it is a configuration error.
    pub(crate) fn unavailable(
        service: Service,
        action: &'static str,
        source: impl Into<BoxError>,
    ) -> Self {
        let source = source.into();
        if let Some(problem) = crate::sdk::credentials_problem(&*source) {
            return Error::Config {
                message: crate::sdk::credentials_message(service, action, &problem),
                source: Some(source),
            };
        }
        Error::Unavailable {
            service,
            action,
            source,
        }
    }
}

/// The verifier's answers: a refusal is a 401, keys unavailable a 503 ([`Service::Jwks`]), a
/// misconfiguration a 500.
impl From<cognito_jwt::Error> for Error {
    fn from(error: cognito_jwt::Error) -> Self {
        match error {
            cognito_jwt::Error::Rejected { reason, .. } => reason.into(),
            cognito_jwt::Error::Unavailable { action, source } => Error::Unavailable {
                service: Service::Jwks,
                action,
                source,
            },
            cognito_jwt::Error::Config { message } => Error::config(message),
            other => Error::config(other.to_string()),
        }
    }
}

impl From<Rejected> for Error {
    fn from(rejected: Rejected) -> Self {
        Error::Unauthorized(Unauthorized::InvalidToken(rejected))
    }
}

/// An error and its causes for a log line, `: `-separated, each text once (the AWS SDK's errors
/// often repeat their cause's message): `error = %Chain(&error)` keeps the SDK's error code and
/// message that the error's own `Display` leaves out.
pub(crate) struct Chain<'a>(pub &'a (dyn std::error::Error + 'a));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut said = self.0.to_string();
        f.write_str(&said)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            let text = cause.to_string();
            if !text.is_empty() && !said.contains(&text) {
                write!(f, ": {text}")?;
                said.push_str(&text);
            }
            source = cause.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_its_own_stable_code() {
        let errors = [
            Error::Unauthorized(Unauthorized::MissingCookie),
            Error::Unauthorized(Unauthorized::InvalidToken(Rejected::Signature)),
            Error::Unauthorized(Unauthorized::ExpiredBeyondRefresh),
            Error::Unauthorized(Unauthorized::SessionEnded),
            Error::Unauthorized(Unauthorized::FamilyMismatch),
            Error::Unauthorized(Unauthorized::Revoked),
            Error::Unauthorized(Unauthorized::UnusableRefreshToken),
            Error::Unauthorized(Unauthorized::Replaced),
            Error::Unavailable {
                service: Service::Cognito,
                action: "refreshing the session",
                source: "timed out".into(),
            },
            Error::config("SESSION_TABLE is not set"),
            Error::InvalidInput("the login tokens have no refresh token".into()),
        ];
        let codes: Vec<&str> = errors.iter().map(Error::code).collect();
        assert_eq!(
            codes,
            [
                "missing_cookie",
                "signature",
                "expired_beyond_refresh",
                "session_ended",
                "family_mismatch",
                "revoked",
                "unusable_refresh_token",
                "replaced",
                "unavailable",
                "misconfigured",
                "invalid_input",
            ]
        );
        // A code is a name, never a value: no error's code repeats its message.
        for error in &errors {
            assert!(!error.code().contains(' '), "{}", error.code());
        }
    }

    #[test]
    fn a_logged_error_keeps_its_causes_once_each() {
        let error = Error::Unavailable {
            service: Service::DynamoDb,
            action: "GetItem",
            source: Box::new(Error::config_with(
                "ThrottlingException: Rate of requests exceeds the allowed throughput",
                std::io::Error::other("Rate of requests exceeds the allowed throughput"),
            )),
        };
        assert_eq!(
            Chain(&error).to_string(),
            format!(
                "{error}: configuration error: ThrottlingException: Rate of requests exceeds the \
                 allowed throughput"
            )
        );
    }
}
