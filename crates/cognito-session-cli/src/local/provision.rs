//! The user pool, app client, user and session table of the local Cognito, found by name and
//! brought to the wanted settings, or created: a second run converges on the same ones.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_sdk_cognitoidentityprovider::error::ProvideErrorMetadata;
use aws_sdk_cognitoidentityprovider::types::{
    AttributeType, ExplicitAuthFlowsType, OAuthFlowType, PreventUserExistenceErrorTypes,
    VerifiedAttributeType,
};
use aws_sdk_cognitoidentityprovider::Client;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::Error;
use crate::output::full_message;
use crate::table::{ensure, Created};

/// The local user pool's name.
pub const POOL_NAME: &str = "cognito-session-dev";
/// The app client's name.
pub const CLIENT_NAME: &str = "web";
/// The session table (`SESSION_TABLE`).
pub const TABLE: &str = "sessions";
/// Its partition key (`PARTITION_KEY`).
pub const PARTITION_KEY: &str = "sub";
/// The user who can sign in.
pub const USERNAME: &str = "ada";
/// Their verified email.
pub const EMAIL: &str = "ada@example.com";
/// Their password.
pub const PASSWORD: &str = "Correct-horse-9!";
/// The attributes the ID token carries (moto puts only the client's `ReadAttributes` in it).
const READ_ATTRIBUTES: [&str; 3] = ["email", "email_verified", "name"];
/// The pool tag that keeps the generated `SESSION_ENCRYPTION_KEY`, so a second run against the
/// same moto prints the same key (and sealed rows stay readable); it lives as long as moto does.
const KEY_TAG: &str = "cognito-session-dev:session-encryption-key";

/// What was found or created.
#[derive(Clone)]
pub(super) struct Provisioned {
    pub pool_id: String,
    pub client_id: String,
    pub encryption_key: String,
}

fn failed<E: std::error::Error>(action: &str) -> impl FnOnce(E) -> Error + '_ {
    move |error| Error::Setup {
        action: action.to_owned(),
        why: full_message(&error),
    }
}

/// The pool, client, user and table, with the app's callback and sign-out URLs on `app_url`.
pub(super) async fn provision(sdk: &SdkConfig, app_url: &str) -> Result<Provisioned, Error> {
    let cognito = Client::new(sdk);
    let (pool_id, encryption_key) = pool(&cognito).await?;
    let client_id = app_client(&cognito, &pool_id, app_url).await?;
    user(&cognito, &pool_id).await?;
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    let created = ensure(
        &dynamodb,
        TABLE,
        PARTITION_KEY,
        None,
        Duration::from_secs(30),
    )
    .await
    .map_err(|failure| Error::Setup {
        action: format!("creating the table {TABLE:?}"),
        why: failure.message,
    })?;
    if let Created::Exists { differences } = created {
        if !differences.is_empty() {
            return Err(Error::Setup {
                action: format!("reusing the table {TABLE:?}"),
                why: differences.join("; "),
            });
        }
    }
    Ok(Provisioned {
        pool_id,
        client_id,
        encryption_key,
    })
}

/// The pool named [`POOL_NAME`] and the key its tag keeps, or a new pool with a new key.
async fn pool(cognito: &Client) -> Result<(String, String), Error> {
    let mut pages = cognito
        .list_user_pools()
        .max_results(60)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(failed("listing the user pools"))?;
        let found = page
            .user_pools()
            .iter()
            .find(|p| p.name() == Some(POOL_NAME))
            .and_then(|p| p.id());
        if let Some(id) = found {
            let described = cognito
                .describe_user_pool()
                .user_pool_id(id)
                .send()
                .await
                .map_err(failed("describing the user pool"))?;
            let key = described
                .user_pool()
                .and_then(|p| p.user_pool_tags())
                .and_then(|tags| tags.get(KEY_TAG))
                .cloned()
                .unwrap_or_else(new_key);
            return Ok((id.to_owned(), key));
        }
    }
    let key = new_key();
    let created = cognito
        .create_user_pool()
        .pool_name(POOL_NAME)
        .auto_verified_attributes(VerifiedAttributeType::Email)
        .user_pool_tags(KEY_TAG, &key)
        .send()
        .await
        .map_err(failed("creating the user pool"))?;
    let id = created
        .user_pool()
        .and_then(|p| p.id())
        .ok_or_else(|| Error::Setup {
            action: "creating the user pool".into(),
            why: "moto answered without a pool id".into(),
        })?;
    Ok((id.to_owned(), key))
}

