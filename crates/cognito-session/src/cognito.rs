//! The identity provider: Cognito calls (refresh with `InitiateAuth`), and `SECRET_HASH`.
//!
//! Knows no DynamoDB and checks no token: it turns a refresh token into new tokens, or says why not.

use std::fmt;

use aws_lc_rs::hmac;
use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, AuthenticationResultType};
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
        }
    }
}

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
    pub(crate) async fn refresh(
        &self,
        refresh_token: &str,
        username: &str,
    ) -> Result<Tokens, RefreshFailed> {
        if self.rotation {
            let output = self
                .client
                .get_tokens_from_refresh_token()
                .refresh_token(refresh_token)
                .client_id(&self.client_id)
                .set_client_secret(self.client_secret.clone())
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
