//! AWS fixtures on moto: a user pool with an app client, users that log in for real, the
//! session table, and SDK clients that count the calls they send.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use aws_config::SdkConfig;
use aws_lc_rs::hmac;
use aws_sdk_cognitoidentityprovider::types::{
    AttributeType, AuthFlowType, AuthenticationResultType, ExplicitAuthFlowsType, OAuthFlowType,
};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use cognito_session_cli::local::managed_login::{ManagedLogin, Upstream};
pub use cognito_session_cli::local::sdk_config;
use cognito_session_cli::local::MotoKey;

use crate::Moto;

/// Counts the HTTP attempts an SDK client sends, by operation name.
#[derive(Debug, Clone, Default)]
pub struct CallCounter(Arc<Mutex<Vec<String>>>);

impl CallCounter {
    /// How many attempts of `operation` (e.g. `InitiateAuth`, `GetItem`) were sent.
    pub fn count(&self, operation: &str) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|o| *o == operation)
            .count()
    }

    /// Every attempt sent, in order.
    pub fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// Forget what was counted.
    pub fn reset(&self) {
        self.0.lock().unwrap().clear();
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let name = cfg
            .load::<Metadata>()
            .map(|m| m.name().to_owned())
            .unwrap_or_default();
        self.0.lock().unwrap().push(name);
        Ok(())
    }
}

/// How to set up a [`Pool`].
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Give the app client a secret (then `SECRET_HASH` is required).
    pub secret: bool,
    /// The session table's partition key attribute name.
    pub partition_key: String,
    /// A sort key attribute name (one session per device), if any.
    pub sort_key: Option<String>,
    /// The app client's callback URLs (managed login's allowed `redirect_uri`s); none by default.
    pub callback_urls: Vec<String>,
    /// The app client's sign-out URLs (managed login's allowed `logout_uri`s); none by default.
    pub logout_urls: Vec<String>,
    /// The app client's OAuth flows (`code`, `implicit`, `client_credentials`). When not empty,
    /// the client is an OAuth client of the pool (`AllowedOAuthFlowsUserPoolClient`, identity
    /// provider `COGNITO`); none by default.
    pub oauth_flows: Vec<String>,
    /// The app client's OAuth scopes (`openid`, `email`, `profile`, `phone`,
    /// `aws.cognito.signin.user.admin`); none by default.
    pub oauth_scopes: Vec<String>,
}

impl PoolOptions {
    /// An app client for managed login: the authorization code flow, scopes `openid email
    /// profile`, one callback URL and one sign-out URL (the other options are the defaults).
    ///
    /// ```
    /// let options = testkit::PoolOptions::managed_login(
    ///     "http://localhost:3000/callback",
    ///     "http://localhost:3000/",
    /// );
    /// assert_eq!(options.oauth_flows, ["code"]);
    /// ```
    pub fn managed_login(callback_url: &str, logout_url: &str) -> PoolOptions {
        PoolOptions {
            callback_urls: vec![callback_url.into()],
            logout_urls: vec![logout_url.into()],
            oauth_flows: vec!["code".into()],
            oauth_scopes: ["openid", "email", "profile"].map(String::from).to_vec(),
            ..PoolOptions::default()
        }
    }
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            secret: false,
            partition_key: "sub".into(),
            sort_key: None,
            callback_urls: Vec::new(),
            logout_urls: Vec::new(),
            oauth_flows: Vec::new(),
            oauth_scopes: Vec::new(),
        }
    }
}

/// A user pool, app client and session table of their own on the shared moto server.
#[derive(Debug, Clone)]
pub struct Pool {
    /// The moto server.
    pub moto: &'static Moto,
    /// SDK configuration pointing at moto (region us-east-1, dummy credentials).
    pub sdk: SdkConfig,
    /// The user pool id.
    pub pool_id: String,
    /// The app client id.
    pub client_id: String,
    /// The app client secret, if it has one.
    pub client_secret: Option<String>,
    /// The session table's name.
    pub table: String,
    /// Its partition key attribute.
    pub partition_key: String,
    /// Its sort key attribute, if any.
    pub sort_key: Option<String>,
    /// A Cognito admin client (not counted).
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
    /// A DynamoDB client (not counted).
    pub dynamodb: aws_sdk_dynamodb::Client,
}

/// Test users' password.
pub const PASSWORD: &str = "Correct-horse-9!";

fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn non_empty(list: &[String]) -> Option<Vec<String>> {
    (!list.is_empty()).then(|| list.to_vec())
}

