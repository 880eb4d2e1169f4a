//! What verification answers instead of claims: [`Error`] (refused, keys unavailable,
//! misconfigured) and [`Rejected`], the refusal by pipeline step.

use std::sync::Arc;

use crate::claims::{Claims, ClaimsRejected};
use crate::MAX_TOKEN_BYTES;

/// A boxed error from a dependency (the HTTP client, a custom fetcher, a custom check), kept as
/// the cause.
///
/// ```
/// let cause: cognito_jwt::BoxError = "connection reset".into();
/// assert_eq!(cause.to_string(), "connection reset");
/// ```
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why [`Verifier::verify`](crate::Verifier::verify) gave no claims.
///
/// Three cases a caller answers differently: the token is refused (401), the signing keys are
/// unavailable for now (503, retry), or the verifier is misconfigured (500, fix the deployment).
///
/// ```
/// use cognito_jwt::{Error, Malformed, Rejected};
/// let error = Error::from(Rejected::Malformed(Malformed::Segments));
/// assert!(error.rejected().is_some());
/// assert!(error.verified_claims().is_none(), "nothing verified: no claims");
/// assert_eq!(error.status(), 401);
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The token is refused: answer 401.
    #[error("refused token: {reason}")]
    Rejected {
        /// The step that refused it, and why.
        reason: Rejected,
        /// The token's claims, only when its signature verified against the issuer's keys (an
        /// expired but genuine token, a token of another app client, a failed custom check...);
        /// `None` for a token whose signature did not (or could not yet) verify.
        claims: Option<Claims>,
    },
    /// The signing keys could not be obtained for now (network, timeout, 5xx, a busy pool-learning
    /// budget): answer 503; the same token may verify on retry.
    #[error("the JWKS endpoint is unavailable ({action}); retry")]
    Unavailable {
        /// What we were doing.
        action: &'static str,
        /// The underlying failure.
        #[source]
        source: BoxError,
    },
    /// The verifier's configuration cannot work (a configured JWKS URL that refuses, no fetcher,
    /// an invalid builder setting): answer 500 and fix the deployment.
    #[error("configuration error: {message}")]
    Config {
        /// What is wrong and what to check.
        message: String,
    },
}

impl Error {
    /// The refusal, if the token was refused.
    ///
    /// ```
    /// use cognito_jwt::{Error, Rejected};
    /// assert_eq!(Error::from(Rejected::Signature).rejected(), Some(&Rejected::Signature));
    /// ```
    pub fn rejected(&self) -> Option<&Rejected> {
        match self {
            Error::Rejected { reason, .. } => Some(reason),
            _ => None,
        }
    }

    /// The claims of a refused token whose signature verified (see [`Error::Rejected`]): an
    /// expired token's, for instance, to refresh it.
    ///
    /// ```
    /// use cognito_jwt::{Error, Rejected};
    /// assert!(Error::from(Rejected::Signature).verified_claims().is_none());
    /// ```
    pub fn verified_claims(&self) -> Option<&Claims> {
        match self {
            Error::Rejected { claims, .. } => claims.as_ref(),
            _ => None,
        }
    }

