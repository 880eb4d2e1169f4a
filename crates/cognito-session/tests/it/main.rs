//! Integration tests against moto in server mode (started once for this binary by `testkit`).

mod accounts;
mod attacks;
mod browser;
mod capture;
mod concurrency;
mod config;
mod devices;
mod encryption;
mod events;
mod examples;
mod faults;
mod handler;
mod hardening;
mod layer;
mod lifecycle;
mod login;
mod logs;
mod misconfiguration;
mod outages;
mod passkey_browser;
mod passkeys;
mod passwordless;
mod round_trips;
mod sign_in;
mod stack;
mod store_conformance;
mod telemetry;
mod token_cache;
mod verifier;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_cognitoidentityprovider::types::AuthenticationResultType;
use cognito_session::{Sessions, SessionsBuilder, Tokens};
use testkit::{CallCounter, Minter, Pool, PoolOptions};

/// A pool on moto, and `Sessions` wired to it through counting clients and a movable clock.
pub struct Setup {
    pub pool: Pool,
    pub sessions: Sessions,
    pub calls: CallCounter,
    pub clock: Arc<AtomicI64>,
}

/// A clock `offset` seconds away from the system clock.
pub fn movable_clock(offset: Arc<AtomicI64>) -> impl Fn() -> SystemTime + Send + Sync + 'static {
    move || {
        let offset = offset.load(Ordering::Relaxed);
        let now = SystemTime::now();
        if offset >= 0 {
            now + Duration::from_secs(offset as u64)
        } else {
            now - Duration::from_secs(offset.unsigned_abs())
        }
    }
}

/// A builder for `pool` with counted clients (returned) and everything set explicitly.
pub fn builder(pool: &Pool) -> (SessionsBuilder, CallCounter) {
    let (cognito, dynamodb, calls) = pool.counted_clients();
    let builder = Sessions::builder()
        .table(&pool.table)
        .partition_key(&pool.partition_key)
        .client_id(&pool.client_id)
        .user_pool_id(&pool.pool_id)
        .jwks_url(pool.jwks_url())
        .sdk_config(pool.sdk.clone())
        .cognito_client(cognito)
        .dynamodb_client(dynamodb);
    let builder = match &pool.client_secret {
        Some(secret) => builder.client_secret(secret),
        None => builder,
    };
    (builder, calls)
}

pub async fn setup_with(
    options: PoolOptions,
    customize: impl FnOnce(SessionsBuilder) -> SessionsBuilder,
) -> Setup {
    let pool = Pool::new(options).await;
    let clock = Arc::new(AtomicI64::new(0));
    let (builder, calls) = builder(&pool);
    let sessions = customize(builder.clock(movable_clock(clock.clone())))
        .build()
        .await
        .expect("build sessions");
    Setup {
        pool,
        sessions,
        calls,
        clock,
    }
}

pub async fn setup() -> Setup {
    setup_with(PoolOptions::default(), |b| b).await
}

/// A `Cookie` header map carrying `token` in cookie `token` among others.
pub fn cookies(token: &str) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    headers.append(
        "cookie",
        format!("theme=dark; xtoken=nope; token={token}")
            .parse()
            .unwrap(),
    );
    headers
}

impl Setup {
    /// A user who logged in for real and whose session was started.
    pub async fn logged_in(&self, username: &str) -> (String, AuthenticationResultType) {
        let sub = self.pool.user(username).await;
        let login = self.pool.login(username).await;
        self.sessions
            .start(&Tokens::from(&login))
            .await
            .expect("start session");
        (sub, login)
    }

    /// The environment of a Lambda function on this pool: the seed's three variables, the pool,
    /// and `endpoint` for every AWS call.
    pub fn function_env(&self, endpoint: &str) -> Vec<(&'static str, String)> {
        vec![
            ("SESSION_TABLE", self.pool.table.clone()),
            ("PARTITION_KEY", self.pool.partition_key.clone()),
            ("CLIENT_ID", self.pool.client_id.clone()),
            ("USER_POOL_ID", self.pool.pool_id.clone()),
            ("AWS_ENDPOINT_URL", endpoint.to_owned()),
        ]
    }

    /// What `session()` answers for a request whose cookie `token` holds `token`, which must be
    /// a refusal.
    pub async fn refused(&self, token: &str) -> cognito_session::Error {
        self.sessions
            .session("token", &cookies(token))
            .await
            .expect_err("the request is refused")
    }

    /// The same access token, re-signed with moto's key as if issued two hours ago (so it has
    /// expired an hour ago). Family, user and client are unchanged.
    pub fn expired_copy(&self, access_token: &str) -> String {
        let mut claims = testkit::peek(access_token);
        let iat = testkit::now() - 7200;
        claims["iat"] = iat.into();
        claims["auth_time"] = iat.into();
        claims["exp"] = (iat + 3600).into();
        minter().access(&claims)
    }
}

