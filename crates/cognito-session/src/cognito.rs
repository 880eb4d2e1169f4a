//! The identity provider: Cognito calls (refresh with `InitiateAuth`), and `SECRET_HASH`.
//!
//! Knows no DynamoDB and checks no token: it turns a refresh token into new tokens, or says why not.
//!
//! # Refusals: a dead refresh token, or our misconfiguration
//!
//! Only a refusal that Cognito documents (or is seen to send) for a refresh token or user that
//! can never work again ends a session; the row is then deleted. The list is an allow-list:
//! every other answer of Cognito to a refresh is either transient (503, row kept) or points at
//! this function's configuration ([`Error::Config`], 500, row kept, logged at error level once
//! per cold start and cause). Messages are compared after trimming, case-insensitively, exactly
//! (a trailing period matters for `Invalid Refresh Token`, and is optional elsewhere).
//!
//! | Cognito answers (code: message) | means | we |
//! |---|---|---|
//! | `NotAuthorizedException`: `Refresh Token has been revoked` | `RevokeToken`, a logout, `GlobalSignOut`/`AdminUserGlobalSignOut` (moto's answer too) | dead: 401, row deleted |
//! | `NotAuthorizedException`: `Refresh Token has expired` | past the app client's refresh token validity | dead: 401, row deleted |
//! | `NotAuthorizedException`: `Invalid Refresh Token` (no period) | not a refresh token of this app client | dead: 401, row deleted |
//! | `NotAuthorizedException`: `User is disabled.` | `AdminDisableUser` | dead: 401, row deleted |
//! | `NotAuthorizedException`: `The user has been deleted for the associated refresh token` | the user was deleted | dead: 401, row deleted |
//! | `UserNotFoundException` (any message, e.g. `User does not exist.`) | the user was deleted | dead: 401, row deleted |
//! | `RefreshTokenReuseException` (any message) | with rotation: a rotated-out refresh token was used after the grace period (a copy was used twice: possible theft) | dead: 401, row deleted, warning naming possible theft |
//! | `NotAuthorizedException`: `Invalid Refresh Token.` (with the period) | the refresh token is bound to a remembered device that was not sent (`DEVICE_KEY`), never confirmed (`ConfirmDevice`), or forgotten | config (device tracking): 500 |
//! | `NotAuthorizedException`: `Client … is configured for secret but secret was not received` | `CLIENT_SECRET` missing for an app client with a secret | config: 500 naming `CLIENT_SECRET` |
//! | `NotAuthorizedException`: `Unable to verify secret hash for client …` / `SecretHash does not match for the client: …` | `CLIENT_SECRET` is not the app client's secret | config: 500 naming `CLIENT_SECRET` |
//! | `NotAuthorizedException` with no message | moto's answer to a missing or wrong `SECRET_HASH` | config: 500 naming `CLIENT_SECRET` |
//! | `InvalidParameterException`: `Refresh Token flow not enabled for this client` (or any other) | the app client lacks `ALLOW_REFRESH_TOKEN_AUTH` (or has rotation: use `REFRESH_TOKEN_ROTATION`) | config: 500 naming the auth flows |
//! | `ResourceNotFoundException` | no such app client (`CLIENT_ID`, Region) | config: 500 naming `CLIENT_ID` |
//! | any other `NotAuthorizedException` message, any other 4xx code | not positively a dead token | config: 500, row kept |
//! | `TooManyRequestsException`, `LimitExceededException`, `ThrottlingException`, `InternalErrorException`, `UnexpectedLambdaException`, any HTTP 5xx, timeouts, resets | transient | 503, row kept |
//!
//! Sources: the `GetTokensFromRefreshToken` / `InitiateAuth` API reference (error codes),
//! AWS's knowledge-center article on "Invalid Refresh Token" (other app client, device key
//! missing or device unconfirmed), Amplify Android's refresh-failure classification (the
//! messages Cognito returned for each case, including the trailing period of a device-binding
//! failure), and users' reports of the secret messages. Two consequences worth knowing: a
//! refresh token of *another* app client also reads `Invalid Refresh Token`, but that cannot be
//! our misconfiguration here: the expired access token presented with the cookie was verified
//! to carry our `CLIENT_ID`, and the row's refresh token belongs to the same login (family). And
//! a message without a single space is never repeated in an error (moto echoes the values it
//! was sent, a `SECRET_HASH` or a token, as its message).

