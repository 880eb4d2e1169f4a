//! 9. Claims a verifier must refuse: a present claim must have its type.

use cognito_jwt::{ClaimsRejected, Rejected};
use cognito_session::{Error, Sessions, Unauthorized};
use serde_json::json;

use crate::{cookies, minter, setup};

#[tokio::test]
async fn a_present_claim_of_the_wrong_type_is_refused_through_the_whole_pipeline() {
    let s = setup().await;
    let (_, login) = s.logged_in("typed").await;
    let good = testkit::peek(login.access_token().unwrap());
    s.calls.reset();
    for (claim, value) in [
        ("jti", json!(null)),
        ("scope", json!(null)),
        ("nbf", json!(null)),
        ("aud", json!(null)),
        ("aud", json!(1)),
        ("aud", json!({"c": 1})),
        ("aud", json!(["c", 1])),
        ("aud", json!(true)),
        ("auth_time", json!(null)),
        ("username", json!(null)),
        ("cognito:groups", json!(null)),
        ("cognito:groups", json!("admin")),
        ("scope", json!(["aws.cognito.signin.user.admin"])),
    ] {
        let mut claims = good.clone();
        claims[claim] = value.clone();
        let error = s.refused(&minter().access(&claims)).await;
        match &error {
            Error::Unauthorized(Unauthorized::InvalidToken(Rejected::Claims(
                ClaimsRejected::Malformed(message),
            ))) => assert!(
                message.contains(&format!("`{claim}`")),
                "{claim}: {message}"
            ),
            other => panic!("{claim} = {value}: expected a malformed-claims 401, got {other}"),
        }
    }
    assert!(s.calls.all().is_empty(), "{:?}", s.calls.all());
    // The types that are right still pass.
    for aud in [json!("some-client"), json!(["a", "b"])] {
        let mut claims = good.clone();
        claims["aud"] = aud;
        s.sessions
            .session("token", &cookies(&minter().access(&claims)))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn plain_http_jwks_url_and_issuer_are_accepted_for_loopback_hosts_only() {
    let s = setup().await;
    let build = |name: &'static str, url: String| {
        let builder = Sessions::builder()
            .table(&s.pool.table)
            .partition_key(&s.pool.partition_key)
            .client_id(&s.pool.client_id)
            .sdk_config(s.pool.sdk.clone());
        let builder = match name {
            "COGNITO_JWKS_URL" => builder.user_pool_id(&s.pool.pool_id).jwks_url(url),
            _ => builder.issuer(url),
        };
        async move { builder.build().await }
    };
    for (name, url) in [
        (
            "COGNITO_JWKS_URL",
            "http://jwks.example/keys.json".to_owned(),
        ),
        (
            "COGNITO_JWKS_URL",
            "http://127.0.0.1.nip.example/keys.json".to_owned(),
        ),
        (
            "COGNITO_JWKS_URL",
            "http://192.168.1.10/keys.json".to_owned(),
        ),
        (
            "COGNITO_ISSUER",
            s.pool.issuer().replace("https://", "http://"),
        ),
    ] {
        let error = build(name, url.clone()).await.unwrap_err();
        assert!(
            matches!(error, Error::Config { .. }) && error.to_string().contains(name),
            "{name}={url}: {error}"
        );
    }
    for (name, url) in [
        ("COGNITO_JWKS_URL", s.pool.jwks_url()),
        (
            "COGNITO_JWKS_URL",
            "http://localhost:1/keys.json".to_owned(),
        ),
        ("COGNITO_JWKS_URL", "http://[::1]:1/keys.json".to_owned()),
        (
            "COGNITO_ISSUER",
            "http://127.0.0.1:1/us-east-1_AbC".to_owned(),
        ),
        ("COGNITO_ISSUER", s.pool.issuer()),
    ] {
        build(name, url.clone())
            .await
            .unwrap_or_else(|e| panic!("{name}={url}: {e}"));
    }
}
