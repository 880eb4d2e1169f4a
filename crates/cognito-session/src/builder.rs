//! [`SessionsBuilder`]: every setting `from_env` reads, settable in code, and the wiring of the
//! AWS clients, store, sealing and verifier into a [`Sessions`].

use std::sync::Arc;
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::clock::Clock;
use crate::cognito::Cognito;
use crate::config::{parse_origins, pool_region, SessionValidation, Settings};
use crate::error::Error;
use crate::http::cookie::CookieOptions;
use crate::login::settings::ManagedConfig;
use crate::login::{Managed, TokenEndpoint};
use crate::manager::{Inner, Sessions};
#[cfg(feature = "kms")]
use crate::seal::kms_data_key;
use crate::seal::{parse_key, Sealer, Sealing};
use crate::store::{DynamoDbStore, SessionStore};
use crate::verify::Verifier;

impl Sessions {
    /// Builds from environment variables (see the [crate docs](crate#configuration)) and the
    /// standard AWS SDK configuration. Fails with [`Error::Config`] naming the variable to fix.
    pub async fn from_env() -> Result<Self, Error> {
        Self::builder().from_env()?.build().await
    }

    /// A builder for everything `from_env` reads, plus an `SdkConfig`, clients, a custom store
    /// and a clock.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), cognito_session::Error> {
    /// let sessions = cognito_session::Sessions::builder()
    ///     .table("sessions")
    ///     .partition_key("sub")
    ///     .client_id("5a3b...")
    ///     .user_pool_id("us-east-1_AbC")
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn builder() -> SessionsBuilder {
        SessionsBuilder::default()
    }
}

/// Builds [`Sessions`]; every setting `from_env` reads can be set here too.
///
/// ```no_run
/// # async fn f(sdk_config: aws_config::SdkConfig) -> Result<(), cognito_session::Error> {
/// let sessions = cognito_session::Sessions::builder()
///     .from_env()?                       // start from the environment...
///     .sdk_config(sdk_config)            // ...with your SDK configuration
///     .jwks_url("http://127.0.0.1:5000/us-east-1_AbC/.well-known/jwks.json")
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Default)]
#[must_use]
pub struct SessionsBuilder {
    settings: Settings,
    sdk_config: Option<SdkConfig>,
    dynamodb: Option<aws_sdk_dynamodb::Client>,
    cognito: Option<aws_sdk_cognitoidentityprovider::Client>,
    store: Option<Arc<dyn SessionStore>>,
    clock: Option<Arc<dyn Clock>>,
    metrics_sink: Option<crate::telemetry::Sink>,
    #[cfg(feature = "kms")]
    kms: Option<aws_sdk_kms::Client>,
}

impl std::fmt::Debug for SessionsBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The settings redact the client secret and the encryption keys.
        f.debug_struct("SessionsBuilder")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

