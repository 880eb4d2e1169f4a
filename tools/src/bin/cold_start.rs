//! A measurement tool (not a test): the cold start of a function binary (the `handler` example)
//! under the Lambda Runtime API emulator on 127.0.0.1, with the JWKS preloaded through
//! `COGNITO_JWKS` and `SESSION_VALIDATION=token`, so the first request needs no network beyond
//! the emulator. Used by `scripts/bench-cold-start.sh`.
//!
//! ```text
//! cold_start BINARY RUNS     per run: a new process; time from spawn to its first response,
//!                            then the round trip of a second (warm) request; prints JSON lines
//! cold_start phases          in this fresh process, times each phase of the handler's init
//!                            (runtime, logging, SDK config, Sessions build) and the first check
//! ```
//!
//! `COLD_START_CONFIG` (`baseline`, `all`, `all-kms`, `all-fetch`, `all-kms-fetch`) turns on
//! more of the library for the `BINARY RUNS` form: see [`configure`].

use std::time::{Duration, Instant};

use cognito_session::Sessions;
use serde_json::{json, Value};
use testkit::{Function, Minter, Outcome, RuntimeApi};

const POOL: &str = "us-east-1_ColdStart";
const CLIENT: &str = "coldstartclient";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("phases") => phases(),
        Some(binary) => {
            let runs = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(20);
            tokio::runtime::Runtime::new()
                .expect("runtime")
                .block_on(cold_starts(binary, runs));
        }
        None => {
            eprintln!("usage: cold_start BINARY [RUNS] | cold_start phases");
            std::process::exit(2);
        }
    }
}