impl Pool {
    /// A fresh pool, app client and table.
    pub async fn new(options: PoolOptions) -> Pool {
        let moto = Moto::shared();
        let sdk = sdk_config(&moto.url).await;
        let cognito = aws_sdk_cognitoidentityprovider::Client::new(&sdk);
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        let pool = cognito
            .create_user_pool()
            .pool_name(unique("pool"))
            .send()
            .await
            .expect("create user pool");
        let pool_id = pool.user_pool.and_then(|p| p.id).expect("pool id");
        let client = cognito
            .create_user_pool_client()
            .user_pool_id(&pool_id)
            .client_name("web")
            .generate_secret(options.secret)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
            .set_callback_urls(non_empty(&options.callback_urls))
            .set_logout_urls(non_empty(&options.logout_urls))
            .set_allowed_o_auth_flows(non_empty(&options.oauth_flows).map(|flows| {
                flows
                    .iter()
                    .map(|f| OAuthFlowType::from(f.as_str()))
                    .collect()
            }))
            .set_allowed_o_auth_scopes(non_empty(&options.oauth_scopes))
            // What the ID tokens carry (real Cognito's default: every readable attribute).
            .set_read_attributes((!options.oauth_flows.is_empty()).then(|| {
                ["email", "email_verified", "name"]
                    .map(String::from)
                    .to_vec()
            }))
            .set_allowed_o_auth_flows_user_pool_client(
                (!options.oauth_flows.is_empty()).then_some(true),
            )
            .set_supported_identity_providers(
                (!options.oauth_flows.is_empty()).then(|| vec!["COGNITO".to_owned()]),
            )
            .send()
            .await
            .expect("create app client")
            .user_pool_client
            .expect("app client");
        let table = unique("sessions");
        create_table(
            &dynamodb,
            &table,
            &options.partition_key,
            options.sort_key.as_deref(),
        )
        .await;
        Pool {
            moto,
            sdk,
            pool_id,
            client_id: client.client_id.expect("client id"),
            client_secret: client.client_secret,
            table,
            partition_key: options.partition_key,
            sort_key: options.sort_key,
            cognito,
            dynamodb,
        }
    }

    /// Managed login for this pool on a free 127.0.0.1 port: the local Cognito's server
    /// (`cognito_session_cli::local::ManagedLogin`), re-signing ID tokens with moto's key.
    ///
    /// ```no_run
    /// # async fn demo() {
    /// use testkit::{Pool, PoolOptions};
    /// let pool = Pool::new(PoolOptions::managed_login(
    ///     "http://127.0.0.1:3000/callback",
    ///     "http://127.0.0.1:3000/",
    /// ))
    /// .await;
    /// let login = pool.managed_login().await;
    /// let domain = login.base_url(); // COGNITO_DOMAIN: http://127.0.0.1:<port>
    /// # let _ = domain;
    /// # }
    /// ```
    pub async fn managed_login(&self) -> ManagedLogin {
        static KEY: OnceLock<MotoKey> = OnceLock::new();
        let key = KEY.get_or_init(|| {
            MotoKey::load(&crate::moto::python())
                .unwrap_or_else(|e| panic!("{e}; run scripts/setup.sh"))
        });
        let upstream = Upstream {
            pool_id: self.pool_id.clone(),
            cognito: self.cognito.clone(),
            key: key.clone(),
        };
        ManagedLogin::start(upstream, 0)
            .await
            .unwrap_or_else(|e| panic!("start the managed-login server: {e}"))
    }

    /// The issuer moto writes into this pool's tokens.
    pub fn issuer(&self) -> String {
        format!(
            "https://cognito-idp.us-east-1.amazonaws.com/{}",
            self.pool_id
        )
    }

    /// The pool's JWKS URL on moto.
    pub fn jwks_url(&self) -> String {
        self.moto.jwks_url(&self.pool_id)
    }

