//! The seed's job, done right: valid sessions, refresh, logout, and the seed's own table rows.

use std::sync::atomic::Ordering;

use aws_sdk_dynamodb::types::AttributeValue;
use cognito_session::{Error, SessionValidation, Tokens, Unauthorized};
use testkit::PoolOptions;

use crate::{cookies, setup, setup_with};

#[tokio::test]
async fn valid_token_costs_one_get_item_and_no_cognito_call() {
    let s = setup().await;
    let (sub, login) = s.logged_in("alice").await;
    s.calls.reset();
    let token = login.access_token().unwrap();
    let session = s.sessions.session("token", &cookies(token)).await.unwrap();
    assert_eq!(session.sub(), sub);
    assert_eq!(session.username(), "alice");
    assert!(session.claims().has_scope("aws.cognito.signin.user.admin"));
    assert!(session.refreshed().is_none());
    assert!(session.set_cookie("token").is_none());
    assert_eq!(
        s.calls.all(),
        ["GetItem"],
        "session mode reads the row and nothing else"
    );
}

#[tokio::test]
async fn token_mode_makes_no_call_at_all() {
    let s = setup_with(PoolOptions::default(), |b| {
        b.validation(SessionValidation::Token)
    })
    .await;
    let (sub, login) = s.logged_in("bob").await;
    s.calls.reset();
    let session = s
        .sessions
        .session("token", &cookies(login.access_token().unwrap()))
        .await
        .unwrap();
    assert_eq!(session.sub(), sub);
    assert_eq!(s.calls.all(), Vec::<String>::new());
}

async fn refresh_through_moto(secret: bool) {
    let s = setup_with(
        PoolOptions {
            secret,
            ..Default::default()
        },
        |b| b,
    )
    .await;
    let (sub, login) = s.logged_in("carol").await;
    let before = s.pool.row(&sub).await.unwrap();
    let expired = s.expired_copy(login.access_token().unwrap());
    s.calls.reset();
    // Refresh 100 s after the login, so the recorded refresh time is visible.
    s.clock.store(100, Ordering::Relaxed);

    let session = s
        .sessions
        .session("token", &cookies(&expired))
        .await
        .unwrap();
    let tokens = session.refreshed().expect("refreshed tokens").clone();
    assert_ne!(tokens.access_token, expired);
    assert!(tokens.id_token.is_some());
    assert_eq!(tokens.expires_in, 3600);
    assert_eq!(s.calls.count("InitiateAuth"), 1, "{:?}", s.calls.all());
    assert_eq!(s.calls.count("GetUser"), 0);
    let cookie = session.set_cookie("token").unwrap();
    assert!(
        cookie.starts_with(&format!("token={}", tokens.access_token)),
        "{cookie}"
    );
    for attribute in [
        "HttpOnly",
        "Secure",
        "SameSite=Lax",
        "Path=/",
        "Max-Age=2592000",
    ] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    // The new token is from the same login and is accepted as is afterwards.
    assert_eq!(
        session.claims().origin_jti(),
        testkit::peek(&expired)["origin_jti"].as_str()
    );
    s.calls.reset();
    let again = s
        .sessions
        .session("token", &cookies(&tokens.access_token))
        .await
        .unwrap();
    assert!(again.refreshed().is_none());
    assert_eq!(s.calls.count("InitiateAuth"), 0);
    // The row still holds the refresh token, with a recorded refresh.
    let after = s.pool.row(&sub).await.unwrap();
    assert_eq!(after.get("token"), before.get("token"));
    let time = |row: &std::collections::HashMap<String, AttributeValue>| -> u64 {
        row["timestamp"].as_n().unwrap().parse().unwrap()
    };
    assert!(
        time(&after) >= time(&before) + 100,
        "timestamp {:?} -> {:?}",
        before["timestamp"],
        after["timestamp"]
    );
}

#[tokio::test]
async fn expired_token_is_refreshed_through_moto() {
    refresh_through_moto(false).await;
}

