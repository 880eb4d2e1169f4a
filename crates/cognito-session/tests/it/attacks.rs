//! The attack list: every token here must be refused with a typed reason, cause no call to
//! Cognito or DynamoDB, and cost at most one rate-limited JWKS refetch.

use aws_sdk_cognitoidentityprovider::types::AuthFlowType;
use aws_sdk_cognitoidentityprovider::types::ExplicitAuthFlowsType;
use cognito_jwt::{ClaimsRejected, HeaderRejected, KeyRejected, Rejected};
use cognito_session::{Error, Unauthorized};
use serde_json::json;
use testkit::{Minter, MOTO_KID};

use crate::{minter, setup, Setup};

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
    let error = s.refused(&wrong_key).await;
    assert_refused(&error, &Rejected::Signature);
    let mut expired = claims.clone();
    expired["iat"] = (testkit::now() - 7200).into();
    expired["exp"] = (testkit::now() - 3600).into();
    let error = s.refused(&Minter::random().access(&expired)).await;
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
    let error = s.refused(&forged).await;
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
    let error = s.refused(&hs).await;
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
    let error = s.refused(login.id_token().unwrap()).await;
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
    let error = s.refused(token).await;
    assert_refused(&error, &Rejected::Claims(ClaimsRejected::Client));
    let error = s.refused(&s.expired_copy(token)).await;
    assert_refused(&error, &Rejected::Claims(ClaimsRejected::Client));
    assert_no_side_effects(&s);
}

#[tokio::test]
async fn a_token_from_a_previous_login_is_refused_and_never_refreshed() {
    let s = setup().await;
    let (sub, first) = s.logged_in("replayed").await;
    let second = s.pool.login("replayed").await;
    s.sessions.start(&(&second).into()).await.unwrap();
    let before = s.pool.row(&sub).await;
    s.calls.reset();
    let old = first.access_token().unwrap();
    for token in [old.to_owned(), s.expired_copy(old)] {
        let error = s.refused(&token).await;
        assert_eq!(
            error.unauthorized(),
            Some(&Unauthorized::FamilyMismatch),
            "{error}"
        );
    }
    assert_eq!(s.calls.count("InitiateAuth"), 0);
    // Reads only: the valid token's GetItem, and the expired one's guessed lease write, whose
    // condition fails (the row's version is the second login's) and which returns the row.
    assert_eq!(s.calls.all(), ["GetItem", "UpdateItem"]);
    assert!(before.is_some());
    assert_eq!(s.pool.row(&sub).await, before, "the row is unchanged");
}

#[tokio::test]
async fn a_token_from_another_pool_is_refused() {
    let s = setup().await;
    let (_, login) = s.logged_in("pooled").await;
    let mut claims = testkit::peek(login.access_token().unwrap());
    claims["iss"] = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other".into();
    s.calls.reset();
    // moto signs every pool with the same key, so only the issuer check stands in the way.
    let error = s.refused(&minter().access(&claims)).await;
    assert_refused(&error, &Rejected::Claims(ClaimsRejected::Issuer));
    claims["iss"] = format!(
        "https://issuer.cognito-idp.us-east-1.amazonaws.com/{}",
        s.pool.pool_id
    )
    .into();
    let error = s.refused(&minter().access(&claims)).await;
    assert_refused(&error, &Rejected::Claims(ClaimsRejected::Issuer));
    assert_no_side_effects(&s);
}

// ---- Algorithm confusion and header tricks -------------------------------------------------

fn hmac_token(claims: &serde_json::Value, alg: &str, secret: &[u8]) -> String {
    use aws_lc_rs::hmac;
    let input = format!(
        "{}.{}",
        base64_json(&json!({"alg": alg, "kid": MOTO_KID})),
        base64_json(claims)
    );
    let algorithm = match alg {
        "HS384" => hmac::HMAC_SHA384,
        "HS512" => hmac::HMAC_SHA512,
        _ => hmac::HMAC_SHA256,
    };
    let tag = hmac::sign(&hmac::Key::new(algorithm, secret), input.as_bytes());
    use base64::Engine;
    format!(
        "{input}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref())
    )
}

#[tokio::test]
async fn hmac_signed_with_the_public_key_is_refused() {
    let s = setup().await;
    let (_, login) = s.logged_in("confused").await;
    let claims = testkit::peek(login.access_token().unwrap());
    s.calls.reset();
    let jwk_bytes = minter().jwk(MOTO_KID).to_string();
    for secret in [minter().public_key_der(), jwk_bytes.into_bytes()] {
        for alg in ["HS256", "HS384", "HS512"] {
            let error = s.refused(&hmac_token(&claims, alg, &secret)).await;
            assert_refused(
                &error,
                &Rejected::Header(HeaderRejected::Algorithm(alg.into())),
            );
        }
    }
    assert_no_side_effects(&s);
}

