//! Round two, 4. An old cookie stops being a key once a newer token was issued.
//!
//! Once a refresh issued a newer access token for a login, an expired token of that login that
//! is older than the newest is refused after a grace window (default a minute): 401, the row
//! kept, the newest token working on, and a warning naming a possibly copied cookie. Inside the
//! window the join protocol's rules hold as before, and a seed row (no refresh yet, so no
//! history) keeps refreshing any genuine token of its user. Before, any expired token of the
//! login minted fresh tokens for the whole session lifetime.

use std::sync::atomic::Ordering;

use cognito_session::{Error, Unauthorized};
use tracing::Level;

use crate::capture::Capture;
use crate::{cookies, minter, setup, setup_with, Setup};

/// Another expired token of the same login as `token`, issued `age` seconds before now.
fn older(token: &str, age: u64) -> String {
    let mut claims = testkit::peek(token);
    let iat = testkit::now() - age;
    claims["iat"] = iat.into();
    claims["auth_time"] = iat.into();
    claims["exp"] = (iat + 3600).into();
    claims["jti"] = format!("older-{age}").into();
    minter().access(&claims)
}

/// The access token the refresh of `token` produced.
async fn refresh(s: &Setup, token: &str) -> String {
    let session = s.sessions.session("token", &cookies(token)).await.unwrap();
    session.refreshed().expect("refreshed").access_token.clone()
}

fn replaced(result: Result<cognito_session::Session, Error>) {
    match result {
        Err(error @ Error::Unauthorized(Unauthorized::Replaced)) => {
            assert_eq!(error.status(), 401);
            assert!(error.clears_cookie(), "the old cookie is dead");
        }
        other => panic!("expected Replaced: {other:?}"),
    }
}

#[tokio::test]
async fn a_replaced_token_is_refused_after_the_grace_window_and_the_session_goes_on() {
    let capture = Capture::default();
    let _guard = capture.install(Level::WARN);
    let s = setup().await;
    let (sub, login) = s.logged_in("replaced").await;
    let login_token = login.access_token().unwrap();
    // What the browser held an hour ago, expired now.
    let old = older(login_token, 7200);
    let newest = refresh(&s, &old).await;

    // Inside the grace window (30 s later) the old token still joins that refresh.
    s.clock.store(30, Ordering::Relaxed);
    s.calls.reset();
    let joined = s.sessions.session("token", &cookies(&old)).await.unwrap();
    assert_eq!(joined.refreshed().unwrap().access_token, newest);
    assert_eq!(s.calls.count("InitiateAuth"), 0, "joined, not refreshed");

    // After it, the old token (and any older one) is refused, without calling Cognito.
    s.clock.store(61 + 30, Ordering::Relaxed);
    let before = s.pool.row(&sub).await.expect("the row");
    s.calls.reset();
    replaced(s.sessions.session("token", &cookies(&old)).await);
    replaced(
        s.sessions
            .session("token", &cookies(&older(login_token, 3 * 3600)))
            .await,
    );
    assert_eq!(s.calls.count("InitiateAuth"), 0);
    assert_eq!(
        s.pool.row(&sub).await,
        Some(before),
        "the row is kept as it was"
    );
    let warnings = capture.warnings();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("copied cookie") && w.contains(&sub)),
        "{warnings:#?}"
    );
    assert!(
        !warnings.iter().any(|w| w.contains(&old[old.len() - 20..])),
        "no token text in the log"
    );

    // The newest token works, and refreshes when it expires in its turn.
    s.sessions
        .session("token", &cookies(&newest))
        .await
        .unwrap();
    s.clock.store(2 * 3600, Ordering::Relaxed);
    let newer = refresh(&s, &newest).await;
    assert_ne!(newer, newest);
    // ...after which, past that refresh's grace window too, the old one is still refused.
    s.clock.store(2 * 3600 + 61, Ordering::Relaxed);
    replaced(s.sessions.session("token", &cookies(&old)).await);
}

#[tokio::test]
async fn a_grace_of_zero_refuses_a_replaced_token_at_once() {
    let s = setup_with(Default::default(), |b| {
        b.replaced_token_grace(std::time::Duration::ZERO)
    })
    .await;
    let (_, login) = s.logged_in("replaced-zero").await;
    let old = older(login.access_token().unwrap(), 7200);
    refresh(&s, &old).await;
    s.clock.store(1, Ordering::Relaxed);
    replaced(s.sessions.session("token", &cookies(&old)).await);
}

#[tokio::test]
async fn a_seed_row_keeps_refreshing_until_it_has_a_history() {
    let s = setup().await;
    let sub = s.pool.user("replaced-seed").await;
    let login = s.pool.login("replaced-seed").await;
    // The seed's row: token and timestamp, nothing else.
    s.pool
        .put_seed_row(&sub, login.refresh_token().unwrap())
        .await;
    let token = login.access_token().unwrap();
    // Two expired tokens of the user, the older first: both refresh while the row has no
    // refresh recorded yet... and the first refresh records one.
    let (oldest, old) = (older(token, 3 * 3600), older(token, 7200));
    let newest = refresh(&s, &old).await;
    // The older one within the grace window: still served (the join rules as before).
    s.sessions
        .session("token", &cookies(&oldest))
        .await
        .unwrap();
    // After the window: refused; the newest goes on.
    s.clock.store(120, Ordering::Relaxed);
    replaced(s.sessions.session("token", &cookies(&oldest)).await);
    s.sessions
        .session("token", &cookies(&newest))
        .await
        .unwrap();
}
