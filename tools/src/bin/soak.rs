//! The reliability soak (`scripts/soak.sh [requests]`, not part of the default tests).
//!
//! `requests` session checks (default 10,000; bounded, and stopped after 20 minutes whatever
//! happens) across 200 users against moto, through testkit's fault-injecting proxy, which gives
//! about 10% of all DynamoDB, Cognito and JWKS calls a fault: latency (1 s, or 3 s past the SDK's
//! attempt timeout), connection resets, answers lost after the work was done, HTTP 500 and 503,
//! and the services' own throttling and internal errors. The tokens mix valid, expired (so they
//! are refreshed, several requests at once for the same user), forged and logged-out ones.
//!
//! Sixteen workers play sixteen warm Lambda containers: each has its own `Sessions`, its own
//! SDK clients (with the library's default timeouts and retry quota) and its own proxy, so a
//! fault is attributed to the request that met it. It prints the counts and exits non-zero if
//! a session was wrongly deleted, a request wrongly authorized, or a request that met no fault
//! wrongly refused.
//!
//! Run it with `cargo run -p cognito-session-tools --bin soak -- 1000` (moto from `scripts/setup.sh`).

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::retry::RetryPartition;
use cognito_session::{Error, Sessions, Tokens};
use serde_json::Value;
use testkit::{Fault, Minter, Pool, PoolOptions, Proxy};

const USERS: usize = 200;
/// Users whose session was ended (logout) before the soak: their tokens must never pass.
const LOGGED_OUT: usize = 20;
const WORKERS: usize = 16;
const FAULT_RATE: f64 = 0.10;
/// Each request's Lambda deadline.
const DEADLINE: Duration = Duration::from_secs(6);
const TIME_LIMIT: Duration = Duration::from_secs(20 * 60);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Valid,
    Expired,
    Forged,
    LoggedOut,
}

struct Request {
    user: usize,
    kind: Kind,
    token: Arc<str>,
}

struct User {
    sub: String,
    valid: Arc<str>,
    expired: Arc<str>,
    forged: [Arc<str>; 3],
}

/// splitmix64, for a reproducible plan.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }
}

