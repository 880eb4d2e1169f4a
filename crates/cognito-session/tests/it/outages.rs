//! Outages are 503 and change nothing; a missing table is a configuration error, never a 401.

use std::time::Duration;

use cognito_session::{Error, Service, Sessions};
use testkit::Pool;

use crate::{cookies, dead_endpoint, setup};

fn assert_unavailable(error: &Error, expected: Service) {
    match error {
        Error::Unavailable { service, .. } => assert_eq!(*service, expected, "{error}"),
        other => panic!("expected 503 from {expected}, got {other}"),
    }
    assert_eq!(error.status(), 503);
    assert!(!error.clears_cookie(), "a 503 must not clear the cookie");
}

/// `Sessions` for `pool` whose DynamoDB and/or Cognito client points at a dead port.
async fn with_dead(pool: &Pool, dead_dynamodb: bool, dead_cognito: bool) -> Sessions {
    let dead = testkit::sdk_config(&dead_endpoint()).await;
    let pick = |dead_one: bool| if dead_one { &dead } else { &pool.sdk };
    Sessions::builder()
        .table(&pool.table)
        .partition_key(&pool.partition_key)
        .client_id(&pool.client_id)
        .user_pool_id(&pool.pool_id)
        .jwks_url(pool.jwks_url())
        .operation_timeout(Duration::from_secs(2))
        .cognito_client(aws_sdk_cognitoidentityprovider::Client::new(pick(
            dead_cognito,
        )))
        .dynamodb_client(aws_sdk_dynamodb::Client::new(pick(dead_dynamodb)))
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn dynamodb_unreachable_is_503() {
    let s = setup().await;
    let (sub, login) = s.logged_in("outage-ddb").await;
    let sessions = with_dead(&s.pool, true, false).await;
    let token = login.access_token().unwrap();
    let error = sessions
        .session("token", &cookies(token))
        .await
        .unwrap_err();
    assert_unavailable(&error, Service::DynamoDb);
    let error = sessions
        .session("token", &cookies(&s.expired_copy(token)))
        .await
        .unwrap_err();
    assert_unavailable(&error, Service::DynamoDb);
    let error = sessions.end("token", &cookies(token)).await.unwrap_err();
    assert_unavailable(&error, Service::DynamoDb);
    assert!(s.pool.row(&sub).await.is_some());
}

#[tokio::test]
async fn cognito_unreachable_is_503_and_keeps_the_row() {
    let s = setup().await;
    let (sub, login) = s.logged_in("outage-cognito").await;
    let before = s.pool.row(&sub).await.unwrap();
    let sessions = with_dead(&s.pool, false, true).await;
    let token = login.access_token().unwrap();
    // A valid token needs no Cognito at all.
    sessions.session("token", &cookies(token)).await.unwrap();
    let error = sessions
        .session("token", &cookies(&s.expired_copy(token)))
        .await
        .unwrap_err();
    assert_unavailable(&error, Service::Cognito);
    assert_eq!(
        s.pool.row(&sub).await.unwrap(),
        before,
        "the row is untouched"
    );
    // Once Cognito is back, the same expired token refreshes.
    let session = s
        .sessions
        .session("token", &cookies(&s.expired_copy(token)))
        .await
        .unwrap();
    assert!(session.refreshed().is_some());
}

#[tokio::test]
async fn a_deleted_user_answers_500_in_moto_which_is_503_and_keeps_the_row() {
    let s = setup().await;
    let (sub, login) = s.logged_in("deleted").await;
    s.pool
        .cognito
        .admin_delete_user()
        .user_pool_id(&s.pool.pool_id)
        .username("deleted")
        .send()
        .await
        .unwrap();
    let error = s
        .refused(&s.expired_copy(login.access_token().unwrap()))
        .await;
    assert_unavailable(&error, Service::Cognito);
    assert!(s.pool.row(&sub).await.is_some());
}

#[tokio::test]
async fn jwks_unreachable_is_503() {
    let s = setup().await;
    let (_, login) = s.logged_in("outage-jwks").await;
    let (builder, _) = crate::builder(&s.pool);
    let sessions = builder
        .jwks_url(format!("{}/jwks.json", dead_endpoint()))
        .build()
        .await
        .unwrap();
    let error = sessions
        .session("token", &cookies(login.access_token().unwrap()))
        .await
        .unwrap_err();
    assert_unavailable(&error, Service::Jwks);
}

#[tokio::test]
async fn a_missing_table_is_a_configuration_error() {
    let s = setup().await;
    let (_, login) = s.logged_in("no-table").await;
    let (builder, _) = crate::builder(&s.pool);
    let sessions = builder.table("no-such-table").build().await.unwrap();
    let token = login.access_token().unwrap();
    for token in [token.to_owned(), s.expired_copy(token)] {
        let error = sessions
            .session("token", &cookies(&token))
            .await
            .unwrap_err();
        assert!(matches!(error, Error::Config { .. }), "{error}");
        assert_eq!(error.status(), 500);
        assert!(error.to_string().contains("no-such-table"), "{error}");
        assert!(error.to_string().contains("SESSION_TABLE"), "{error}");
        assert!(error.to_string().contains("Region us-east-1"), "{error}");
    }
}

#[tokio::test]
async fn a_wrong_partition_key_is_a_configuration_error() {
    let s = setup().await;
    let (_, login) = s.logged_in("wrong-key").await;
    let (builder, _) = crate::builder(&s.pool);
    let sessions = builder.partition_key("userId").build().await.unwrap();
    let error = sessions
        .session("token", &cookies(login.access_token().unwrap()))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Config { .. }), "{error}");
    assert!(error.to_string().contains("PARTITION_KEY"), "{error}");
}