#[tokio::test]
async fn expired_token_is_refreshed_with_a_client_secret() {
    refresh_through_moto(true).await;
}

#[tokio::test]
async fn the_injected_clock_decides_expiry() {
    let s = setup().await;
    let (_, login) = s.logged_in("dora").await;
    s.clock.store(2 * 3600, Ordering::Relaxed);
    s.calls.reset();
    let session = s
        .sessions
        .session("token", &cookies(login.access_token().unwrap()))
        .await
        .unwrap();
    assert!(session.refreshed().is_some());
    assert_eq!(s.calls.count("InitiateAuth"), 1);
    // Beyond the session lifetime (30 days) the token cannot be refreshed any more.
    s.clock.store(31 * 24 * 3600, Ordering::Relaxed);
    let error = s.refused(login.access_token().unwrap()).await;
    assert_eq!(error.status(), 401, "{error}");
}

#[tokio::test]
async fn global_sign_out_ends_the_session_and_deletes_the_row() {
    let s = setup().await;
    let (sub, login) = s.logged_in("erin").await;
    s.pool.global_sign_out("erin").await;
    let expired = s.expired_copy(login.access_token().unwrap());
    let error = s.refused(&expired).await;
    assert_eq!(
        error.unauthorized(),
        Some(&Unauthorized::Revoked),
        "{error}"
    );
    assert_eq!(error.status(), 401);
    let clear = s.sessions.clear_cookie_for(&error, "token").unwrap();
    assert!(
        clear.starts_with("token=;") && clear.contains("Max-Age=0"),
        "{clear}"
    );
    assert!(
        s.pool.row(&sub).await.is_none(),
        "the refused session's row is deleted"
    );
}

#[tokio::test]
async fn logout_removes_the_row_and_later_requests_are_refused() {
    let s = setup().await;
    let (sub, login) = s.logged_in("fay").await;
    let token = login.access_token().unwrap();
    s.sessions.end("token", &cookies(token)).await.unwrap();
    assert!(s.pool.row(&sub).await.is_none());
    let error = s.refused(token).await;
    assert_eq!(error.unauthorized(), Some(&Unauthorized::SessionEnded));
    assert!(s.sessions.clear_cookie_for(&error, "token").is_some());
    // The expired token cannot bring the session back either.
    let error = s.refused(&s.expired_copy(token)).await;
    assert_eq!(error.unauthorized(), Some(&Unauthorized::SessionEnded));
    // Logging out twice is fine.
    s.sessions.end("token", &cookies(token)).await.unwrap();
    assert!(s.sessions.clear_cookie("token").contains("Max-Age=0"));
}

#[tokio::test]
async fn logout_with_a_forged_or_foreign_token_removes_nothing() {
    let s = setup().await;
    let (sub, login) = s.logged_in("gus").await;
    let mut claims = testkit::peek(login.access_token().unwrap());
    let forged = testkit::unsigned(&claims);
    assert!(s
        .sessions
        .end("token", &cookies(&forged))
        .await
        .unwrap_err()
        .is_unauthorized());
    claims["origin_jti"] = "another-login".into();
    let other_login = crate::minter().access(&claims);
    let error = s
        .sessions
        .end("token", &cookies(&other_login))
        .await
        .unwrap_err();
    assert_eq!(error.unauthorized(), Some(&Unauthorized::FamilyMismatch));
    assert!(s.pool.row(&sub).await.is_some());
}

#[tokio::test]
async fn start_needs_a_refresh_token_and_a_valid_access_token() {
    let s = setup().await;
    s.pool.user("hal").await;
    let login = s.pool.login("hal").await;
    let mut tokens = Tokens::from(&login);
    tokens.refresh_token = None;
    assert_eq!(s.sessions.start(&tokens).await.unwrap_err().status(), 400);
    let mut tokens = Tokens::from(&login);
    tokens.access_token = testkit::unsigned(&testkit::peek(login.access_token().unwrap()));
    assert_eq!(s.sessions.start(&tokens).await.unwrap_err().status(), 401);
    let session = s.sessions.start(&Tokens::from(&login)).await.unwrap();
    assert!(session
        .set_cookie("token")
        .unwrap()
        .starts_with("token=eyJ"));
}

