//! Configuration: the seed's three variables alone (pool learned from a verified token), and
//! the JWKS found on an emulator endpoint.

use cognito_jwt::{ClaimsRejected, Rejected};
use cognito_session::{Error, Sessions, Unauthorized};
use testkit::{Pool, PoolOptions};

use crate::{cookies, minter, setup};

/// Sessions configured only with the seed's variables (+ the SDK pointing at moto).
async fn seed_only(pool: &Pool) -> Sessions {
    Sessions::builder()
        .table(&pool.table)
        .partition_key(&pool.partition_key)
        .client_id(&pool.client_id)
        .sdk_config(pool.sdk.clone())
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_seeds_three_variables_suffice() {
    let s = setup().await;
    let other = Pool::new(PoolOptions::default()).await;
    let (sub, login) = s.logged_in("seedonly").await;
    let sessions = seed_only(&s.pool).await;

    // A non-Cognito issuer is refused before any fetch.
    let mut claims = testkit::peek(login.access_token().unwrap());
    claims["iss"] = "https://evil.example/us-east-1_AbC".into();
    let error = sessions
        .session("token", &cookies(&minter().access(&claims)))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Unauthorized(Unauthorized::InvalidToken(Rejected::Claims(
                ClaimsRejected::Issuer
            )))
        ),
        "{error}"
    );

    // A genuine token of another pool (another app client) verifies but is not ours: not learned.
    other.user("stranger").await;
    let foreign = other.login("stranger").await;
    let error = sessions
        .session("token", &cookies(foreign.access_token().unwrap()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Unauthorized(Unauthorized::InvalidToken(Rejected::Claims(
                ClaimsRejected::Client
            )))
        ),
        "{error}"
    );

    // Our pool's token is accepted and the pool is learned...
    let session = sessions
        .session("token", &cookies(login.access_token().unwrap()))
        .await
        .unwrap();
    assert_eq!(session.sub(), sub);
    // ...after which the other pool's tokens are refused by issuer.
    let error = sessions
        .session("token", &cookies(foreign.access_token().unwrap()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Unauthorized(Unauthorized::InvalidToken(Rejected::Claims(
                ClaimsRejected::Issuer
            )))
        ),
        "{error}"
    );

    // Refresh works too.
    let session = sessions
        .session(
            "token",
            &cookies(&s.expired_copy(login.access_token().unwrap())),
        )
        .await
        .unwrap();
    assert!(session.refreshed().is_some());
}

#[tokio::test]
async fn user_pool_id_and_an_emulator_endpoint_find_the_jwks() {
    let s = setup().await;
    let (_, login) = s.logged_in("emulated").await;
    let sessions = Sessions::builder()
        .table(&s.pool.table)
        .partition_key(&s.pool.partition_key)
        .client_id(&s.pool.client_id)
        .user_pool_id(&s.pool.pool_id)
        .sdk_config(s.pool.sdk.clone())
        .build()
        .await
        .unwrap();
    sessions
        .session("token", &cookies(login.access_token().unwrap()))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_preloaded_jwks_needs_no_fetch() {
    let s = setup().await;
    let (_, login) = s.logged_in("preloaded").await;
    let jwks = serde_json::json!({"keys": [minter().jwk(testkit::MOTO_KID)]}).to_string();
    let (builder, _) = crate::builder(&s.pool);
    let sessions = builder
        .jwks(jwks)
        .jwks_url(format!("{}/nothing-here", crate::dead_endpoint()))
        .build()
        .await
        .unwrap();
    sessions
        .session("token", &cookies(login.access_token().unwrap()))
        .await
        .unwrap();
}