use std::fmt;

use aws_lc_rs::hmac;
use aws_sdk_cognitoidentityprovider::types::{
    AuthFlowType, AuthenticationResultType, DeviceSecretVerifierConfigType,
};
use aws_sdk_cognitoidentityprovider::Client;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Service};
use crate::sdk::{classify, is_config_code, Failure};

/// Tokens from Cognito: after a login (pass them to [`Sessions::start`](crate::Sessions::start))
/// or a refresh (from [`Session::refreshed`](crate::Session::refreshed)). Serializes with the
/// field names of Cognito's `AuthenticationResult`, as the seed's `cognito` property did.
///
/// ```
/// use cognito_session::Tokens;
/// let tokens = Tokens::new("access", Some("refresh".into()));
/// let json = serde_json::to_value(&tokens).unwrap();
/// assert_eq!(json["AccessToken"], "access");
/// // Debug output never shows a token.
/// assert!(!format!("{tokens:?}").contains("refresh\""));
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tokens {
    /// The access token: what goes into the session cookie.
    pub access_token: String,
    /// The ID token, if Cognito returned one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// The refresh token (after a login; a plain refresh returns none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Lifetime of the access token, in seconds.
    #[serde(default)]
    pub expires_in: i32,
    /// The device Cognito issued at this login, in a user pool that tracks devices (see
    /// [`NewDevice`]). [`Sessions::start`](crate::Sessions::start) confirms it and stores its key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_device_metadata: Option<NewDevice>,
}

/// A new device from a login's `NewDeviceMetadata`: in a user pool that tracks devices
/// ("remember devices": always or user opt-in), the refresh token only works for a device that
/// was confirmed (`ConfirmDevice`) and whose key each refresh sends as `DEVICE_KEY`.
/// [`Sessions::start`](crate::Sessions::start) does both; [`Tokens::from`] fills it in.
///
/// ```
/// use aws_sdk_cognitoidentityprovider::types::{AuthenticationResultType, NewDeviceMetadataType};
/// let result = AuthenticationResultType::builder()
///     .access_token("a")
///     .refresh_token("r")
///     .new_device_metadata(
///         NewDeviceMetadataType::builder().device_key("us-east-1_0f1e").device_group_key("-grp").build(),
///     )
///     .build();
/// let tokens = cognito_session::Tokens::from(&result);
/// let device = tokens.new_device_metadata.unwrap();
/// assert_eq!(device.device_key, "us-east-1_0f1e");
/// assert_eq!(device.device_group_key, "-grp");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NewDevice {
    /// `DeviceKey`: stored in the session row, sent as `DEVICE_KEY` on every refresh.
    pub device_key: String,
    /// `DeviceGroupKey`: goes into the device's password verifier.
    #[serde(default)]
    pub device_group_key: String,
}

impl Tokens {
    /// Tokens with just an access token and, optionally, a refresh token.
    ///
    /// ```
    /// let tokens = cognito_session::Tokens::new("a", None);
    /// assert!(tokens.refresh_token.is_none());
    /// ```
    pub fn new(access_token: impl Into<String>, refresh_token: Option<String>) -> Self {
        Tokens {
            access_token: access_token.into(),
            id_token: None,
            refresh_token,
            expires_in: 0,
            new_device_metadata: None,
        }
    }
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("access_token", &"<redacted>")
            .field("id_token", &self.id_token.as_ref().map(|_| "<redacted>"))
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expires_in", &self.expires_in)
            .field("new_device_metadata", &self.new_device_metadata)
            .finish()
    }
}

impl From<&AuthenticationResultType> for Tokens {
    /// ```
    /// use aws_sdk_cognitoidentityprovider::types::AuthenticationResultType;
    /// let result = AuthenticationResultType::builder().access_token("a").refresh_token("r").expires_in(3600).build();
    /// let tokens = cognito_session::Tokens::from(&result);
    /// assert_eq!(tokens.expires_in, 3600);
    /// ```
    fn from(result: &AuthenticationResultType) -> Self {
        Tokens {
            access_token: result.access_token().unwrap_or_default().to_owned(),
            id_token: result.id_token().map(str::to_owned),
            refresh_token: result.refresh_token().map(str::to_owned),
            expires_in: result.expires_in(),
            new_device_metadata: result
                .new_device_metadata()
                .and_then(|d| {
                    Some(NewDevice {
                        device_key: d.device_key()?.to_owned(),
                        device_group_key: d.device_group_key().unwrap_or_default().to_owned(),
                    })
                })
                .filter(|d| !d.device_key.is_empty()),
        }
    }
}

