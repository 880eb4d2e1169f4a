//! 4. A logout that reports success has ended the session.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use cognito_session::{Sessions, SessionsBuilder};
use testkit::{FakeCognito, Fault, Proxy, Rule};

use crate::{cookies, sessions_via, setup_with, Setup};

async fn stored_token(s: &Setup, sub: &str) -> Option<String> {
    let row = s.pool.row(sub).await?;
    row.get("token").and_then(|v| v.as_s().ok()).cloned()
}

/// Starts `sessions.end` for `access_token` with its `DeleteItem` held back at the proxy (5 s),
/// and returns once that `DeleteItem` is on its way: the row, already read, can then change under
/// it. (Each test asserts that the logout was still pending when the row had changed.)
async fn logout_with_a_slow_delete(
    proxy: &Proxy,
    sessions: &Sessions,
    access_token: &str,
) -> tokio::task::JoinHandle<Result<(), cognito_session::Error>> {
    proxy.inject(Rule::on("DeleteItem", Fault::Latency(Duration::from_secs(5))).times(1));
    let (sessions, token) = (sessions.clone(), access_token.to_owned());
    let logout = tokio::spawn(async move { sessions.end("token", &cookies(&token)).await });
    for _ in 0..500 {
        if proxy.count("DeleteItem") > 0 {
            return logout;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the logout never sent its DeleteItem");
}

#[tokio::test]
async fn a_logout_racing_a_rotation_deletes_the_rotated_row_and_revokes_its_token() {
    let s = setup_with(testkit::PoolOptions::default(), |b| b).await;
    let fake = Arc::new(FakeCognito::new(
        &s.pool.issuer(),
        &s.pool.client_id,
        Duration::from_secs(30),
    ));
    let proxy = Proxy::with_fake(&s.pool.moto.url, fake.clone()).await;
    let (sub, login) = s.logged_in("logout-vs-rotation").await;
    let original = login.refresh_token().unwrap().to_owned();
    fake.register(&original, login.access_token().unwrap());
    let sessions = sessions_via(&s, &proxy.url, |b| b.refresh_token_rotation(true)).await;

    let logout = logout_with_a_slow_delete(&proxy, &sessions, login.access_token().unwrap()).await;
    // Meanwhile another request refreshes the session, and Cognito rotates its refresh token.
    let refreshed = sessions
        .session(
            "token",
            &cookies(&s.expired_copy(login.access_token().unwrap())),
        )
        .await
        .unwrap();
    assert!(refreshed.refreshed().is_some());
    let rotated = stored_token(&s, &sub).await.unwrap();
    assert_ne!(rotated, original);
    assert!(
        !logout.is_finished(),
        "the rotation happened before the delete"
    );

    logout.await.unwrap().expect("the logout succeeds");
    assert!(s.pool.row(&sub).await.is_none(), "the rotated row is gone");
    let revoked = fake.revoked();
    assert!(revoked.contains(&rotated), "{revoked:?}");
    assert!(revoked.contains(&original), "{revoked:?}");
    // The new access token is of an ended session.
    let error = sessions
        .session(
            "token",
            &cookies(&refreshed.refreshed().unwrap().access_token),
        )
        .await
        .unwrap_err();
    assert_eq!(error.status(), 401, "{error}");
}

#[tokio::test]
async fn a_logout_racing_a_re_encryption_deletes_the_row() {
    let key = |k: [u8; 32]| STANDARD.encode(k);
    let s = setup_with(testkit::PoolOptions::default(), |b| {
        b.encryption_key(key([21; 32]))
    })
    .await;
    let fake = Arc::new(FakeCognito::new(
        &s.pool.issuer(),
        &s.pool.client_id,
        Duration::from_secs(30),
    ));
    let proxy = Proxy::with_fake(&s.pool.moto.url, fake.clone()).await;
    let (sub, login) = s.logged_in("logout-vs-reseal").await;
    let plaintext = login.refresh_token().unwrap().to_owned();
    let before = stored_token(&s, &sub).await.unwrap();
    // The key is being rotated: both functions have the new key, and the old one to read with.
    let rotate = |b: SessionsBuilder| {
        b.encryption_key(key([22; 32]))
            .old_encryption_keys(key([21; 32]))
    };
    let sessions = sessions_via(&s, &proxy.url, rotate).await;
    let (other, _) = crate::builder(&s.pool);
    let other = rotate(other).build().await.unwrap();

    let logout = logout_with_a_slow_delete(&proxy, &sessions, login.access_token().unwrap()).await;
    // Another function refreshes the session and re-encrypts its row with the new key.
    other
        .session(
            "token",
            &cookies(&s.expired_copy(login.access_token().unwrap())),
        )
        .await
        .unwrap();
    assert_ne!(stored_token(&s, &sub).await.unwrap(), before);
    assert!(
        !logout.is_finished(),
        "the re-encryption happened before the delete"
    );

    logout.await.unwrap().expect("the logout succeeds");
    assert!(
        s.pool.row(&sub).await.is_none(),
        "the re-encrypted row is gone"
    );
    assert_eq!(fake.revoked(), [plaintext], "revoked once, in plaintext");
}