/// `Sessions` for the setup's pool whose AWS calls all go through `endpoint` (a proxy, say).
pub async fn sessions_via(
    s: &Setup,
    endpoint: &str,
    customize: impl FnOnce(SessionsBuilder) -> SessionsBuilder,
) -> Sessions {
    let sdk = testkit::sdk_config(endpoint).await;
    let builder = Sessions::builder()
        .table(&s.pool.table)
        .partition_key(&s.pool.partition_key)
        .client_id(&s.pool.client_id)
        .user_pool_id(&s.pool.pool_id)
        .jwks_url(s.pool.jwks_url())
        .cognito_client(aws_sdk_cognitoidentityprovider::Client::new(&sdk))
        .dynamodb_client(aws_sdk_dynamodb::Client::new(&sdk));
    customize(builder).build().await.unwrap()
}

/// The binary of example `name`, built if needed (off the runtime's threads).
pub async fn example(name: &'static str) -> std::path::PathBuf {
    tokio::task::spawn_blocking(move || testkit::example_binary(name))
        .await
        .expect("building the example")
}

/// The strings of a JSON array (none if `value` is not an array).
pub fn strings(value: &serde_json::Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// moto's signing key, loaded once.
pub fn minter() -> &'static Minter {
    static MINTER: std::sync::OnceLock<Minter> = std::sync::OnceLock::new();
    MINTER.get_or_init(Minter::moto)
}

/// A 127.0.0.1 URL where nothing listens (connections are refused).
pub fn dead_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// A Lambda context whose invocation ends at `deadline`.
pub fn context_until(deadline: SystemTime) -> lambda_http::Context {
    let mut context = lambda_http::Context::default();
    context.deadline = u64::try_from(
        deadline
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .expect("a deadline in milliseconds");
    context
}

/// A builder for `pool` whose DynamoDB, Cognito and JWKS traffic goes through `proxy`, with SDK
/// timeouts of a minute (only a deadline can cut a slow call short, the JWKS fetch's included),
/// three attempts, and the movable `clock`.
pub async fn via_proxy(
    pool: &Pool,
    clock: &Arc<AtomicI64>,
    proxy: &testkit::Proxy,
) -> SessionsBuilder {
    via_proxy_sdk(pool, clock, proxy, Duration::from_secs(60), 3)
        .await
        .jwks_timeout(Duration::from_secs(30))
}

/// [`via_proxy`] with the SDK's operation `timeout` (retries included) and `attempts`. The
/// clients get a retry partition of their own: the SDK's retry quota is shared by every client
/// of a process in the same partition, and other tests' failures must not use it up.
pub async fn via_proxy_sdk(
    pool: &Pool,
    clock: &Arc<AtomicI64>,
    proxy: &testkit::Proxy,
    timeout: Duration,
    attempts: u32,
) -> SessionsBuilder {
    use aws_config::timeout::TimeoutConfig;
    use aws_sdk_dynamodb::config::retry::{RetryConfig, RetryPartition};
    static PARTITION: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let config = testkit::sdk_config(&proxy.url).await;
    let partition = format!("via-proxy-{}", PARTITION.fetch_add(1, Ordering::Relaxed));
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(timeout)
        .operation_timeout(timeout)
        .build();
    let retry = RetryConfig::standard().with_max_attempts(attempts);
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&config)
            .timeout_config(timeouts.clone())
            .retry_config(retry.clone())
            .retry_partition(RetryPartition::new(partition.clone()))
            .build(),
    );
    let cognito = aws_sdk_cognitoidentityprovider::Client::from_conf(
        aws_sdk_cognitoidentityprovider::config::Builder::from(&config)
            .timeout_config(timeouts)
            .retry_config(retry)
            .retry_partition(RetryPartition::new(partition))
            .build(),
    );
    let builder = Sessions::builder()
        .table(&pool.table)
        .partition_key(&pool.partition_key)
        .client_id(&pool.client_id)
        .user_pool_id(&pool.pool_id)
        .jwks_url(format!(
            "{}/{}/.well-known/jwks.json",
            proxy.url, pool.pool_id
        ))
        .dynamodb_client(dynamodb)
        .cognito_client(cognito)
        .clock(movable_clock(clock.clone()));
    match &pool.client_secret {
        Some(secret) => builder.client_secret(secret),
        None => builder,
    }
}

/// The `Set-Cookie` values of a response.
pub fn response_cookies<B>(response: &http::Response<B>) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}