#[derive(Default)]
struct Tally {
    requests: usize,
    by_kind: HashMap<(Kind, &'static str), usize>,
    hit: usize,
    status_503: usize,
    status_503_hit: usize,
    wrongly_authorized: usize,
    wrongly_refused: usize,
    unexpected_503_without_fault: usize,
    past_deadline: usize,
    slowest: Duration,
    examples: Vec<String>,
}

fn outcome_name(result: &Result<cognito_session::Session, Error>) -> &'static str {
    match result {
        Ok(_) => "200",
        Err(e) => match e.status() {
            401 => "401",
            503 => "503",
            500 => "500",
            _ => "other",
        },
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() -> ExitCode {
    let requests: usize = match std::env::args().nth(1).map(|a| a.parse()) {
        None => 10_000,
        Some(Ok(n)) if n > 0 && n <= 100_000 => n,
        Some(_) => {
            eprintln!("usage: soak [requests (1..=100000, default 10000)]");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let pool = Pool::new(PoolOptions::default()).await;
    let direct = Sessions::builder()
        .table(&pool.table)
        .partition_key(&pool.partition_key)
        .client_id(&pool.client_id)
        .user_pool_id(&pool.pool_id)
        .jwks_url(pool.jwks_url())
        .sdk_config(pool.sdk.clone())
        .build()
        .await
        .expect("sessions without faults");

    eprintln!("soak: creating {USERS} users and their sessions");
    let moto_key = Arc::new(Minter::moto());
    let stranger = Arc::new(Minter::random());
    let next_user = Arc::new(AtomicUsize::new(0));
    let users: Arc<Mutex<Vec<Option<User>>>> =
        Arc::new(Mutex::new((0..USERS).map(|_| None).collect()));
    let creators: Vec<_> = (0..8)
        .map(|_| {
            let (pool, direct, next_user, users) = (
                pool.clone(),
                direct.clone(),
                next_user.clone(),
                users.clone(),
            );
            let (moto_key, stranger) = (moto_key.clone(), stranger.clone());
            tokio::spawn(async move {
                loop {
                    let i = next_user.fetch_add(1, Ordering::Relaxed);
                    if i >= USERS {
                        return;
                    }
                    let name = format!("soak-{i}");
                    let sub = pool.user(&name).await;
                    let login = pool.login(&name).await;
                    direct
                        .start(&Tokens::from(&login))
                        .await
                        .expect("start a session");
                    let valid = login.access_token().unwrap_or_default().to_owned();
                    let user = make_user(sub, &valid, &moto_key, &stranger);
                    if i >= USERS - LOGGED_OUT {
                        direct.end("token", &cookie(&valid)).await.expect("log out");
                    }
                    users.lock().unwrap()[i] = Some(user);
                }
            })
        })
        .collect();
    for creator in creators {
        creator.await.expect("user creation");
    }
    let users: Arc<Vec<User>> = Arc::new(
        std::mem::take(&mut *users.lock().unwrap())
            .into_iter()
            .map(|u| u.expect("every user created"))
            .collect(),
    );

    let plan = Arc::new(plan(&users, requests));
    eprintln!(
        "soak: {} requests, {WORKERS} workers, {:.0}% faults (setup took {:.0?})",
        plan.len(),
        FAULT_RATE * 100.0,
        started.elapsed()
    );
    let next = Arc::new(AtomicUsize::new(0));
    let tally = Arc::new(Mutex::new(Tally::default()));
    // Every EMF line the workers' sessions write: their counts must equal the outcomes.
    let metrics: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut proxies = Vec::new();
    let mut workers = Vec::new();
    let soak_started = Instant::now();
    for w in 0..WORKERS {
        let proxy = Proxy::start(&pool.moto.url).await;
        proxy.random_faults(
            FAULT_RATE,
            vec![
                Fault::Latency(Duration::from_secs(1)),
                Fault::Latency(Duration::from_secs(3)),
                Fault::Reset,
                Fault::LoseAnswer,
                Fault::Status(500),
                Fault::Status(503),
                Fault::Throttled,
                Fault::Aws("ThrottlingException"),
                Fault::InternalError,
            ],
            0x5eed_0000 + w as u64,
        );
        let sessions = sessions_via(&pool, &proxy, w, metrics.clone()).await;
        proxies.push(proxy.clone());
        let (plan, next, tally, users) = (plan.clone(), next.clone(), tally.clone(), users.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= plan.len() || soak_started.elapsed() > TIME_LIMIT {
                    return;
                }
                let request = &plan[i];
                let faults_before = proxy.injected();
                let deadline = SystemTime::now() + DEADLINE;
                let began = Instant::now();
                let result = sessions
                    .session_with_deadline("token", &cookie(&request.token), deadline)
                    .await;
                let took = began.elapsed();
                let hit = proxy.injected() > faults_before;
                let late = SystemTime::now() > deadline;
                record(
                    &mut tally.lock().unwrap(),
                    &users[request.user],
                    request,
                    &result,
                    hit,
                    late,
                    took,
                );
            }
        }));
    }
    for worker in workers {
        worker.await.expect("worker");
    }
    let soak_time = soak_started.elapsed();

    // Afterwards, without faults: every live session is still there and still refreshes.
    let mut wrongly_deleted = 0;
    let mut deleted_examples = Vec::new();
    for (i, user) in users.iter().enumerate() {
        let live = i < USERS - LOGGED_OUT;
        let row = pool.row(&user.sub).await;
        if live {
            let refreshes = direct
                .session("token", &cookie(&user.expired))
                .await
                .is_ok();
            if row.is_none() || !refreshes {
                wrongly_deleted += 1;
                deleted_examples.push(format!(
                    "user {i}: row present {}, refreshes {refreshes}",
                    row.is_some()
                ));
            }
        } else if row.is_some() {
            deleted_examples.push(format!("logged-out user {i} has a row again"));
            wrongly_deleted += 1;
        }
    }

    let tally = tally.lock().unwrap();
    let proxied: usize = proxies.iter().map(Proxy::total).sum();
    let injected: usize = proxies.iter().map(Proxy::injected).sum();
    let mut by_fault: HashMap<String, usize> = HashMap::new();
    for proxy in &proxies {
        for (kind, n) in proxy.injected_by_kind() {
            *by_fault.entry(kind).or_default() += n;
        }
    }
    let pct = |n: usize, of: usize| 100.0 * n as f64 / of.max(1) as f64;
    println!("== soak: {} requests in {soak_time:.1?}", tally.requests);
    println!(
        "calls proxied to AWS/JWKS: {proxied}; faults injected: {injected} ({:.1}% of calls)",
        pct(injected, proxied)
    );
    let mut faults: Vec<_> = by_fault.into_iter().collect();
    faults.sort();
    for (kind, n) in faults {
        println!("  fault {kind}: {n}");
    }
    let mut kinds: Vec<_> = tally.by_kind.iter().collect();
    kinds.sort_by_key(|((k, o), _)| (format!("{k:?}"), *o));
    for ((kind, outcome), n) in kinds {
        println!("  {kind:?} -> {outcome}: {n}");
    }
    println!(
        "requests that met a fault: {} ({:.1}%)",
        tally.hit,
        pct(tally.hit, tally.requests)
    );
    println!(
        "503 answers: {} ({:.1}% of requests; {:.1}% of the requests that met a fault; {} without a fault)",
        tally.status_503,
        pct(tally.status_503, tally.requests),
        pct(tally.status_503_hit, tally.hit),
        tally.status_503 - tally.status_503_hit
    );
    println!(
        "answered after the deadline: {}; slowest answer: {:.2?}",
        tally.past_deadline, tally.slowest
    );
    println!(
        "expected 401 but 503 without a fault: {}",
        tally.unexpected_503_without_fault
    );
    println!("wrongly deleted sessions: {wrongly_deleted}");
    println!("wrongly authorized requests: {}", tally.wrongly_authorized);
    println!(
        "wrongly refused requests (no fault met): {}",
        tally.wrongly_refused
    );
    for example in tally.examples.iter().chain(&deleted_examples).take(20) {
        println!("  e.g. {example}");
    }
    // The outcomes as the metrics counted them, beside the outcomes the requests saw.
    let counted = metric_outcomes(&metrics.lock().unwrap());
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for ((_, outcome), n) in &tally.by_kind {
        *seen.entry(outcome).or_default() += n;
    }
    let mut metrics_agree = true;
    println!("outcomes, as answered / as the EMF metrics counted them:");
    for (outcome, metric) in [
        ("200", "SessionResolved"),
        ("401", "SessionRefused"),
        ("503", "Unavailable"),
        ("500", "Misconfigured"),
    ] {
        let answered = seen.get(outcome).copied().unwrap_or_default();
        let metric_count = counted.get(metric).copied().unwrap_or_default();
        metrics_agree &= answered == metric_count;
        println!("  {outcome}: {answered} / {metric} {metric_count}");
    }
    if wrongly_deleted == 0
        && tally.wrongly_authorized == 0
        && tally.wrongly_refused == 0
        && metrics_agree
    {
        println!("soak: PASS");
        ExitCode::SUCCESS
    } else {
        println!("soak: FAIL");
        ExitCode::FAILURE
    }
}

fn record(
    tally: &mut Tally,
    user: &User,
    request: &Request,
    result: &Result<cognito_session::Session, Error>,
    hit: bool,
    late: bool,
    took: Duration,
) {
    tally.requests += 1;
    *tally
        .by_kind
        .entry((request.kind, outcome_name(result)))
        .or_default() += 1;
    tally.hit += usize::from(hit);
    tally.past_deadline += usize::from(late);
    tally.slowest = tally.slowest.max(took);
    let is_503 = matches!(result, Err(e) if e.status() == 503);
    tally.status_503 += usize::from(is_503);
    tally.status_503_hit += usize::from(is_503 && hit);
    let should_pass = matches!(request.kind, Kind::Valid | Kind::Expired);
    let note = |tally: &mut Tally, what: &str| {
        if tally.examples.len() < 20 {
            let outcome = match result {
                Ok(session) => format!("200 as {}", session.sub()),
                Err(e) => format!("{}: {e}", e.status()),
            };
            tally.examples.push(format!(
                "{what}: {:?} token of user {} (fault met: {hit}) -> {outcome}",
                request.kind, request.user
            ));
        }
    };
    match result {
        Ok(session) if !should_pass || session.sub() != user.sub => {
            tally.wrongly_authorized += 1;
            note(tally, "wrongly authorized");
        }
        Ok(_) => {}
        Err(error) if should_pass && !hit => {
            tally.wrongly_refused += 1;
            let what = format!("wrongly refused ({})", error.status());
            note(tally, &what);
        }
        Err(error) if !should_pass && !hit && error.status() != 401 => {
            tally.unexpected_503_without_fault += 1;
            note(tally, "refused, but not with 401");
        }
        Err(_) => {}
    }
}

fn cookie(token: &str) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    if let Ok(value) = format!("token={token}").parse() {
        headers.insert("cookie", value);
    }
    headers
}