#[tokio::test]
async fn only_rs256_is_accepted_whatever_the_signature() {
    let s = setup().await;
    let (_, login) = s.logged_in("algs").await;
    let claims = testkit::peek(login.access_token().unwrap());
    s.calls.reset();
    for alg in [
        "RS384", "RS512", "PS256", "ES256", "EdDSA", "none", "NONE", "rs256", "",
    ] {
        let token = minter().sign(&json!({"alg": alg, "kid": MOTO_KID}), &claims);
        let error = s.refused(&token).await;
        assert_refused(
            &error,
            &Rejected::Header(HeaderRejected::Algorithm(alg.into())),
        );
    }
    assert_no_side_effects(&s);
}

#[tokio::test]
async fn key_source_headers_are_never_followed_and_crit_is_refused() {
    let s = setup().await;
    let (_, login) = s.logged_in("jku").await;
    let claims = testkit::peek(login.access_token().unwrap());
    let lure = testkit::JwksServer::start(&json!({"keys": [Minter::random().jwk(MOTO_KID)]})).await;
    s.calls.reset();
    for (name, value) in [
        ("jku", json!(lure.url)),
        ("x5u", json!(lure.url)),
        ("x5c", json!(["MIIB"])),
        ("jwk", minter().jwk(MOTO_KID)),
    ] {
        let mut header = json!({"alg": "RS256", "kid": MOTO_KID});
        header[name] = value;
        let error = s.refused(&minter().sign(&header, &claims)).await;
        assert!(
            matches!(error, Error::Unauthorized(Unauthorized::InvalidToken(Rejected::Header(HeaderRejected::KeySource(n)))) if n == name),
            "{error}"
        );
    }
    assert_eq!(lure.hits(), 0, "a key URL in a token is never fetched");
    let token = minter().sign(
        &json!({"alg": "RS256", "kid": MOTO_KID, "crit": ["exp"], "exp": 1}),
        &claims,
    );
    let error = s.refused(&token).await;
    assert_refused(&error, &Rejected::Header(HeaderRejected::Critical));
    let token = minter().sign(&json!({"alg": "RS256"}), &claims);
    let error = s.refused(&token).await;
    assert_refused(&error, &Rejected::Header(HeaderRejected::MissingKid));
    assert_no_side_effects(&s);
}

// ---- The JWKS: unknown kids, unusable entries, rate limit -----------------------------------

const POOL: &str = "us-east-1_Attack";
const CLIENT: &str = "attackclient";

/// Token-mode sessions for pool `POOL`, keys from `jwks_url`, no AWS behind them.
async fn local_sessions(jwks_url: &str, refetch: std::time::Duration) -> cognito_session::Sessions {
    let dead = testkit::sdk_config(&crate::dead_endpoint()).await;
    cognito_session::Sessions::builder()
        .client_id(CLIENT)
        .user_pool_id(POOL)
        .jwks_url(jwks_url)
        .jwks_refetch_interval(refetch)
        .validation(cognito_session::SessionValidation::Token)
        .store(cognito_session::store::MemoryStore::default())
        .cognito_client(aws_sdk_cognitoidentityprovider::Client::new(&dead))
        .build()
        .await
        .unwrap()
}

fn local_token(key: &Minter, kid: &str) -> String {
    let issuer = format!("https://cognito-idp.us-east-1.amazonaws.com/{POOL}");
    let claims = testkit::access_claims(&issuer, CLIENT, "sub-1", "alice", "fam", testkit::now());
    key.sign(&json!({"alg": "RS256", "kid": kid}), &claims)
}