    /// The HTTP status to answer with: 401, 503 or 500.
    ///
    /// ```
    /// use cognito_jwt::Error;
    /// let error = Error::Unavailable { action: "fetching the signing keys", source: "timed out".into() };
    /// assert_eq!(error.status(), 503);
    /// ```
    pub fn status(&self) -> u16 {
        match self {
            Error::Rejected { .. } => 401,
            Error::Unavailable { .. } => 503,
            Error::Config { .. } => 500,
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Error::Config {
            message: message.into(),
        }
    }

    pub(crate) fn unavailable(action: &'static str, source: impl Into<BoxError>) -> Self {
        Error::Unavailable {
            action,
            source: source.into(),
        }
    }

    /// A refusal after the signature verified: the claims go with it.
    pub(crate) fn signed(reason: impl Into<Rejected>, claims: &Claims) -> Self {
        Error::Rejected {
            reason: reason.into(),
            claims: Some(claims.clone()),
        }
    }
}

impl From<Rejected> for Error {
    fn from(reason: Rejected) -> Self {
        Error::Rejected {
            reason,
            claims: None,
        }
    }
}

macro_rules! from_step {
    ($($step:ty),*) => {$(
        impl From<$step> for Error {
            fn from(step: $step) -> Self {
                Error::from(Rejected::from(step))
            }
        }
    )*};
}
from_step!(Malformed, HeaderRejected, KeyRejected, ClaimsRejected);

/// Why a token was refused, by pipeline step.
///
/// ```
/// use cognito_jwt::{Malformed, Rejected};
/// let r = Rejected::Malformed(Malformed::Segments);
/// assert_eq!(r.to_string(), "malformed token: a JWT has exactly three dot-separated segments");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejected {
    /// Step 1: not a well-formed compact JWT.
    #[error("malformed token: {0}")]
    Malformed(#[from] Malformed),
    /// Step 2: the header asks for something we never do.
    #[error("refused header: {0}")]
    Header(#[from] HeaderRejected),
    /// Step 3: no usable key for the header's `kid`.
    #[error("no usable key: {0}")]
    Key(#[from] KeyRejected),
    /// Step 4: the signature does not match the key.
    #[error("the signature does not verify")]
    Signature,
    /// Step 5: signed correctly, but the claims are not those this verifier accepts.
    #[error("refused claims: {0}")]
    Claims(#[from] ClaimsRejected),
    /// Step 6: the custom check ([`VerifierBuilder::check`](crate::VerifierBuilder::check))
    /// refused the verified claims.
    #[error("refused by the custom check: {0}")]
    Check(#[from] CheckFailed),
}

/// Step 1 refusals.
///
/// ```
/// use cognito_jwt::Malformed;
/// assert_eq!(Malformed::Base64.to_string(), "a segment is not base64url");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Malformed {
    /// Longer than [`MAX_TOKEN_BYTES`].
    #[error("the token is longer than {MAX_TOKEN_BYTES} bytes")]
    TooLong,
    /// Not three dot-separated segments.
    #[error("a JWT has exactly three dot-separated segments")]
    Segments,
    /// A segment is not unpadded base64url.
    #[error("a segment is not base64url")]
    Base64,
    /// The header is not a JSON object of the expected types.
    #[error("the header is not valid JSON: {0}")]
    HeaderJson(String),
}

impl Malformed {
    /// A stable machine-readable code (`malformed.segments`, ...), for logs and JSON.
    ///
    /// ```
    /// assert_eq!(cognito_jwt::Malformed::Base64.code(), "malformed.base64");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            Malformed::TooLong => "malformed.too_long",
            Malformed::Segments => "malformed.segments",
            Malformed::Base64 => "malformed.base64",
            Malformed::HeaderJson(_) => "malformed.header_json",
        }
    }
}

impl HeaderRejected {
    /// A stable machine-readable code (`header.algorithm`, ...), for logs and JSON.
    ///
    /// ```
    /// assert_eq!(cognito_jwt::HeaderRejected::MissingKid.code(), "header.missing_kid");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            HeaderRejected::Algorithm(_) => "header.algorithm",
            HeaderRejected::MissingKid => "header.missing_kid",
            HeaderRejected::KeySource(_) => "header.key_source",
            HeaderRejected::Critical => "header.critical",
        }
    }
}

impl KeyRejected {
    /// A stable machine-readable code (`key.unknown_kid`, ...), for logs and JSON.
    ///
    /// ```
    /// assert_eq!(cognito_jwt::KeyRejected::NoKeys.code(), "key.no_keys");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            KeyRejected::UnknownKid => "key.unknown_kid",
            KeyRejected::NoKeys => "key.no_keys",
            KeyRejected::Unusable(_) => "key.unusable",
        }
    }
}

