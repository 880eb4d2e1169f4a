//! Server-side user sessions for AWS Lambda, on Amazon Cognito and DynamoDB.
//!
//! ```no_run
//! use cognito_session::Sessions;
//!
//! # async fn handler(request: lambda_http::Request) -> Result<(), cognito_session::Error> {
//! // Once, at cold start: reads SESSION_TABLE, PARTITION_KEY, CLIENT_ID (and more, see below).
//! let sessions = Sessions::from_env().await?;
//!
//! // Per request: the access token from cookie `token`, verified against the pool's keys.
//! match sessions.session("token", &request).await {
//!     Ok(session) => {
//!         println!("hello {} ({})", session.username(), session.sub());
//!         // When the token had expired and was refreshed, send the new cookie back
//!         // (`try_set_cookie` refuses one over 4096 bytes, which browsers would drop).
//!         if let Some(set_cookie) = session.try_set_cookie("token")? {
//!             println!("Set-Cookie: {set_cookie}");
//!         }
//!     }
//!     Err(error) => {
//!         // 401 (log in again), 503 (try again: nothing was lost) or 500 (misconfigured).
//!         println!("status {}", error.status());
//!         // For a dead cookie, the Set-Cookie that deletes it: with the configured
//!         // COOKIE_PREFIX, COOKIE_DOMAIN and COOKIE_PATH, or the browser would keep it.
//!         if let Some(clear) = sessions.clear_cookie_for(&error, "token") {
//!             println!("Set-Cookie: {clear}");
//!         }
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # What happens per request
//! 1. [`CookieSource`] finds the named cookie in whatever the Lambda received (REST and HTTP API
//!    events, ALB, function URLs, `lambda_http`, raw JSON).
//! 2. [`cognito_jwt`] checks the token locally: RS256 signature against the user pool's JWKS (cached),
//!    issuer, `token_use = access`, `client_id`, and the time claims. A valid token costs no call
//!    to Cognito.
//! 3. In the default [`SessionValidation::Session`] mode the [`store`] confirms the session row
//!    still exists and belongs to this login (`origin_jti`), so a logout is immediate.
//! 4. An expired but genuine token is refreshed: the row's refresh token goes to Cognito
//!    (`InitiateAuth`, `REFRESH_TOKEN_AUTH`) and the new tokens come back in [`Session::refreshed`].
//!    Concurrent requests refresh once: one takes a lease on the row, the others wait for its
//!    outcome (see the README's "Concurrent refreshes").
//! 5. Only Cognito's definitive refusal of the refresh token deletes the row (401). Outages and
//!    throttling are [`Error::Unavailable`] (503) and change nothing.
//!
//! # With `lambda_http`, axum or any `tower` stack
//! [`SessionLayer`] does all of the above per request, answers 401/503 itself, puts the
//! [`Session`] in the request extensions and adds the refreshed cookie to the response; see
//! [`SessionLayer`]. With feature `axum`, `Session` and `Option<Session>` are axum extractors (module
//! `cognito_session::axum`).
//! The responses keep their `Set-Cookie` for every trigger after `lambda_http`'s conversion: the
//! `cookies` array for HTTP API (v2) and function URLs, `multiValueHeaders` for REST (v1) and ALB.
//!
//! # Configuration
//! | variable | meaning |
//! |---|---|
//! | `SESSION_TABLE` | DynamoDB table (the seed's) |
//! | `PARTITION_KEY` | its partition key attribute; the value is the user's `sub` (the seed's) |
//! | `CLIENT_ID` | Cognito app client id (the seed's) |
//! | `USER_POOL_ID` | e.g. `us-east-1_AbC`; fixes the issuers (both Cognito issuer types of the pool: `cognito-idp.<region>` and `issuer-cognito-idp.<region>`). Without it the pool is learned from the first token that verifies against a Cognito issuer's keys and carries `CLIENT_ID` (forged-pool tokens cannot lock it out; see the README) |
//! | `COGNITO_REPLICA_REGIONS` | comma-separated Regions of the pool's multi-Region replicas, whose original-type issuer is accepted too ([`SessionsBuilder::replica_regions`]) |
//! | `CLIENT_SECRET` | app client secret; `SECRET_HASH` is then sent on refresh |
//! | `COGNITO_ISSUER`, `COGNITO_JWKS_URL` | overrides (for emulators and custom domains); `https://`, or `http://` to a loopback host only |
//! | `COGNITO_JWKS` | a JWKS document (inline JSON or a file path) so cold starts need no fetch |
//! | `COGNITO_JWKS_MAX_AGE`, `COGNITO_JWKS_MAX_STALE` | seconds: fetched keys are revalidated after 1 h, and served while revalidation fails up to 24 h old (then 503) |
//! | `SESSION_VALIDATION` | `session` (default) or `token`, see [`SessionValidation`] |
//! | `SORT_KEY` | the table's sort key: one session per device |
//! | `REFRESH_TOKEN_ROTATION` | `true`: refresh with `GetTokensFromRefreshToken`, store each new refresh token |
//! | `SESSION_IDLE_TIMEOUT`, `SESSION_TOUCH_INTERVAL` | seconds: idle timeout (off by default) and how often activity is written (default 300) |
//! | `SESSION_ENCRYPTION_KEY`, `SESSION_ENCRYPTION_OLD_KEYS` | base64 32-byte keys: refresh tokens encrypted at rest, with rotation; the login's browser state is sealed with the current key (without one, with a key generated into the session table) |
//! | `SESSION_KMS_CIPHERTEXT` | a KMS-encrypted data key to use as the encryption key (feature `kms`, on by default) |
//! | `SESSION_TOKEN_CACHE` | entries of the verified-token cache (default 4096; `0` turns it off): a token seen before skips the RSA check, see [`SessionsBuilder::token_cache`] |
//! | `SESSION_LIFETIME` | seconds; cookie `Max-Age` and how long after expiry a token may be refreshed (default 30 days) |
//! | `COOKIE_NAME` | the session cookie's name where the code names none ([`Sessions::current`], [`SessionLayer`]; default `token`) |
//! | `COOKIE_SAME_SITE`, `COOKIE_DOMAIN`, `COOKIE_PATH` | cookie attributes (default `Lax`, none, `/`) |
//! | `SIGN_UP_ATTRIBUTES`, `SIGN_UP_GROUP`, `REVEAL_ACCOUNT_EXISTENCE` | the account flows ([`Sessions::accounts`]): the attributes a sign-up may set (comma-separated, default `email`), the group new users join when confirmed, and `true` to let answers tell that an account exists (off by default) |
//! | `SIGN_IN_FLOW` | `srp` (default, `USER_SRP_AUTH`) or `password` (`USER_PASSWORD_AUTH`): what [`Sessions::sign_in`] uses |
//! | `COOKIE_SECURE` | `false` drops the `Secure` attribute, for plain-HTTP local development only (refused with an `https://` `REDIRECT_URI`) |
//! | `COGNITO_DOMAIN`, `REDIRECT_URI` | managed login: the user pool's domain (`https://myapp.auth.us-east-1.amazoncognito.com` or a custom domain) and the callback URL registered on the app client ([`Sessions::login`], [`Sessions::callback`]) |
//! | `LOGOUT_URI` | a sign-out URL of the app client: [`Sessions::logout`] then ends the managed-login session too |
//! | `OAUTH_SCOPES` | scopes managed login asks for (default `openid email`; must include `openid`) |
//! | `COOKIE_PREFIX` | `__Host-` (requires `Secure`, `Path=/`, no `COOKIE_DOMAIN`) or `__Secure-`: the cookie `token` is then named `__Host-token` |
//! | `ALLOWED_ORIGINS` | origins such as `https://app.example.com` (comma-separated) that unsafe requests (`POST`, `PUT`, `DELETE`...) may come from besides the request's own: [`SessionLayer`] and [`Sessions::logout`] refuse (403) the others (CSRF, on by default; [`SessionsBuilder::csrf`]) |
//! | `POWERTOOLS_METRICS_DISABLED`, `POWERTOOLS_METRICS_NAMESPACE`, `POWERTOOLS_SERVICE_NAME` | EMF metrics (on in Lambda, where `AWS_LAMBDA_FUNCTION_NAME` is set; `true` turns them off), their namespace (default `CognitoSession`) and `service` dimension (default the function's name): [`SessionsBuilder::metrics`] |
//! | `AWS_LAMBDA_FUNCTION_NAME` | set by Lambda: metrics are on where it is set, and it is their default `service` dimension |
//! | `SESSION_AUDIT_CLIENT_INFO` | `false`: no client address or user agent in audit events ([`SessionsBuilder::audit_client_info`]) |
//! | `SESSION_OPERATION_TIMEOUT` | seconds (default 2, fractions allowed): each DynamoDB or Cognito operation (retries included) and token-endpoint call; the Lambda deadline bounds them too ([`SessionsBuilder::operation_timeout`]) |
//! | `SESSION_REPLACED_TOKEN_GRACE` | seconds (default 60, `0` allowed) after a refresh during which an older expired token of the login still counts; afterwards it is refused ([`Unauthorized::Replaced`], [`SessionsBuilder::replaced_token_grace`]) |
//! | `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER` | the AWS SDK's endpoint override (an emulator such as moto); at a loopback address, the signing keys are read from `<endpoint>/<pool id>/.well-known/jwks.json` unless `COGNITO_JWKS_URL` says otherwise |
//!
//! The AWS SDK's other variables (`AWS_REGION`, credentials) work as usual.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "axum")]
pub mod axum;
mod budget;
mod builder;
mod clock;
mod cognito;
mod config;
mod device;
mod error;
mod http;
mod lambda;
mod lifecycle;
mod login;
mod manager;
mod policy;
mod profile;
mod refresh;
mod sdk;
mod seal;
mod session;
pub mod store;
mod telemetry;
mod verify;

