//! 7. Both Cognito issuer types and multi-Region replication.
//!
//! moto writes only the original type into its tokens; tokens carrying the updated type (or a
//! replica Region) are moto's own tokens re-signed with moto's key. The emulator serves every
//! issuer's JWKS from `<endpoint>/<pool>/.well-known/jwks.json`, so each issuer's own key cache
//! shows as one more fetch through the counting proxy.

use cognito_jwt::{ClaimsRejected, KeyRejected, Rejected};
use cognito_session::{Error, Sessions, Unauthorized};
use testkit::{Fault, Proxy, Rule};

use crate::{cookies, minter, setup, Setup};

/// Sessions with `USER_POOL_ID` (and `COGNITO_REPLICA_REGIONS` = `replicas`), no JWKS URL: the
/// keys come from the emulator endpoint, a counting proxy in front of moto.
async fn with_pool_id(s: &Setup, replicas: &[&str]) -> (Sessions, Proxy) {
    let proxy = Proxy::start(&s.pool.moto.url).await;
    let sessions = Sessions::builder()
        .table(&s.pool.table)
        .partition_key(&s.pool.partition_key)
        .client_id(&s.pool.client_id)
        .user_pool_id(&s.pool.pool_id)
        .replica_regions(replicas.iter().copied())
        .sdk_config(testkit::sdk_config(&proxy.url).await)
        .build()
        .await
        .unwrap();
    (sessions, proxy)
}

/// `token` with `iss` = `https://<host>.<region>.amazonaws.com/<pool>` (and `jti` tagged, so
/// each copy is a distinct token), signed with moto's key.
fn issued_by(s: &Setup, token: &str, host: &str, region: &str, tag: &str) -> String {
    let mut claims = testkit::peek(token);
    claims["iss"] = format!("https://{host}.{region}.amazonaws.com/{}", s.pool.pool_id).into();
    claims["jti"] = format!("{}-{tag}", claims["jti"].as_str().unwrap_or_default()).into();
    minter().access(&claims)
}

fn refused_by_issuer(error: &Error) -> bool {
    matches!(
        error,
        Error::Unauthorized(Unauthorized::InvalidToken(Rejected::Claims(
            ClaimsRejected::Issuer
        )))
    )
}

#[tokio::test]
async fn both_issuer_types_of_the_pool_are_accepted_with_user_pool_id() {
    let s = setup().await;
    let (sub, login) = s.logged_in("twotypes").await;
    let token = login.access_token().unwrap();
    let (sessions, proxy) = with_pool_id(&s, &[]).await;
    let original = issued_by(&s, token, "cognito-idp", "us-east-1", "o");
    let updated = issued_by(&s, token, "issuer-cognito-idp", "us-east-1", "u");
    for (what, token) in [("original", &original), ("updated", &updated)] {
        let session = sessions
            .session("token", &cookies(token))
            .await
            .unwrap_or_else(|e| panic!("{what}-type issuer refused: {e}"));
        assert_eq!(session.sub(), sub);
    }
    // Each issuer has its own key cache, filled by its first token.
    assert_eq!(proxy.count("GET"), 2);
    // The updated type never names another Region than the pool's.
    let elsewhere = issued_by(&s, token, "issuer-cognito-idp", "eu-west-1", "x");
    assert!(refused_by_issuer(
        &sessions
            .session("token", &cookies(&elsewhere))
            .await
            .unwrap_err()
    ));
    // An expired token of the updated type refreshes like any other.
    let mut claims = testkit::peek(&updated);
    let iat = testkit::now() - 7200;
    claims["iat"] = iat.into();
    claims["exp"] = (iat + 3600).into();
    let session = sessions
        .session("token", &cookies(&minter().access(&claims)))
        .await
        .unwrap();
    assert!(session.refreshed().is_some());
}