#[tokio::test]
async fn unknown_kids_cause_one_rate_limited_refetch() {
    let old = Minter::random();
    let new = Minter::random();
    let server = testkit::JwksServer::start(&json!({"keys": [old.jwk("old")]})).await;
    let sessions = local_sessions(&server.url, std::time::Duration::from_secs(600)).await;
    sessions
        .session_for_token(&local_token(&old, "old"))
        .await
        .unwrap();
    assert_eq!(server.hits(), 1);
    // A flood of unknown kids within the refetch interval: no refetch at all.
    for i in 0..50 {
        let error = sessions
            .session_for_token(&local_token(&new, &format!("bogus-{i}")))
            .await
            .unwrap_err();
        assert_refused(&error, &Rejected::Key(KeyRejected::UnknownKid));
    }
    assert_eq!(
        server.hits(),
        1,
        "unknown kids must not hammer the JWKS URL"
    );

    // Outside the interval (here: none), an unknown kid causes exactly one refetch, which finds
    // a rotated-in key.
    let eager = local_sessions(&server.url, std::time::Duration::ZERO).await;
    eager
        .session_for_token(&local_token(&old, "old"))
        .await
        .unwrap();
    assert_eq!(server.hits(), 2);
    server.serve(
        200,
        &json!({"keys": [old.jwk("old"), new.jwk("new")]}).to_string(),
    );
    eager
        .session_for_token(&local_token(&new, "new"))
        .await
        .unwrap();
    assert_eq!(server.hits(), 3, "one refetch for the new kid");
    let error = eager
        .session_for_token(&local_token(&new, "still-unknown"))
        .await
        .unwrap_err();
    assert_refused(&error, &Rejected::Key(KeyRejected::UnknownKid));
    assert_eq!(server.hits(), 4, "one refetch, no retry loop");
}

#[tokio::test]
async fn unusable_jwk_entries_are_refused() {
    let key = Minter::random();
    let mut ec = key.jwk("ec");
    ec["kty"] = json!("EC");
    let mut enc = key.jwk("enc");
    enc["use"] = json!("enc");
    let mut rs512 = key.jwk("rs512");
    rs512["alg"] = json!("RS512");
    let mut broken = key.jwk("broken");
    broken["n"] = json!("AQAB");
    let server = testkit::JwksServer::start(&json!({"keys": [ec, enc, rs512, broken]})).await;
    let sessions = local_sessions(&server.url, std::time::Duration::from_secs(60)).await;
    for (kid, why) in [
        ("ec", "kty is not RSA"),
        ("enc", "use is not sig"),
        ("rs512", "alg is not RS256"),
        ("broken", "the RSA modulus is not 2048 to 8192 bits"),
    ] {
        let error = sessions
            .session_for_token(&local_token(&key, kid))
            .await
            .unwrap_err();
        assert_refused(&error, &Rejected::Key(KeyRejected::Unusable(why)));
    }
    assert_eq!(server.hits(), 1);
}

// ---- Claims ---------------------------------------------------------------------------------

#[tokio::test]
async fn claims_that_are_not_a_session_for_this_client_are_refused() {
    let s = setup().await;
    let (_, login) = s.logged_in("claims").await;
    let good = testkit::peek(login.access_token().unwrap());
    let now = testkit::now();
    s.calls.reset();
    let cases: Vec<(&str, serde_json::Value, Rejected)> = vec![
        (
            "look-alike host",
            json!({"iss": format!("https://cognito-idp.us-east-1.amazonaws.com.evil.example/{}", s.pool.pool_id)}),
            ClaimsRejected::Issuer.into(),
        ),
        (
            "other issuer form",
            json!({"iss": format!("https://issuer.cognito-idp.us-east-1.amazonaws.com/{}", s.pool.pool_id)}),
            ClaimsRejected::Issuer.into(),
        ),
        (
            "plain http issuer",
            json!({"iss": format!("http://cognito-idp.us-east-1.amazonaws.com/{}", s.pool.pool_id)}),
            ClaimsRejected::Issuer.into(),
        ),
        (
            "other client",
            json!({"client_id": "someone-else"}),
            ClaimsRejected::Client.into(),
        ),
        (
            "id token use",
            json!({"token_use": "id"}),
            ClaimsRejected::TokenUse("id".into()).into(),
        ),
        (
            "refresh token use",
            json!({"token_use": "refresh"}),
            ClaimsRejected::TokenUse("refresh".into()).into(),
        ),
        (
            "no exp",
            json!({"exp": null}),
            ClaimsRejected::Missing("exp").into(),
        ),
        (
            "no iat",
            json!({"iat": null}),
            ClaimsRejected::Missing("iat").into(),
        ),
        (
            "absurd exp",
            json!({"exp": 99_999_999_999u64}),
            ClaimsRejected::ImplausibleTimes.into(),
        ),
        (
            "exp before iat",
            json!({"iat": now, "exp": now - 10}),
            ClaimsRejected::ImplausibleTimes.into(),
        ),
        (
            "iat in the future",
            json!({"iat": now + 600, "exp": now + 4200}),
            ClaimsRejected::IssuedInFuture.into(),
        ),
        (
            "nbf in the future",
            json!({"nbf": now + 600}),
            ClaimsRejected::NotYetValid.into(),
        ),
        (
            "expired beyond the refresh window",
            json!({"iat": now - 40 * 86400, "exp": now - 40 * 86400 + 3600}),
            ClaimsRejected::Expired.into(),
        ),
    ];
    for (what, patch, expected) in cases {
        let mut claims = good.clone();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        let error = s.refused(&minter().access(&claims)).await;
        match &error {
            Error::Unauthorized(Unauthorized::InvalidToken(reason)) => {
                assert_eq!(reason, &expected, "{what}")
            }
            other => panic!("{what}: expected 401, got {other}"),
        }
    }
    for (what, patch) in [
        ("string exp", json!({"exp": "99"})),
        ("float iat", json!({"iat": 1.5})),
        ("negative exp", json!({"exp": -1})),
        ("array sub", json!({"sub": ["a"]})),
    ] {
        let mut claims = good.clone();
        for (k, v) in patch.as_object().unwrap() {
            claims[k] = v.clone();
        }
        let error = s.refused(&minter().access(&claims)).await;
        assert!(
            matches!(
                error,
                Error::Unauthorized(Unauthorized::InvalidToken(Rejected::Claims(
                    ClaimsRejected::Malformed(_)
                )))
            ),
            "{what}: {error}"
        );
    }
    assert_no_side_effects(&s);
}

