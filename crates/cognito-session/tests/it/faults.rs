//! Injected faults (testkit's fault proxy between the SDK and moto, and in front of the JWKS):
//! every transient fault is a 503 with `Retry-After` that changes nothing, SDK retries stay
//! inside the request's deadline, the JWKS endpoint failing is never a 401, and a fault between
//! Cognito's answer and our row update loses no session.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use cognito_session::{Error, Service, SessionsBuilder};
use serde_json::{json, Value};
use testkit::{Fault, Function, Outcome, Proxy, Rule, RuntimeApi};

use crate::{cookies, example, minter, setup, Setup};

/// SDK settings for clients behind the proxy.
#[derive(Clone, Copy)]
struct Sdk {
    /// Operation timeout, retries included.
    timeout: Duration,
    /// Attempts per operation.
    attempts: u32,
}

/// The SDK's default attempts, with a timeout long enough for a loaded machine: these tests are
/// about what a fault means, not about timing.
const SDK: Sdk = Sdk {
    timeout: Duration::from_secs(10),
    attempts: 3,
};

/// A builder for the setup's pool whose DynamoDB, Cognito and JWKS traffic all goes through
/// `proxy`, with `sdk`'s timeout and attempts.
async fn via(s: &Setup, proxy: &Proxy, sdk: Sdk) -> SessionsBuilder {
    crate::via_proxy_sdk(&s.pool, &s.clock, proxy, sdk.timeout, sdk.attempts).await
}

fn assert_503(error: &Error, service: Service, case: &str) {
    match error {
        Error::Unavailable {
            service: actual, ..
        } => {
            assert_eq!(*actual, service, "{case}: {error}")
        }
        other => panic!("{case}: expected 503 from {service}, got {other}"),
    }
    assert_eq!(error.status(), 503, "{case}");
    assert_eq!(error.retry_after(), Some(1), "{case}: Retry-After");
    assert!(
        !error.clears_cookie(),
        "{case}: a 503 must not clear the cookie"
    );
}

/// The same token, re-signed with moto's key to expire in two days (for tests that move the
/// clock by a day).
fn long_lived(access_token: &str) -> String {
    let mut claims = testkit::peek(access_token);
    claims["exp"] = (testkit::now() + 2 * 86_400).into();
    minter().access(&claims)
}

const DYNAMODB_FAULTS: [Fault; 7] = [
    Fault::Reset,
    Fault::Status(500),
    Fault::Status(503),
    Fault::Aws("ProvisionedThroughputExceededException"),
    Fault::Aws("ThrottlingException"),
    Fault::Aws("RequestLimitExceeded"),
    Fault::Aws("InternalServerError"),
];

const COGNITO_FAULTS: [Fault; 7] = [
    Fault::Reset,
    Fault::LoseAnswer,
    Fault::Status(500),
    Fault::Status(503),
    Fault::Aws("TooManyRequestsException"),
    Fault::Aws("ThrottlingException"),
    Fault::Aws("InternalErrorException"),
];

/// Where a fault strikes: every request of an operation, or (`LEASE_AFTER_READ`) only the lease
/// write that follows the refresh's read, i.e. the `UpdateItem` that expects the version the
/// login gave the row. (With an expired copy of the login's token, the refresh's first
/// `UpdateItem`, the guessed lease write, fails its condition and is the read.)
const LEASE_AFTER_READ: &str = "UpdateItem (lease after the read)";

/// The rule putting `fault` on `operation` for a session whose login token is `valid`.
fn rule(operation: &str, fault: Fault, valid: &str) -> Rule {
    if operation == LEASE_AFTER_READ {
        return Rule::on("UpdateItem", fault).body_contains(&token_id(valid));
    }
    Rule::on(operation, fault)
}

/// The operation a case's rule counts.
fn counted(operation: &str) -> &str {
    if operation == LEASE_AFTER_READ {
        "UpdateItem"
    } else {
        operation
    }
}

fn token_id(token: &str) -> String {
    let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, hash)
}

