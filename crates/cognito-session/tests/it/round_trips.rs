//! Round trips per request, counted by an SDK interceptor on the very clients the library uses,
//! beside the seed's design (GetUser on every request; GetItem + InitiateAuth on expiry). A
//! refresh: UpdateItem (lease, no read first) + InitiateAuth + UpdateItem (commit). The
//! latency of both is measured by `tools/src/bin/round_trips.rs` (figures in BENCHMARKS.md).

use std::sync::atomic::Ordering;
use std::time::Duration;

use cognito_session::SessionValidation;
use testkit::{PoolOptions, SeedDesign, SeedOutcome};

use crate::{cookies, setup, setup_with};

const DYNAMODB: [&str; 5] = ["GetItem", "Query", "PutItem", "UpdateItem", "DeleteItem"];
const COGNITO: [&str; 3] = ["InitiateAuth", "GetUser", "GetTokensFromRefreshToken"];

fn count(calls: &[String], of: &[&str]) -> usize {
    calls.iter().filter(|c| of.contains(&c.as_str())).count()
}

#[tokio::test]
async fn token_mode_valid_token_costs_zero_round_trips_cached_or_not() {
    for cache in [0, 16] {
        let s = setup_with(PoolOptions::default(), |b| {
            b.validation(SessionValidation::Token).token_cache(cache)
        })
        .await;
        let (_, login) = s.logged_in("rt-token").await;
        s.calls.reset();
        for _ in 0..3 {
            s.sessions
                .session("token", &cookies(login.access_token().unwrap()))
                .await
                .unwrap();
        }
        assert_eq!(s.calls.all(), Vec::<String>::new(), "cache {cache}");
    }
}

#[tokio::test]
async fn session_mode_valid_token_costs_exactly_one_get_item_cached_or_not() {
    for cache in [0, 16] {
        let s = setup_with(PoolOptions::default(), |b| b.token_cache(cache)).await;
        let (_, login) = s.logged_in("rt-session").await;
        for _ in 0..3 {
            s.calls.reset();
            s.sessions
                .session("token", &cookies(login.access_token().unwrap()))
                .await
                .unwrap();
            // The cache spares the RSA check, never the row: a logout still takes effect.
            assert_eq!(s.calls.all(), ["GetItem"], "cache {cache}");
        }
    }
}

#[tokio::test]
async fn refresh_costs_one_cognito_call_and_two_dynamodb_calls() {
    let s = setup().await;
    let (sub, login) = s.logged_in("rt-refresh").await;
    let token = login.access_token().unwrap();
    // Two hours later the login's own access token has expired.
    s.clock.store(2 * 3600, Ordering::Relaxed);
    s.calls.reset();
    let session = s.sessions.session("token", &cookies(token)).await.unwrap();
    let refreshed = session.refreshed().expect("refreshed").access_token.clone();
    let calls = s.calls.all();
    assert_eq!(count(&calls, &COGNITO), 1, "{calls:?}");
    assert!(count(&calls, &DYNAMODB) <= 2, "{calls:?}");
    assert_eq!(
        calls,
        ["UpdateItem", "InitiateAuth", "UpdateItem"],
        "lease (no read first: the lease write expects the version the login gave the row), \
         refresh, commit"
    );
    assert_eq!(
        version(&s, &sub).await.as_deref(),
        Some(token_id(&refreshed).as_str()),
        "the commit gives the row the version its new token names"
    );

    // The refreshed token expires in turn: the same two writes.
    s.clock.store(4 * 3600, Ordering::Relaxed);
    s.calls.reset();
    let again = s
        .sessions
        .session("token", &cookies(&refreshed))
        .await
        .unwrap();
    assert!(again.refreshed().is_some());
    assert_eq!(s.calls.all(), ["UpdateItem", "InitiateAuth", "UpdateItem"]);
}

#[tokio::test]
async fn a_touch_keeps_the_version_a_refresh_expects() {
    let s = setup_with(PoolOptions::default(), |b| {
        b.idle_timeout(Duration::from_secs(8 * 3600))
            .touch_interval(Duration::from_secs(60))
    })
    .await;
    let (sub, login) = s.logged_in("rt-touch").await;
    let token = login.access_token().unwrap();
    let before = version(&s, &sub).await;
    // Ten minutes later, a valid request records activity.
    s.clock.store(600, Ordering::Relaxed);
    s.calls.reset();
    s.sessions.session("token", &cookies(token)).await.unwrap();
    assert_eq!(s.calls.all(), ["GetItem", "UpdateItem"], "read, touch");
    assert!(s.pool.row(&sub).await.unwrap().contains_key("last_seen"));
    assert_eq!(
        version(&s, &sub).await,
        before,
        "the touch kept the version"
    );
    // When the token has expired, the refresh still needs no read.
    s.clock.store(2 * 3600, Ordering::Relaxed);
    s.calls.reset();
    let session = s.sessions.session("token", &cookies(token)).await.unwrap();
    assert!(session.refreshed().is_some());
    assert_eq!(s.calls.all(), ["UpdateItem", "InitiateAuth", "UpdateItem"]);
}

