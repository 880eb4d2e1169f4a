//! 5. Pool learning (only the seed's three variables) cannot be locked out.
//!
//! moto serves its JWKS (its one key, `kid` "dummy") for *any* pool id, made up or not, so here
//! every forged pool's fetch succeeds and its tokens fail at the signature (random keys) or at
//! the claims (another app client): the "real other pool" case. The made-up pools of real
//! Cognito, whose JWKS is refused, are shown with a JWKS server answering 404.

use std::time::{Duration, Instant};

use cognito_jwt::{KeyRejected, Rejected};
use cognito_session::store::MemoryStore;
use cognito_session::{Error, Service, SessionValidation, Sessions, Unauthorized};
use serde_json::Value;
use testkit::{Minter, Pool, PoolOptions, Proxy};

use crate::{cookies, minter, setup, Setup};

/// Sessions configured only with the seed's three variables, every AWS call (and so every
/// JWKS fetch, from the emulator endpoint) through a counting proxy in front of moto.
async fn seed_only(s: &Setup, refetch: Duration) -> (Sessions, Proxy) {
    let proxy = Proxy::start(&s.pool.moto.url).await;
    let sessions = Sessions::builder()
        .table(&s.pool.table)
        .partition_key(&s.pool.partition_key)
        .client_id(&s.pool.client_id)
        .sdk_config(testkit::sdk_config(&proxy.url).await)
        .jwks_refetch_interval(refetch)
        .build()
        .await
        .unwrap();
    (sessions, proxy)
}

/// A genuine token's claims with `iss` naming `pool`.
fn naming(claims: &Value, pool: &str) -> Value {
    let mut claims = claims.clone();
    claims["iss"] = format!("https://cognito-idp.us-east-1.amazonaws.com/{pool}").into();
    claims
}

fn is_unauthorized(error: &Error) -> bool {
    matches!(error, Error::Unauthorized(Unauthorized::InvalidToken(_)))
}

#[tokio::test]
async fn forged_pool_tokens_in_any_order_never_lock_out_the_genuine_pool() {
    let s = setup().await;
    let other = Pool::new(PoolOptions::default()).await;
    other.user("stranger").await;
    let foreign = other.login("stranger").await;
    let (sub, login) = s.logged_in("genuine").await;
    let genuine = login.access_token().unwrap().to_owned();
    let claims = testkit::peek(&genuine);
    let keys = [Minter::random(), Minter::random()];

    // 12 made-up pools (random keys), the real second pool with a random key, and the real
    // second pool's own genuine token (moto's key, another app client).
    let mut forged: Vec<String> = (0..12)
        .map(|i| keys[i % 2].access(&naming(&claims, &format!("us-east-1_Forged{i}"))))
        .collect();
    forged.push(keys[0].access(&naming(&claims, &other.pool_id)));
    forged.push(foreign.access_token().unwrap().to_owned());
    let distinct_pools = 13;

    let orders: Vec<(&str, Vec<String>)> = vec![
        ("in order", forged.clone()),
        ("reversed", forged.iter().rev().cloned().collect()),
        (
            "each twice, interleaved",
            forged.iter().chain(forged.iter().rev()).cloned().collect(),
        ),
    ];
    for (what, tokens) in orders {
        let (sessions, proxy) = seed_only(&s, Duration::from_secs(10)).await;
        for token in &tokens {
            let error = sessions
                .session("token", &cookies(token))
                .await
                .expect_err(what);
            assert!(is_unauthorized(&error), "{what}: {error}");
        }
        let fetches = proxy.count("GET");
        assert!(
            fetches <= distinct_pools,
            "{what}: {fetches} JWKS fetches for {distinct_pools} pools"
        );
        // The genuine user gets in.
        let session = sessions
            .session("token", &cookies(&genuine))
            .await
            .unwrap_or_else(|e| panic!("{what}: the genuine token was refused: {e}"));
        assert_eq!(session.sub(), sub);
        // The pool is learned: the forged pools are refused without any fetch.
        let before = proxy.count("GET");
        for token in &forged {
            let error = sessions
                .session("token", &cookies(token))
                .await
                .expect_err(what);
            assert!(is_unauthorized(&error), "{what}: {error}");
        }
        assert_eq!(proxy.count("GET"), before, "{what}");
    }
}

