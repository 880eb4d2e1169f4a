//! A measurement tool (not a test): round trips and latency per request against moto on
//! 127.0.0.1, ours beside the seed's design (GetUser on every request; GetItem + InitiateAuth on
//! expiry), on the same user, tokens and emulator. The counts are asserted by the test module
//! `tests/it/round_trips.rs`; this prints them with the measured latency.
//!
//! ```text
//! round_trips [REQUESTS=100]
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use cognito_session::{SessionValidation, Sessions, Tokens};
use serde_json::json;
use testkit::{Minter, Pool, PoolOptions, SeedDesign, SeedOutcome};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(100);
    let pool = Pool::new(PoolOptions::default()).await;
    pool.user("rt-user").await;
    let login = pool.login("rt-user").await;
    let token = login.access_token().unwrap_or_default().to_owned();
    let expired = expired_copy(&Minter::moto(), &token);

    let ours = |validation| {
        let (cognito, dynamodb, calls) = pool.counted_clients();
        let builder = Sessions::builder()
            .table(&pool.table)
            .partition_key(&pool.partition_key)
            .client_id(&pool.client_id)
            .user_pool_id(&pool.pool_id)
            .jwks_url(pool.jwks_url())
            .sdk_config(pool.sdk.clone())
            .cognito_client(cognito)
            .dynamodb_client(dynamodb)
            .validation(validation);
        (builder, calls)
    };
    let (builder, token_calls) = ours(SessionValidation::Token);
    let token_mode = builder.build().await.expect("build");
    let (builder, session_calls) = ours(SessionValidation::Session);
    // Seconds ahead of the system clock: moved two hours on for a refresh, so that the login's
    // own access token is the expired one (as in production: the version the row's login gave
    // it names that token).
    let ahead = Arc::new(AtomicU64::new(0));
    let clock = {
        let ahead = ahead.clone();
        move || SystemTime::now() + Duration::from_secs(ahead.load(Ordering::Relaxed))
    };
    let session_mode = builder.clock(clock).build().await.expect("build");
    session_mode
        .start(&Tokens::from(&login))
        .await
        .expect("start");
    let (cognito, dynamodb, seed_calls) = pool.counted_clients();
    let seed = SeedDesign {
        cognito,
        dynamodb,
        pool: pool.clone(),
    };
    let header = |token: &str| {
        let mut headers = http::HeaderMap::new();
        headers.insert("cookie", format!("token={token}").parse().expect("header"));
        headers
    };
    let valid = header(&token);

    let mut rows = Vec::new();
    macro_rules! measure {
        ($name:expr, $calls:expr, $request:expr) => {{
            $request; // warm-up: connections, JWKS
            $calls.reset();
            let mut times = Vec::with_capacity(n);
            for _ in 0..n {
                let start = Instant::now();
                $request;
                times.push(start.elapsed());
            }
            rows.push(report($name, &$calls.all(), n, times));
        }};
    }
    measure!("ours, token mode, valid token", token_calls, {
        token_mode.session("token", &valid).await.expect("valid");
    });
    measure!("ours, session mode, valid token", session_calls, {
        session_mode.session("token", &valid).await.expect("valid");
    });
    // Each refresh needs a session of its own: a second request with an already refreshed
    // token joins that refresh (no call to Cognito). Login and row are made outside the timing.
    let (mut times, mut calls) = (Vec::with_capacity(n), Vec::new());
    for i in 0..=n {
        let login = pool.login("rt-user").await;
        ahead.store(0, Ordering::Relaxed);
        session_mode
            .start(&Tokens::from(&login))
            .await
            .expect("start");
        let stale = header(login.access_token().unwrap_or_default());
        ahead.store(7200, Ordering::Relaxed);
        session_calls.reset();
        let start = Instant::now();
        let s = session_mode
            .session("token", &stale)
            .await
            .expect("refresh");
        let elapsed = start.elapsed();
        assert!(s.refreshed().is_some(), "a refresh, not a join");
        if i > 0 {
            // The first one was the warm-up.
            times.push(elapsed);
            calls.extend(session_calls.all());
        }
    }
    rows.push(report("ours, expired token (refresh)", &calls, n, times));
    measure!("seed design, valid token", seed_calls, {
        assert_eq!(seed.request(&token).await, SeedOutcome::Valid);
    });
    measure!("seed design, expired token (refresh)", seed_calls, {
        assert!(matches!(
            seed.request(&expired).await,
            SeedOutcome::Refreshed(_)
        ));
    });
    for row in rows {
        println!("{row}");
    }
}

fn report(name: &str, all: &[String], n: usize, mut times: Vec<Duration>) -> serde_json::Value {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mut per_request: Vec<(String, f64)> = Vec::new();
    for call in all {
        if !per_request.iter().any(|(c, _)| c == call) {
            let count = all.iter().filter(|c| *c == call).count();
            per_request.push((call.clone(), count as f64 / n as f64));
        }
    }
    json!({
        "design": name,
        "requests": n,
        "calls_per_request": per_request
            .into_iter()
            .map(|(call, count)| (call, json!(count)))
            .collect::<serde_json::Map<_, _>>(),
        "p50_ms": ms(times[n / 2]),
        "p90_ms": ms(times[n * 9 / 10]),
    })
}

/// The same access token re-signed with moto's key as if issued two hours ago.
fn expired_copy(minter: &Minter, access_token: &str) -> String {
    let mut claims = testkit::peek(access_token);
    let iat = testkit::now() - 7200;
    claims["iat"] = iat.into();
    claims["auth_time"] = iat.into();
    claims["exp"] = (iat + 3600).into();
    minter.access(&claims)
}
