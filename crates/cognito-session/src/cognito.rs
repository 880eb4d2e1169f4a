//! The identity provider: Cognito calls (refresh with `InitiateAuth`), and `SECRET_HASH`.
//!
//! Knows no DynamoDB and checks no token: it turns a refresh token into new tokens, or says why not.

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
/// `ListDevices` / `AdminListDevices` show it (`device_name` attribute).
///
/// ```
/// assert_eq!(cognito_session::cognito::DEVICE_NAME, "cognito-session");
/// ```
pub const DEVICE_NAME: &str = "cognito-session";

/// `SECRET_HASH` for an app client with a secret:
/// `base64(HMAC-SHA256(client_secret, username + client_id))`.
///
/// ```
/// let hash = cognito_session::cognito::secret_hash("secret", "alice", "client");
/// assert_eq!(hash.len(), 44);
/// ```
pub fn secret_hash(client_secret: &str, username: &str, client_id: &str) -> String {
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
    Rejected(String),
    /// Anything else, already mapped to a 503 or 500.
    Other(Error),
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
                .map_err(|e| refresh_failure(&e, e.to_string()))?;
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
            .map_err(|e| refresh_failure(&e, e.to_string()))?;
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
            Err(e) => match classify(&e) {
                // A deleted user has no tokens left to revoke.
                Failure::Service { code, .. } if code == "UserNotFoundException" => Ok(()),
                Failure::Service { code, message } if is_config_code(&code) => {
                    Err(Error::config(format!(
                    "AdminUserGlobalSignOut failed: {code} ({message}); check USER_POOL_ID and the \
                     cognito-idp:AdminUserGlobalSignOut permission"
                )))
                }
                _ => Err(Error::unavailable(
                    Service::Cognito,
                    "signing the user out everywhere",
                    e,
                )),
            },
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
) -> RefreshFailed
where
    E: aws_sdk_cognitoidentityprovider::error::ProvideErrorMetadata,
{
    match classify(error) {
        Failure::Service { code, message }
            if code == "NotAuthorizedException" && message.to_ascii_lowercase().contains("secret hash") =>
        {
            RefreshFailed::Other(Error::config(format!(
                "Cognito refused the SECRET_HASH: CLIENT_SECRET does not belong to CLIENT_ID ({code})"
            )))
        }
        Failure::Service { code, message } if code == "NotAuthorizedException" || code == "UserNotFoundException" => {
            RefreshFailed::Rejected(format!("{code}: {message}"))
        }
        Failure::Service { code, message } if is_config_code(&code) => RefreshFailed::Other(Error::config(format!(
            "Cognito refused the refresh request: {code} ({message}); check CLIENT_ID, CLIENT_SECRET and the app client's auth flows"
        ))),
        _ => RefreshFailed::Other(Error::unavailable(Service::Cognito, "refreshing the session", text)),
    }
}
