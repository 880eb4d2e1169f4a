//! Round trips per request, counted by an SDK interceptor on the very clients the library uses,
//! beside the seed's design (GetUser on every request; GetItem + InitiateAuth on expiry). The
//! latency of both is measured by `tools/src/bin/round_trips.rs` (figures in BENCHMARKS.md).

use cognito_session::SessionValidation;
use testkit::{PoolOptions, SeedDesign, SeedOutcome};

use crate::{cookies, setup, setup_with};

const WRITES: [&str; 3] = ["PutItem", "UpdateItem", "DeleteItem"];
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
async fn refresh_costs_one_cognito_call_and_at_most_two_dynamodb_writes() {
    let s = setup().await;
    let (_, login) = s.logged_in("rt-refresh").await;
    let expired = s.expired_copy(login.access_token().unwrap());
    s.calls.reset();
    let session = s
        .sessions
        .session("token", &cookies(&expired))
        .await
        .unwrap();
    assert!(session.refreshed().is_some());
    let calls = s.calls.all();
    assert_eq!(count(&calls, &COGNITO), 1, "{calls:?}");
    assert_eq!(count(&calls, &["InitiateAuth"]), 1, "{calls:?}");
    assert!(count(&calls, &WRITES) <= 2, "{calls:?}");
    assert_eq!(count(&calls, &["GetItem"]), 1, "{calls:?}");
    assert_eq!(
        calls,
        ["GetItem", "UpdateItem", "InitiateAuth", "UpdateItem"],
        "read, lease, refresh, commit"
    );
}

#[tokio::test]
async fn an_expired_token_is_never_answered_from_the_cache() {
    let s = setup().await;
    let (_, login) = s.logged_in("rt-expiry").await;
    let token = login.access_token().unwrap();
    s.sessions.session("token", &cookies(token)).await.unwrap();
    // Two hours later the same (cached) token has expired: it goes to the refresh path.
    s.clock
        .store(2 * 3600, std::sync::atomic::Ordering::Relaxed);
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
    // above), three calls for a refresh of which one goes to Cognito.
    s.calls.reset();
    s.sessions.session("token", &cookies(token)).await.unwrap();
    assert_eq!(s.calls.all(), ["GetItem"]);
}