impl Rejected {
    /// A stable machine-readable code for the refusal: the step, then the reason
    /// (`claims.expired`, `signature`, `check`, ...). Unlike the `Debug` text it carries no
    /// value from the token and does not change when a message is reworded.
    ///
    /// ```
    /// use cognito_jwt::{ClaimsRejected, Rejected};
    /// assert_eq!(Rejected::Claims(ClaimsRejected::Client).code(), "claims.client");
    /// assert_eq!(Rejected::Signature.code(), "signature");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            Rejected::Malformed(reason) => reason.code(),
            Rejected::Header(reason) => reason.code(),
            Rejected::Key(reason) => reason.code(),
            Rejected::Signature => "signature",
            Rejected::Claims(reason) => reason.code(),
            Rejected::Check(_) => "check",
        }
    }
}

/// Step 2 refusals.
///
/// ```
/// use cognito_jwt::HeaderRejected;
/// assert_eq!(HeaderRejected::MissingKid.to_string(), "the header has no kid");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderRejected {
    /// Only RS256 is accepted (`none`, `HS*`, and every other algorithm are refused).
    #[error("algorithm {0:?} is not RS256")]
    Algorithm(String),
    /// No `kid`.
    #[error("the header has no kid")]
    MissingKid,
    /// `jku`, `x5u`, `x5c` or `jwk`: a key source we never follow.
    #[error("the header names its own key source ({0}), which is never followed")]
    KeySource(&'static str),
    /// A `crit` header: we implement no extensions.
    #[error("the header has critical extensions we do not implement")]
    Critical,
}

/// The custom check's own error, kept as it was returned (see [`CheckFailed::downcast_ref`]).
/// Two are equal when their messages are.
///
/// ```
/// use cognito_jwt::CheckFailed;
/// let failed = CheckFailed::new("not a tenant of this API");
/// assert_eq!(failed.to_string(), "not a tenant of this API");
/// assert_eq!(failed, CheckFailed::new("not a tenant of this API"));
/// ```
#[derive(Debug, Clone)]
pub struct CheckFailed(Arc<dyn std::error::Error + Send + Sync + 'static>);

impl CheckFailed {
    /// Wraps the check's error.
    ///
    /// ```
    /// let failed = cognito_jwt::CheckFailed::new(std::io::Error::other("tenant suspended"));
    /// assert!(failed.downcast_ref::<std::io::Error>().is_some());
    /// ```
    pub fn new(error: impl Into<BoxError>) -> Self {
        CheckFailed(Arc::from(error.into()))
    }

    /// The check's error as its own type, if it is `E`.
    ///
    /// ```
    /// #[derive(Debug, thiserror::Error)]
    /// #[error("tenant {0} is suspended")]
    /// struct Suspended(String);
    /// let failed = cognito_jwt::CheckFailed::new(Suspended("acme".into()));
    /// assert_eq!(failed.downcast_ref::<Suspended>().map(|s| s.0.as_str()), Some("acme"));
    /// ```
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.0.downcast_ref()
    }
}

impl std::fmt::Display for CheckFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for CheckFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

impl PartialEq for CheckFailed {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.to_string() == other.0.to_string()
    }
}

impl Eq for CheckFailed {}

/// Why no key could be found for a token's `kid` (step 3).
///
/// ```
/// use cognito_jwt::KeyRejected;
/// assert_eq!(KeyRejected::UnknownKid.to_string(), "no key with this kid in the user pool's JWKS");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyRejected {
    /// No key with this `kid` in the JWKS, even after a refetch (or within the penalty interval).
    #[error("no key with this kid in the user pool's JWKS")]
    UnknownKid,
    /// The issuer the token names publishes no JWKS (its endpoint refused): a made-up pool, or
    /// an issuer type the pool does not use.
    #[error("the token's issuer publishes no signing keys")]
    NoKeys,
    /// The JWKS has this `kid`, but the entry is not an RSA signing key for RS256.
    #[error("the JWKS entry for this kid is not usable: {0}")]
    Unusable(&'static str),
}
