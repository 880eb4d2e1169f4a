//! The verified-token cache and the JWKS fetch bound: a cached token is accepted only as the
//! exact bytes that verified, only while current, only while its key is in the JWKS, and never
//! instead of the session row.

use std::error::Error as _;
use std::time::{Duration, SystemTime};

use cognito_jwt::{KeyRejected, Rejected};
use cognito_session::{Error, SessionValidation, Sessions, Unauthorized};
use serde_json::json;
use testkit::{JwksServer, Minter};

use crate::{cookies, dead_endpoint, setup};

const POOL: &str = "us-east-1_Cache";
const CLIENT: &str = "cacheclient";

/// Token-mode sessions with keys from `jwks_url`, no AWS behind them, refetch allowed at once.
async fn local(jwks_url: &str, jwks_timeout: Duration) -> Sessions {
    let dead = testkit::sdk_config(&dead_endpoint()).await;
    Sessions::builder()
        .client_id(CLIENT)
        .user_pool_id(POOL)
        .jwks_url(jwks_url)
        .jwks_refetch_interval(Duration::ZERO)
        .jwks_timeout(jwks_timeout)
        .validation(SessionValidation::Token)
        .store(cognito_session::store::MemoryStore::default())
        .cognito_client(aws_sdk_cognitoidentityprovider::Client::new(&dead))
        .build()
        .await
        .unwrap()
}

fn token(key: &Minter, kid: &str, sub: &str) -> String {
    let issuer = format!("https://cognito-idp.us-east-1.amazonaws.com/{POOL}");
    let claims = testkit::access_claims(&issuer, CLIENT, sub, "alice", "fam", testkit::now());
    key.sign(&json!({"alg": "RS256", "kid": kid}), &claims)
}

fn refused_with(error: &Error) -> &Rejected {
    match error {
        Error::Unauthorized(Unauthorized::InvalidToken(reason)) => reason,
        other => panic!("expected a refused token, got {other}"),
    }
}

#[tokio::test]
async fn a_cached_token_dies_with_its_key() {
    let (old, new) = (Minter::random(), Minter::random());
    let server = JwksServer::start(&json!({"keys": [old.jwk("old")]})).await;
    let sessions = local(&server.url, Duration::from_secs(2)).await;
    let cached = token(&old, "old", "sub-old");
    for _ in 0..3 {
        sessions.session_for_token(&cached).await.unwrap();
    }
    assert_eq!(server.hits(), 1);
    // The pool retires the old key. A token under the new kid makes us refetch...
    server.serve(200, &json!({"keys": [new.jwk("new")]}).to_string());
    sessions
        .session_for_token(&token(&new, "new", "sub-new"))
        .await
        .unwrap();
    assert_eq!(server.hits(), 2);
    // ...and the token signed by the retired key is no longer accepted, cached or not.
    let error = sessions.session_for_token(&cached).await.unwrap_err();
    assert_eq!(
        refused_with(&error),
        &Rejected::Key(KeyRejected::UnknownKid)
    );
}

#[tokio::test]
async fn a_key_that_changes_under_the_same_kid_drops_its_tokens() {
    let (first, second) = (Minter::random(), Minter::random());
    let server = JwksServer::start(&json!({"keys": [first.jwk("k")]})).await;
    let sessions = local(&server.url, Duration::from_secs(2)).await;
    let cached = token(&first, "k", "sub-1");
    sessions.session_for_token(&cached).await.unwrap();
    server.serve(
        200,
        &json!({"keys": [second.jwk("k"), second.jwk("other")]}).to_string(),
    );
    sessions
        .session_for_token(&token(&second, "other", "sub-2"))
        .await
        .unwrap();
    let error = sessions.session_for_token(&cached).await.unwrap_err();
    assert_eq!(refused_with(&error), &Rejected::Signature);
}

#[tokio::test]
async fn only_the_exact_bytes_that_verified_hit_the_cache() {
    let key = Minter::random();
    let server = JwksServer::start(&json!({"keys": [key.jwk("k")]})).await;
    let sessions = local(&server.url, Duration::from_secs(2)).await;
    let good = token(&key, "k", "sub-1");
    sessions.session_for_token(&good).await.unwrap();
    let (input, signature) = good.rsplit_once('.').unwrap();
    // Another signature over the same input.
    let flipped = if signature.ends_with('A') { 'Q' } else { 'A' };
    let tampered = format!("{input}.{}{flipped}", &signature[..signature.len() - 1]);
    let error = sessions.session_for_token(&tampered).await.unwrap_err();
    assert_eq!(refused_with(&error), &Rejected::Signature);
    // The same signature over other claims.
    let (header, _) = input.split_once('.').unwrap();
    let other_claims = token(&key, "k", "sub-2");
    let payload = other_claims.split('.').nth(1).unwrap();
    let spliced = format!("{header}.{payload}.{signature}");
    let error = sessions.session_for_token(&spliced).await.unwrap_err();
    assert_eq!(refused_with(&error), &Rejected::Signature);
    // And the genuine token still passes.
    sessions.session_for_token(&good).await.unwrap();
}

#[tokio::test]
async fn a_cached_token_does_not_outlive_a_logout() {
    let s = setup().await;
    let (_, login) = s.logged_in("cache-logout").await;
    let token = login.access_token().unwrap();
    s.sessions.session("token", &cookies(token)).await.unwrap();
    s.sessions.end("token", &cookies(token)).await.unwrap();
    let error = s.refused(token).await;
    assert_eq!(error.status(), 401, "{error}");
}

#[tokio::test]
async fn a_deadline_cuts_a_hanging_jwks_fetch_short() {
    // A JWKS endpoint that accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let _hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            open.push(stream);
        }
    });
    let sessions = local(&url, Duration::from_secs(60)).await;
    let key = Minter::random();
    let headers = cookies(&token(&key, "k", "sub-1"));
    let deadline = SystemTime::now() + Duration::from_millis(600);
    let answer = tokio::time::timeout(
        Duration::from_secs(30),
        sessions.session_with_deadline("token", &headers, deadline),
    )
    .await
    .expect("the deadline, not the 60 s JWKS timeout, ends the fetch");
    let error = answer.unwrap_err();
    assert_eq!(error.status(), 503, "{error}");
    let source = error.source().map(ToString::to_string).unwrap_or_default();
    assert!(
        source.contains("did not answer before the request's deadline"),
        "{source}"
    );
}