#[tokio::test]
async fn fetches_for_unknown_pools_are_bounded_and_a_retry_gets_the_genuine_user_in() {
    let s = setup().await;
    let (_, login) = s.logged_in("patient").await;
    let genuine = login.access_token().unwrap().to_owned();
    let claims = testkit::peek(&genuine);
    let key = Minter::random();
    // The budget: 128 fetches, refilled at 128 per 128 s (one per second).
    let (sessions, proxy) = seed_only(&s, Duration::from_secs(128)).await;
    let started = Instant::now();
    let (mut refused, mut unavailable) = (0, 0);
    for i in 0..200 {
        let token = key.access(&naming(&claims, &format!("us-east-1_Flood{i}")));
        match sessions.session("token", &cookies(&token)).await {
            Err(e) if is_unauthorized(&e) => refused += 1,
            Err(Error::Unavailable {
                service: Service::Jwks,
                ..
            }) => unavailable += 1,
            other => panic!("a forged token: {other:?}"),
        }
    }
    let fetches = proxy.count("GET");
    let allowed = 128 + started.elapsed().as_secs() as usize + 1;
    assert!(
        fetches <= allowed,
        "{fetches} fetches, at most {allowed} allowed"
    );
    assert_eq!(refused, fetches, "one fetch per refused pool");
    assert!(unavailable > 0, "the bound answered 503 beyond the budget");
    // The genuine user's request is answered 503 at worst (never a 401), and a retry a moment
    // later gets in.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match sessions.session("token", &cookies(&genuine)).await {
            Ok(_) => break,
            Err(Error::Unavailable { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(250)).await
            }
            Err(other) => panic!("the genuine token: {other}"),
        }
    }
}

#[tokio::test]
async fn a_made_up_pool_whose_jwks_is_refused_costs_one_fetch_and_blocks_nothing() {
    // Real Cognito has no JWKS for a made-up pool: a JWKS server answering 404 stands in for
    // the emulator endpoint (token mode: no table behind it).
    let s = setup().await;
    let (_, login) = s.logged_in("refusedpool").await;
    let claims = testkit::peek(login.access_token().unwrap());
    let server = testkit::JwksServer::start(&serde_json::json!({"keys": []})).await;
    server.serve(404, "not found");
    let endpoint = server.url.trim_end_matches("/jwks.json").to_owned();
    let sessions = Sessions::builder()
        .client_id(&s.pool.client_id)
        .validation(SessionValidation::Token)
        .store(MemoryStore::default())
        .sdk_config(testkit::sdk_config(&endpoint).await)
        .build()
        .await
        .unwrap();
    let key = Minter::random();
    for i in 0..12 {
        let token = key.access(&naming(&claims, &format!("us-east-1_Nowhere{}", i % 6)));
        let error = sessions
            .session("token", &cookies(&token))
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                Error::Unauthorized(Unauthorized::InvalidToken(Rejected::Key(
                    KeyRejected::NoKeys
                )))
            ),
            "{error}"
        );
    }
    assert_eq!(
        server.hits(),
        6,
        "one fetch per made-up pool, none for a repeat"
    );
    // Six refused pools later, the genuine pool is still fetched and learned.
    server.serve(
        200,
        &serde_json::json!({"keys": [minter().jwk(testkit::MOTO_KID)]}).to_string(),
    );
    let genuine = minter().access(&claims);
    sessions.session("token", &cookies(&genuine)).await.unwrap();
    assert_eq!(server.hits(), 7);
}

#[tokio::test]
async fn a_forged_pool_fetch_cut_short_by_the_caller_leaves_no_slot_taken() {
    let s = setup().await;
    let (_, login) = s.logged_in("cutshort").await;
    let genuine = login.access_token().unwrap().to_owned();
    let claims = testkit::peek(&genuine);
    let (sessions, proxy) = seed_only(&s, Duration::from_secs(10)).await;
    // Six forged pools whose JWKS hangs; each request is dropped by its caller mid-fetch.
    proxy
        .inject(testkit::Rule::on("GET", testkit::Fault::Latency(Duration::from_secs(3))).times(6));
    let key = Minter::random();
    for i in 0..6 {
        let token = key.access(&naming(&claims, &format!("us-east-1_Hanging{i}")));
        let cut = tokio::time::timeout(
            Duration::from_millis(300),
            sessions.session("token", &cookies(&token)),
        )
        .await;
        assert!(cut.is_err(), "the fetch was expected to hang");
    }
    sessions.session("token", &cookies(&genuine)).await.unwrap();
}