/// The `DeviceName` of the devices [`Sessions::start`](crate::Sessions::start) confirms, as
/// `ListDevices` / `AdminListDevices` show it (`device_name` attribute): `cognito-session`.
pub(crate) const DEVICE_NAME: &str = "cognito-session";

/// `SECRET_HASH` for an app client with a secret:
/// `base64(HMAC-SHA256(client_secret, username + client_id))`.
pub(crate) fn secret_hash(client_secret: &str, username: &str, client_id: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, client_secret.as_bytes());
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(username.as_bytes());
    ctx.update(client_id.as_bytes());
    STANDARD.encode(ctx.sign().as_ref())
}

/// The outcome of a refresh that did not produce tokens.
#[derive(Debug)]
pub(crate) enum RefreshFailed {
    /// Cognito definitively refused the refresh token: the session is over.
    Dead(Dead),
    /// Cognito refused because of this function's configuration: `cause` names it (for logging
    /// once per cause), `error` is the 500 to answer.
    Misconfigured { cause: String, error: Error },
    /// Anything else, already mapped to a 503 (or a 500 for a request that could not be built).
    Other(Error),
}

/// Why a refresh token is dead (see the table in the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dead {
    /// `Refresh Token has been revoked`.
    Revoked,
    /// `Refresh Token has expired`.
    Expired,
    /// `Invalid Refresh Token`.
    Invalid,
    /// `User is disabled.`
    UserDisabled,
    /// `UserNotFoundException`, or `The user has been deleted for the associated refresh token`.
    UserDeleted,
    /// `RefreshTokenReuseException`: a rotated-out refresh token was used again.
    Reused,
}

impl Dead {
    /// A stable code, for the audit trail.
    pub(crate) fn code(self) -> &'static str {
        match self {
            Dead::Revoked => "refresh_token_revoked",
            Dead::Expired => "refresh_token_expired",
            Dead::Invalid => "refresh_token_invalid",
            Dead::UserDisabled => "user_disabled",
            Dead::UserDeleted => "user_deleted",
            Dead::Reused => "refresh_token_reuse",
        }
    }
}

impl fmt::Display for Dead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dead::Revoked => "the refresh token was revoked",
            Dead::Expired => "the refresh token expired",
            Dead::Invalid => "the refresh token is invalid",
            Dead::UserDisabled => "the user is disabled",
            Dead::UserDeleted => "the user was deleted",
            Dead::Reused => "a rotated-out refresh token was used again (possible token theft)",
        })
    }
}

/// How a refusal of a refresh sorts, from its error code and message alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    Dead(Dead),
    /// This function's configuration: a cause key and what to fix.
    Config {
        cause: String,
        fix: String,
    },
    Transient,
}

/// Error codes that are transient whatever their HTTP status.
const TRANSIENT_CODES: [&str; 9] = [
    "TooManyRequestsException",
    "ThrottlingException",
    "Throttling",
    "LimitExceededException",
    "TooManyFailedAttemptsException",
    "InternalErrorException",
    "InternalServerError",
    "ServiceUnavailable",
    "UnexpectedLambdaException",
];

/// The message, lowercased and trimmed, without one trailing period.
fn plain(message: &str) -> String {
    let message = message.trim().to_ascii_lowercase();
    message.strip_suffix('.').unwrap_or(&message).to_owned()
}

/// Cognito's message, fit to repeat in an error: sentences only (moto echoes the values it was
/// sent, such as a `SECRET_HASH`, as its message).
fn shown(message: &str) -> &str {
    if message.trim().contains(' ') {
        message.trim()
    } else {
        "no message"
    }
}

