//! One session per device with a sort key (`SORT_KEY`), listing and logging out everywhere.

use cognito_session::{Tokens, Unauthorized};
use testkit::PoolOptions;

use crate::{cookies, setup_with};

#[tokio::test]
async fn each_device_has_its_own_session_and_end_all_ends_them_all() {
    let options = PoolOptions {
        sort_key: Some("session".into()),
        ..Default::default()
    };
    let s = setup_with(options, |b| b.sort_key("session")).await;
    let sub = s.pool.user("many-devices").await;
    let phone = s.pool.login("many-devices").await;
    let laptop = s.pool.login("many-devices").await;
    s.sessions.start(&Tokens::from(&phone)).await.unwrap();
    s.sessions.start(&Tokens::from(&laptop)).await.unwrap();

    // Both devices are signed in at once, each refreshing its own login.
    for login in [&phone, &laptop] {
        let token = login.access_token().unwrap();
        s.sessions.session("token", &cookies(token)).await.unwrap();
        let refreshed = s
            .sessions
            .session("token", &cookies(&s.expired_copy(token)))
            .await
            .unwrap();
        assert!(refreshed.refreshed().is_some());
    }
    let rows = s.sessions.list(&sub).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows
        .iter()
        .all(|r| r.session_id.is_some() && r.username.as_deref() == Some("many-devices")));

    // Logging out on the phone leaves the laptop signed in.
    s.sessions
        .end("token", &cookies(phone.access_token().unwrap()))
        .await
        .unwrap();
    let error = s.refused(phone.access_token().unwrap()).await;
    assert_eq!(error.unauthorized(), Some(&Unauthorized::SessionEnded));
    s.sessions
        .session("token", &cookies(laptop.access_token().unwrap()))
        .await
        .unwrap();
    assert_eq!(s.sessions.list(&sub).await.unwrap().len(), 1);

    // Log out everywhere: rows gone and, through AdminUserGlobalSignOut, refresh tokens revoked.
    s.calls.reset();
    assert_eq!(s.sessions.end_all(&sub).await.unwrap(), 1);
    assert_eq!(s.calls.count("AdminUserGlobalSignOut"), 1);
    assert!(s.sessions.list(&sub).await.unwrap().is_empty());
    let error = s.refused(laptop.access_token().unwrap()).await;
    assert_eq!(error.unauthorized(), Some(&Unauthorized::SessionEnded));
    let revoked = s
        .pool
        .cognito
        .initiate_auth()
        .client_id(&s.pool.client_id)
        .auth_flow(aws_sdk_cognitoidentityprovider::types::AuthFlowType::RefreshTokenAuth)
        .auth_parameters("REFRESH_TOKEN", laptop.refresh_token().unwrap())
        .send()
        .await;
    assert!(
        revoked.is_err(),
        "the laptop's refresh token was revoked at Cognito"
    );
}

#[tokio::test]
async fn without_a_sort_key_list_shows_the_one_session() {
    let s = setup_with(PoolOptions::default(), |b| b).await;
    let (sub, _) = s.logged_in("single").await;
    let rows = s.sessions.list(&sub).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].session_id.is_none());
}
