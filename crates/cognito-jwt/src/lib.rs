//! Verifies Amazon Cognito access and ID tokens locally: RS256 signatures against the user
//! pools' JWKS (fetched once, cached, revalidated), issuer, `token_use`, app client, groups,
//! scopes, time claims and your own check, with a verified-token cache in front so a token seen
//! before costs a hash lookup instead of an RSA check. No AWS SDK.
//!
//! ```no_run
//! use cognito_jwt::{TokenUse, Verifier};
//!
//! # async fn f(authorization: &str) -> Result<(), cognito_jwt::Error> {
//! // Once, at cold start.
//! let verifier = Verifier::builder()
//!     .user_pool("us-east-1_AbC123")
//!     .client_id("5a3b1c")
//!     .token_use(TokenUse::Access)
//!     .require_scopes(["api/read"])
//!     .build()?;
//! verifier.hydrate().await?; // fetch the keys now (optional)
//!
//! // Per request.
//! let token = authorization.strip_prefix("Bearer ").unwrap_or_default();
//! match verifier.verify(token).await {
//!     Ok(claims) => println!("{} ({}) may pass", claims.username(), claims.sub()),
//!     // 401 refused, 503 keys unavailable (retry), 500 misconfigured.
//!     Err(error) => println!("{}: {error}", error.status()),
//! }
//! # Ok(()) }
//! ```
//!
//! # The pipeline
//! Each step has its own typed refusal, gathered in [`Rejected`]:
//! 1. **Parse** ([`Malformed`]): three base64url segments, at most [`MAX_TOKEN_BYTES`].
//! 2. **Header** ([`HeaderRejected`]): `alg` RS256 only, a `kid`, no `jku`/`x5u`/`x5c`/`jwk`
//!    (never followed), no `crit`.
//! 3. **Key** ([`KeyRejected`]): the `kid` in the JWKS of the issuer the token names (an
//!    unknown `kid` refetches at most once per refetch interval). The claims are parsed and
//!    typed before this step (a present claim must have its type, `null` included), but not
//!    trusted: the unverified `iss` only picks which key cache to check the signature with.
//! 4. **Signature** ([`Rejected::Signature`]).
//! 5. **Claims** ([`ClaimsRejected`]): `iss` one of the configured pools' issuers, `token_use`
//!    ([`TokenUse`]), the app client (`client_id` of an access token, `aud` of an ID token),
//!    `sub`, required groups and scopes (any of), `exp`/`iat`/`nbf` with the leeway.
//! 6. **Custom check** ([`Rejected::Check`], see [`VerifierBuilder::check`]).
//!
//! A refusal after step 4 carries the token's claims ([`Error::verified_claims`]); an earlier
//! one never does. Keys that cannot be fetched for now are [`Error::Unavailable`] (503), never a
//! refusal; a configured JWKS URL that refuses is [`Error::Config`] (500).
//!
//! # Issuers
//! A pool ([`VerifierBuilder::user_pool`]) is accepted under both Cognito issuer types:
//! `https://cognito-idp.<region>.amazonaws.com/<pool>` and
//! `https://issuer-cognito-idp.<region>.amazonaws.com/<pool>` (always the primary Region), and
//! the original type of each replica Region ([`VerifierBuilder::replica_regions`]). Each issuer
//! has its own key cache, created on the first token naming it: the updated issuer's JWKS, which
//! answers 403 for a pool that does not use it, is fetched only when a token names it, and such
//! a refusal is that token's 401. A token naming any other issuer is checked against the first
//! issuer's keys and refused by its claims. Without a configured pool,
//! [`VerifierBuilder::learn_user_pool`] learns it from the first token that verifies.
//!
//! # The JWKS cache
//! Fetched keys are revalidated once older than [`VerifierBuilder::jwks_max_age`] (1 h); if
//! that fails, the cached keys keep being served up to [`VerifierBuilder::jwks_max_stale`]
//! (24 h), then verification answers 503 until a fetch succeeds. Concurrent fetches of one
//! JWKS are deduplicated; a `kid` that is not in the JWKS triggers at most one refetch per
//! [`VerifierBuilder::jwks_refetch_interval`] (10 s). [`Verifier::preload`] seeds the keys from
//! a document, [`Verifier::hydrate`] fetches them at cold start, and [`JwksFetcher`] replaces
//! the built-in [`HttpsFetcher`] (feature `https`, on by default).
//!
//! # The verified-token cache
//! A token whose exact bytes passed the whole pipeline and was current is kept (up to
//! [`VerifierBuilder::token_cache`] entries, [`DEFAULT_TOKEN_CACHE`] by default, oldest out
//! first) with its claims. A hit re-runs the time checks and the custom check, and is refused
//! once the key set that verified it is due for revalidation; when a JWKS refetch removes or
//! changes a key, every token it signed is dropped first.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod builder;
mod cache;
mod claims;
mod error;
mod fetch;
mod issuer;
mod jwks;
mod learn;
mod misconfig;
mod settings;
mod token;
mod verifier;

pub use builder::VerifierBuilder;
pub use cache::DEFAULT_CAPACITY as DEFAULT_TOKEN_CACHE;
pub use claims::{Claims, ClaimsRejected, Freshness, TokenUse};
pub use error::{BoxError, CheckFailed, Error, HeaderRejected, KeyRejected, Malformed, Rejected};
#[cfg(feature = "https")]
pub use fetch::HttpsFetcher;
pub use fetch::{FetchError, FetchFuture, JwksFetcher};
pub use settings::SettingNames;

pub use verifier::Verifier;

/// Longest token accepted; Cognito access tokens are around 1 KiB, ID tokens a little more.
///
/// ```
/// assert_eq!(cognito_jwt::MAX_TOKEN_BYTES, 8192);
/// ```
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The README's examples, compiled as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