#[tokio::test]
async fn a_row_written_by_the_seed_works_and_gets_bound_to_its_login() {
    let s = setup().await;
    let sub = s.pool.user("ivy").await;
    let login = s.pool.login("ivy").await;
    s.pool
        .put_seed_row(&sub, login.refresh_token().unwrap())
        .await;
    // A valid token is accepted with the seed's row.
    s.sessions
        .session("token", &cookies(login.access_token().unwrap()))
        .await
        .unwrap();
    // An expired one is refreshed, and the row learns its token family.
    let expired = s.expired_copy(login.access_token().unwrap());
    let session = s
        .sessions
        .session("token", &cookies(&expired))
        .await
        .unwrap();
    assert!(session.refreshed().is_some());
    let row = s.pool.row(&sub).await.unwrap();
    let family = testkit::peek(login.access_token().unwrap())["origin_jti"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(row.get("origin_jti"), Some(&AttributeValue::S(family)));
}

#[tokio::test]
async fn a_seed_row_refuses_a_token_from_an_older_login() {
    let s = setup().await;
    let sub = s.pool.user("jon").await;
    let old = s.pool.login("jon").await;
    let new = s.pool.login("jon").await;
    s.pool
        .put_seed_row(&sub, new.refresh_token().unwrap())
        .await;
    let expired_old = s.expired_copy(old.access_token().unwrap());
    let error = s.refused(&expired_old).await;
    assert_eq!(
        error.unauthorized(),
        Some(&Unauthorized::FamilyMismatch),
        "{error}"
    );
    assert!(
        s.pool.row(&sub).await.is_some(),
        "the current login's row stays"
    );
}

#[tokio::test]
async fn a_new_login_replaces_the_old_one() {
    let s = setup().await;
    let (sub, first) = s.logged_in("kim").await;
    let second = s.pool.login("kim").await;
    s.sessions.start(&Tokens::from(&second)).await.unwrap();
    let error = s.refused(first.access_token().unwrap()).await;
    assert_eq!(error.unauthorized(), Some(&Unauthorized::FamilyMismatch));
    s.sessions
        .session("token", &cookies(second.access_token().unwrap()))
        .await
        .unwrap();
    assert!(s.pool.row(&sub).await.is_some());
}

#[tokio::test]
async fn missing_cookie_is_401_without_a_clearing_cookie() {
    let s = setup().await;
    let error = s
        .sessions
        .session("token", &http::HeaderMap::new())
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        Error::Unauthorized(Unauthorized::MissingCookie)
    ));
    assert!(!error.clears_cookie());
    assert!(s.calls.all().is_empty());
}

#[tokio::test]
async fn the_absolute_lifetime_is_enforced_without_waiting_for_ttl() {
    let s = setup_with(PoolOptions::default(), |b| {
        b.session_lifetime(std::time::Duration::from_secs(1000))
    })
    .await;
    let (sub, login) = s.logged_in("mortal").await;
    let row = s.pool.row(&sub).await.unwrap();
    let expires_at: i64 = row["expires_at"].as_n().unwrap().parse().unwrap();
    let timestamp: i64 = row["timestamp"].as_n().unwrap().parse().unwrap();
    assert_eq!(
        expires_at - timestamp,
        1000,
        "expires_at (the TTL attribute) is login + lifetime"
    );
    let token = login.access_token().unwrap();
    s.clock.store(900, Ordering::Relaxed);
    s.sessions.session("token", &cookies(token)).await.unwrap();
    s.clock.store(1001, Ordering::Relaxed);
    let error = s.refused(token).await;
    assert_eq!(
        error.unauthorized(),
        Some(&Unauthorized::SessionEnded),
        "{error}"
    );
}