/// Sorts Cognito's refusal of a refresh (HTTP `status`, error `code`, `message`), following the
/// table in the module docs. `client_id` is named in the fixes.
pub(crate) fn refusal(
    status: u16,
    code: &str,
    message: &str,
    client_id: &str,
    region: &str,
) -> Refusal {
    let config = |cause: &str, fix: String| Refusal::Config {
        cause: cause.to_owned(),
        fix,
    };
    if status >= 500 || TRANSIENT_CODES.contains(&code) {
        return Refusal::Transient;
    }
    let text = plain(message);
    match code {
        "RefreshTokenReuseException" => Refusal::Dead(Dead::Reused),
        "UserNotFoundException" => Refusal::Dead(Dead::UserDeleted),
        "NotAuthorizedException" => match text.as_str() {
            "refresh token has been revoked" => Refusal::Dead(Dead::Revoked),
            "refresh token has expired" => Refusal::Dead(Dead::Expired),
            "user is disabled" => Refusal::Dead(Dead::UserDisabled),
            "the user has been deleted for the associated refresh token" => {
                Refusal::Dead(Dead::UserDeleted)
            }
            // Without the period only: with it, Cognito means a device-binding failure.
            "invalid refresh token" if !message.trim().ends_with('.') => {
                Refusal::Dead(Dead::Invalid)
            }
            "invalid refresh token" => config(
                "device tracking",
                "Cognito refused the refresh token as bound to a remembered device it could not \
                 validate (\"Invalid Refresh Token.\"): the user pool tracks devices, so each \
                 refresh must send the device key (DEVICE_KEY) of a device confirmed with \
                 ConfirmDevice; check the user pool's device tracking (a user who forgot the \
                 device must log in again)"
                    .to_owned(),
            ),
            t if t.contains("configured for secret but secret was not received") => config(
                "missing CLIENT_SECRET",
                format!(
                    "the app client {client_id} has a client secret, but CLIENT_SECRET is not \
                     set: set CLIENT_SECRET to the app client's secret ({})",
                    shown(message)
                ),
            ),
            t if t.contains("secret hash") || t.contains("secrethash") => config(
                "wrong CLIENT_SECRET",
                format!(
                    "Cognito could not verify the SECRET_HASH: CLIENT_SECRET is not the secret \
                     of app client {client_id}; set it to the app client's secret ({})",
                    shown(message)
                ),
            ),
            "" => config(
                "NotAuthorizedException without a message",
                format!(
                    "Cognito refused the refresh without a reason (NotAuthorizedException with \
                     no message, which is how moto answers a missing or wrong SECRET_HASH): \
                     check that CLIENT_SECRET is set to the secret of app client {client_id}, \
                     or unset for an app client without one"
                ),
            ),
            _ => config(
                "NotAuthorizedException",
                format!(
                    "Cognito refused the refresh: NotAuthorizedException ({}), which is not a \
                     refusal known to mean the refresh token is dead, so the session was kept: \
                     check CLIENT_ID, CLIENT_SECRET and the app client's settings",
                    shown(message)
                ),
            ),
        },
        "InvalidParameterException" => config(
            "auth flow",
            format!(
                "Cognito refused the refresh request: InvalidParameterException ({}); the app \
                 client {client_id} must allow ALLOW_REFRESH_TOKEN_AUTH (an app client with \
                 refresh-token rotation needs REFRESH_TOKEN_ROTATION=true instead)",
                shown(message)
            ),
        ),
        "ResourceNotFoundException" => config(
            "unknown app client",
            format!(
                "Cognito does not know the app client {client_id} in Region {region} ({}): check \
                 CLIENT_ID and the function's Region (AWS_REGION)",
                shown(message)
            ),
        ),
        _ => config(
            code,
            format!(
                "Cognito refused the refresh: {code} ({}), which is not a refusal known to mean \
                 the refresh token is dead, so the session was kept: check CLIENT_ID, \
                 CLIENT_SECRET, the app client's auth flows and the user pool's settings",
                shown(message)
            ),
        ),
    }
}

/// The app client and its Cognito API client.
#[derive(Clone)]
pub(crate) struct Cognito {
    pub client: Client,
    pub client_id: String,
    pub client_secret: Option<String>,
    /// Use `GetTokensFromRefreshToken` (refresh-token rotation) instead of `InitiateAuth`.
    pub rotation: bool,
}

impl fmt::Debug for Cognito {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cognito")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl Cognito {
    /// The Region the client calls, for messages ("no Region" when none is configured).
    fn region(&self) -> String {
        self.client
            .config()
            .region()
            .map_or_else(|| "(none configured)".to_owned(), ToString::to_string)
    }