#[tokio::test]
async fn original_type_tokens_never_fetch_the_updated_issuers_jwks() {
    let s = setup().await;
    let (_, login) = s.logged_in("originalonly").await;
    let token = login.access_token().unwrap();
    let (sessions, proxy) = with_pool_id(&s, &[]).await;
    for i in 0..5 {
        let original = issued_by(&s, token, "cognito-idp", "us-east-1", &i.to_string());
        sessions
            .session("token", &cookies(&original))
            .await
            .unwrap();
    }
    assert_eq!(proxy.count("GET"), 1, "only the original issuer's JWKS");

    // For a pool on the original issuer the updated issuer's JWKS answers 403: a token naming
    // it is a 401 (not a configuration error), asked once per refetch interval.
    proxy.inject(Rule::on("GET", Fault::Status(403)).times(1));
    for i in 0..3 {
        let updated = issued_by(&s, token, "issuer-cognito-idp", "us-east-1", &i.to_string());
        let error = sessions
            .session("token", &cookies(&updated))
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
    assert_eq!(proxy.count("GET"), 2);
    // The pool's own tokens are untouched by it.
    let original = issued_by(&s, token, "cognito-idp", "us-east-1", "after");
    sessions
        .session("token", &cookies(&original))
        .await
        .unwrap();
    assert_eq!(proxy.count("GET"), 2);
}

#[tokio::test]
async fn a_replica_region_is_accepted_only_when_listed_in_cognito_replica_regions() {
    let s = setup().await;
    let (sub, login) = s.logged_in("replicated").await;
    let token = login.access_token().unwrap();
    let replica = issued_by(&s, token, "cognito-idp", "eu-west-1", "r");

    let (unlisted, _) = with_pool_id(&s, &[]).await;
    assert!(refused_by_issuer(
        &unlisted
            .session("token", &cookies(&replica))
            .await
            .unwrap_err()
    ));

    let (listed, _) = with_pool_id(&s, &["eu-west-1"]).await;
    let session = listed.session("token", &cookies(&replica)).await.unwrap();
    assert_eq!(session.sub(), sub);
    for (host, region) in [
        ("cognito-idp", "eu-central-1"),
        ("issuer-cognito-idp", "eu-west-1"),
    ] {
        let other = issued_by(&s, token, host, region, "x");
        assert!(
            refused_by_issuer(&listed.session("token", &cookies(&other)).await.unwrap_err()),
            "{host}.{region}"
        );
    }

    // The variable is validated, naming it.
    for bad in ["eu west 1", "EU-WEST-1", "https://eu-west-1"] {
        let error = Sessions::builder()
            .table(&s.pool.table)
            .partition_key(&s.pool.partition_key)
            .client_id(&s.pool.client_id)
            .user_pool_id(&s.pool.pool_id)
            .replica_regions([bad])
            .sdk_config(s.pool.sdk.clone())
            .build()
            .await
            .unwrap_err();
        assert!(
            matches!(error, Error::Config { .. })
                && error.to_string().contains("COGNITO_REPLICA_REGIONS"),
            "{bad}: {error}"
        );
    }
}

#[tokio::test]
async fn pool_learning_accepts_both_issuer_types() {
    let s = setup().await;
    let (sub, login) = s.logged_in("learnupdated").await;
    let token = login.access_token().unwrap();
    let sessions = Sessions::builder()
        .table(&s.pool.table)
        .partition_key(&s.pool.partition_key)
        .client_id(&s.pool.client_id)
        .sdk_config(s.pool.sdk.clone())
        .build()
        .await
        .unwrap();
    let updated = issued_by(&s, token, "issuer-cognito-idp", "us-east-1", "u");
    let session = sessions.session("token", &cookies(&updated)).await.unwrap();
    assert_eq!(session.sub(), sub);
    // Learned from an updated-type token, the pool's original type is accepted too.
    let original = issued_by(&s, token, "cognito-idp", "us-east-1", "o");
    sessions
        .session("token", &cookies(&original))
        .await
        .unwrap();
    let replica = issued_by(&s, token, "cognito-idp", "eu-west-1", "r");
    assert!(refused_by_issuer(
        &sessions
            .session("token", &cookies(&replica))
            .await
            .unwrap_err()
    ));
}
