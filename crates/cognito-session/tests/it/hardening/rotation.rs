//! 6. Refresh-token rotation: reuse ends the session, a lost commit does not.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use cognito_session::{Service, Unauthorized};
use testkit::{Fault, Rule};

use super::refusals::{builder_via, with_fake};
use crate::capture::Capture;
use crate::{cookies, setup};

/// The row update that records a refresh sets `refreshed_at` (`#ra = :ra`).
const COMMIT: &str = "#ra = :ra";

fn stored_token(row: &std::collections::HashMap<String, AttributeValue>) -> String {
    row["token"].as_s().unwrap().clone()
}

#[tokio::test]
async fn refresh_token_reuse_ends_the_session_as_possible_theft() {
    let (logs, _guard) = Capture::start();
    let s = setup().await;
    let (fake, proxy) = with_fake(&s, Duration::ZERO, |f| f).await;
    let (sub, login) = s.logged_in("reused").await;
    let original = login.refresh_token().unwrap().to_owned();
    fake.register(&original, login.access_token().unwrap());
    let metrics = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = metrics.clone();
    let sessions = builder_via(&s, &proxy.url)
        .await
        .refresh_token_rotation(true)
        .metrics_sink(move |line| sink.lock().unwrap().push(line.to_owned()))
        .build()
        .await
        .unwrap();
    let expired = s.expired_copy(login.access_token().unwrap());
    sessions.session("token", &cookies(&expired)).await.unwrap();
    // A stolen copy of the rotated-out token is replayed into the row.
    s.pool.put_seed_row(&sub, &original).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let error = s_refused(&sessions, &expired).await;
    assert_eq!(
        error.unauthorized(),
        Some(&Unauthorized::Revoked),
        "{error}"
    );
    assert!(s.pool.row(&sub).await.is_none(), "the row is deleted");
    let warnings = logs.lines("WARN");
    assert!(
        warnings
            .iter()
            .any(|l| l.contains("possible token theft") && l.contains(&sub)),
        "a warning names possible token theft: {warnings:#?}"
    );
    // Its own metric (the template's alarm watches it), and the session's end by reuse.
    let last: serde_json::Value =
        serde_json::from_str(metrics.lock().unwrap().last().expect("an EMF line")).unwrap();
    assert_eq!(last["RefreshTokenReuse"], 1.0, "{last}");
    assert_eq!(last["SessionEnded"], 1.0, "{last}");
    assert_eq!(last["reason"], "reuse", "{last}");
}

async fn s_refused(sessions: &cognito_session::Sessions, token: &str) -> cognito_session::Error {
    sessions
        .session("token", &cookies(token))
        .await
        .expect_err("the request is refused")
}