    /// New tokens for `refresh_token`: `GetTokensFromRefreshToken` with rotation (the answer
    /// carries a new refresh token), else `InitiateAuth` with `REFRESH_TOKEN_AUTH` (plus
    /// `SECRET_HASH` when the client has a secret).
    ///
    /// `device_key` (from the login's `NewDeviceMetadata`, kept in the row) goes along as
    /// `DEVICE_KEY` / `DeviceKey`: in a pool that tracks devices the refresh fails without it.
    pub(crate) async fn refresh(
        &self,
        refresh_token: &str,
        username: &str,
        device_key: Option<&str>,
    ) -> Result<Tokens, RefreshFailed> {
        if self.rotation {
            let output = self
                .client
                .get_tokens_from_refresh_token()
                .refresh_token(refresh_token)
                .client_id(&self.client_id)
                .set_client_secret(self.client_secret.clone())
                .set_device_key(device_key.map(str::to_owned))
                .send()
                .await
                .map_err(|e| refresh_failure(&e, e.to_string(), &self.client_id, &self.region()))?;
            return tokens_of(output.authentication_result.as_ref());
        }
        let mut request = self
            .client
            .initiate_auth()
            .auth_flow(AuthFlowType::RefreshTokenAuth)
            .client_id(&self.client_id)
            .auth_parameters("REFRESH_TOKEN", refresh_token);
        if let Some(device_key) = device_key {
            request = request.auth_parameters("DEVICE_KEY", device_key);
        }
        if let Some(secret) = &self.client_secret {
            request = request.auth_parameters(
                "SECRET_HASH",
                secret_hash(secret, username, &self.client_id),
            );
        }
        let output = request
            .send()
            .await
            .map_err(|e| refresh_failure(&e, e.to_string(), &self.client_id, &self.region()))?;
        tokens_of(output.authentication_result.as_ref())
    }

    /// `ConfirmDevice` for the device of a new login (see [`NewDevice`]), with the login's
    /// access token and a verifier of a random device password. No retry helps a refusal
    /// (`Error::Config`, naming Cognito's code and message); anything else is transient.
    pub(crate) async fn confirm_device(
        &self,
        access_token: &str,
        device: &NewDevice,
    ) -> Result<(), Error> {
        let config = crate::device::verifier_config(&device.device_group_key, &device.device_key)
            .map_err(|_| {
            Error::unavailable(
                Service::Cognito,
                "confirming the login's device",
                "no randomness for the device password",
            )
        })?;
        let verifier = DeviceSecretVerifierConfigType::builder()
            .salt(config.salt)
            .password_verifier(config.password_verifier)
            .build();
        let result = self
            .client
            .confirm_device()
            .access_token(access_token)
            .device_key(&device.device_key)
            .device_name(DEVICE_NAME)
            .device_secret_verifier_config(verifier)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => match classify(&e) {
                // Already confirmed (by the caller's own login code): what we need.
                Failure::Service { code, .. } if code == "DeviceKeyExistsException" => Ok(()),
                Failure::Service { code, .. }
                    if code == "TooManyRequestsException" || code == "InternalErrorException" =>
                {
                    Err(Error::unavailable(
                        Service::Cognito,
                        "confirming the login's device",
                        e,
                    ))
                }
                // The user cannot use this login (deleted, unconfirmed, must reset the password).
                Failure::Service { code, message }
                    if matches!(
                        code.as_str(),
                        "UserNotFoundException"
                            | "UserNotConfirmedException"
                            | "PasswordResetRequiredException"
                    ) =>
                {
                    Err(Error::InvalidInput(format!(
                        "Cognito refused to confirm the login's device: {code} ({message})"
                    )))
                }
                Failure::Service { code, message } => Err(Error::config(format!(
                    "Cognito refused to confirm the login's device (ConfirmDevice): {code} \
                         ({message}); without it the pool's device tracking refuses every refresh. \
                         Check that the login's tokens are passed to start() unchanged and that \
                         the app client's login flow supports device tracking"
                ))),
                _ => Err(Error::unavailable(
                    Service::Cognito,
                    "confirming the login's device",
                    e,
                )),
            },
        }
    }

    /// `AdminGetUser`: the `sub` of user `username` (a username or an alias) and its username;
    /// `None` when the pool has no such user.
    pub(crate) async fn user_ids(
        &self,
        pool_id: &str,
        username: &str,
    ) -> Result<Option<(String, String)>, Error> {
        let result = self
            .client
            .admin_get_user()
            .user_pool_id(pool_id)
            .username(username)
            .send()
            .await;
        match result {
            Ok(user) => {
                let sub = user
                    .user_attributes()
                    .iter()
                    .find(|a| a.name() == "sub")
                    .and_then(|a| a.value())
                    .ok_or_else(|| {
                        Error::unavailable(
                            Service::Cognito,
                            "looking up the user",
                            "AdminGetUser answered without the user's sub",
                        )
                    })?;
                Ok(Some((sub.to_owned(), user.username().to_owned())))
            }
            Err(e) => admin_failure(e, "AdminGetUser", "looking up the user").map(|()| None),
        }
    }

    /// `AdminUserGlobalSignOut`: revokes every refresh token of the user.
    pub(crate) async fn global_sign_out(&self, pool_id: &str, username: &str) -> Result<(), Error> {
        let result = self
            .client
            .admin_user_global_sign_out()
            .user_pool_id(pool_id)
            .username(username)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // A deleted user has no tokens left to revoke.
            Err(e) => admin_failure(
                e,
                "AdminUserGlobalSignOut",
                "signing the user out everywhere",
            ),
        }
    }

    /// `RevokeToken`: revokes one refresh token and the tokens issued from it (one device).
    pub(crate) async fn revoke(&self, refresh_token: &str) -> Result<(), Error> {
        self.client
            .revoke_token()
            .token(refresh_token)
            .client_id(&self.client_id)
            .set_client_secret(self.client_secret.clone())
            .send()
            .await
            .map_err(|e| Error::unavailable(Service::Cognito, "revoking the refresh token", e))?;
        Ok(())
    }
}