// ---- Malformed input ------------------------------------------------------------------------

#[tokio::test]
async fn malformed_tokens_and_oversized_input_are_refused() {
    use cognito_jwt::Malformed;
    let s = setup().await;
    let (_, login) = s.logged_in("malformed").await;
    let token = login.access_token().unwrap().to_owned();
    let claims = testkit::peek(&token);
    let payload = claims.to_string();
    let header = json!({"alg": "RS256", "kid": MOTO_KID}).to_string();
    s.calls.reset();

    let duplicate_sub = payload.replacen('{', "{\"sub\":\"someone-else\",", 1);
    let error = s.refused(&minter().sign_raw(&header, &duplicate_sub)).await;
    assert!(
        matches!(error, Error::Unauthorized(Unauthorized::InvalidToken(Rejected::Claims(ClaimsRejected::Malformed(ref m)))) if m.contains("duplicate")),
        "{error}"
    );
    let duplicate_alg = r#"{"alg":"none","alg":"RS256","kid":"dummy"}"#;
    let error = s.refused(&minter().sign_raw(duplicate_alg, &payload)).await;
    assert!(
        matches!(
            error,
            Error::Unauthorized(Unauthorized::InvalidToken(Rejected::Malformed(
                Malformed::HeaderJson(_)
            )))
        ),
        "{error}"
    );
    let trailing = format!("{payload}garbage");
    let error = s.refused(&minter().sign_raw(&header, &trailing)).await;
    assert!(
        matches!(
            error,
            Error::Unauthorized(Unauthorized::InvalidToken(Rejected::Claims(
                ClaimsRejected::Malformed(_)
            )))
        ),
        "{error}"
    );
    let error = s.refused(&format!("{token}garbage")).await;
    assert!(error.is_unauthorized(), "{error}");

    let parts: Vec<&str> = token.split('.').collect();
    for (bad, expected) in [
        (format!("{}.{}", parts[0], parts[1]), Malformed::Segments),
        (format!("{token}.{}", parts[2]), Malformed::Segments),
        (
            format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
            Malformed::Base64,
        ),
        (
            format!("{}.{}+.{}", parts[0], parts[1], parts[2]),
            Malformed::Base64,
        ),
        (
            format!("{}.{}.{}", parts[0], parts[1], "!!"),
            Malformed::Base64,
        ),
    ] {
        let error = s.refused(&bad).await;
        assert_refused(&error, &Rejected::Malformed(expected));
    }

    let mut big = claims.clone();
    big["custom:padding"] = json!("x".repeat(9 * 1024));
    let error = s.refused(&minter().access(&big)).await;
    assert_refused(&error, &Rejected::Malformed(Malformed::TooLong));
    let mut headers = http::HeaderMap::new();
    headers.append(
        "cookie",
        format!("pad={}; token={token}", "y".repeat(20 * 1024))
            .parse()
            .unwrap(),
    );
    let error = s.sessions.session("token", &headers).await.unwrap_err();
    assert_eq!(
        error.unauthorized(),
        Some(&Unauthorized::MissingCookie),
        "an oversized Cookie header is ignored"
    );
    assert_no_side_effects(&s);
}
