//! Concurrent refreshes across tasks and processes, lease takeover, rotation and revocation.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use cognito_session::Unauthorized;
use serde_json::{json, Value};
use testkit::{FakeCognito, Function, Outcome, Proxy, RuntimeApi};

use crate::{cookies, dead_endpoint, example, sessions_via, setup, Setup};

fn rest_event(token: &str) -> Value {
    let mut event = testkit::fixture("apigw_proxy_request.json");
    event["headers"]["Cookie"] = json!(format!("token={token}"));
    event
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_requests_from_tasks_and_processes_refresh_once() {
    let s = setup().await;
    let (sub, login) = s.logged_in("crowd").await;
    let before = s.pool.row(&sub).await.unwrap();
    let proxy = Proxy::start(&s.pool.moto.url).await;
    // A longer lease than the processes' (3 s): 49 waiters polling one moto make its answers
    // slow on a loaded machine, and a holder whose lease lapses is rightly taken over (a second
    // refresh). The processes keep the default lease.
    let sessions =
        Arc::new(sessions_via(&s, &proxy.url, |b| b.refresh_lease(Duration::from_secs(10))).await);

    // Two Lambda processes (the handler example) behind one Runtime API, through the same proxy.
    let binary = example("handler").await;
    let api = Arc::new(RuntimeApi::start().await);
    let env = s.function_env(&proxy.url);
    let _processes = [
        Function::spawn(&binary, &api, &env),
        Function::spawn(&binary, &api, &env),
    ];
    // Warm both processes up with a valid token (no refresh).
    let valid = login.access_token().unwrap().to_owned();
    let warm: Vec<_> = (0..4)
        .map(|_| {
            let api = api.clone();
            let e = rest_event(&valid);
            tokio::spawn(async move { api.invoke(e, Duration::from_secs(30)).await })
        })
        .collect();
    for w in warm {
        assert!(matches!(w.await.unwrap(), Outcome::Response(ref r) if r["statusCode"] == 200));
    }
    assert_eq!(proxy.count("InitiateAuth"), 0);

    let expired = s.expired_copy(&valid);
    let mut in_process = Vec::new();
    let mut via_lambda = Vec::new();
    for i in 0..50 {
        if i % 5 == 0 {
            let (api, event) = (api.clone(), rest_event(&expired));
            via_lambda.push(tokio::spawn(async move {
                api.invoke(event, Duration::from_secs(30)).await
            }));
        } else {
            let (sessions, expired) = (sessions.clone(), expired.clone());
            in_process.push(tokio::spawn(async move {
                sessions.session("token", &cookies(&expired)).await
            }));
        }
    }
    let mut new_cookies = Vec::new();
    for task in in_process {
        let session = task.await.unwrap().expect("authorized");
        assert_eq!(session.sub(), sub);
        new_cookies.extend(session.set_cookie("token"));
    }
    for task in via_lambda {
        let Outcome::Response(response) = task.await.unwrap() else {
            panic!("the function failed")
        };
        assert_eq!(response["statusCode"], 200, "{response}");
        new_cookies.extend(crate::strings(&response["multiValueHeaders"]["set-cookie"]));
    }
    assert_eq!(
        proxy.count("InitiateAuth"),
        1,
        "exactly one refresh for 50 requests"
    );
    // Every response, the winner's and the joiners', carries the one new token's cookie.
    assert_eq!(new_cookies.len(), 50, "{new_cookies:?}");
    assert!(new_cookies[0].starts_with("token=eyJ"), "{new_cookies:?}");
    assert!(
        new_cookies.iter().all(|c| c == &new_cookies[0]),
        "{new_cookies:?}"
    );
    let after = s.pool.row(&sub).await.unwrap();
    assert_eq!(after.get("token"), before.get("token"), "the row is intact");
    assert!(!after.contains_key("lease_id"), "the lease was released");
    assert!(after.contains_key("refreshed_at"));
}

#[tokio::test]
async fn a_crashed_lease_holder_is_taken_over_when_its_lease_lapses() {
    let s = crate::setup_with(testkit::PoolOptions::default(), |b| {
        b.refresh_lease(Duration::from_secs(5))
    })
    .await;
    let (sub, login) = s.logged_in("crashed").await;
    let expired = s.expired_copy(login.access_token().unwrap());
    // A holder took the lease and died before finishing.
    hold_lease(&s, &sub, "dead-holder", 2500).await;
    s.calls.reset();
    let session = s
        .sessions
        .session("token", &cookies(&expired))
        .await
        .unwrap();
    assert!(
        session.refreshed().is_some(),
        "the waiting request completed the refresh"
    );
    assert_eq!(s.calls.count("InitiateAuth"), 1);
    assert!(
        s.calls.count("GetItem") >= 2,
        "it waited: {:?}",
        s.calls.all()
    );
    assert!(!s.pool.row(&sub).await.unwrap().contains_key("lease_id"));
}

#[tokio::test]
async fn a_holder_that_fails_transiently_releases_the_lease_for_the_next_request() {
    let s = setup().await;
    let (sub, login) = s.logged_in("flaky").await;
    let expired = s.expired_copy(login.access_token().unwrap());
    let dead = dead_endpoint();
    let sdk = testkit::sdk_config(&dead).await;
    let (builder, _) = crate::builder(&s.pool);
    let broken = builder
        .cognito_client(aws_sdk_cognitoidentityprovider::Client::new(&sdk))
        .build()
        .await
        .unwrap();
    let error = broken
        .session("token", &cookies(&expired))
        .await
        .unwrap_err();
    assert_eq!(error.status(), 503, "{error}");
    assert!(
        !s.pool.row(&sub).await.unwrap().contains_key("lease_id"),
        "the lease was released"
    );
    s.calls.reset();
    let session = s
        .sessions
        .session("token", &cookies(&expired))
        .await
        .unwrap();
    assert!(session.refreshed().is_some());
    assert_eq!(s.calls.count("InitiateAuth"), 1);
}

/// A pool whose Cognito calls go through a proxy that fakes rotation and revocation.
async fn with_fake(grace: Duration) -> (Setup, Arc<FakeCognito>, Proxy) {
    let s = setup().await;
    let fake = Arc::new(FakeCognito::new(&s.pool.issuer(), &s.pool.client_id, grace));
    let proxy = Proxy::with_fake(&s.pool.moto.url, fake.clone()).await;
    (s, fake, proxy)
}

fn stored_token(row: &std::collections::HashMap<String, AttributeValue>) -> String {
    row["token"].as_s().unwrap().clone()
}

#[tokio::test]
async fn rotation_stores_each_new_refresh_token() {
    let (s, fake, proxy) = with_fake(Duration::from_secs(30)).await;
    let (sub, login) = s.logged_in("rotating").await;
    fake.register(
        login.refresh_token().unwrap(),
        login.access_token().unwrap(),
    );
    let sessions = sessions_via(&s, &proxy.url, |b| b.refresh_token_rotation(true)).await;
    let expired = s.expired_copy(login.access_token().unwrap());
    let session = sessions.session("token", &cookies(&expired)).await.unwrap();
    let tokens = session.refreshed().unwrap();
    assert!(
        tokens.refresh_token.is_none(),
        "the refresh token stays server-side"
    );
    let first = stored_token(&s.pool.row(&sub).await.unwrap());
    assert!(first.starts_with("rotated-1-"), "{first}");
    assert_eq!(proxy.count("GetTokensFromRefreshToken"), 1);
    assert_eq!(proxy.count("InitiateAuth"), 0);
    // The new access token works as is.
    sessions
        .session("token", &cookies(&tokens.access_token))
        .await
        .unwrap();
}

#[tokio::test]
async fn reusing_a_stale_rotated_refresh_token_ends_the_session() {
    let (s, fake, proxy) = with_fake(Duration::ZERO).await;
    let (sub, login) = s.logged_in("stolen").await;
    let original = login.refresh_token().unwrap().to_owned();
    fake.register(&original, login.access_token().unwrap());
    let sessions = sessions_via(&s, &proxy.url, |b| b.refresh_token_rotation(true)).await;
    sessions
        .session(
            "token",
            &cookies(&s.expired_copy(login.access_token().unwrap())),
        )
        .await
        .unwrap();
    // Someone puts the rotated-out token back (a stolen copy being replayed).
    s.pool.put_seed_row(&sub, &original).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let error = sessions
        .session(
            "token",
            &cookies(&s.expired_copy(login.access_token().unwrap())),
        )
        .await
        .unwrap_err();
    assert_eq!(
        error.unauthorized(),
        Some(&Unauthorized::Revoked),
        "{error}"
    );
    assert!(s.pool.row(&sub).await.is_none());
}

#[tokio::test]
async fn logout_revokes_the_refresh_token() {
    let (s, fake, proxy) = with_fake(Duration::from_secs(30)).await;
    let (sub, login) = s.logged_in("revoked").await;
    fake.register(
        login.refresh_token().unwrap(),
        login.access_token().unwrap(),
    );
    let sessions = sessions_via(&s, &proxy.url, |b| b).await;
    sessions
        .end("token", &cookies(login.access_token().unwrap()))
        .await
        .unwrap();
    assert!(s.pool.row(&sub).await.is_none());
    assert_eq!(fake.revoked(), [login.refresh_token().unwrap()]);
}

#[tokio::test]
async fn a_failed_revocation_still_logs_out() {
    // moto answers RevokeToken with HTTP 500 (not implemented): "row deleted, revocation pending".
    let s = setup().await;
    let (sub, login) = s.logged_in("pending").await;
    s.calls.reset();
    s.sessions
        .end("token", &cookies(login.access_token().unwrap()))
        .await
        .unwrap();
    assert!(s.calls.count("RevokeToken") >= 1, "{:?}", s.calls.all());
    assert!(s.pool.row(&sub).await.is_none());
}

#[tokio::test]
async fn the_wait_for_a_lease_ends_before_the_lambda_deadline() {
    let s = setup().await;
    let (sub, login) = s.logged_in("deadline").await;
    let expired = s.expired_copy(login.access_token().unwrap());
    // Another request holds the lease for a long time.
    hold_lease(&s, &sub, "slow-holder", 60_000).await;
    // The invocation has 1.5 s left; an event type without its own deadline gets one passed in.
    let deadline = std::time::SystemTime::now() + Duration::from_millis(1500);
    let mut event = testkit::fixture("apigw_proxy_request.json");
    event["headers"]["Cookie"] = json!(format!("token={expired}"));
    let error = s
        .sessions
        .session_with_deadline("token", &event, deadline)
        .await
        .unwrap_err();
    assert_eq!(error.status(), 503, "{error}");
    // It stopped waiting at the deadline, not when the 60 s lease lapses (one slow poll of slack).
    assert!(
        std::time::SystemTime::now() < deadline + Duration::from_secs(1),
        "gave up at the deadline"
    );
    // A lambda_http request carries its deadline in its Lambda context.
    let mut request = http::Request::new(());
    let mut context = lambda_http::Context::default();
    context.deadline = 1_800_000_000_000;
    request.extensions_mut().insert(context);
    use cognito_session::CookieSource;
    assert_eq!(
        request.deadline(),
        Some(std::time::UNIX_EPOCH + Duration::from_millis(1_800_000_000_000))
    );
}

/// Writes a lease on `sub`'s row as another request (`holder`) would, ending `millis` from now.
async fn hold_lease(s: &crate::Setup, sub: &str, holder: &str, millis: u64) {
    let until = testkit::now() * 1000 + millis;
    s.pool
        .dynamodb
        .update_item()
        .table_name(&s.pool.table)
        .key("sub", AttributeValue::S(sub.into()))
        // As a request taking the lease does: the lease's version too.
        .update_expression("SET lease_id = :id, lease_until = :until, version = :version")
        .expression_attribute_values(":id", AttributeValue::S(holder.into()))
        .expression_attribute_values(":version", AttributeValue::S(format!("lease.{holder}")))
        .expression_attribute_values(":until", AttributeValue::N(until.to_string()))
        .send()
        .await
        .unwrap();
}
