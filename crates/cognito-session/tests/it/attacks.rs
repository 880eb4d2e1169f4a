//! Tokens that must be refused, and must cause no refresh and no write.

use aws_sdk_cognitoidentityprovider::types::AuthFlowType;
use aws_sdk_cognitoidentityprovider::types::ExplicitAuthFlowsType;
use cognito_session::verify::{ClaimsRejected, HeaderRejected, Rejected};
use cognito_session::{Error, Unauthorized};
use serde_json::json;
use testkit::{Minter, MOTO_KID};

use crate::{cookies, minter, setup, Setup};

fn assert_refused(error: &Error, expected: &Rejected) {
    match error {
        Error::Unauthorized(Unauthorized::InvalidToken(reason)) => assert_eq!(reason, expected),
        other => panic!("expected a 401 for {expected}, got {other}"),
    }
}

/// Neither a refresh nor any DynamoDB access happened.
fn assert_no_side_effects(s: &Setup) {
    let calls = s.calls.all();
    assert!(calls.is_empty(), "a refused token caused calls: {calls:?}");
}

#[tokio::test]
async fn a_token_signed_by_another_key_is_refused() {
    let s = setup().await;
    let (_, login) = s.logged_in("mallory-victim").await;
    let claims = testkit::peek(login.access_token().unwrap());
    s.calls.reset();
    let wrong_key = Minter::random().access(&claims);
    let error = s
        .sessions
        .session("token", &cookies(&wrong_key))
        .await
        .unwrap_err();
    assert_refused(&error, &Rejected::Signature);
    let mut expired = claims.clone();
    expired["iat"] = (testkit::now() - 7200).into();
    expired["exp"] = (testkit::now() - 3600).into();
    let error = s
        .sessions
        .session("token", &cookies(&Minter::random().access(&expired)))
        .await
        .unwrap_err();
    assert_refused(&error, &Rejected::Signature);
    assert_no_side_effects(&s);
}

#[tokio::test]
async fn the_seeds_takeover_with_an_unsigned_token_is_refused() {
    let s = setup().await;
    let (sub, login) = s.logged_in("victim").await;
    let mut claims = testkit::peek(login.access_token().unwrap());
    claims["exp"] = (testkit::now() - 10).into();
    s.calls.reset();
    let forged = testkit::unsigned(&claims);
    let error = s
        .sessions
        .session("token", &cookies(&forged))
        .await
        .unwrap_err();
    assert_refused(
        &error,
        &Rejected::Header(HeaderRejected::Algorithm("none".into())),
    );
    // Same with an attacker-chosen HS256 "signature".
    let payload = forged.split('.').nth(1).unwrap();
    let hs = format!(
        "{}.{payload}.c2lnbmF0dXJl",
        base64_json(&json!({"alg": "HS256", "kid": MOTO_KID}))
    );
    let error = s
        .sessions
        .session("token", &cookies(&hs))
        .await
        .unwrap_err();
    assert_refused(
        &error,
        &Rejected::Header(HeaderRejected::Algorithm("HS256".into())),
    );
    assert_no_side_effects(&s);
    assert!(s.pool.row(&sub).await.is_some());
}

fn base64_json(value: &serde_json::Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
}

#[tokio::test]
async fn an_id_token_is_refused() {
    let s = setup().await;
    let (_, login) = s.logged_in("idtok").await;
    s.calls.reset();
    let error = s
        .sessions
        .session("token", &cookies(login.id_token().unwrap()))
        .await
        .unwrap_err();
    // An ID token has no client_id but an `aud`; its token_use gives it away first.
    assert_refused(
        &error,
        &Rejected::Claims(ClaimsRejected::TokenUse("id".into())),
    );
    assert_no_side_effects(&s);
}

#[tokio::test]
async fn another_app_clients_token_is_refused() {
    let s = setup().await;
    let sub = s.pool.user("twoclients").await;
    let other = s
        .pool
        .cognito
        .create_user_pool_client()
        .user_pool_id(&s.pool.pool_id)
        .client_name("other")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap();
    let login = s
        .pool
        .cognito
        .initiate_auth()
        .client_id(other.client_id().unwrap())
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "twoclients")
        .auth_parameters("PASSWORD", testkit::PASSWORD)
        .send()
        .await
        .unwrap()
        .authentication_result
        .unwrap();
    s.pool
        .put_seed_row(&sub, login.refresh_token().unwrap())
        .await;
    s.calls.reset();
    let token = login.access_token().unwrap();
    let error = s
        .sessions
        .session("token", &cookies(token))
        .await
        .unwrap_err();
    assert_refused(&error, &Rejected::Claims(ClaimsRejected::Client));
    let error = s
        .sessions
        .session("token", &cookies(&s.expired_copy(token)))
        .await
        .unwrap_err();
    assert_refused(&error, &Rejected::Claims(ClaimsRejected::Client));
    assert_no_side_effects(&s);
}

#[tokio::test]
async fn a_token_from_a_previous_login_is_refused_and_never_refreshed() {
    let s = setup().await;
    let (sub, first) = s.logged_in("replayed").await;
    let second = s.pool.login("replayed").await;
    s.sessions.start(&(&second).into()).await.unwrap();
    s.calls.reset();
    let old = first.access_token().unwrap();
    for token in [old.to_owned(), s.expired_copy(old)] {
        let error = s
            .sessions
            .session("token", &cookies(&token))
            .await
            .unwrap_err();
        assert_eq!(
            error.unauthorized(),
            Some(&Unauthorized::FamilyMismatch),
            "{error}"
        );
    }
    assert_eq!(s.calls.count("InitiateAuth"), 0);
    assert!(
        s.calls.all().iter().all(|c| c == "GetItem"),
        "{:?}",
        s.calls.all()
    );
    assert!(s.pool.row(&sub).await.is_some());
}

#[tokio::test]
async fn a_token_from_another_pool_is_refused() {
    let s = setup().await;
    let (_, login) = s.logged_in("pooled").await;
    let mut claims = testkit::peek(login.access_token().unwrap());
    claims["iss"] = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other".into();
    s.calls.reset();
    // moto signs every pool with the same key, so only the issuer check stands in the way.
    let error = s
        .sessions
        .session("token", &cookies(&minter().access(&claims)))
        .await
        .unwrap_err();
    assert_refused(&error, &Rejected::Claims(ClaimsRejected::Issuer));
    claims["iss"] = format!(
        "https://issuer.cognito-idp.us-east-1.amazonaws.com/{}",
        s.pool.pool_id
    )
    .into();
    let error = s
        .sessions
        .session("token", &cookies(&minter().access(&claims)))
        .await
        .unwrap_err();
    assert_refused(&error, &Rejected::Claims(ClaimsRejected::Issuer));
    assert_no_side_effects(&s);
}