fn make_user(sub: String, valid: &str, moto_key: &Minter, stranger: &Minter) -> User {
    let claims = testkit::peek(valid);
    let mut old = claims.clone();
    let iat = testkit::now() - 7200;
    old["iat"] = iat.into();
    old["auth_time"] = iat.into();
    old["exp"] = (iat + 3600).into();
    let expired = moto_key.access(&old);
    // Forgeries: another key under moto's kid; another key under an unknown kid (which makes
    // the verifier look the kid up); moto's signature on someone else's claims.
    let wrong_key = stranger.access(&claims);
    let unknown_kid = stranger.sign(
        &serde_json::json!({"kid": "rotated-in", "alg": "RS256"}),
        &claims,
    );
    let mut parts: Vec<&str> = valid.split('.').collect();
    let mut other = claims.clone();
    other["sub"] = Value::from(format!("{sub}-x"));
    let payload = base64_url(&other.to_string());
    parts[1] = &payload;
    let tampered = parts.join(".");
    User {
        sub,
        valid: valid.into(),
        expired: expired.into(),
        forged: [wrong_key.into(), unknown_kid.into(), tampered.into()],
    }
}

fn base64_url(text: &str) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    URL_SAFE_NO_PAD.encode(text.as_bytes())
}

/// The requests, in order: 45% valid, 30% expired (in bursts of 1 to 4 for the same user, which
/// the workers run at the same time), 15% forged, 10% logged out.
fn plan(users: &[User], requests: usize) -> Vec<Request> {
    let mut rng = Rng(0x50a6);
    let live = USERS - LOGGED_OUT;
    let mut plan = Vec::with_capacity(requests);
    while plan.len() < requests {
        let roll = rng.below(100);
        if roll < 45 {
            let user = rng.below(live);
            plan.push(Request {
                user,
                kind: Kind::Valid,
                token: users[user].valid.clone(),
            });
        } else if roll < 75 {
            let user = rng.below(live);
            for _ in 0..=rng.below(4) {
                plan.push(Request {
                    user,
                    kind: Kind::Expired,
                    token: users[user].expired.clone(),
                });
            }
        } else if roll < 90 {
            let user = rng.below(USERS);
            let token = users[user].forged[rng.below(3)].clone();
            plan.push(Request {
                user,
                kind: Kind::Forged,
                token,
            });
        } else {
            let user = live + rng.below(LOGGED_OUT);
            let token = if rng.below(2) == 0 {
                users[user].valid.clone()
            } else {
                users[user].expired.clone()
            };
            plan.push(Request {
                user,
                kind: Kind::LoggedOut,
                token,
            });
        }
    }
    plan.truncate(requests);
    plan
}