/// One case of the matrix: `fault` on every `operation` request; the valid or expired token of
/// a fresh user must get a 503 that changed nothing, and work once the fault is gone.
async fn transient_case(s: &Setup, index: usize, operation: &str, fault: Fault, expired: bool) {
    let case = format!("{fault:?} on {operation} (expired token: {expired})");
    let (sub, login) = s.logged_in(&format!("fault-{index}")).await;
    let before = s.pool.row(&sub).await.unwrap();
    let proxy = Proxy::start(&s.pool.moto.url).await;
    let sessions = via(s, &proxy, SDK).await.build().await.unwrap();
    let valid = login.access_token().unwrap();
    // Warm the key cache: this case is about DynamoDB and Cognito.
    sessions.session("token", &cookies(valid)).await.unwrap();
    let token = if expired {
        s.expired_copy(valid)
    } else {
        valid.to_owned()
    };
    proxy.inject(rule(operation, fault, valid));
    let seen = proxy.injected();
    let error = sessions
        .session("token", &cookies(&token))
        .await
        .expect_err(&case);
    let service = if operation == "InitiateAuth" {
        Service::Cognito
    } else {
        Service::DynamoDb
    };
    assert_503(&error, service, &case);
    assert!(
        proxy.injected() - seen >= 2,
        "{case}: the SDK retries a transient fault ({} attempts met it)",
        proxy.injected() - seen
    );
    assert_eq!(
        s.pool.row(&sub).await.unwrap(),
        before,
        "{case}: row untouched"
    );
    proxy.heal();
    let session = sessions
        .session("token", &cookies(&token))
        .await
        .unwrap_or_else(|e| panic!("{case}: after the fault: {e}"));
    assert_eq!(session.sub(), sub);
    assert_eq!(session.refreshed().is_some(), expired, "{case}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_transient_fault_is_503_with_retry_after_and_changes_nothing() {
    let s = std::sync::Arc::new(setup().await);
    let mut cases = Vec::new();
    for fault in DYNAMODB_FAULTS {
        // A valid token's read.
        cases.push(("GetItem", fault.clone(), false));
        // A refresh's read: its guessed lease write, which fails its condition.
        cases.push(("UpdateItem", fault.clone(), true));
        // Taking the refresh lease at the version the read found.
        cases.push((LEASE_AFTER_READ, fault, true));
    }
    for fault in COGNITO_FAULTS {
        cases.push(("InitiateAuth", fault, true));
    }
    // A few cases at a time: the machine is shared.
    for (round, chunk) in cases.chunks(6).enumerate() {
        let tasks: Vec<_> = chunk
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, (operation, fault, expired))| {
                let s = s.clone();
                tokio::spawn(async move {
                    transient_case(&s, round * 10 + i, operation, fault, expired).await
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    }
}

#[tokio::test]
async fn throttling_errors_are_retried_by_the_sdk() {
    let s = setup().await;
    let (sub, login) = s.logged_in("throttled").await;
    let proxy = Proxy::start(&s.pool.moto.url).await;
    let sessions = via(
        &s,
        &proxy,
        Sdk {
            timeout: Duration::from_secs(10),
            attempts: 3,
        },
    )
    .await
    // Each refresh below presents another copy of the login's token, older than the one the
    // previous refresh issued: keep such tokens counting (see `hardening::replaced_tokens`).
    .replaced_token_grace(Duration::from_secs(3600))
    .build()
    .await
    .unwrap();
    let valid = login.access_token().unwrap();
    for code in [
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "InternalServerError",
    ] {
        proxy.inject(Rule::on("GetItem", Fault::Aws(code)).times(1));
        let seen = proxy.count("GetItem");
        let session = sessions.session("token", &cookies(valid)).await;
        assert_eq!(session.unwrap_or_else(|e| panic!("{code}: {e}")).sub(), sub);
        assert_eq!(proxy.count("GetItem") - seen, 2, "{code}: one retry");
    }
    for code in [
        "TooManyRequestsException",
        "ThrottlingException",
        "InternalErrorException",
    ] {
        // Each refresh sets refreshed_at; move on so the next one is not joined.
        s.clock.fetch_add(120, Ordering::Relaxed);
        proxy.inject(Rule::on("InitiateAuth", Fault::Aws(code)).times(1));
        let seen = proxy.count("InitiateAuth");
        let expired = s.expired_copy(valid);
        let session = sessions.session("token", &cookies(&expired)).await;
        let session = session.unwrap_or_else(|e| panic!("{code}: {e}"));
        assert!(session.refreshed().is_some(), "{code}");
        assert_eq!(proxy.count("InitiateAuth") - seen, 2, "{code}: one retry");
    }
}

/// Within the deadline's slack: the budget ends 300 ms before it; the rest is for a loaded machine.
const SLACK: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_dependency_never_makes_a_request_exceed_its_deadline() {
    let s = setup().await;
    let (sub, login) = s.logged_in("slow").await;
    let valid = login.access_token().unwrap().to_owned();
    for (operation, expired, service) in [
        ("GetItem", false, Service::DynamoDb),
        // The refresh's read (its guessed lease write), then the lease write after it.
        ("UpdateItem", true, Service::DynamoDb),
        (LEASE_AFTER_READ, true, Service::DynamoDb),
        ("InitiateAuth", true, Service::Cognito),
    ] {
        let case = format!("slow {operation} (expired token: {expired})");
        let proxy = Proxy::start(&s.pool.moto.url).await;
        // The SDK alone would wait a minute.
        let sdk = Sdk {
            timeout: Duration::from_secs(60),
            attempts: 3,
        };
        let sessions = via(&s, &proxy, sdk).await.build().await.unwrap();
        sessions.session("token", &cookies(&valid)).await.unwrap();
        let token = if expired {
            s.expired_copy(&valid)
        } else {
            valid.clone()
        };
        let before = s.pool.row(&sub).await.unwrap();
        proxy.inject(rule(
            operation,
            Fault::Latency(Duration::from_secs(30)),
            &valid,
        ));
        let deadline = SystemTime::now() + Duration::from_secs(2);
        let error = sessions
            .session_with_deadline("token", &cookies(&token), deadline)
            .await
            .expect_err(&case);
        let late = SystemTime::now()
            .duration_since(deadline)
            .unwrap_or_default();
        assert!(late < SLACK, "{case}: answered {late:?} after the deadline");
        assert_503(&error, service, &case);
        if counted(operation) != "UpdateItem" {
            // (A delayed lease write lands later by itself; it lapses on its own.)
            assert_eq!(s.pool.row(&sub).await.unwrap(), before, "{case}");
        }
    }
}

#[tokio::test]
async fn sdk_retries_fit_inside_the_deadline() {
    let s = setup().await;
    let (sub, login) = s.logged_in("retry-budget").await;
    let proxy = Proxy::start(&s.pool.moto.url).await;
    // Ten attempts with exponential backoff would take many seconds.
    let sdk = Sdk {
        timeout: Duration::from_secs(60),
        attempts: 10,
    };
    let sessions = via(&s, &proxy, sdk).await.build().await.unwrap();
    let valid = login.access_token().unwrap();
    sessions.session("token", &cookies(valid)).await.unwrap();
    proxy.inject(Rule::on(
        "GetItem",
        Fault::Aws("ProvisionedThroughputExceededException"),
    ));
    let before = s.pool.row(&sub).await.unwrap();
    let seen = proxy.count("GetItem");
    let deadline = SystemTime::now() + Duration::from_secs(3);
    let error = sessions
        .session_with_deadline("token", &cookies(valid), deadline)
        .await
        .unwrap_err();
    let late = SystemTime::now()
        .duration_since(deadline)
        .unwrap_or_default();
    assert!(late < SLACK, "answered {late:?} after the deadline");
    assert_503(&error, Service::DynamoDb, "throttled GetItem");
    assert!(proxy.count("GetItem") > seen, "the call was attempted");
    assert!(
        proxy.count("GetItem") - seen < 10,
        "the deadline cut the retries short"
    );
    assert_eq!(s.pool.row(&sub).await.unwrap(), before);
}

#[tokio::test]
async fn the_jwks_endpoint_down_at_cold_start_is_503_not_401() {
    let s = setup().await;
    let (_, login) = s.logged_in("cold-jwks").await;
    let valid = login.access_token().unwrap();
    for fault in [
        Fault::Reset,
        Fault::Status(500),
        Fault::Status(503),
        Fault::Aws("ThrottlingException"), // a GET: HTTP 429
        Fault::Latency(Duration::from_secs(5)),
    ] {
        let case = format!("JWKS {fault:?}");
        let proxy = Proxy::start(&s.pool.moto.url).await;
        proxy.inject(Rule::on("GET", fault));
        let sessions = via(&s, &proxy, SDK)
            .await
            .jwks_timeout(Duration::from_secs(1))
            .build()
            .await
            .unwrap();
        for token in [valid.to_owned(), s.expired_copy(valid)] {
            let error = sessions
                .session("token", &cookies(&token))
                .await
                .expect_err(&case);
            assert_503(&error, Service::Jwks, &case);
        }
        proxy.heal();
        sessions.session("token", &cookies(valid)).await.unwrap();
    }
}

#[tokio::test]
async fn a_failed_jwks_refetch_serves_the_cached_keys_up_to_max_stale() {
    let s = setup().await;
    let (sub, login) = s.logged_in("stale-jwks").await;
    let token = long_lived(login.access_token().unwrap());
    let proxy = Proxy::start(&s.pool.moto.url).await;
    let sessions = via(&s, &proxy, SDK)
        .await
        .jwks_max_age(Duration::from_secs(3600))
        .jwks_max_stale(Duration::from_secs(86_400))
        .jwks_refetch_interval(Duration::ZERO)
        .build()
        .await
        .unwrap();
    let headers = cookies(&token);
    let check = || sessions.session("token", &headers);
    let hour = |h: i64| s.clock.store(h * 3600, Ordering::Relaxed);
    assert_eq!(check().await.unwrap().sub(), sub);
    assert_eq!(proxy.count("GET"), 1, "fetched at cold start");

    proxy.inject(Rule::on("GET", Fault::Status(503)));
    hour(0);
    check().await.unwrap();
    assert_eq!(proxy.count("GET"), 1, "fresh keys are not refetched");
    // Past the maximum age: revalidation fails, the cached keys still answer.
    for h in [2, 12, 23] {
        hour(h);
        let session = check().await;
        assert_eq!(session.unwrap_or_else(|e| panic!("{h} h: {e}")).sub(), sub);
    }
    assert_eq!(proxy.count("GET"), 4, "one revalidation per request here");
    // Past max stale: 503 (never 401) until a fetch succeeds.
    hour(25);
    assert_503(&check().await.unwrap_err(), Service::Jwks, "25 h old keys");
    proxy.heal();
    assert_eq!(check().await.unwrap().sub(), sub);
    let fetches = proxy.count("GET");
    check().await.unwrap();
    assert_eq!(proxy.count("GET"), fetches, "the refetched keys are fresh");
}

#[tokio::test]
async fn preloaded_keys_never_go_stale() {
    let s = setup().await;
    let (_, login) = s.logged_in("preloaded").await;
    let token = long_lived(login.access_token().unwrap());
    let document = json!({"keys": [minter().jwk(testkit::MOTO_KID)]}).to_string();
    let proxy = Proxy::start(&s.pool.moto.url).await;
    proxy.inject(Rule::on("GET", Fault::Reset));
    let sessions = via(&s, &proxy, SDK)
        .await
        .jwks(document)
        .jwks_max_age(Duration::from_secs(60))
        .jwks_max_stale(Duration::from_secs(120))
        .build()
        .await
        .unwrap();
    s.clock.store(30 * 3600, Ordering::Relaxed);
    sessions.session("token", &cookies(&token)).await.unwrap();
    assert_eq!(proxy.count("GET"), 0);
}

#[tokio::test]
async fn a_fault_between_cognitos_answer_and_the_row_update_loses_no_session() {
    let s = setup().await;
    for (i, fault) in [Fault::Status(503), Fault::LoseAnswer, Fault::Reset]
        .into_iter()
        .enumerate()
    {
        let case = format!("{fault:?} on the refresh's row update");
        let (sub, login) = s.logged_in(&format!("commit-{i}")).await;
        let before = s.pool.row(&sub).await.unwrap();
        let proxy = Proxy::start(&s.pool.moto.url).await;
        let sessions = via(&s, &proxy, SDK)
            .await
            .refresh_lease(Duration::from_secs(1))
            .build()
            .await
            .unwrap();
        let valid = login.access_token().unwrap();
        let expired = s.expired_copy(valid);
        // The row update that records a refresh sets `refreshed_at` (`#ra = :ra`).
        proxy.inject(Rule::on("UpdateItem", fault).body_contains("#ra = :ra"));
        let refreshed = sessions
            .session("token", &cookies(&expired))
            .await
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        let new_token = refreshed
            .refreshed()
            .expect("new tokens")
            .access_token
            .clone();
        // The next requests work: with the new token, and with the old one (from another tab).
        let next = sessions.session("token", &cookies(&new_token)).await;
        assert_eq!(next.unwrap_or_else(|e| panic!("{case}: {e}")).sub(), sub);
        let old = sessions.session("token", &cookies(&expired)).await;
        assert_eq!(old.unwrap_or_else(|e| panic!("{case}: {e}")).sub(), sub);
        proxy.heal();
        let row = s.pool.row(&sub).await.expect("the session row is kept");
        assert_eq!(row.get("token"), before.get("token"), "{case}");
        let later = sessions.session("token", &cookies(&expired)).await;
        assert_eq!(later.unwrap_or_else(|e| panic!("{case}: {e}")).sub(), sub);
    }
}

#[tokio::test]
async fn cognitos_answer_lost_on_every_attempt_is_503_and_the_session_survives() {
    let s = setup().await;
    let (sub, login) = s.logged_in("lost-answer").await;
    let before = s.pool.row(&sub).await.unwrap();
    let proxy = Proxy::start(&s.pool.moto.url).await;
    let sessions = via(&s, &proxy, SDK).await.build().await.unwrap();
    let expired = s.expired_copy(login.access_token().unwrap());
    // Cognito refreshes every time; no answer ever arrives.
    proxy.inject(Rule::on("InitiateAuth", Fault::LoseAnswer));
    let error = sessions
        .session("token", &cookies(&expired))
        .await
        .unwrap_err();
    assert_503(&error, Service::Cognito, "lost answers");
    assert!(proxy.count("InitiateAuth") >= 2);
    assert_eq!(s.pool.row(&sub).await.unwrap(), before, "row untouched");
    proxy.heal();
    let session = sessions.session("token", &cookies(&expired)).await.unwrap();
    assert!(session.refreshed().is_some());
}

fn rest_event(token: &str) -> Value {
    let mut event = testkit::fixture("apigw_proxy_request.json");
    event["headers"]["Cookie"] = json!(format!("token={token}"));
    event
}

async fn invoke(api: &RuntimeApi, token: &str) -> Value {
    match api.invoke(rest_event(token), Duration::from_secs(30)).await {
        Outcome::Response(response) => response,
        Outcome::Error(error) => panic!("the function failed: {error}"),
    }
}

#[tokio::test]
async fn the_handler_answers_503_with_retry_after_under_throttling() {
    let s = setup().await;
    let (sub, login) = s.logged_in("lambda-throttled").await;
    let before = s.pool.row(&sub).await.unwrap();
    let proxy = Proxy::start(&s.pool.moto.url).await;
    let binary = example("handler").await;
    let api = RuntimeApi::start().await;
    let env = s.function_env(&proxy.url);
    let _function = Function::spawn(&binary, &api, &env);
    let valid = login.access_token().unwrap();
    assert_eq!(invoke(&api, valid).await["statusCode"], 200);
    proxy.inject(Rule::on(
        "GetItem",
        Fault::Aws("ProvisionedThroughputExceededException"),
    ));
    proxy.inject(Rule::on(
        "InitiateAuth",
        Fault::Aws("TooManyRequestsException"),
    ));
    let started = Instant::now();
    for token in [valid.to_owned(), s.expired_copy(valid)] {
        let response = invoke(&api, &token).await;
        assert_eq!(response["statusCode"], 503, "{response}");
        assert_eq!(response["headers"]["retry-after"], "1", "{response}");
        assert!(
            response["multiValueHeaders"]["set-cookie"].is_null(),
            "a 503 sets no cookie: {response}"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(s.pool.row(&sub).await.unwrap(), before);
    proxy.heal();
    assert_eq!(invoke(&api, valid).await["statusCode"], 200);
}