#[tokio::test]
async fn the_idle_timeout_is_enforced_and_touches_are_throttled() {
    let s = setup_with(PoolOptions::default(), |b| {
        b.idle_timeout(std::time::Duration::from_secs(600))
            .touch_interval(std::time::Duration::from_secs(60))
    })
    .await;
    let (sub, login) = s.logged_in("idler").await;
    let token = login.access_token().unwrap();
    let writes = |calls: &testkit::CallCounter| calls.count("UpdateItem");
    s.calls.reset();
    s.clock.store(30, Ordering::Relaxed);
    s.sessions.session("token", &cookies(token)).await.unwrap();
    assert_eq!(writes(&s.calls), 0, "no write within the touch interval");
    s.clock.store(90, Ordering::Relaxed);
    s.sessions.session("token", &cookies(token)).await.unwrap();
    assert_eq!(writes(&s.calls), 1, "one touch after the interval");
    s.clock.store(95, Ordering::Relaxed);
    for _ in 0..5 {
        s.sessions.session("token", &cookies(token)).await.unwrap();
    }
    assert_eq!(writes(&s.calls), 1, "at most one touch per interval");
    let row = s.pool.row(&sub).await.unwrap();
    assert!(row.contains_key("last_seen"));
    // Active at +90; idle for more than 600 s after that: ended.
    s.clock.store(90 + 601, Ordering::Relaxed);
    let error = s.refused(token).await;
    assert_eq!(
        error.unauthorized(),
        Some(&Unauthorized::SessionEnded),
        "{error}"
    );
}

// Item 5 of the hardening issue: a seed row learns its login at its first refresh, whoever asks.

#[tokio::test]
async fn a_seed_row_is_bound_at_its_first_refresh_even_by_an_older_logins_token() {
    let s = setup().await;
    let sub = s.pool.user("lea").await;
    let old = s.pool.login("lea").await;
    let new = s.pool.login("lea").await;
    s.pool
        .put_seed_row(&sub, new.refresh_token().unwrap())
        .await;
    let family = |login: &aws_sdk_cognitoidentityprovider::types::AuthenticationResultType| {
        testkit::peek(login.access_token().unwrap())["origin_jti"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let expired_old = s.expired_copy(old.access_token().unwrap());

    // The first refresh, asked for by the older login's token: refused, and the row learns
    // from Cognito's answer which login it belongs to.
    s.calls.reset();
    let error = s.refused(&expired_old).await;
    assert_eq!(error.unauthorized(), Some(&Unauthorized::FamilyMismatch));
    assert_eq!(s.calls.count("InitiateAuth"), 1);
    let row = s.pool.row(&sub).await.unwrap();
    assert_eq!(
        row.get("origin_jti"),
        Some(&AttributeValue::S(family(&new)))
    );
    assert_eq!(
        row.get("token"),
        Some(&AttributeValue::S(new.refresh_token().unwrap().into()))
    );
    assert!(
        !row.contains_key("refreshed_token") && !row.contains_key("lease_id"),
        "no token stored for the refused request, lease released: {row:?}"
    );

    // From now on the older login is refused without asking Cognito, expired or not.
    s.calls.reset();
    let error = s.refused(&expired_old).await;
    assert_eq!(error.unauthorized(), Some(&Unauthorized::FamilyMismatch));
    let error = s.refused(old.access_token().unwrap()).await;
    assert_eq!(error.unauthorized(), Some(&Unauthorized::FamilyMismatch));
    assert_eq!(s.calls.count("InitiateAuth"), 0, "{:?}", s.calls.all());

    // The row's own login works as before, and refreshes.
    s.sessions
        .session("token", &cookies(new.access_token().unwrap()))
        .await
        .unwrap();
    s.calls.reset();
    let session = s
        .sessions
        .session(
            "token",
            &cookies(&s.expired_copy(new.access_token().unwrap())),
        )
        .await
        .unwrap();
    assert!(session.refreshed().is_some());
    assert_eq!(s.calls.count("InitiateAuth"), 1);
}
