//! Round trips per request, counted by an SDK interceptor on the very clients the library uses,
//! beside the seed's design (GetUser on every request; GetItem + InitiateAuth on expiry). A
//! refresh: UpdateItem (lease, no read first) + InitiateAuth + UpdateItem (commit), for every
//! row, the seed's included. The table of every path is in BENCHMARKS.md. The
//! latency of both is measured by `tools/src/bin/round_trips.rs` (figures in BENCHMARKS.md).

use std::sync::atomic::Ordering;
use std::time::Duration;

use aws_sdk_cognitoidentityprovider::types::AuthenticationResultType;
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
async fn a_seed_rows_first_refresh_costs_what_every_refresh_costs() {
    let s = setup().await;
    let (sub, login) = seed_row(&s, "rt-seed-row").await;
    s.clock.store(2 * 3600, Ordering::Relaxed);
    s.calls.reset();
    let session = s
        .sessions
        .session("token", &cookies(login.access_token().unwrap()))
        .await
        .unwrap();
    let refreshed = session.refreshed().expect("refreshed").access_token.clone();
    // The guessed lease write accepts a row without a version: no failed guess, no read.
    assert_eq!(s.calls.all(), ["UpdateItem", "InitiateAuth", "UpdateItem"]);
    let row = s.pool.row(&sub).await.unwrap();
    assert_eq!(
        version(&s, &sub).await.as_deref(),
        Some(token_id(&refreshed).as_str()),
        "the commit gave the row a version"
    );
    assert!(row.contains_key("origin_jti"), "and bound it to its login");
    s.clock.store(4 * 3600, Ordering::Relaxed);
    s.calls.reset();
    s.sessions
        .session("token", &cookies(&refreshed))
        .await
        .unwrap();
    assert_eq!(s.calls.all(), ["UpdateItem", "InitiateAuth", "UpdateItem"]);
}

#[tokio::test]
async fn a_version_less_rows_first_refresh_costs_what_every_refresh_costs() {
    let s = setup().await;
    let (sub, login) = s.logged_in("rt-v01-row").await;
    // The row as 0.1 wrote it: a family, no version.
    s.pool
        .dynamodb
        .update_item()
        .table_name(&s.pool.table)
        .key(
            &s.pool.partition_key,
            aws_sdk_dynamodb::types::AttributeValue::S(sub.clone()),
        )
        .update_expression("REMOVE version")
        .send()
        .await
        .unwrap();
    assert_eq!(version(&s, &sub).await, None);
    s.clock.store(2 * 3600, Ordering::Relaxed);
    s.calls.reset();
    let session = s
        .sessions
        .session("token", &cookies(login.access_token().unwrap()))
        .await
        .unwrap();
    let refreshed = session.refreshed().expect("refreshed").access_token.clone();
    let calls = s.calls.all();
    assert_eq!(count(&calls, &COGNITO), 1, "{calls:?}");
    assert!(count(&calls, &DYNAMODB) <= 2, "{calls:?}");
    assert_eq!(calls, ["UpdateItem", "InitiateAuth", "UpdateItem"]);
    assert_eq!(
        version(&s, &sub).await.as_deref(),
        Some(token_id(&refreshed).as_str())
    );
}