#[tokio::test]
async fn a_seed_row_costs_one_more_write_on_its_first_refresh_only() {
    let s = setup().await;
    let sub = s.pool.user("rt-seed-row").await;
    let login = s.pool.login("rt-seed-row").await;
    s.pool
        .put_seed_row(&sub, login.refresh_token().unwrap())
        .await;
    s.clock.store(2 * 3600, Ordering::Relaxed);
    s.calls.reset();
    let session = s
        .sessions
        .session("token", &cookies(login.access_token().unwrap()))
        .await
        .unwrap();
    let refreshed = session.refreshed().expect("refreshed").access_token.clone();
    // The guessed lease write fails (a seed row has no version) and returns the row: it is
    // the read, and the lease is taken at the version the row has.
    assert_eq!(
        s.calls.all(),
        ["UpdateItem", "UpdateItem", "InitiateAuth", "UpdateItem"]
    );
    s.clock.store(4 * 3600, Ordering::Relaxed);
    s.calls.reset();
    s.sessions
        .session("token", &cookies(&refreshed))
        .await
        .unwrap();
    assert_eq!(s.calls.all(), ["UpdateItem", "InitiateAuth", "UpdateItem"]);
}

#[tokio::test]
async fn a_request_joining_a_refresh_costs_one_dynamodb_call() {
    let s = setup().await;
    let (_, login) = s.logged_in("rt-join").await;
    // (An expired copy, so that the token the refresh produces is current on the clock.)
    let token = s.expired_copy(login.access_token().unwrap());
    let first = s.sessions.session("token", &cookies(&token)).await.unwrap();
    s.calls.reset();
    // A request that raced the refresh, with the same expired token, arrives just after it.
    let joined = s.sessions.session("token", &cookies(&token)).await.unwrap();
    assert_eq!(
        joined.refreshed().map(|t| &t.access_token),
        first.refreshed().map(|t| &t.access_token)
    );
    // Its guessed lease write fails and returns the refreshed row: no read, no Cognito call.
    assert_eq!(s.calls.all(), ["UpdateItem"]);
}

/// The row's `version` attribute.
async fn version(s: &crate::Setup, sub: &str) -> Option<String> {
    let row = s.pool.row(sub).await?;
    row.get("version").and_then(|v| v.as_s().ok()).cloned()
}

fn token_id(token: &str) -> String {
    let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, hash)
}

#[tokio::test]
async fn an_expired_token_is_never_answered_from_the_cache() {
    let s = setup().await;
    let (_, login) = s.logged_in("rt-expiry").await;
    let token = login.access_token().unwrap();
    s.sessions.session("token", &cookies(token)).await.unwrap();
    // Two hours later the same (cached) token has expired: it goes to the refresh path.
    s.clock.store(2 * 3600, Ordering::Relaxed);
    s.calls.reset();
    let session = s.sessions.session("token", &cookies(token)).await.unwrap();
    assert!(session.refreshed().is_some());
    assert_eq!(count(&s.calls.all(), &["InitiateAuth"]), 1);
}

#[tokio::test]
async fn the_seeds_design_asks_cognito_on_every_request() {
    let s = setup().await;
    let (_, login) = s.logged_in("rt-seed").await;
    let (cognito, dynamodb, calls) = s.pool.counted_clients();
    let seed = SeedDesign {
        cognito,
        dynamodb,
        pool: s.pool.clone(),
    };
    let token = login.access_token().unwrap();
    for _ in 0..3 {
        calls.reset();
        assert_eq!(seed.request(token).await, SeedOutcome::Valid);
        assert_eq!(calls.all(), ["GetUser"]);
    }
    calls.reset();
    let outcome = seed.request(&s.expired_copy(token)).await;
    assert!(matches!(outcome, SeedOutcome::Refreshed(_)), "{outcome:?}");
    assert_eq!(calls.all(), ["GetUser", "GetItem", "InitiateAuth"]);

    // Ours on the same requests: one GetItem for a valid token (none in token mode, counted
    // above), three calls for a refresh of which one goes to Cognito (counted above).
    s.calls.reset();
    s.sessions.session("token", &cookies(token)).await.unwrap();
    assert_eq!(s.calls.all(), ["GetItem"]);
}