/// The failure of admin call `operation` (made while `doing`): `Ok` when the user does not
/// exist, a configuration error naming the pool and the permission, or unavailable.
fn admin_failure<E>(
    e: aws_sdk_cognitoidentityprovider::error::SdkError<E>,
    operation: &str,
    doing: &'static str,
) -> Result<(), Error>
where
    E: aws_sdk_cognitoidentityprovider::error::ProvideErrorMetadata
        + std::error::Error
        + Send
        + Sync
        + 'static,
{
    match classify(&e) {
        Failure::Service { code, .. } if code == "UserNotFoundException" => Ok(()),
        Failure::Service { code, message } if is_config_code(&code) => Err(Error::config(format!(
            "{operation} failed: {code} ({message}); check USER_POOL_ID and the \
             cognito-idp:{operation} permission"
        ))),
        _ => Err(Error::unavailable(Service::Cognito, doing, e)),
    }
}

fn tokens_of(result: Option<&AuthenticationResultType>) -> Result<Tokens, RefreshFailed> {
    let result = result
        .filter(|r| r.access_token().is_some())
        .ok_or_else(|| {
            RefreshFailed::Other(Error::unavailable(
                Service::Cognito,
                "refreshing the session",
                "Cognito answered without an access token (a challenge?)",
            ))
        })?;
    Ok(Tokens::from(result))
}