/// A token and the environment of a function that accepts it without any network call.
fn fixture() -> (String, Vec<(&'static str, String)>) {
    let minter = Minter::random();
    let issuer = format!("https://cognito-idp.us-east-1.amazonaws.com/{POOL}");
    let claims = testkit::access_claims(&issuer, CLIENT, "sub-1", "alice", "fam", testkit::now());
    let token = minter.sign(&json!({"kid": "k", "alg": "RS256"}), &claims);
    let jwks = json!({"keys": [minter.jwk("k")]}).to_string();
    let env = vec![
        ("SESSION_TABLE", "sessions".to_owned()),
        ("PARTITION_KEY", "sub".to_owned()),
        ("CLIENT_ID", CLIENT.to_owned()),
        ("USER_POOL_ID", POOL.to_owned()),
        ("COGNITO_JWKS", jwks),
        ("SESSION_VALIDATION", "token".to_owned()),
        // No instance metadata lookups: credentials come from the environment.
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
    ];
    (token, env)
}

fn event(token: &str) -> Value {
    let mut event = testkit::fixture("apigw_proxy_request.json");
    event["headers"]["Cookie"] = json!(format!("token={token}"));
    event["multiValueHeaders"] = json!({"Cookie": [format!("token={token}")]});
    event
}

/// `COLD_START_CONFIG` adds to the fixture's environment: `all` turns on managed login
/// (`COGNITO_DOMAIN`, `REDIRECT_URI`, `LOGOUT_URI`, `OAUTH_SCOPES`), encryption at rest
/// (`SESSION_ENCRYPTION_KEY`) and session lifetime settings; `all-kms` takes the key from KMS
/// instead (`SESSION_KMS_CIPHERTEXT`: one `Decrypt` at init, against moto on 127.0.0.1);
/// `all-fetch` does not preload the JWKS (`COGNITO_JWKS_URL` on a 127.0.0.1 server: one fetch
/// on the first request). Returns what keeps the servers alive.
async fn configure(env: &mut Vec<(&'static str, String)>) -> Vec<Box<dyn std::any::Any>> {
    let config = std::env::var("COLD_START_CONFIG").unwrap_or_default();
    let mut keep: Vec<Box<dyn std::any::Any>> = Vec::new();
    if config.is_empty() || config == "baseline" {
        return keep;
    }
    env.extend([
        (
            "COGNITO_DOMAIN",
            "https://coldstart.auth.us-east-1.amazoncognito.com".to_owned(),
        ),
        (
            "REDIRECT_URI",
            "https://app.example.com/callback".to_owned(),
        ),
        ("LOGOUT_URI", "https://app.example.com/".to_owned()),
        ("OAUTH_SCOPES", "openid email profile".to_owned()),
        ("SESSION_IDLE_TIMEOUT", "28800".to_owned()),
    ]);
    if config.contains("kms") {
        let moto = testkit::Moto::shared();
        let sdk = testkit::sdk_config(&moto.url).await;
        let kms = aws_sdk_kms::Client::new(&sdk);
        let key = kms.create_key().send().await.expect("create a KMS key");
        let key_id = key
            .key_metadata()
            .expect("key metadata")
            .key_id()
            .to_owned();
        let data_key = kms
            .generate_data_key()
            .key_id(key_id)
            .key_spec(aws_sdk_kms::types::DataKeySpec::Aes256)
            .send()
            .await
            .expect("a data key");
        let blob = data_key
            .ciphertext_blob()
            .expect("ciphertext")
            .as_ref()
            .to_vec();
        env.push((
            "SESSION_KMS_CIPHERTEXT",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, blob),
        ));
        env.push(("AWS_ENDPOINT_URL", moto.url.clone()));
    } else {
        env.push((
            "SESSION_ENCRYPTION_KEY",
            "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=".to_owned(),
        ));
    }
    if config.contains("fetch") {
        let jwks = env
            .iter()
            .position(|(k, _)| *k == "COGNITO_JWKS")
            .map(|i| env.remove(i).1)
            .expect("the fixture's JWKS");
        let server = testkit::JwksServer::start(&serde_json::from_str(&jwks).expect("JSON")).await;
        env.push(("COGNITO_JWKS_URL", server.url.clone()));
        keep.push(Box::new(server));
    }
    keep
}

async fn cold_starts(binary: &str, runs: usize) {
    let (token, mut env) = fixture();
    let _servers = configure(&mut env).await;
    let binary = std::path::Path::new(binary);
    for run in 0..runs {
        let api = RuntimeApi::start().await;
        let start = Instant::now();
        let _function = Function::spawn(binary, &api, &env);
        let first = api.invoke(event(&token), Duration::from_secs(30)).await;
        let cold = start.elapsed();
        let warm_start = Instant::now();
        let second = api.invoke(event(&token), Duration::from_secs(30)).await;
        let warm = warm_start.elapsed();
        for outcome in [&first, &second] {
            match outcome {
                Outcome::Response(r) if r["statusCode"] == 200 => {}
                other => panic!("the function did not answer 200: {other:?}"),
            }
        }
        println!(
            "{}",
            json!({
                "run": run,
                "first_response_ms": cold.as_secs_f64() * 1e3,
                "warm_request_ms": warm.as_secs_f64() * 1e3,
            })
        );
    }
}

/// The handler's init, phase by phase, in this (fresh) process.
fn phases() {
    let (token, mut env) = fixture();
    let setup = tokio::runtime::Runtime::new().expect("runtime");
    let _servers = setup.block_on(configure(&mut env));
    for (key, value) in &env {
        // Single-threaded at this point: nothing else reads the environment.
        std::env::set_var(key, value);
    }
    std::env::set_var("AWS_REGION", "us-east-1");
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    let mut last = Instant::now();
    let mut lap = |name: &str, phases: &mut Vec<(String, f64)>| {
        phases.push((name.to_owned(), last.elapsed().as_secs_f64() * 1e3));
        last = Instant::now();
    };
    let mut times = Vec::new();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    lap("tokio runtime", &mut times);
    lambda_runtime::tracing::init_default_subscriber();
    lap("logging", &mut times);
    let sdk = runtime.block_on(aws_config::load_defaults(
        aws_config::BehaviorVersion::latest(),
    ));
    lap("aws_config::load_defaults", &mut times);
    let sessions = runtime
        .block_on(
            Sessions::builder()
                .from_env()
                .expect("env")
                .sdk_config(sdk)
                .build(),
        )
        .expect("build");
    lap("Sessions build (clients, JWKS parse)", &mut times);
    let mut headers = http::HeaderMap::new();
    headers.insert("cookie", format!("token={token}").parse().expect("header"));
    runtime
        .block_on(sessions.session("token", &headers))
        .expect("valid");
    lap("first session() (RS256, claims)", &mut times);
    runtime
        .block_on(sessions.session("token", &headers))
        .expect("valid");
    lap("second session() (cache hit)", &mut times);
    for (name, ms) in times {
        println!("{}", json!({"phase": name, "ms": ms}));
    }
}