    /// Clients that count every attempt they send, sharing one counter.
    pub fn counted_clients(
        &self,
    ) -> (
        aws_sdk_cognitoidentityprovider::Client,
        aws_sdk_dynamodb::Client,
        CallCounter,
    ) {
        let counter = CallCounter::default();
        let cognito = aws_sdk_cognitoidentityprovider::Client::from_conf(
            aws_sdk_cognitoidentityprovider::config::Builder::from(&self.sdk)
                .interceptor(counter.clone())
                .build(),
        );
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&self.sdk)
                .interceptor(counter.clone())
                .build(),
        );
        (cognito, dynamodb, counter)
    }

    /// Creates a confirmed user with [`PASSWORD`]; returns its `sub`.
    pub async fn user(&self, username: &str) -> String {
        let user = self
            .cognito
            .admin_create_user()
            .user_pool_id(&self.pool_id)
            .username(username)
            .send()
            .await
            .expect("create user")
            .user
            .expect("user");
        self.cognito
            .admin_set_user_password()
            .user_pool_id(&self.pool_id)
            .username(username)
            .password(PASSWORD)
            .permanent(true)
            .send()
            .await
            .expect("set password");
        user.attributes()
            .iter()
            .find(|a| a.name() == "sub")
            .and_then(|a| a.value())
            .expect("sub attribute")
            .to_owned()
    }

    /// Creates a user with a temporary password, as an administrator does: their first sign-in
    /// is asked for a new password (`NEW_PASSWORD_REQUIRED`).
    ///
    /// ```no_run
    /// # async fn demo(pool: testkit::Pool) {
    /// pool.user_with_temporary_password("erin", "Temp-horse-1!").await;
    /// # }
    /// ```
    pub async fn user_with_temporary_password(&self, username: &str, password: &str) {
        self.cognito
            .admin_create_user()
            .user_pool_id(&self.pool_id)
            .username(username)
            .temporary_password(password)
            .send()
            .await
            .expect("create user");
    }

    /// Sets user attributes (e.g. `[("email", "ada@example.com"), ("email_verified", "true")]`).
    ///
    /// ```no_run
    /// # async fn demo(pool: testkit::Pool) {
    /// pool.user("ada").await;
    /// pool.set_attributes("ada", &[("email", "ada@example.com"), ("email_verified", "true")])
    ///     .await;
    /// # }
    /// ```
    pub async fn set_attributes(&self, username: &str, attributes: &[(&str, &str)]) {
        let mut request = self
            .cognito
            .admin_update_user_attributes()
            .user_pool_id(&self.pool_id)
            .username(username);
        for (name, value) in attributes {
            request = request.user_attributes(
                AttributeType::builder()
                    .name(*name)
                    .value(*value)
                    .build()
                    .expect("attribute"),
            );
        }
        request.send().await.expect("update user attributes");
    }

    /// A real login (`USER_PASSWORD_AUTH`): access, ID and refresh tokens.
    pub async fn login(&self, username: &str) -> AuthenticationResultType {
        let mut auth = self
            .cognito
            .initiate_auth()
            .client_id(&self.client_id)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", username)
            .auth_parameters("PASSWORD", PASSWORD);
        if let Some(secret) = &self.client_secret {
            let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
            let tag = hmac::sign(&key, format!("{username}{}", self.client_id).as_bytes());
            auth = auth.auth_parameters("SECRET_HASH", STANDARD.encode(tag.as_ref()));
        }
        auth.send()
            .await
            .expect("login")
            .authentication_result
            .expect("tokens")
    }

    /// The session row of `sub`, as stored.
    pub async fn row(&self, sub: &str) -> Option<HashMap<String, AttributeValue>> {
        self.dynamodb
            .get_item()
            .table_name(&self.table)
            .key(&self.partition_key, AttributeValue::S(sub.into()))
            .consistent_read(true)
            .send()
            .await
            .expect("get row")
            .item
    }

    /// Writes a row the way the seed's login flow does: partition key, `token`, `timestamp`.
    pub async fn put_seed_row(&self, sub: &str, refresh_token: &str) {
        self.dynamodb
            .put_item()
            .table_name(&self.table)
            .item(&self.partition_key, AttributeValue::S(sub.into()))
            .item("token", AttributeValue::S(refresh_token.into()))
            .item("timestamp", AttributeValue::N(crate::now().to_string()))
            .send()
            .await
            .expect("put seed row");
    }

    /// Puts the user in group `group`, creating the group if needed (moto then lists it in
    /// `cognito:groups` of the user's next tokens).
    pub async fn add_to_group(&self, username: &str, group: &str) {
        let created = self
            .cognito
            .create_group()
            .user_pool_id(&self.pool_id)
            .group_name(group)
            .send()
            .await;
        if let Err(error) = created {
            let exists = error
                .as_service_error()
                .is_some_and(|e| e.is_group_exists_exception());
            assert!(exists, "create group: {error:?}");
        }
        self.cognito
            .admin_add_user_to_group()
            .user_pool_id(&self.pool_id)
            .username(username)
            .group_name(group)
            .send()
            .await
            .expect("add user to group");
    }

    /// Takes the user out of group `group`.
    pub async fn remove_from_group(&self, username: &str, group: &str) {
        self.cognito
            .admin_remove_user_from_group()
            .user_pool_id(&self.pool_id)
            .username(username)
            .group_name(group)
            .send()
            .await
            .expect("remove user from group");
    }

    /// Signs the user out everywhere (revokes every refresh token).
    pub async fn global_sign_out(&self, username: &str) {
        self.cognito
            .admin_user_global_sign_out()
            .user_pool_id(&self.pool_id)
            .username(username)
            .send()
            .await
            .expect("global sign-out");
    }
}

/// Creates an on-demand table with a string partition key and an optional string sort key.
pub async fn create_table(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    partition_key: &str,
    sort_key: Option<&str>,
) {
    let mut request = dynamodb
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest);
    for (name, kind) in
        std::iter::once((partition_key, KeyType::Hash)).chain(sort_key.map(|s| (s, KeyType::Range)))
    {
        request = request
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .expect("attribute"),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(name)
                    .key_type(kind)
                    .build()
                    .expect("key"),
            );
    }
    request.send().await.expect("create table");
}