/// A new `SESSION_ENCRYPTION_KEY`: base64 of 32 random bytes.
fn new_key() -> String {
    let mut key = [0u8; 32];
    // The system's random source does not fail on the platforms this runs on; a failure would
    // leave zeros, which only a local emulator's rows would be sealed with.
    let _ = SystemRandom::new().fill(&mut key);
    STANDARD.encode(key)
}

/// The app client named [`CLIENT_NAME`], created or updated to a real web app's settings.
async fn app_client(cognito: &Client, pool_id: &str, app_url: &str) -> Result<String, Error> {
    let mut existing = None;
    let mut pages = cognito
        .list_user_pool_clients()
        .user_pool_id(pool_id)
        .max_results(60)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(failed("listing the app clients"))?;
        if let Some(client) = page
            .user_pool_clients()
            .iter()
            .find(|c| c.client_name() == Some(CLIENT_NAME))
        {
            existing = client.client_id().map(str::to_owned);
            break;
        }
    }
    let flows = [
        ExplicitAuthFlowsType::AllowUserSrpAuth,
        ExplicitAuthFlowsType::AllowUserPasswordAuth,
        // Choice-based sign-in (codes, passkeys), which `dev --app`'s account API serves.
        ExplicitAuthFlowsType::AllowUserAuth,
        ExplicitAuthFlowsType::AllowRefreshTokenAuth,
    ];
    let attributes = READ_ATTRIBUTES.map(String::from).to_vec();
    let scopes = ["openid", "email", "profile"].map(String::from).to_vec();
    let callback = vec![format!("{app_url}/callback")];
    let sign_out = vec![format!("{app_url}/")];
    // UpdateUserPoolClient resets what it is not given: both calls send every setting.
    macro_rules! web_app {
        ($request:expr) => {
            $request
                .user_pool_id(pool_id)
                .client_name(CLIENT_NAME)
                .set_explicit_auth_flows(Some(flows.to_vec()))
                .set_read_attributes(Some(attributes))
                .allowed_o_auth_flows_user_pool_client(true)
                .allowed_o_auth_flows(OAuthFlowType::Code)
                .set_allowed_o_auth_scopes(Some(scopes))
                .supported_identity_providers("COGNITO")
                .set_callback_urls(Some(callback))
                .set_logout_urls(Some(sign_out))
                .prevent_user_existence_errors(PreventUserExistenceErrorTypes::Enabled)
                .enable_token_revocation(true)
        };
    }
    let client = match existing {
        Some(client_id) => {
            web_app!(cognito.update_user_pool_client().client_id(client_id))
                .send()
                .await
                .map_err(failed("updating the app client"))?
                .user_pool_client
        }
        None => {
            web_app!(cognito.create_user_pool_client().generate_secret(false))
                .send()
                .await
                .map_err(failed("creating the app client"))?
                .user_pool_client
        }
    };
    client
        .and_then(|c| c.client_id)
        .ok_or_else(|| Error::Setup {
            action: "creating the app client".into(),
            why: "moto answered without a client id".into(),
        })
}

/// The user [`USERNAME`] with [`PASSWORD`] (permanent) and the verified email [`EMAIL`].
async fn user(cognito: &Client, pool_id: &str) -> Result<(), Error> {
    let attributes = [("email", EMAIL), ("email_verified", "true")].map(|(name, value)| {
        AttributeType::builder()
            .name(name)
            .value(value)
            .build()
            .map_err(failed("describing the user's attributes"))
    });
    let [email, verified] = attributes;
    let (email, verified) = (email?, verified?);
    let found = cognito
        .admin_get_user()
        .user_pool_id(pool_id)
        .username(USERNAME)
        .send()
        .await;
    match found {
        Ok(_) => {
            cognito
                .admin_update_user_attributes()
                .user_pool_id(pool_id)
                .username(USERNAME)
                .user_attributes(email)
                .user_attributes(verified)
                .send()
                .await
                .map_err(failed("updating the user"))?;
        }
        Err(error) if error.code() == Some("UserNotFoundException") => {
            cognito
                .admin_create_user()
                .user_pool_id(pool_id)
                .username(USERNAME)
                .message_action(aws_sdk_cognitoidentityprovider::types::MessageActionType::Suppress)
                .user_attributes(email)
                .user_attributes(verified)
                .send()
                .await
                .map_err(failed("creating the user"))?;
        }
        Err(error) => return Err(failed("looking up the user")(error)),
    }
    cognito
        .admin_set_user_password()
        .user_pool_id(pool_id)
        .username(USERNAME)
        .password(PASSWORD)
        .permanent(true)
        .send()
        .await
        .map_err(failed("setting the user's password"))?;
    Ok(())
}