#[tokio::test]
async fn a_failed_commit_after_rotation_does_not_lose_the_new_refresh_token() {
    // Grace period 0: the old refresh token dies the moment Cognito rotates it.
    let s = setup().await;
    let (fake, proxy) = with_fake(&s, Duration::ZERO, |f| f).await;
    let (sub, login) = s.logged_in("lost-commit").await;
    let original = login.refresh_token().unwrap().to_owned();
    fake.register(&original, login.access_token().unwrap());
    let sessions = builder_via(&s, &proxy.url)
        .await
        .refresh_token_rotation(true)
        .build()
        .await
        .unwrap();
    let expired = s.expired_copy(login.access_token().unwrap());
    // DynamoDB fails every attempt to record the refresh.
    proxy.inject(Rule::on("UpdateItem", Fault::Status(503)).body_contains(COMMIT));
    let error = s_refused(&sessions, &expired).await;
    match &error {
        cognito_session::Error::Unavailable { service, .. } => {
            assert_eq!(*service, Service::DynamoDb, "{error}")
        }
        other => panic!("expected 503, got {other}"),
    }
    assert_eq!(proxy.count("GetTokensFromRefreshToken"), 1);
    let row = s.pool.row(&sub).await.expect("the row is kept");
    assert_eq!(
        stored_token(&row),
        original,
        "the row still holds the old token"
    );
    assert!(!row.contains_key("lease_id"), "the lease was released");
    proxy.heal();
    // The retry finishes with the rotated token, not the dead one.
    let session = sessions.session("token", &cookies(&expired)).await.unwrap();
    let tokens = session.refreshed().expect("refreshed");
    assert_eq!(proxy.count("GetTokensFromRefreshToken"), 2);
    let stored = stored_token(&s.pool.row(&sub).await.unwrap());
    assert!(stored.starts_with("rotated-2-"), "{stored}");
    sessions
        .session("token", &cookies(&tokens.access_token))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_lost_commit_answer_after_rotation_keeps_the_session() {
    let s = setup().await;
    let (fake, proxy) = with_fake(&s, Duration::ZERO, |f| f).await;
    let (sub, login) = s.logged_in("lost-commit-answer").await;
    fake.register(
        login.refresh_token().unwrap(),
        login.access_token().unwrap(),
    );
    let sessions = builder_via(&s, &proxy.url)
        .await
        .refresh_token_rotation(true)
        .build()
        .await
        .unwrap();
    let expired = s.expired_copy(login.access_token().unwrap());
    // The commit happens, its answer is lost; the SDK's retry then meets a changed row.
    proxy.inject(
        Rule::on("UpdateItem", Fault::LoseAnswer)
            .body_contains(COMMIT)
            .times(1),
    );
    let session = sessions
        .session("token", &cookies(&expired))
        .await
        .unwrap_or_else(|e| panic!("the session stands: {e}"));
    let tokens = session.refreshed().expect("refreshed");
    let stored = stored_token(&s.pool.row(&sub).await.unwrap());
    assert!(stored.starts_with("rotated-1-"), "{stored}");
    sessions
        .session("token", &cookies(&tokens.access_token))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_commit_after_a_lost_lease_still_stores_the_rotated_token() {
    let s = setup().await;
    let (fake, proxy) = with_fake(&s, Duration::ZERO, |f| f).await;
    let (sub, login) = s.logged_in("lost-lease").await;
    fake.register(
        login.refresh_token().unwrap(),
        login.access_token().unwrap(),
    );
    let sessions = builder_via(&s, &proxy.url)
        .await
        .refresh_token_rotation(true)
        .refresh_lease(Duration::from_millis(500))
        .build()
        .await
        .unwrap();
    let expired = s.expired_copy(login.access_token().unwrap());
    // Cognito answers after our lease lapsed, and another request took the lease meanwhile.
    proxy.inject(
        Rule::on(
            "GetTokensFromRefreshToken",
            Fault::Latency(Duration::from_millis(1500)),
        )
        .times(1),
    );
    let headers = cookies(&expired);
    let refresh = sessions.session("token", &headers);
    let other = async {
        tokio::time::sleep(Duration::from_millis(900)).await;
        let until = testkit::now() * 1000 + 60_000;
        s.pool
            .dynamodb
            .update_item()
            .table_name(&s.pool.table)
            .key("sub", AttributeValue::S(sub.clone()))
            // As a request taking the lease does: the lease's version too.
            .update_expression("SET lease_id = :id, lease_until = :until, version = :version")
            .expression_attribute_values(":id", AttributeValue::S("another-request".into()))
            .expression_attribute_values(
                ":version",
                AttributeValue::S("lease.another-request".into()),
            )
            .expression_attribute_values(":until", AttributeValue::N(until.to_string()))
            .send()
            .await
            .unwrap();
    };
    let (result, ()) = tokio::join!(refresh, other);
    let tokens = result
        .unwrap_or_else(|e| panic!("the session stands: {e}"))
        .refreshed()
        .cloned()
        .expect("refreshed");
    let row = s.pool.row(&sub).await.unwrap();
    assert!(
        stored_token(&row).starts_with("rotated-1-"),
        "the new token is stored"
    );
    assert!(!row.contains_key("lease_id"), "the stale lease is gone");
    sessions
        .session("token", &cookies(&tokens.access_token))
        .await
        .unwrap();
}