pub use builder::SessionsBuilder;
pub use clock::Clock;
pub use cognito::{NewDevice, Tokens};
pub use cognito_jwt::{Claims, Rejected};
pub use config::SessionValidation;
pub use error::{Error, Service, Unauthorized};
pub use http::cookie::{CookieOptions, CookiePrefix, CookieSource, SameSite};
pub use http::layer::{RequestSessionExt, SessionLayer, SessionService};
pub use login::{Accounts, CodeSent, Confirmed, NoAutoSignIn, PasswordError, SignUp, SignUpError};
pub use login::{
    Answer, Challenge, ChallengeKind, FirstFactor, Mfa, SignIn, SignInError, SignInFlow,
};
pub use login::{LoginComplete, LoginError, LoginStart, StateError};
pub use login::{Passkey, PasskeyError};
pub use manager::Sessions;
pub use profile::Profile;
pub use seal::{SealError, Sealer};
pub use session::{Session, VerifiedToken};
pub use telemetry::ClientInfo;

/// Maps a store failure to the public error.
pub(crate) fn store_error(error: store::StoreError, action: &'static str) -> Error {
    match error {
        store::StoreError::Conflict(_) => Error::Unauthorized(Unauthorized::SessionEnded),
        store::StoreError::Config { message, source } => Error::Config { message, source },
        store::StoreError::Unavailable(source) => {
            Error::unavailable(Service::DynamoDb, action, source)
        }
    }
}