/// Sorts a failed refresh: definitive refusal, configuration error, or transient.
fn refresh_failure<E>(
    error: &aws_sdk_cognitoidentityprovider::error::SdkError<E>,
    text: String,
    client_id: &str,
    region: &str,
) -> RefreshFailed
where
    E: aws_sdk_cognitoidentityprovider::error::ProvideErrorMetadata,
{
    let transient = |text: String| {
        RefreshFailed::Other(Error::unavailable(
            Service::Cognito,
            "refreshing the session",
            text,
        ))
    };
    match classify(error) {
        Failure::Service { code, message } => {
            let status = match error {
                aws_sdk_cognitoidentityprovider::error::SdkError::ServiceError(answer) => {
                    answer.raw().status().as_u16()
                }
                _ => 0,
            };
            match refusal(status, &code, &message, client_id, region) {
                Refusal::Dead(dead) => RefreshFailed::Dead(dead),
                Refusal::Config { cause, fix } => RefreshFailed::Misconfigured {
                    cause,
                    error: Error::config(fix),
                },
                Refusal::Transient => transient(text),
            }
        }
        Failure::Construction => RefreshFailed::Other(Error::config(format!(
            "the Cognito refresh request could not be built ({text}); check CLIENT_ID and the \
             SDK configuration"
        ))),
        Failure::Credentials(problem) => RefreshFailed::Misconfigured {
            cause: "no usable AWS credentials".into(),
            error: Error::config(crate::sdk::credentials_message(
                Service::Cognito,
                "refreshing the session",
                &problem,
            )),
        },
        Failure::Transient => transient(text),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn secret_hash_is_base64_hmac_sha256_of_username_and_client_id() {
        // Computed independently: Python's hmac.new(b"secret", b"aliceclient", sha256).
        assert_eq!(
            super::secret_hash("secret", "alice", "client"),
            "RTsve+FQ659UKyESgvLg9GYmZEL+QjzQsW/OjL77/b0="
        );
    }

    use super::*;

    fn sort(code: &str, message: &str) -> Refusal {
        refusal(400, code, message, "client1", "us-east-1")
    }

    #[test]
    fn only_the_known_dead_refusals_are_dead() {
        let dead = [
            (
                "NotAuthorizedException",
                "Refresh Token has been revoked",
                Dead::Revoked,
            ),
            (
                "NotAuthorizedException",
                "Refresh Token has expired",
                Dead::Expired,
            ),
            (
                "NotAuthorizedException",
                "Invalid Refresh Token",
                Dead::Invalid,
            ),
            (
                "NotAuthorizedException",
                "User is disabled.",
                Dead::UserDisabled,
            ),
            (
                "NotAuthorizedException",
                "The user has been deleted for the associated refresh token",
                Dead::UserDeleted,
            ),
            (
                "UserNotFoundException",
                "User does not exist.",
                Dead::UserDeleted,
            ),
            (
                "RefreshTokenReuseException",
                "Refresh token reuse detected",
                Dead::Reused,
            ),
        ];
        for (code, message, why) in dead {
            assert_eq!(sort(code, message), Refusal::Dead(why), "{code}: {message}");
        }
    }

    #[test]
    fn misconfigurations_name_what_to_fix() {
        let config = [
            (
                "NotAuthorizedException",
                "Client client1 is configured for secret but secret was not received",
                "CLIENT_SECRET is not set",
            ),
            (
                "NotAuthorizedException",
                "Unable to verify secret hash for client client1",
                "CLIENT_SECRET is not the secret",
            ),
            (
                "NotAuthorizedException",
                "SecretHash does not match for the client: client1",
                "CLIENT_SECRET is not the secret",
            ),
            ("NotAuthorizedException", "", "CLIENT_SECRET"),
            (
                "NotAuthorizedException",
                "Invalid Refresh Token.",
                "DEVICE_KEY",
            ),
            (
                "NotAuthorizedException",
                "Something new",
                "session was kept",
            ),
            (
                "InvalidParameterException",
                "Refresh Token flow not enabled for this client",
                "ALLOW_REFRESH_TOKEN_AUTH",
            ),
            (
                "ResourceNotFoundException",
                "User pool client client1 does not exist.",
                "in Region us-east-1",
            ),
            (
                "UserNotConfirmedException",
                "User is not confirmed.",
                "session was kept",
            ),
        ];
        for (code, message, names) in config {
            match sort(code, message) {
                Refusal::Config { fix, .. } => assert!(fix.contains(names), "{code}: {fix}"),
                other => panic!("{code}: {message}: {other:?}"),
            }
        }
    }

    #[test]
    fn throttling_and_server_errors_are_transient() {
        for code in [
            "TooManyRequestsException",
            "ThrottlingException",
            "InternalErrorException",
        ] {
            assert_eq!(sort(code, "slow down"), Refusal::Transient);
        }
        assert_eq!(
            refusal(503, "NotAuthorizedException", "", "c", "us-east-1"),
            Refusal::Transient
        );
    }

    #[test]
    fn an_echoed_value_is_never_repeated() {
        // moto answers a wrong SECRET_HASH with the hash it was sent as the message.
        let Refusal::Config { fix, .. } = sort("NotAuthorizedException", "c2VjcmV0aGFzaA==") else {
            panic!("not a configuration error");
        };
        assert!(!fix.contains("c2VjcmV0aGFzaA=="), "{fix}");
    }
}