/// One worker's `Sessions`: everything through its proxy, SDK clients with the library's
/// default timeouts and a retry quota of their own (as a Lambda container has).
async fn sessions_via(
    pool: &Pool,
    proxy: &Proxy,
    worker: usize,
    metrics: Arc<Mutex<Vec<String>>>,
) -> Sessions {
    let config = testkit::sdk_config(&proxy.url).await;
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(Duration::from_secs(2))
        .operation_timeout(Duration::from_secs(2))
        .build();
    let partition = format!("soak-worker-{worker}");
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&config)
            .timeout_config(timeouts.clone())
            .retry_partition(RetryPartition::new(partition.clone()))
            .build(),
    );
    let cognito = aws_sdk_cognitoidentityprovider::Client::from_conf(
        aws_sdk_cognitoidentityprovider::config::Builder::from(&config)
            .timeout_config(timeouts)
            .retry_partition(RetryPartition::new(partition))
            .build(),
    );
    Sessions::builder()
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
        .metrics_sink(move |line| metrics.lock().unwrap().push(line.to_owned()))
        .build()
        .await
        .expect("worker sessions")
}

/// The totals of the outcome metrics in `lines` (EMF documents).
fn metric_outcomes(lines: &[String]) -> HashMap<&'static str, usize> {
    let mut totals = HashMap::new();
    for line in lines {
        let Ok(doc) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        for metric in [
            "SessionResolved",
            "SessionRefused",
            "Unavailable",
            "Misconfigured",
        ] {
            if let Some(n) = doc[metric].as_f64() {
                *totals.entry(metric).or_default() += n as usize;
            }
        }
    }
    totals
}