#[tokio::test]
async fn concurrent_first_refreshes_of_a_seed_row_call_cognito_once() {
    let s = setup().await;
    let (_, login) = seed_row(&s, "rt-seed-race").await;
    // (An expired copy, so that the token the refresh produces is current on the clock.)
    let token = s.expired_copy(login.access_token().unwrap());
    s.calls.reset();
    let requests: Vec<_> = (0..4)
        .map(|_| {
            let (sessions, token) = (s.sessions.clone(), token.clone());
            tokio::spawn(async move { sessions.session("token", &cookies(&token)).await })
        })
        .collect();
    let mut tokens = Vec::new();
    for request in requests {
        let session = request.await.unwrap().unwrap();
        tokens.push(session.refreshed().expect("new token").access_token.clone());
    }
    // Accepting "no version" did not make the lease any less exclusive.
    let calls = s.calls.all();
    assert_eq!(count(&calls, &COGNITO), 1, "{calls:?}");
    assert!(tokens.windows(2).all(|w| w[0] == w[1]), "all converge");
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

/// A user who logged in through the seed: the row as the seed writes it (no version, no family).
async fn seed_row(s: &crate::Setup, username: &str) -> (String, AuthenticationResultType) {
    let sub = s.pool.user(username).await;
    let login = s.pool.login(username).await;
    s.pool
        .put_seed_row(&sub, login.refresh_token().unwrap())
        .await;
    (sub, login)
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

/// The most reads a request waiting `waited` for a concurrent refresh makes: one after each
/// back-off pause (25, 50, 100, then 200 ms each, plus up to 45 ms of jitter), so one read plus
/// one per pause that ended before the refresh did.
fn joiner_reads_bound(waited: Duration) -> usize {
    let mut reads = 1;
    let (mut slept, mut pause) = (Duration::ZERO, Duration::from_millis(25));
    loop {
        slept += pause;
        if slept >= waited {
            return reads;
        }
        reads += 1;
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

#[test]
fn the_joiner_bound_in_numbers() {
    // As BENCHMARKS.md states it: 1 read up to 25 ms, 4 up to 375 ms, then one per 200 ms.
    let ms = Duration::from_millis;
    assert_eq!(joiner_reads_bound(ms(20)), 1);
    assert_eq!(joiner_reads_bound(ms(100)), 3);
    assert_eq!(joiner_reads_bound(ms(375)), 4);
    assert_eq!(joiner_reads_bound(ms(1_000)), 8);
    assert_eq!(joiner_reads_bound(ms(4_000)), 23);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_waiting_for_a_refresh_reads_with_back_off() {
    let s = setup().await;
    for (i, cognito_latency) in [200u64, 1_200].into_iter().enumerate() {
        let (sub, login) = s.logged_in(&format!("rt-wait-{i}")).await;
        let token = s.expired_copy(login.access_token().unwrap());
        // The leaseholder's Cognito answers slowly; the joiner goes through a proxy of its own,
        // which counts its calls alone.
        let slow = testkit::Proxy::start(&s.pool.moto.url).await;
        slow.inject(
            testkit::Rule::on(
                "InitiateAuth",
                testkit::Fault::Latency(Duration::from_millis(cognito_latency)),
            )
            .times(1),
        );
        let counted = testkit::Proxy::start(&s.pool.moto.url).await;
        let holder = crate::sessions_via(&s, &slow.url, |b| b).await;
        let joiner = crate::sessions_via(&s, &counted.url, |b| b).await;
        let first = {
            let token = token.clone();
            tokio::spawn(async move { holder.session("token", &cookies(&token)).await })
        };
        // The joiner arrives once the lease is taken.
        while !s.pool.row(&sub).await.unwrap().contains_key("lease_id") {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let started = std::time::Instant::now();
        let joined = joiner.session("token", &cookies(&token)).await.unwrap();
        let waited = started.elapsed();
        let first = first.await.unwrap().unwrap();
        assert_eq!(
            joined.refreshed().map(|t| &t.access_token),
            first.refreshed().map(|t| &t.access_token),
            "joined the refresh"
        );
        let reads = counted.count("GetItem");
        // The figures BENCHMARKS.md quotes (`-- --nocapture`).
        println!("Cognito +{cognito_latency} ms: the waiter read {reads} times in {waited:?}");
        assert_eq!(counted.count("UpdateItem"), 1, "the failed guess");
        assert_eq!(counted.count("InitiateAuth"), 0);
        assert!(
            (1..=joiner_reads_bound(waited)).contains(&reads),
            "{reads} reads in {waited:?} (Cognito took {cognito_latency} ms)"
        );
    }
}

#[tokio::test]
async fn own_form_sign_in_costs_the_flows_cognito_calls_and_one_write() {
    let s = setup().await;
    // A warm instance: the pool's keys are known.
    let (_, warm) = s.logged_in("rt-sign-in").await;
    s.sessions
        .session("token", &cookies(warm.access_token().unwrap()))
        .await
        .unwrap();
    s.calls.reset();
    let step = s
        .sessions
        .sign_in("rt-sign-in", testkit::PASSWORD)
        .await
        .unwrap();
    assert!(matches!(step, cognito_session::SignIn::Done(_)));
    // SRP: InitiateAuth with SRP_A, RespondToAuthChallenge with the password claim; then the
    // session row, written once (no read first: a login replaces the row).
    assert_eq!(
        s.calls.all(),
        ["InitiateAuth", "RespondToAuthChallenge", "PutItem"]
    );
    s.calls.reset();
    s.sessions
        .sign_in_with(
            cognito_session::SignInFlow::Password,
            "rt-sign-in",
            testkit::PASSWORD,
        )
        .await
        .unwrap();
    assert_eq!(s.calls.all(), ["InitiateAuth", "PutItem"]);
}

#[tokio::test]
async fn logout_costs_a_read_a_delete_and_one_revocation() {
    let s = setup().await;
    let (sub, login) = s.logged_in("rt-logout").await;
    // moto lacks RevokeToken (the SDK would retry its 500): the fake answers it as Cognito does,
    // and the proxy counts every call of the logout.
    let fake = std::sync::Arc::new(testkit::FakeCognito::new(
        &s.pool.issuer(),
        &s.pool.client_id,
        Duration::ZERO,
    ));
    let proxy = testkit::Proxy::with_fake(&s.pool.moto.url, fake.clone()).await;
    let sessions = crate::sessions_via(&s, &proxy.url, |b| b).await;
    sessions
        .end("token", &cookies(login.access_token().unwrap()))
        .await
        .unwrap();
    let counts: Vec<(&str, usize)> = ["GetItem", "DeleteItem", "RevokeToken"]
        .into_iter()
        .map(|op| (op, proxy.count(op)))
        .collect();
    assert_eq!(
        counts,
        [("GetItem", 1), ("DeleteItem", 1), ("RevokeToken", 1)]
    );
    assert_eq!(proxy.total(), 3, "nothing else");
    assert_eq!(fake.revoked(), [login.refresh_token().unwrap()]);
    assert!(s.pool.row(&sub).await.is_none());
}

#[tokio::test]
async fn sign_out_everywhere_costs_one_query_one_delete_per_device_and_one_cognito_call() {
    let options = PoolOptions {
        sort_key: Some("session".into()),
        ..Default::default()
    };
    let s = setup_with(options, |b| b.sort_key("session")).await;
    let sub = s.pool.user("rt-everywhere").await;
    for _device in 0..3 {
        let login = s.pool.login("rt-everywhere").await;
        s.sessions
            .start(&cognito_session::Tokens::from(&login))
            .await
            .unwrap();
    }
    s.calls.reset();
    assert_eq!(s.sessions.end_all(&sub).await.unwrap(), 3);
    // One Query lists the devices, one DeleteItem each, and AdminUserGlobalSignOut revokes every
    // refresh token at once (no RevokeToken per device).
    assert_eq!(
        s.calls.all(),
        [
            "Query",
            "DeleteItem",
            "DeleteItem",
            "DeleteItem",
            "AdminUserGlobalSignOut"
        ]
    );
}

#[tokio::test]
async fn a_managed_login_callback_costs_one_token_request_and_one_write() {
    const CALLBACK: &str = "http://127.0.0.1:9/callback";
    let get = |uri: &str, cookie: Option<&str>| {
        let mut request = http::Request::get(uri).header("accept", "text/html");
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.body(()).unwrap()
    };
    let pool =
        testkit::Pool::new(PoolOptions::managed_login(CALLBACK, "http://127.0.0.1:9/")).await;
    let fake = pool.managed_login().await;
    // The pool's keys through a proxy that counts their fetches.
    let keys = testkit::Proxy::start(&pool.moto.url).await;
    let (builder, calls) = crate::builder(&pool);
    let sessions = builder
        .cognito_domain(fake.base_url())
        .redirect_uri(CALLBACK)
        .logout_uri("http://127.0.0.1:9/")
        .jwks_url(format!(
            "{}/{}/.well-known/jwks.json",
            keys.url, pool.pool_id
        ))
        .operation_timeout(Duration::from_secs(8))
        .build()
        .await
        .unwrap();
    pool.user("rt-callback").await;
    // A warm instance: it has verified a token, so it holds the pool's keys.
    let earlier = pool.login("rt-callback").await;
    sessions
        .verify(earlier.access_token().unwrap())
        .await
        .unwrap();
    assert_eq!(keys.count("GET"), 1);

    // Without SESSION_ENCRYPTION_KEY, a process's first login reads the generated state key
    // from the table (the first process ever creates it: GetItem, PutItem, GetItem).
    calls.reset();
    let first = sessions.login(&get("/login?return_to=%2F", None)).await;
    assert_eq!(first.status(), 302);
    assert_eq!(calls.all(), ["GetItem", "PutItem", "GetItem"]);
    calls.reset();
    let start = sessions.login(&get("/login?return_to=%2F", None)).await;
    assert_eq!(start.status(), 302);
    let location = start.headers()["location"].to_str().unwrap().to_owned();
    let login_cookie = start
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|c| c.to_str().ok())
        .find(|c| c.starts_with("__Host-cognito-login="))
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_owned();
    assert_eq!(
        calls.all(),
        Vec::<String>::new(),
        "/login makes no AWS call"
    );
    let back = testkit::managed_login::HttpBrowser::new()
        .sign_in(&fake, &location, "rt-callback", testkit::PASSWORD)
        .await;
    let callback = back
        .location()
        .unwrap()
        .trim_start_matches("http://127.0.0.1:9")
        .to_owned();
    let response = sessions
        .callback(&get(&callback, Some(&login_cookie)))
        .await;
    assert_eq!(response.status(), 302, "{}", response.body());
    // The one-time state came back sealed in the login cookie: no read, no take-once write, no
    // delete; the token endpoint once; the session row written once; the ID token verified
    // with the keys the access token's check already holds.
    assert_eq!(calls.all(), ["PutItem"]);
    assert_eq!(fake.token_requests(), 1);
    assert_eq!(keys.count("GET"), 1, "no second key fetch for the ID token");
}