macro_rules! string_setters {
    ($($(#[$doc:meta])* $name:ident => $field:ident;)*) => {$(
        $(#[$doc])*
        pub fn $name(mut self, value: impl Into<String>) -> Self {
            self.settings.$field = Some(value.into());
            self
        }
    )*};
}

impl SessionsBuilder {
    /// Reads the environment variables (see the [crate docs](crate#configuration)) over what was
    /// set so far.
    pub fn from_env(mut self) -> Result<Self, Error> {
        self.settings.read_vars(|name| std::env::var(name).ok())?;
        Ok(self)
    }

    string_setters! {
        /// `SESSION_TABLE`.
        table => table;
        /// `PARTITION_KEY`.
        partition_key => partition_key;
        /// `CLIENT_ID`.
        client_id => client_id;
        /// `CLIENT_SECRET`.
        client_secret => client_secret;
        /// `USER_POOL_ID`.
        user_pool_id => user_pool_id;
        /// `COGNITO_ISSUER`: the exact `iss` to expect.
        issuer => issuer;
        /// `COGNITO_JWKS_URL`: where the signing keys are fetched from.
        jwks_url => jwks_url;
        /// `COGNITO_JWKS`: a JWKS document (JSON, or a path to a file holding it) to preload.
        jwks => jwks;
        /// `SESSION_ENCRYPTION_KEY`: base64 of 32 random bytes; refresh tokens are then stored
        /// encrypted (AES-256-GCM).
        encryption_key => encryption_key;
        /// `SESSION_ENCRYPTION_OLD_KEYS`: comma-separated base64 keys that may still decrypt
        /// (after a rotation); rows are re-encrypted with the current key on their next write.
        old_encryption_keys => old_encryption_keys;
        /// `SESSION_KMS_CIPHERTEXT`: base64 of a 32-byte data key encrypted by KMS; decrypted
        /// once at cold start (`kms:Decrypt`) and used as the encryption key.
        kms_ciphertext => kms_ciphertext;
        /// `COGNITO_DOMAIN`: the user pool's domain for managed login
        /// (`https://myapp.auth.us-east-1.amazoncognito.com` or a custom domain).
        cognito_domain => cognito_domain;
        /// `REDIRECT_URI`: the managed login's callback URL, as registered on the app client.
        redirect_uri => redirect_uri;
        /// `LOGOUT_URI`: where the managed login's `/logout` sends the browser (a sign-out URL
        /// registered on the app client).
        logout_uri => logout_uri;
        /// `OAUTH_SCOPES`: the scopes managed login asks for (space- or comma-separated; must
        /// include `openid`; default `openid email`).
        oauth_scopes => oauth_scopes;
        /// `POWERTOOLS_METRICS_NAMESPACE`: the CloudWatch namespace of the metrics (default
        /// `CognitoSession`).
        metrics_namespace => metrics_namespace;
        /// `POWERTOOLS_SERVICE_NAME`: the `service` dimension of every metric (default: the
        /// function's name, `AWS_LAMBDA_FUNCTION_NAME`, else `cognito-session`).
        metrics_service => metrics_service;
    }

    /// CloudWatch metrics as EMF lines on stdout (see the README's "Operations"): on by default
    /// when running in Lambda (`AWS_LAMBDA_FUNCTION_NAME` set) unless
    /// `POWERTOOLS_METRICS_DISABLED=true`, off elsewhere; this turns them on or off.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), cognito_session::Error> {
    /// let sessions = cognito_session::Sessions::builder().from_env()?.metrics(false).build().await?;
    /// # Ok(()) }
    /// ```
    pub fn metrics(mut self, on: bool) -> Self {
        self.settings.metrics = Some(on);
        self
    }

    /// Where the EMF lines go instead of stdout (one call per line); turns metrics on.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), cognito_session::Error> {
    /// let sessions = cognito_session::Sessions::builder()
    ///     .from_env()?
    ///     .metrics_sink(|line| eprintln!("{line}"))
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn metrics_sink(mut self, sink: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.metrics_sink = Some(Arc::new(sink));
        self.settings.metrics = Some(true);
        self
    }

    /// `SESSION_AUDIT_CLIENT_INFO`: the client's address and user agent in audit events
    /// (default on; the request id is always there).
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), cognito_session::Error> {
    /// let sessions = cognito_session::Sessions::builder().from_env()?.audit_client_info(false).build().await?;
    /// # Ok(()) }
    /// ```
    pub fn audit_client_info(mut self, on: bool) -> Self {
        self.settings.audit_client_info = on;
        self
    }

    /// `SIGN_IN_FLOW`: the flow [`Sessions::sign_in`] uses (`USER_SRP_AUTH` by default).
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), cognito_session::Error> {
    /// let sessions = cognito_session::Sessions::builder()
    ///     .from_env()?
    ///     .sign_in_flow(cognito_session::SignInFlow::Password)
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn sign_in_flow(mut self, flow: crate::SignInFlow) -> Self {
        self.settings.sign_in_flow = flow;
        self
    }

    /// A ready KMS client for `SESSION_KMS_CIPHERTEXT`.
    #[cfg(feature = "kms")]
    pub fn kms_client(mut self, client: aws_sdk_kms::Client) -> Self {
        self.kms = Some(client);
        self
    }

    /// `COGNITO_REPLICA_REGIONS`: the Regions of the user pool's multi-Region replicas, whose
    /// original-type issuer (`https://cognito-idp.<replica>.amazonaws.com/<pool>`) is accepted
    /// too. (The updated issuer type always names the pool's primary Region.)
    ///
    /// ```
    /// let builder = cognito_session::Sessions::builder()
    ///     .user_pool_id("us-east-1_AbC123")
    ///     .replica_regions(["us-west-2"]);
    /// # let _ = builder;
    /// ```
    pub fn replica_regions<I, R>(mut self, regions: I) -> Self
    where
        I: IntoIterator<Item = R>,
        R: Into<String>,
    {
        self.settings.replica_regions = regions.into_iter().map(Into::into).collect();
        self
    }

    /// `SORT_KEY`: the session table's sort key attribute; each login (device) then has its own
    /// row, keyed by `sub` and the login's `origin_jti`.
    pub fn sort_key(mut self, sort_key: impl Into<String>) -> Self {
        self.settings.sort_key = Some(sort_key.into());
        self
    }

    /// `SESSION_VALIDATION`.
    pub fn validation(mut self, validation: SessionValidation) -> Self {
        self.settings.validation = validation;
        self
    }

    /// `SESSION_LIFETIME`: the cookie's `Max-Age`, and how long after expiry a token may still be
    /// refreshed.
    pub fn session_lifetime(mut self, lifetime: Duration) -> Self {
        self.settings.cookie.max_age_secs = lifetime.as_secs().max(1);
        self
    }

    /// `REFRESH_TOKEN_ROTATION`: refresh with `GetTokensFromRefreshToken` and store the new
    /// refresh token it returns (for app clients with refresh-token rotation on).
    pub fn refresh_token_rotation(mut self, on: bool) -> Self {
        self.settings.rotation = on;
        self
    }

    /// How long one request may hold the refresh lease (default 3 s): the others wait for it
    /// up to this long plus a second, and take over if it lapses.
    pub fn refresh_lease(mut self, lease: Duration) -> Self {
        self.settings.refresh_lease = lease;
        self
    }

    /// `SESSION_IDLE_TIMEOUT`: end a session after this long without a request (checked in
    /// session mode and at refresh). Off by default.
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.settings.idle_timeout = Some(idle.as_secs());
        self
    }

    /// `SESSION_TOUCH_INTERVAL`: with an idle timeout, record activity at most once per this
    /// interval per session (default 300 s, and at most half the idle timeout).
    pub fn touch_interval(mut self, interval: Duration) -> Self {
        self.settings.touch_interval = interval.as_secs();
        self
    }

    /// Cookie attributes (`SameSite`, `Domain`, `Path`, `Secure`, `Max-Age`).
    pub fn cookie_options(mut self, options: CookieOptions) -> Self {
        self.settings.cookie = options;
        self
    }

    /// `ALLOWED_ORIGINS`: the origins (`https://app.example.com`) that requests with unsafe
    /// methods may come from besides the request's own (the site's origin when a proxy such as
    /// CloudFront rewrites `Host`); [`SessionLayer`](crate::SessionLayer) and
    /// [`Sessions::logout`] refuse the others.
    pub fn allowed_origins<I, O>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = O>,
        O: Into<String>,
    {
        self.settings.allowed_origins = origins.into_iter().map(Into::into).collect();
        self
    }

    /// Cross-site request forgery protection, on by default: [`SessionLayer`](crate::SessionLayer)
    /// and [`Sessions::logout`] refuse (403) unsafe requests a browser sent from another site.
    /// `false` turns it off, for APIs that browsers never call with the session cookie.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), cognito_session::Error> {
    /// let sessions = cognito_session::Sessions::builder().from_env()?.csrf(false).build().await?;
    /// # Ok(()) }
    /// ```
    pub fn csrf(mut self, on: bool) -> Self {
        self.settings.csrf = on;
        self
    }

    /// `SESSION_REPLACED_TOKEN_GRACE`: how long after a refresh an older access token of the
    /// same login still counts (default 60 s; zero allowed). Within it, requests that raced the
    /// refresh, or a browser that lost its answer, still get the new token (they join the
    /// refresh, or refresh again). Afterwards an expired token older than the session's newest
    /// is refused (401 [`Unauthorized::Replaced`](crate::Unauthorized::Replaced), the session
    /// kept): a copied cookie stops being a key once the browser moved on.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), cognito_session::Error> {
    /// let sessions = cognito_session::Sessions::builder()
    ///     .from_env()?
    ///     .replaced_token_grace(std::time::Duration::from_secs(30))
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn replaced_token_grace(mut self, grace: Duration) -> Self {
        self.settings.replaced_grace = grace.as_secs();
        self
    }

    /// Clock-skew leeway for `exp`, `iat` and `nbf` (default 30 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.settings.leeway = leeway.as_secs();
        self
    }

    /// Timeout of one JWKS fetch (default 2 s). A request's deadline
    /// ([`Sessions::session_with_deadline`]) shortens it to the time left.
    pub fn jwks_timeout(mut self, timeout: Duration) -> Self {
        self.settings.jwks_timeout = timeout;
        self
    }

    /// `COGNITO_JWKS_MAX_AGE`: fetched signing keys older than this are revalidated by the next
    /// request that needs them (default 1 h); see [`jwks_max_stale`](Self::jwks_max_stale).
    pub fn jwks_max_age(mut self, age: Duration) -> Self {
        self.settings.jwks_max_age = age.as_secs().max(1);
        self
    }

    /// `COGNITO_JWKS_MAX_STALE`: while revalidation fails (the JWKS endpoint is down), cached
    /// keys are still used until they are this old, counted from their last successful fetch
    /// (default 24 h); after that, requests answer 503 until a fetch succeeds. Keys preloaded
    /// with `COGNITO_JWKS` never go stale.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), cognito_session::Error> {
    /// use std::time::Duration;
    /// let sessions = cognito_session::Sessions::builder()
    ///     .from_env()?
    ///     .jwks_max_age(Duration::from_secs(600))
    ///     .jwks_max_stale(Duration::from_secs(6 * 3600))
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn jwks_max_stale(mut self, age: Duration) -> Self {
        self.settings.jwks_max_stale = age.as_secs().max(1);
        self
    }

    /// Least time between two JWKS fetches caused by unknown `kid`s (default 10 s).
    pub fn jwks_refetch_interval(mut self, interval: Duration) -> Self {
        self.settings.jwks_penalty = interval;
        self
    }

    /// `SESSION_TOKEN_CACHE`: how many verified tokens to remember (default
    /// 4096 (`cognito_jwt::DEFAULT_TOKEN_CACHE`), 0 turns the cache
    /// off). A request presenting a remembered, still unexpired token skips the signature check;
    /// its time claims are checked again, and tokens signed by a key that leaves the JWKS are
    /// forgotten. Session mode still reads the session row on every request.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), cognito_session::Error> {
    /// let sessions = cognito_session::Sessions::builder()
    ///     .from_env()?
    ///     .token_cache(0) // verify every request's signature
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn token_cache(mut self, entries: usize) -> Self {
        self.settings.token_cache = entries;
        self
    }

    /// `SESSION_OPERATION_TIMEOUT`: timeout of one DynamoDB or Cognito operation, retries
    /// included, and of the managed login's token endpoint (default 2 s). Applies to the clients
    /// the builder creates, not to clients passed in.
    ///
    /// Whatever the clients, when a request's Lambda deadline is known
    /// ([`Sessions::session_with_deadline`], or a `lambda_http` request's context) every call
    /// is also bounded by the time left before it, minus 300 ms to answer: a slow or throttled
    /// dependency (SDK retries included) then answers 503 in time instead of the function
    /// timing out.
    pub fn operation_timeout(mut self, timeout: Duration) -> Self {
        self.settings.operation_timeout = timeout;
        self
    }

    /// The AWS SDK configuration to create the DynamoDB and Cognito clients from (default: loaded
    /// from the environment).
    pub fn sdk_config(mut self, config: SdkConfig) -> Self {
        self.settings.cognito_endpoint = config.endpoint_url().map(str::to_owned);
        self.sdk_config = Some(config);
        self
    }

    /// A ready DynamoDB client (with your interceptors, timeouts, ...).
    pub fn dynamodb_client(mut self, client: aws_sdk_dynamodb::Client) -> Self {
        self.dynamodb = Some(client);
        self
    }

    /// A ready Cognito client.
    pub fn cognito_client(mut self, client: aws_sdk_cognitoidentityprovider::Client) -> Self {
        self.cognito = Some(client);
        self
    }

    /// Another session store instead of the DynamoDB table: any [`SessionStore`] (an
    /// `Arc` of one too, to keep a handle on it). The refresh protocol, and encryption at rest
    /// when a key is configured, apply to it as to the table.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), cognito_session::Error> {
    /// let sessions = cognito_session::Sessions::builder()
    ///     .client_id("5a3b")
    ///     .store(cognito_session::store::MemoryStore::default())
    ///     .build()
    ///     .await?;
    /// # let _ = sessions;
    /// # Ok(()) }
    /// ```
    pub fn store(mut self, store: impl SessionStore + 'static) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Another clock (for tests).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Validates the settings and creates the clients. Makes no network call unless a JWKS file
    /// must be read.
    pub async fn build(self) -> Result<Sessions, Error> {
        let SessionsBuilder {
            settings: s,
            sdk_config,
            dynamodb,
            cognito,
            store,
            clock,
            metrics_sink,
            #[cfg(feature = "kms")]
            kms,
        } = self;
        s.validate(store.is_none())?;
        #[cfg(feature = "kms")]
        let needs_kms = s.kms_ciphertext.is_some() && kms.is_none();
        #[cfg(not(feature = "kms"))]
        let needs_kms = false;
        let allowed_origins = parse_origins(&s.allowed_origins.join(","))?;
        let needs_sdk = cognito.is_none() || (store.is_none() && dynamodb.is_none()) || needs_kms;
        let sdk_config = match (sdk_config, needs_sdk) {
            (Some(config), _) => Some(config),
            (None, true) => {
                Some(Box::pin(aws_config::defaults(BehaviorVersion::latest()).load()).await)
            }
            (None, false) => None,
        };
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(s.operation_timeout.min(Duration::from_secs(1)))
            .operation_attempt_timeout(s.operation_timeout)
            .operation_timeout(s.operation_timeout)
            .build();
        let pool_region = s.user_pool_id.as_deref().map(pool_region).transpose()?;
        let region_of = |config: &SdkConfig| {
            config
                .region()
                .cloned()
                .or_else(|| pool_region.map(|r| Region::new(r.to_owned())))
        };
        let cognito_client = match (cognito, &sdk_config) {
            (Some(client), _) => client,
            (None, Some(config)) => {
                let region = pool_region
                    .map(|r| Region::new(r.to_owned()))
                    .or_else(|| config.region().cloned());
                let conf = aws_sdk_cognitoidentityprovider::config::Builder::from(config)
                    .region(region)
                    .timeout_config(timeouts.clone())
                    .build();
                aws_sdk_cognitoidentityprovider::Client::from_conf(conf)
            }
            (None, None) => unreachable_config()?,
        };
        let current = match (&s.encryption_key, &s.kms_ciphertext) {
            (Some(key), _) => Some(parse_key(key).map_err(Error::config)?),
            #[cfg(feature = "kms")]
            (None, Some(ciphertext)) => {
                let client = match (kms, &sdk_config) {
                    (Some(client), _) => client,
                    (_, Some(config)) => aws_sdk_kms::Client::from_conf(
                        aws_sdk_kms::config::Builder::from(config)
                            .region(region_of(config))
                            .timeout_config(timeouts.clone())
                            .build(),
                    ),
                    (None, None) => unreachable_config()?,
                };
                Some(Box::pin(kms_data_key(&client, ciphertext)).await?)
            }
            #[cfg(not(feature = "kms"))]
            (None, Some(_)) => {
                return Err(Error::config(
                    "SESSION_KMS_CIPHERTEXT needs cognito-session's `kms` feature",
                ))
            }
            (None, None) => None,
        };
        let sealer = match current {
            Some(current) => Some(Sealer::new(current, s.old_keys()?)),
            None => None,
        };
        // The table name is part of every sealed value's associated data (for a custom store,
        // whatever `table` says, if anything).
        let sealing = Sealing::new(sealer, s.table.clone().unwrap_or_default());
        let store: Arc<dyn SessionStore> = match (store, dynamodb, &sdk_config) {
            (Some(store), _, _) => store,
            (None, client, config) => {
                let client = match (client, config) {
                    (Some(client), _) => client,
                    (None, Some(config)) => {
                        let conf = aws_sdk_dynamodb::config::Builder::from(config)
                            .region(region_of(config))
                            .timeout_config(timeouts.clone())
                            .build();
                        aws_sdk_dynamodb::Client::from_conf(conf)
                    }
                    (None, None) => unreachable_config()?,
                };
                let table = s.table.clone().unwrap_or_default();
                let key = s.partition_key.clone().unwrap_or_default();
                let mut store = DynamoDbStore::new(client, table, key);
                if let Some(sort_key) = &s.sort_key {
                    store = store.with_sort_key(sort_key);
                }
                Arc::new(store)
            }
        };

        let client_id = s.client_id.clone().unwrap_or_default();
        let managed = match ManagedConfig::from_settings(
            s.cognito_domain.as_deref(),
            s.redirect_uri.as_deref(),
            s.logout_uri.as_deref(),
            s.oauth_scopes.as_deref(),
        )? {
            None => None,
            Some(config) => Some(Managed {
                endpoint: TokenEndpoint::new(&config.domain, s.operation_timeout).map_err(|e| {
                    Error::config_with("COGNITO_DOMAIN: cannot set up its token endpoint", e)
                })?,
                config,
            }),
        };
        let verifier = Verifier {
            inner: s.verifier()?.build()?,
            client_id: client_id.clone(),
        };
        // One key cache for both: a login or refresh checks an ID token right after an access
        // token, and must not fetch the pool's keys twice.
        let id_verifier = Verifier {
            inner: verifier.inner.with_token_use(cognito_jwt::TokenUse::Id),
            client_id: client_id.clone(),
        };
        if let Some(jwks) = &s.jwks {
            let document = if jwks.trim_start().starts_with('{') {
                jwks.clone().into_bytes()
            } else {
                tokio::fs::read(jwks).await.map_err(|e| {
                    Error::config_with(format!("COGNITO_JWKS: cannot read the file {jwks:?}"), e)
                })?
            };
            verifier.inner.preload(&document).map_err(|why| {
                Error::config(format!(
                    "COGNITO_JWKS: {}",
                    match why {
                        cognito_jwt::Error::Config { message } => message,
                        other => other.to_string(),
                    }
                ))
            })?;
        }
        Ok(Sessions {
            inner: Arc::new(Inner {
                verifier,
                store,
                sealing,
                cognito: Cognito {
                    client: cognito_client,
                    client_id,
                    client_secret: s.client_secret.clone(),
                    rotation: s.rotation,
                },
                validation: s.validation,
                cookie: Arc::new(s.cookie.clone()),
                clock: clock.unwrap_or_else(|| Arc::new(std::time::SystemTime::now)),
                lease: s.refresh_lease,
                idle: s.idle_timeout,
                touch_interval: s.touch_interval,
                replaced_grace_ms: i64::try_from(s.replaced_grace.saturating_mul(1000))
                    .unwrap_or(i64::MAX),
                per_device: s.sort_key.is_some(),
                pool_id: s.user_pool_id.clone(),
                allowed_origins,
                csrf: s.csrf,
                managed,
                id_verifier,
                sign_in_flow: s.sign_in_flow,
                memory: Default::default(),
                state_keys: Default::default(),
                telemetry: telemetry(&s, metrics_sink),
            }),
            deadline: None,
        })
    }
}

/// How the built `Sessions` reports: metrics on in Lambda unless turned off.
fn telemetry(s: &Settings, sink: Option<crate::telemetry::Sink>) -> crate::telemetry::Telemetry {
    let on = s.metrics.unwrap_or(s.in_lambda);
    crate::telemetry::Telemetry {
        metrics: on.then(|| crate::telemetry::MetricsConfig {
            namespace: s
                .metrics_namespace
                .clone()
                .unwrap_or_else(|| "CognitoSession".to_owned()),
            service: s
                .metrics_service
                .clone()
                .unwrap_or_else(|| "cognito-session".to_owned()),
            sink: sink.unwrap_or_else(|| {
                Arc::new(|line: &str| {
                    use std::io::Write;
                    let _ = writeln!(std::io::stdout().lock(), "{line}");
                })
            }),
        }),
        client_info: s.audit_client_info,
    }
}

fn unreachable_config<T>() -> Result<T, Error> {
    Err(Error::config(
        "internal: no AWS SDK configuration was loaded",
    ))
}
